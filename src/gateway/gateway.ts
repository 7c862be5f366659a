import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AppKind, GatewayConfig, Mode } from '../config/define.ts'
import { checkAndResolve, loadConfigFile } from '../config/load.ts'
import type { ResolvedConfig } from '../config/resolve.ts'
import { GatewayError } from '../errors.ts'
import { createClientErrorHandler } from '../http/client-error.ts'
import { createRequestListener } from '../http/listener.ts'
import { serverOptions } from '../http/server-options.ts'
import { createLogger, logAccess, type Logger, type LogLevel } from '../log/logger.ts'
import type { RuntimeStats } from '../runtime/runtime.ts'
import type { GatewayResponse } from '../types.ts'
import { AppTable } from './app-table.ts'
import { errorResponse } from './error-response.ts'
import { fromWebRequest, toWebResponse } from './fetch-adapter.ts'
import { followLocalRedirects } from './local-redirect.ts'
import { clientAborted } from './mounted-app.ts'
import { reloadAll, serialized } from './reload.ts'

export interface GatewayOptions {
  /** Overrides every app's mode (the CLI's `--mode`). */
  mode?: Mode
  /** A pino logger to use, or `false` for none. Default: a new one at `logLevel`. */
  logger?: Logger | false
  logLevel?: LogLevel
  /** Directory that relative entry paths of an inline config object are taken from. Default: `process.cwd()`. */
  baseDir?: string
  /**
   * 5xx bodies carry the error's message and stack (its handler's own under it). For `warmgate dev` only:
   * a production gateway must not hand stacks to clients. Default false: a generic body naming the request id.
   */
  exposeErrors?: boolean
  /**
   * Inline apps run in a pool of one worker thread instead of on the main thread, so that reloading them
   * does not keep every old module graph in the main thread's module cache. For `warmgate dev`. Default false.
   */
  inlineInThread?: boolean
}

export interface RouteInfo {
  route: string
  app: string
  mode: AppKind
  /** `min-max` for warm apps, `-` otherwise. */
  workers: string
  entry: string
}

export interface ListenOptions {
  port?: number
  host?: string
  /**
   * SO_REUSEPORT (Linux; Node >= 22.12): several processes listen on the same port and the kernel spreads
   * new connections across them. Used by `warmgate start --processes N`. Default false.
   */
  reusePort?: boolean
  /**
   * Accept from this listening socket instead of binding one (`port`, `host` and `reusePort` are then not
   * used): a raw TCP handle received over IPC, as `warmgate start --processes` hands a socket from an old
   * process to its replacement.
   */
  handle?: object
}

export interface Gateway {
  readonly config: ResolvedConfig
  readonly log: Logger
  /** A `node:http` request listener, to mount into a server of your own. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void
  /** Dispatches a web Request without a socket. */
  fetch (request: Request): Promise<Response>
  /** Listens on `port`/`host` (default: the config's `server`); resolves with the URL. */
  listen (options?: ListenOptions): Promise<{ url: string, host: string, port: number }>
  routes (): RouteInfo[]
  stats (): Record<string, RuntimeStats>
  /**
   * Re-reads the config (a config file is imported afresh; an inline config object is reused) and the
   * handler modules, starts and prewarms new runtimes for every app, switches new requests to them and
   * drains the old ones (requests in flight finish there, up to `server.shutdownTimeout`). Resolves once
   * the old runtimes are stopped. If anything fails, the previous version keeps serving, the cause is
   * logged, and the promise rejects with `WG_ERR_RELOAD_FAILED`. Calls made while a reload runs share
   * one reload that starts after it. `server.host`/`port` changes are not applied (a warning says so).
   * @example
   * process.on('SIGHUP', () => {
   *   gw.reload().catch((error) => console.error(`still serving the previous version: ${error.message}`))
   * })
   */
  reload (): Promise<void>
  /**
   * Stops accepting (the listening socket closes), closes idle keep-alive connections, lets requests in
   * flight finish (their responses say `Connection: close`) up to `server.shutdownTimeout`, then stops
   * what is left (those requests fail with `WG_ERR_RUNTIME_DESTROYED`), every worker and child process,
   * and closes the remaining connections. Idempotent: every call shares one promise.
   * @example
   * process.once('SIGTERM', () => { gw.close().then(() => process.exit(0)) })
   */
  close (): Promise<void>
}

