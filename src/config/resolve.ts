import { availableParallelism } from 'node:os'
import { resolve as resolvePath } from 'node:path'
import type { AppConfig, AppKind, GatewayConfig, HandlerKind, LambdaPayload, Mode, ServerConfig } from './define.ts'
import { parseListenAddress, type ListenAddress } from './listen-address.ts'
import { normalizeRoute } from './schema.ts'
import { parseFastCgiAddress } from './schema-fastcgi.ts'
import { parseDuration, parseSize } from './units.ts'
import { resolveOps, type ResolvedOps } from './ops.ts'

export interface ResolvedApp {
  readonly name: string
  /** Normalized: no trailing slash, except the root route `/`. */
  readonly route: string
  /** Absolute path of the handler module, or of the CGI directory when `mode` is `'cgi'`. */
  readonly entry: string
  readonly mode: AppKind
  readonly timeoutMs: number
  readonly workers: ResolvedWorkers
  readonly env: Readonly<Record<string, string>>
  readonly bodyLimit: number
  readonly passEnv: readonly string[]
  readonly passAuthorization: boolean
  readonly concurrency: number
  readonly maxQueue: number
  readonly queueTimeoutMs: number
  /** Warm: each worker's old-generation heap limit (MiB); undefined for V8's default. */
  readonly memoryMb: number | undefined
  /** How the entry is called; `'auto'`: detected from its exports when it loads. Always `'auto'` for cgi apps. */
  readonly kind: HandlerKind | 'auto'
  readonly lambda: { readonly payload: LambdaPayload }
  /** Set on fastcgi apps (mode `'fastcgi'`), whose `entry` is the document root. */
  readonly fastcgi: ResolvedFastCgi | undefined
  /** `bench`: what `warmgate bench` requests; a field left unset takes bench's default (src/bench/select.ts). */
  readonly bench: ResolvedBenchRequest
}

export interface ResolvedBenchRequest {
  /** Under the route: `/users/1?x=2` or `?n=1000`. */
  readonly path: string | undefined
  /** Upper-cased. */
  readonly method: string | undefined
  readonly body: string | undefined
  /** Names lower-cased. */
  readonly headers: Readonly<Record<string, string>>
}

export interface ResolvedFastCgi {
  /** `{ path }` for a unix socket, else `{ host, port }` (net.connect options). */
  readonly address: { readonly path: string } | { readonly host: string, readonly port: number }
  /** The address as configured, for messages. */
  readonly label: string
  /** Absolute document root (as the backend sees it; it need not exist on this machine). */
  readonly root: string
  readonly index: string
  /** The script run for a path that names none (`frontController`), relative to root; undefined: such a path is a 404. */
  readonly frontController: string | undefined
  readonly maxConnections: number
  readonly connectTimeoutMs: number
  readonly keepAliveTimeoutMs: number
}

export interface ResolvedWorkers {
  readonly min: number
  readonly max: number
  /** 0: never retire for a request count. */
  readonly maxRequests: number
  /** 0: never retire for heap size. */
  readonly maxHeapMb: number
  readonly idleTimeoutMs: number
}

export interface ResolvedServer {
  readonly host: string
  readonly port: number
  readonly bodyLimit: number
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly keepAliveTimeoutMs: number
  readonly maxHeaderSize: number
  readonly shutdownTimeoutMs: number
  readonly startupTimeoutMs: number
  /** server.admin, server.adminPrefix, server.serverTiming (config/ops.ts). */
  readonly ops: ResolvedOps
  /** The FastCGI responder, when `server.fastcgi` is set. */
  readonly fastcgi?: ResolvedFastCgiResponder
  /** Gateway processes `warmgate start` runs on the port (`'auto'` resolved to the core count). */
  readonly processes: number
}

export interface ResolvedFastCgiResponder {
  readonly listen: ListenAddress
  readonly maxConnections: number
}

