import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AppKind, GatewayConfig, Mode } from '../config/define.ts'
import { checkAndResolve, loadConfigFile } from '../config/load.ts'
import { DEFAULTS, type ResolvedApp, type ResolvedConfig } from '../config/resolve.ts'
import { LISTEN_ADDRESS_EXPECTED, parseListenAddress } from '../config/listen-address.ts'
import { GatewayError } from '../errors.ts'
import { FastCgiServer, type FastCgiStats } from '../front/fastcgi-server.ts'
import { createClientErrorHandler } from '../http/client-error.ts'
import { continueWhenRouted, createRequestListener, type ListenerContext } from '../http/listener.ts'
import { createUpgradeListener, WebSocketHub } from '../websocket/upgrade.ts'
import { serverOptions } from '../http/server-options.ts'
import { createLogger, type Logger, type LogLevel } from '../log/logger.ts'
import type { Runtime, RuntimeStats } from '../runtime/runtime.ts'
import { AppTable } from './app-table.ts'
import { fromWebRequest, toWebResponse } from './fetch-adapter.ts'
import { handle, type PipelineContext } from './pipeline.ts'
import { reloadAll, serialized } from './reload.ts'
import type { AdminSource } from '../ops/admin.ts'

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
  /** `Server-Timing` on app responses when the config's `server.serverTiming` does not say. Default false (`dev`: true). */
  serverTiming?: boolean
  /**
   * For `warmgate dev`: called when an app's runtime fails to start (its handler throws at import, does not
   * parse, exports no handler), in createGateway and in every later rebuild; the runtime it returns is
   * started and serves that app instead (an error page), and the other apps start as usual. Returning
   * `undefined` keeps the failure. Default: none, a failing app fails createGateway (and `reload()`).
   */
  onLoadFailure?: (app: ResolvedApp, error: unknown) => Runtime | undefined
  /**
   * Listen here before the apps start (as `gw.listen(options)` would), so that load balancers and probes
   * see the gateway while its pools prewarm: `/__warmgate/health` answers 200, `/__warmgate/ready` 503
   * `{"status":"starting"}`; a request to an app is held until they serve (up to `server.startupTimeout`,
   * then 503 `WG_ERR_STARTING` with `Retry-After`). createGateway
   * still resolves once every app is started; `gw.listening` says where. `warmgate start` does this.
   */
  listen?: ListenOptions
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
   * Also listen for FastCGI here (`'127.0.0.1:9000'`, `'unix:/run/warmgate.sock'`); overrides
   * `server.fastcgi.listen` (the CLI's `--fastcgi`). Default: `server.fastcgi.listen` when set, else none.
   */
  fastcgi?: string
  /**
   * SO_REUSEPORT (Linux; Node >= 22.12): several processes listen on the same port and the kernel spreads
   * new connections across them; `server.admin` and a TCP FastCGI address are bound the same way. Used by
   * `warmgate start --processes N` (with `handle` too: it then applies to those other listeners). Default false.
   */
  reusePort?: boolean
  /**
   * Accept from this listening socket instead of binding one (`port`, `host` and `reusePort` are then not
   * used): a raw TCP handle received over IPC, as `warmgate start --processes` hands a socket from an old
   * process to its replacement.
   */
  handle?: object
}

export interface ListeningInfo {
  url: string
  host: string
  port: number
  /** The FastCGI responder's address, when it listens (`127.0.0.1:9000` with the bound port, or `unix:/path`). */
  fastcgi?: string
  /** The health/ready/metrics listener's URL, when `server.admin` gives it an address of its own. */
  adminUrl?: string
}