/**
 * Creates a gateway and starts every app (warm pools are prewarmed, handlers imported) before resolving,
 * so a missing entry or a handler that throws at import fails here, not at the first request.
 * @example
 * const gw = await createGateway({ apps: { hello: { route: '/hello', entry: './apps/hello.ts' } } })
 * const { url } = await gw.listen({ port: 0 })
 * const res = await gw.fetch(new Request('http://local/hello'))
 * await gw.close()
 */
export async function createGateway (config: GatewayConfig | { configFile?: string }, options: GatewayOptions = {}): Promise<Gateway> {
  const resolved = 'configFile' in config && !('apps' in config)
    ? await loadConfigFile(config.configFile, { mode: options.mode })
    : checkAndResolve(config, { baseDir: options.baseDir ?? process.cwd(), mode: options.mode })
  const log = options.logger === false
    ? await createLogger({ level: 'silent', pretty: false })
    : options.logger ?? await createLogger({ level: options.logLevel })
  const table = new AppTable(resolved, log, { exposeErrors: options.exposeErrors === true, inlineInThread: options.inlineInThread === true })
  try {
    table.swap(resolved, await table.build(resolved.apps))
  } catch (error) {
    // build() destroyed the runtimes it started; the spawner it may have started goes too.
    await table.close(performance.now())
    throw error
  }
  // What reload() reads again: the file, imported afresh, or the same object, validated again.
  const read = resolved.configFile !== undefined
    ? async () => loadConfigFile(resolved.configFile, { mode: options.mode, fresh: true })
    : async () => checkAndResolve(config, { baseDir: options.baseDir ?? process.cwd(), mode: options.mode })
  const gateway = new GatewayImpl(table, read)
  INTERNALS.set(gateway, table)
  return gateway
}

/** Gateways made by createGateway, to their app table: for warmgate's own tools, not the public API. */
const INTERNALS = new WeakMap<Gateway, AppTable>()

/**
 * The app table behind a gateway, for `warmgate dev` (which replaces single apps with `replaceApps`).
 * Internal: not re-exported by src/index.ts.
 */
export function appTableOf (gateway: Gateway): AppTable {
  const table = INTERNALS.get(gateway)
  if (table === undefined) throw new GatewayError('WG_ERR_RELOAD_FAILED', 'not a gateway made by createGateway')
  return table
}

/**
 * The listening `node:http` server of a gateway made by createGateway, once it listens. For the supervised
 * processes of `warmgate start --processes` (src/cluster/), which stop accepting before they drain.
 * Internal: not re-exported by src/index.ts.
 */
export function listeningServerOf (gateway: Gateway): Server | undefined {
  return gateway instanceof GatewayImpl ? gateway.listeningServer : undefined
}

class GatewayImpl implements Gateway {
  readonly log: Logger
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void
  readonly reload: () => Promise<void>
  readonly #table: AppTable
  #server: Server | undefined
  #fallbackHost: string
  #closePromise: Promise<void> | undefined

