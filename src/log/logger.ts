import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino'

export type Logger = PinoLogger

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/**
 * The one pino root of a gateway: JSON lines, or pino-pretty when stdout is a terminal. pino-pretty is
 * imported only then (it is heavy and JSON is what a log shipper wants).
 */
export async function createLogger (options: { level?: LogLevel, pretty?: boolean, color?: boolean } = {}): Promise<Logger> {
  const config: LoggerOptions = { level: options.level ?? 'info', base: { pid: process.pid } }
  const pretty = options.pretty ?? process.stdout.isTTY === true
  if (!pretty) return pino(config)
  const { default: createPretty } = await import('pino-pretty')
  return pino(config, createPretty({
    // `warmgate dev` wants readable lines in a pipe too, without escape codes.
    colorize: options.color ?? true,
    translateTime: 'HH:MM:ss.l',
    // One line per request in a terminal; the bound fields go into the line instead of below it.
    ignore: 'pid,app,mode,reqId,method,path,status,ms',
    messageFormat: formatLine,
    sync: true,
  }))
}

/** `[hello warm] GET /hello 200 1.2 ms  (req 5972f814-…)` for access lines; other lines keep their message. */
export function formatLine (log: Record<string, unknown>, messageKey: string): string {
  const where = log.app === undefined ? '' : `[${String(log.app)} ${String(log.mode)}] `
  const what = log[messageKey] === 'request'
    ? `${String(log.method)} ${String(log.path)} ${String(log.status)} ${String(log.ms)} ms`
    : String(log[messageKey] ?? '')
  const id = log.reqId === undefined ? '' : `  (req ${String(log.reqId)})`
  return `${where}${what}${id}`
}

/** The one access line per request, written by every front door (HTTP listener, `gateway.fetch`). */
export function logAccess (log: Logger, reqId: string, method: string | undefined, path: string | undefined, status: number, started: number, quiet: 'info' | 'debug' = 'info'): void {
  // A 5xx is something to look at: error when the gateway or the handler failed, warn when it was
  // overloaded (503: full queue, still starting). Operator probes (`debug`) stay quiet whatever they answer.
  const level = quiet === 'info' && status >= 500 ? (status === 503 ? 'warn' : 'error') : quiet
  // Checked first: at `warn` (the usual production level) the line's object is not even built.
  if (!log.isLevelEnabled(level)) return
  log[level]({ reqId, method, path, status, ms: Math.round((performance.now() - started) * 100) / 100 }, 'request')
}