export interface Gateway {
  readonly config: ResolvedConfig
  readonly log: Logger
  /** Where `listen()` (or createGateway's `listen` option) listens; `undefined` before. */
  readonly listening: ListeningInfo | undefined
  /** A `node:http` request listener, to mount into a server of your own. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void
  /** Dispatches a web Request without a socket. */
  fetch (request: Request): Promise<Response>
  /**
   * Listens on `port`/`host` (default: the config's `server`), and for FastCGI when `server.fastcgi` or
   * `options.fastcgi` says where; resolves with the URL and the FastCGI address. With `server.admin` set,
   * the health/ready/metrics endpoints get a listener of their own there too (`adminUrl`).
   * @example
   * const { url, fastcgi } = await gw.listen({ port: 8080, fastcgi: 'unix:/run/warmgate.sock' })
   */
  listen (options?: ListenOptions): Promise<ListeningInfo>
  /** The FastCGI responder's counts (connections accepted and open, requests); `undefined` when it does not listen. */
  fastcgiStats (): FastCgiStats | undefined
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
  const table = new AppTable(resolved, log, {
    exposeErrors: options.exposeErrors === true,
    inlineInThread: options.inlineInThread === true,
    serverTiming: resolved.server.ops.serverTiming ?? options.serverTiming === true,
    onLoadFailure: options.onLoadFailure,
  })
  // What reload() reads again: the file, imported afresh, or the same object, validated again.
  const read = resolved.configFile !== undefined
    ? async () => loadConfigFile(resolved.configFile, { mode: options.mode, fresh: true })
    : async () => checkAndResolve(config, { baseDir: options.baseDir ?? process.cwd(), mode: options.mode })
  const gateway = new GatewayImpl(table, read)
  try {
    // Early: the port answers while the pools prewarm (readiness 503, app requests held), instead of refusing connections.
    if (options.listen !== undefined) await gateway.listen(options.listen)
    table.swap(resolved, await table.build(resolved.apps))
  } catch (error) {
    // build() destroyed the runtimes it started; close() stops the listeners and the spawner it may have started.
    await gateway.close()
    throw error
  }
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
  #listening: ListeningInfo | undefined
  #adminServer: Server | undefined
  readonly #admin: AdminSource
  /** What gateway.fetch's requests go through (pipeline.ts). */
  readonly #pipeline: PipelineContext
  #fastcgi: FastCgiServer | undefined
  #fallbackHost: string
  #closePromise: Promise<void> | undefined
  /** What the HTTP listener and the upgrade listener route with. */
  readonly #listenerContext: ListenerContext
  readonly #websockets = new WebSocketHub()