export interface ResolvedConfig {
  readonly server: ResolvedServer
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
  // A slowloris client holds a connection by sending its headers a byte at a time: every header block must
  // be complete this long after its first byte (nginx client_header_timeout is 60s; real clients need ms).
  headersTimeoutMs: 20_000,
  // The whole request, body included, within a minute: nginx's client_body_timeout, counted once, not per read.
  requestTimeoutMs: 60_000,
  // Node's own default; shorter than the usual 60s of proxies and load balancers in front, so the gateway
  // is the side that closes an idle connection and never races a request sent on a socket it just closed.
  keepAliveTimeoutMs: 5_000,
  // Node's default and ~nginx's (4 x 8k buffers): far above any real header block, small enough per connection.
  maxHeaderSize: 16 * 1024,
  // Long enough for ordinary requests to finish, short enough for an orchestrator's grace period
  // (Kubernetes sends SIGKILL 30 s after SIGTERM by default).
  shutdownTimeoutMs: 10_000,
  // A request that arrives while the pools prewarm waits for them this long: a slow import (a framework,
  // a TypeScript handler compiled on first load) takes seconds, and a refused first request is worse.
  startupTimeoutMs: 30_000,
  // One process, no supervisor: exactly what `warmgate start` always did.
  processes: 1,
  mode: 'warm' as Mode,
  timeoutMs: 30_000,
  workersMin: 1,
  concurrency: 32,
  /** Warm apps: `concurrency` defaults to this many per worker (async handlers overlap inside a worker). */
  concurrencyPerWorker: 32,
  maxQueue: 256,
  queueTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  // php-fpm's listen.backlog order of magnitude; nginx keeps at most its `keepalive N` idle ones per worker.
  fastcgiMaxConnections: 1024,
  fastcgiIndex: 'index.php',
  // A refused or missing socket fails at once; this bounds a backend host that does not answer at all.
  fastcgiConnectTimeoutMs: 5_000,
  // php-fpm gives each connection a whole child until it closes: an idle kept connection holds one
  // child hostage, so they are let go sooner than nginx's 60 s upstream keepalive_timeout.
  fastcgiKeepAliveTimeoutMs: 10_000,
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
    const fastcgi = app.fastcgi !== undefined
    // --mode picks how handler modules run; a CGI directory and a FastCGI backend have only one way to run.
    const mode: AppKind = fastcgi ? 'fastcgi' : cgi ? 'cgi' : options.mode ?? app.mode ?? defaults.mode ?? DEFAULTS.mode
    const concurrency = app.concurrency ?? (mode === 'warm' ? Math.max(min, max) * DEFAULTS.concurrencyPerWorker : DEFAULTS.concurrency)
    const workers = { ...defaults.workers, ...app.workers }
    return Object.freeze({
      name,
      route: normalizeRoute(app.route),
      entry: resolvePath(options.baseDir, (fastcgi ? app.root : cgi ? app.cgi : app.entry) as string),
      mode,
      timeoutMs: parseDuration(app.timeout) ?? parseDuration(defaults.timeout) ?? DEFAULTS.timeoutMs,
      workers: Object.freeze({
        min,
        max: Math.max(min, max),
        maxRequests: workers.maxRequests ?? 0,
        maxHeapMb: workers.maxHeapMb ?? 0,
        idleTimeoutMs: parseDuration(workers.idleTimeout) ?? DEFAULTS.idleTimeoutMs,
      }),
      env: Object.freeze({ ...app.env }),
      bodyLimit: parseSize(app.bodyLimit) ?? serverBodyLimit,
      passEnv: Object.freeze([...(app.passEnv ?? [])]),
      passAuthorization: app.passAuthorization ?? false,
      concurrency,
      maxQueue: app.maxQueue ?? DEFAULTS.maxQueue,
      queueTimeoutMs: parseDuration(app.queueTimeout) ?? DEFAULTS.queueTimeoutMs,
      memoryMb: app.memoryMb,
      kind: app.kind ?? 'auto',
      lambda: Object.freeze({ payload: app.lambda?.payload ?? '2.0' }),
      fastcgi: fastcgi ? resolveFastCgi(app, options.baseDir, concurrency) : undefined,
      bench: Object.freeze({
        path: app.bench?.path,
        method: app.bench?.method?.toUpperCase(),
        body: app.bench?.body,
        headers: Object.freeze(Object.fromEntries(Object.entries(app.bench?.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]))),
      }),
    })
  })
  return Object.freeze({
    server: Object.freeze({
      host: server.host ?? DEFAULTS.host,
      port: server.port ?? DEFAULTS.port,
      bodyLimit: serverBodyLimit,
      ...resolveServerTimeouts(server),
      maxHeaderSize: parseSize(server.maxHeaderSize) ?? DEFAULTS.maxHeaderSize,
      shutdownTimeoutMs: parseDuration(server.shutdownTimeout) ?? DEFAULTS.shutdownTimeoutMs,
      startupTimeoutMs: parseDuration(server.startupTimeout) ?? DEFAULTS.startupTimeoutMs,
      ops: resolveOps(server, server.host ?? DEFAULTS.host),
      fastcgi: server.fastcgi === undefined
        ? undefined
        : Object.freeze({
          listen: Object.freeze(parseListenAddress(server.fastcgi.listen) as ListenAddress),
          maxConnections: server.fastcgi.maxConnections ?? DEFAULTS.fastcgiMaxConnections,
        }),
      processes: server.processes === 'auto' ? availableParallelism() : server.processes ?? DEFAULTS.processes,
    }),
    apps: Object.freeze(apps),
    configFile: options.configFile,
  })
}

function resolveFastCgi (app: AppConfig, baseDir: string, concurrency: number): ResolvedFastCgi {
  const label = app.fastcgi as string
  const address = parseFastCgiAddress(label) as ResolvedFastCgi['address']
  return Object.freeze({
    address: Object.freeze('path' in address ? { path: resolvePath(address.path) } : { ...address }),
    label,
    root: resolvePath(baseDir, app.root as string),
    index: app.index ?? DEFAULTS.fastcgiIndex,
    frontController: app.frontController,
    maxConnections: app.maxConnections ?? concurrency,
    connectTimeoutMs: parseDuration(app.connectTimeout) ?? DEFAULTS.fastcgiConnectTimeoutMs,
    keepAliveTimeoutMs: parseDuration(app.keepAliveTimeout) ?? DEFAULTS.fastcgiKeepAliveTimeoutMs,
  })
}

/** The defaults give way to a value that is set, so that headersTimeout <= requestTimeout always holds (Node requires it). */
function resolveServerTimeouts (server: ServerConfig): Pick<ResolvedServer, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs'> {
  const headers = parseDuration(server.headersTimeout)
  const request = parseDuration(server.requestTimeout)
  const requestTimeoutMs = Math.round(request ?? Math.max(DEFAULTS.requestTimeoutMs, headers ?? 0))
  return {
    headersTimeoutMs: Math.round(headers ?? Math.min(DEFAULTS.headersTimeoutMs, requestTimeoutMs)),
    requestTimeoutMs,
    keepAliveTimeoutMs: Math.round(parseDuration(server.keepAliveTimeout) ?? DEFAULTS.keepAliveTimeoutMs),
  }
}
