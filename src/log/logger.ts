import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino'

export type Logger = PinoLogger

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/**
 * The one pino root of a gateway: JSON lines, or pino-pretty when stdout is a terminal. pino-pretty is
 * imported only then (it is heavy and JSON is what a log shipper wants).
 */
export async function createLogger (options: { level?: LogLevel, pretty?: boolean } = {}): Promise<Logger> {
  const config: LoggerOptions = { level: options.level ?? 'info', base: { pid: process.pid } }
  const pretty = options.pretty ?? process.stdout.isTTY === true
  if (!pretty) return pino(config)
  const { default: createPretty } = await import('pino-pretty')
  return pino(config, createPretty({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid', sync: true }))
}