  constructor (table: AppTable, read: () => Promise<ResolvedConfig>) {
    this.#table = table
    this.log = table.log
    this.#fallbackHost = `${table.config.server.host}:${table.config.server.port}`
    this.#admin = {
      get prefix () { return table.config.server.ops.adminPrefix },
      metrics: table.metrics,
      notReady: () => table.notReady(),
    }
    // server.admin is read here, once: a reload does not move a listener.
    const admin = { source: this.#admin, serve: table.config.server.ops.admin === undefined }
    // No socket to keep apart: gateway.fetch answers the operator endpoints even with server.admin (embedding.md).
    this.#pipeline = { table, log: table.log, admin: { source: this.#admin, serve: true } }
    this.#listenerContext = { table, log: table.log, fallbackHost: () => this.#fallbackHost, admin }
    this.handler = createRequestListener(this.#listenerContext)
    this.reload = serialized(async () => reloadAll(table, read))
  }

  get config (): ResolvedConfig {
    return this.#table.config
  }

  get listening (): ListeningInfo | undefined {
    return this.#listening
  }

  get listeningServer (): Server | undefined {
    return this.#server
  }

  async fetch (request: Request): Promise<Response> {
    const started = performance.now()
    const req = await fromWebRequest(request)
    // The same steps as the FastCGI responder's (pipeline.ts): metrics, access line, refusals.
    const res = await handle(this.#pipeline, { ...req, pathname: new URL(req.url).pathname, started }, request.signal)
    return toWebResponse(res, req.method, req.id)
  }

  async listen (options: ListenOptions = {}): Promise<ListeningInfo> {
    this.#listening = await this.#listenAll(options)
    return this.#listening
  }

  async #listenAll (options: ListenOptions): Promise<ListeningInfo> {
    const fastcgiText = options.fastcgi
    const fastcgiAddress = fastcgiText === undefined ? this.config.server.fastcgi?.listen : parseListenAddress(fastcgiText)
    if (fastcgiAddress === undefined && fastcgiText !== undefined) {
      throw new GatewayError('WG_ERR_LISTEN', `listen: fastcgi must be ${LISTEN_ADDRESS_EXPECTED}, got ${JSON.stringify(fastcgiText)}`)
    }
    let info = await this.#listenHttp(options)
    const server = this.config.server
    try {
      // Several processes on one port (`--processes`): their admin and FastCGI TCP sockets are shared the same way.
      const shared = options.reusePort === true
      if (server.ops.admin !== undefined) info = { ...info, adminUrl: await this.#listenAdmin(server.ops.admin.host, server.ops.admin.port, shared) }
      if (fastcgiAddress === undefined) return info
      const fastcgi = new FastCgiServer({
        table: this.#table,
        log: this.log,
        fallbackHost: () => this.#fallbackHost,
        // The meta-variables nginx's fastcgi_params add to the headers take ~1-2 KiB.
        maxParamsSize: server.maxHeaderSize + 8 * 1024,
        requestTimeoutMs: server.requestTimeoutMs,
        firstRecordTimeoutMs: server.headersTimeoutMs,
        maxConnections: server.fastcgi?.maxConnections ?? DEFAULTS.fastcgiMaxConnections,
        admin: { source: this.#admin, serve: server.ops.admin === undefined },
      })
      this.#fastcgi = fastcgi
      return { ...info, fastcgi: await fastcgi.listen(fastcgiAddress, shared) }
    } catch (error) {
      // All or nothing: a listener that did open is closed again.
      this.#fastcgi = undefined
      const opened = [this.#server, this.#adminServer]
      this.#server = undefined
      this.#adminServer = undefined
      await Promise.all(opened.map(async (s) => new Promise(resolve => s === undefined ? resolve(undefined) : s.close(resolve))))
      throw error
    }
  }

  /** The operator endpoints alone, on `server.admin` (README "Health and metrics"). */
  #listenAdmin (host: string, port: number, reusePort: boolean): Promise<string> {
    const table = this.#table
    const listener = createRequestListener({ table, log: this.log, fallbackHost: () => this.#fallbackHost, admin: { source: this.#admin, serve: true }, adminOnly: true })
    const server = createServer(serverOptions(this.config.server), listener)
    server.on('clientError', createClientErrorHandler(this.log))
    server.on('checkContinue', continueWhenRouted(listener))
    return new Promise((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new GatewayError('WG_ERR_LISTEN', `cannot listen on server.admin ${host}:${port}: ${error.code ?? error.message}`, { cause: error })))
      server.listen({ port, host, reusePort }, () => {
        this.#adminServer = server
        const address = server.address() as AddressInfo
        resolve(`http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`)
      })
    })
  }

  fastcgiStats (): FastCgiStats | undefined {
    return this.#fastcgi?.stats()
  }

  #listenHttp (options: ListenOptions): Promise<ListeningInfo> {
    const host = options.host ?? this.config.server.host
    const port = options.port ?? this.config.server.port
    if (host.trim() === '') return Promise.reject(new GatewayError('WG_ERR_LISTEN', 'listen: host must be an address (an empty host would listen on every interface)'))
    if (!Number.isInteger(port) || port < 0 || port > 65535) return Promise.reject(new GatewayError('WG_ERR_LISTEN', `listen: port must be an integer from 0 to 65535, got ${String(port)}`))
    if (this.#server !== undefined) return Promise.reject(new GatewayError('WG_ERR_LISTEN', 'gateway is already listening'))
    if (this.#closePromise !== undefined) return Promise.reject(new GatewayError('WG_ERR_LISTEN', 'gateway is closed'))
    const server = createServer(serverOptions(this.config.server), this.handler)
    server.on('clientError', createClientErrorHandler(this.log))
    server.on('checkContinue', continueWhenRouted(this.handler))
    server.on('upgrade', createUpgradeListener(this.#listenerContext, this.handler, this.#websockets))
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
    const fastcgi = this.#fastcgi
    // Stops accepting; idle connections end now, busy ones after their request (END_REQUEST written).
    const fastcgiClosed = fastcgi?.stopAccepting()
    fastcgi?.closeIdle()
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
    fastcgi?.closeIdle()
    const grace = setTimeout(() => {
      server?.closeAllConnections()
      fastcgi?.destroyAll()
    }, 1000)
    await Promise.all([serverClosed, fastcgiClosed])
    clearTimeout(grace)
    // Last: probes saw "closing" (503) on it for the whole drain.
    const admin = this.#adminServer
    if (admin !== undefined) {
      const adminClosed = new Promise<void>(resolve => admin.close(() => resolve()))
      admin.closeAllConnections()
      await adminClosed
    }
  }
}
