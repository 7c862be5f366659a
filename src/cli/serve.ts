// What `warmgate start` and `warmgate dev` share: their options, the route table, the stop signals.
import { availableParallelism } from 'node:os'
import { relative } from 'node:path'
import { parseArgs } from 'node:util'
import { MODES, type Mode } from '../config/define.ts'
import { LISTEN_ADDRESS_EXPECTED, parseListenAddress } from '../config/listen-address.ts'
import { MAX_PROCESSES } from '../config/schema.ts'
import type { Gateway, RouteInfo } from '../gateway/gateway.ts'
import { LOG_LEVELS, type LogLevel } from '../log/logger.ts'
import { fail } from './help.ts'

export interface ServeOptions {
  config?: string
  port?: number
  host?: string
  mode?: Mode
  logLevel?: LogLevel
  /** `--fastcgi ADDR`: the FastCGI responder's address, over `server.fastcgi.listen`. */
  fastcgi?: string
  /** `warmgate start --processes N|auto` (auto: one per core). */
  processes?: number
}

/** Parses and checks `--config --port --host --mode --log-level --fastcgi` (and `--processes` for start); exits with a message on a bad one. */
export function parseServeArgs (argv: string[], command: string): ServeOptions {
  let values: Record<string, string | undefined>
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        mode: { type: 'string' },
        'log-level': { type: 'string' },
        fastcgi: { type: 'string' },
        ...(command === 'start' ? { processes: { type: 'string' as const } } : {}),
      },
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | undefined> })
  } catch (error) {
    fail(`${(error as Error).message} (see warmgate ${command} --help)`)
  }
  const port = values.port === undefined ? undefined : Number(values.port)
  if (port !== undefined && !(/^\d{1,5}$/.test(values.port as string) && port <= 65535)) fail(`--port: expected an integer from 0 to 65535, got '${values.port}'`)
  // An empty host would make Node listen on every interface: never by accident.
  if (values.host !== undefined && values.host.trim() === '') fail("--host: expected an address such as 127.0.0.1 or ::1, got ''")
  const mode = values.mode as Mode | undefined
  if (mode !== undefined && !MODES.includes(mode)) fail(`--mode: expected one of ${MODES.join(', ')}, got '${mode}'`)
  const logLevel = values['log-level'] as LogLevel | undefined
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel)) fail(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`)
  if (values.fastcgi !== undefined && parseListenAddress(values.fastcgi) === undefined) fail(`--fastcgi: expected ${LISTEN_ADDRESS_EXPECTED}, got '${values.fastcgi}'`)
  const processes = parseProcesses(values.processes)
  return { config: values.config, port, host: values.host, mode, logLevel, fastcgi: values.fastcgi, ...(processes === undefined ? {} : { processes }) }
}

function parseProcesses (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (value === 'auto') return availableParallelism()
  const n = Number(value)
  if (!/^\d{1,3}$/.test(value) || n < 1 || n > MAX_PROCESSES) fail(`--processes: expected an integer from 1 to ${MAX_PROCESSES} or 'auto', got '${value}'`)
  return n
}

/**
 * Inline handlers run on this event loop: an error escaping one (a timer, a forgotten promise) must not
 * take down every request in flight with the process. Logged, and the gateway keeps serving (README:
 * Faults, recycling and waiting). Warm handlers never get here: their worker catches and retires.
 */
export function keepServingOnStrayErrors (gateway: Gateway): void {
  process.on('uncaughtException', (error) => gateway.log.error({ err: error }, 'uncaught exception in the gateway process (from an inline handler?); still serving'))
  process.on('unhandledRejection', (reason) => gateway.log.error({ err: reason }, 'unhandled rejection in the gateway process (from an inline handler?); still serving'))
}

/**
 * SIGINT/SIGTERM close the gateway (in-flight requests get `server.shutdownTimeout`), then exit 0; a
 * second signal exits at once. `before` runs first (dev stops watching). Returns whether it is stopping.
 */
/**
 * A second signal this soon after the first is the same Ctrl-C delivered twice (the terminal signals the
 * whole process group, and `npm start`/`npx` forward it to their child as well), not an impatient operator.
 */
export const SAME_SIGNAL_MS = 1000

export function closeOnStopSignals (gateway: Gateway, before?: () => void): () => boolean {
  let stopping = false
  let first = 0
  const stop = (signal: string): void => {
    if (stopping) {
      if (performance.now() - first < SAME_SIGNAL_MS) return
      process.stderr.write(`warmgate: ${signal} again, exiting without draining\n`)
      process.exit(1)
    }
    stopping = true
    first = performance.now()
    before?.()
    const ms = gateway.config.server.shutdownTimeoutMs
    process.stdout.write(`warmgate: ${signal}, closing (in-flight requests get up to ${ms} ms to finish)\n`)
    gateway.close().then(() => process.exit(0), (error: unknown) => {
      process.stderr.write(`warmgate: close failed: ${(error as Error).message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  return () => stopping
}

export function formatRoutes (routes: RouteInfo[]): string {
  const rows = [['ROUTE', 'APP', 'MODE', 'WORKERS', 'ENTRY'], ...routes.map(r => [r.route, r.app, r.mode, r.workers, relative(process.cwd(), r.entry) || r.entry])]
  const widths = rows[0].map((_, col) => Math.max(...rows.map(row => row[col].length)))
  return rows.map(row => '  ' + row.map((cell, col) => cell.padEnd(widths[col])).join('  ').trimEnd()).join('\n')
}
