/** A duration: a number of milliseconds, or a string such as `'30s'`, `'250ms'`, `'2m'`, `'1h'`. */
export type Duration = number | string
/** A size: a number of bytes, or a string such as `'1mb'`, `'512kb'`, `'10b'` (1024-based). */
export type Size = number | string

/** `warm` keeps a pool of worker threads; `inline` runs on the server's event loop; `cold` spawns a process per request. */
export type Mode = 'warm' | 'inline' | 'cold'

export const MODES: readonly Mode[] = ['warm', 'inline', 'cold']

/** What runs an app: a handler module in one of the modes, or a directory of CGI executables. */
export type AppKind = Mode | 'cgi'

export interface WorkersConfig {
  /** Workers started (and their handler imported) before the server reports ready. Default 1. */
  min?: number
  /** Most workers the pool grows to under load. Default: the number of CPUs, at least `min`. */
  max?: number
}

export interface AppConfig {
  /** Path prefix: `'/hello'` matches `/hello`, `/hello/` and `/hello/x`. The longest prefix wins. */
  route: string
  /** The handler module (`.ts`, `.js`, `.mjs`), relative to the config file. Either `entry` or `cgi`. */
  entry?: string
  /** A directory of CGI/1.1 executables (any language), relative to the config file. Either `entry` or `cgi`. */
  cgi?: string
  /** Not allowed with `cgi`. */
  mode?: Mode
  timeout?: Duration
  workers?: WorkersConfig
  /** Strings handed to the handler as its `env` argument (cold and cgi: also set in the process environment). */
  env?: Record<string, string>
  bodyLimit?: Size
  /** Cold and cgi: names of the gateway's own environment variables a child may see (besides `PATH`). */
  passEnv?: string[]
  /** Cgi: pass `Authorization` / `Proxy-Authorization` as `HTTP_*` variables. Default false (cold: always true). */
  passAuthorization?: boolean
  /** Cold and cgi: most live processes at once. Default 32. */
  concurrency?: number
  /** Cold and cgi: most requests waiting for a process slot; beyond it, 503 + Retry-After. Default 256. */
  queue?: number
}

export interface ServerConfig {
  host?: string
  port?: number
  /** Largest request body accepted (413 above it). Default `'1mb'`. */
  bodyLimit?: Size
  /** How long close() (SIGTERM/SIGINT) and a reload's drain let requests in flight finish. Default `'10s'`. */
  shutdownTimeout?: Duration
}

export interface DefaultsConfig {
  mode?: Mode
  timeout?: Duration
  workers?: WorkersConfig
}

export interface GatewayConfig {
  server?: ServerConfig
  defaults?: DefaultsConfig
  apps: Record<string, AppConfig>
}

/**
 * Identity function that gives a config file its types. A plain object works just as well.
 * @example
 * import { defineConfig } from 'warmgate'
 * export default defineConfig({ apps: { hello: { route: '/hello', entry: './apps/hello.ts' } } })
 */
export function defineConfig (config: GatewayConfig): GatewayConfig {
  return config
}
