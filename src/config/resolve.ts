import { availableParallelism } from 'node:os'
import { resolve as resolvePath } from 'node:path'
import type { AppKind, GatewayConfig, Mode } from './define.ts'
import { normalizeRoute } from './schema.ts'
import { parseDuration, parseSize } from './units.ts'

export interface ResolvedApp {
  readonly name: string
  /** Normalized: no trailing slash, except the root route `/`. */
  readonly route: string
  /** Absolute path of the handler module, or of the CGI directory when `mode` is `'cgi'`. */
  readonly entry: string
  readonly mode: AppKind
  readonly timeoutMs: number
  readonly workers: { readonly min: number, readonly max: number }
  readonly env: Readonly<Record<string, string>>
  readonly bodyLimit: number
  readonly passEnv: readonly string[]
  readonly passAuthorization: boolean
  readonly concurrency: number
  readonly queue: number
}

export interface ResolvedConfig {
  readonly server: { readonly host: string, readonly port: number, readonly bodyLimit: number, readonly shutdownTimeoutMs: number }
  readonly apps: readonly ResolvedApp[]
  /** The file the config came from, when it came from one. */
  readonly configFile?: string
}

export interface ResolveOptions {
  /** Directory that relative paths are taken from (the config file's directory). */
  baseDir: string
  configFile?: string
  /** `--mode` on the CLI: overrides every app's mode. */
  mode?: Mode
}

export const DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  bodyLimit: 1024 * 1024,
  // Long enough for ordinary requests to finish, short enough for an orchestrator's grace period
  // (Kubernetes sends SIGKILL 30 s after SIGTERM by default).
  shutdownTimeoutMs: 10_000,
  mode: 'warm' as Mode,
  timeoutMs: 30_000,
  workersMin: 1,
  concurrency: 32,
  queue: 256,
})

/** Applies defaults and makes paths absolute. Expects a config that passed `validateConfig`. */
export function resolveConfig (config: GatewayConfig, options: ResolveOptions): ResolvedConfig {
  const server = config.server ?? {}
  const defaults = config.defaults ?? {}
  const serverBodyLimit = parseSize(server.bodyLimit) ?? DEFAULTS.bodyLimit
  const apps = Object.entries(config.apps).map(([name, app]): ResolvedApp => {
    const min = app.workers?.min ?? defaults.workers?.min ?? DEFAULTS.workersMin
    const max = app.workers?.max ?? defaults.workers?.max ?? Math.max(min, availableParallelism())
    const cgi = app.cgi !== undefined
    return Object.freeze({
      name,
      route: normalizeRoute(app.route),
      entry: resolvePath(options.baseDir, (cgi ? app.cgi : app.entry) as string),
      // --mode picks how handler modules run; a CGI directory has only one way to run.
      mode: cgi ? 'cgi' : options.mode ?? app.mode ?? defaults.mode ?? DEFAULTS.mode,
      timeoutMs: parseDuration(app.timeout) ?? parseDuration(defaults.timeout) ?? DEFAULTS.timeoutMs,
      workers: Object.freeze({ min, max: Math.max(min, max) }),
      env: Object.freeze({ ...app.env }),
      bodyLimit: parseSize(app.bodyLimit) ?? serverBodyLimit,
      passEnv: Object.freeze([...(app.passEnv ?? [])]),
      passAuthorization: app.passAuthorization ?? false,
      concurrency: app.concurrency ?? DEFAULTS.concurrency,
      queue: app.queue ?? DEFAULTS.queue,
    })
  })
  return Object.freeze({
    server: Object.freeze({
      host: server.host ?? DEFAULTS.host,
      port: server.port ?? DEFAULTS.port,
      bodyLimit: serverBodyLimit,
      shutdownTimeoutMs: parseDuration(server.shutdownTimeout) ?? DEFAULTS.shutdownTimeoutMs,
    }),
    apps: Object.freeze(apps),
    configFile: options.configFile,
  })
}