  constructor (table: AppTable, read: () => Promise<ResolvedConfig>) {
    this.#table = table
    this.log = table.log
    this.#fallbackHost = `${table.config.server.host}:${table.config.server.port}`
    this.handler = createRequestListener({ table, log: table.log, fallbackHost: () => this.#fallbackHost })
    this.reload = serialized(async () => reloadAll(table, read))
  }

  get config (): ResolvedConfig {
    return this.#table.config
  }

  get listeningServer (): Server | undefined {
    return this.#server
  }

  async fetch (request: Request): Promise<Response> {
    const started = performance.now()
    const req = await fromWebRequest(request)
    const pathname = new URL(req.url).pathname
    const router = this.#table.router
    const app = router.match(pathname)
    let res: GatewayResponse
    if (app === undefined) {
      res = errorResponse('WG_ERR_NOT_FOUND', req.id)
    } else if (req.body !== null && req.body.byteLength > app.config.bodyLimit) {
      res = errorResponse('WG_ERR_BODY_TOO_LARGE', req.id)
    } else {
      const controller = new AbortController()
      const onAbort = (): void => controller.abort(clientAborted())
      request.signal.addEventListener('abort', onAbort, { once: true })
      const stopListening = (): void => request.signal.removeEventListener('abort', onAbort)
      app.enter()
      try {
        res = await app.respond(req, controller)
        if (res.localRedirect !== undefined) res = await followLocalRedirects(res, req, app, router, controller)
      } catch (error) {
        stopListening()
        app.leave()
        throw error
      }
      // A streamed body still has a process behind it, which the caller's abort must stop.
      if (res.body === null || res.body instanceof Uint8Array) {
        stopListening()
        app.leave()
      } else {
        res.body.once('close', () => {
          stopListening()
          app.leave()
        })
      }
    }
    // The same access line as the HTTP front door writes.
    logAccess(app?.log ?? this.log, req.id, req.method, pathname, res.status, started)
    return toWebResponse(res, req.method, req.id)
  }

  listen (options: ListenOptions = {}): Promise<{ url: string, host: string, port: number }> {
    const host = options.host ?? this.config.server.host
    const port = options.port ?? this.config.server.port
    if (host.trim() === '') return Promise.reject(new GatewayError('WG_ERR_LISTEN', 'listen: host must be an address (an empty host would listen on every interface)'))
    if (!Number.isInteger(port) || port < 0 || port > 65535) return Promise.reject(new GatewayError('WG_ERR_LISTEN', `listen: port must be an integer from 0 to 65535, got ${String(port)}`))
    if (this.#server !== undefined) return Promise.reject(new GatewayError('WG_ERR_LISTEN', 'gateway is already listening'))
    if (this.#closePromise !== undefined) return Promise.reject(new GatewayError('WG_ERR_LISTEN', 'gateway is closed'))
    const server = createServer(serverOptions(this.config.server), this.handler)
    server.on('clientError', createClientErrorHandler(this.log))
    this.#server = server
    return new Promise((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        this.#server = undefined
        reject(new GatewayError('WG_ERR_LISTEN', `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, { cause: error }))
      })
      const onListening = (): void => {
        const address = server.address() as AddressInfo
        const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
        this.#fallbackHost = `${urlHost}:${address.port}`
        resolve({ url: `http://${urlHost}:${address.port}`, host: address.address, port: address.port })
      }
      if (options.handle !== undefined) server.listen(options.handle, onListening)
      else server.listen({ port, host, reusePort: options.reusePort === true }, onListening)
    })
  }

  routes (): RouteInfo[] {
    return this.#table.apps.map(({ config: app }) => ({
      route: app.route,
      app: app.name,
      mode: app.mode,
      workers: app.mode === 'warm' ? `${app.workers.min}-${app.workers.max}` : '-',
      entry: app.entry,
    }))
  }

  stats (): Record<string, RuntimeStats> {
    return Object.fromEntries(this.#table.apps.map(app => [app.config.name, app.runtime.stats()]))
  }

  close (): Promise<void> {
    this.#closePromise ??= this.#close()
    return this.#closePromise
  }

  async #close (): Promise<void> {
    const deadline = performance.now() + this.config.server.shutdownTimeoutMs
    const server = this.#server
    // Node closes the listening socket at once (a new connection is refused) and, since Node 19, the
    // idle keep-alive connections; a connection with a request in flight is closed after its response.
    const serverClosed = server === undefined
      ? Promise.resolve()
      : new Promise<void>(resolve => server.close(() => resolve()))
    server?.closeIdleConnections()
    const forced = await this.#table.close(deadline)
    if (forced > 0) this.log.warn({ failed: forced }, `closed with ${forced} request(s) failed at server.shutdownTimeout`)
    // Every routed request has been answered. What is left is idle, or a client still sending a request
    // head that no app will get to serve: do not wait for it.
    server?.closeIdleConnections()
    const grace = setTimeout(() => server?.closeAllConnections(), 1000)
    await serverClosed
    clearTimeout(grace)
  }
}
