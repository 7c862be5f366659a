import { existsSync, statSync } from 'node:fs'
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
import { createRuntime } from '../runtime/create-runtime.ts'
import type { RuntimeStats } from '../runtime/runtime.ts'
import { createSpawner } from '../spawn/create-spawner.ts'
import type { Spawner } from '../spawn/spawner.ts'
import type { GatewayResponse } from '../types.ts'
import { errorResponse } from './error-response.ts'
import { fromWebRequest, toWebResponse } from './fetch-adapter.ts'
import { followLocalRedirects } from './local-redirect.ts'
import { clientAborted, MountedApp } from './mounted-app.ts'
import { Router } from './router.ts'

export interface GatewayOptions {
  /** Overrides every app's mode (the CLI's `--mode`). */
  mode?: Mode
  /** A pino logger to use, or `false` for none. Default: a new one at `logLevel`. */
  logger?: Logger | false
  logLevel?: LogLevel
  /** Directory that relative entry paths of an inline config object are taken from. Default: `process.cwd()`. */
  baseDir?: string
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
  /** Stops accepting, answers what is in flight, stops every worker. Idempotent. */
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
  checkEntries(resolved)
  const log = options.logger === false
    ? await createLogger({ level: 'silent', pretty: false })
    : options.logger ?? await createLogger({ level: options.logLevel })

  const apps: MountedApp[] = []
  // One spawner for every cold and cgi app (helper-spawner.ts: one small process forks them all).
  const spawner = resolved.apps.some(app => app.mode === 'cold' || app.mode === 'cgi') ? await createSpawner(log) : undefined
  for (const app of resolved.apps) {
    const appLog = log.child({ app: app.name, mode: app.mode })
    const runtime = createRuntime(app, {
      spawner: spawner as Spawner,
      log: appLog,
      onBackgroundError: (reqId, err) => appLog.error({ reqId, err }, 'ctx.waitUntil promise rejected'),
      onWorkerLog: (level, message, fields) => appLog[level](fields, message),
      onWorkerExit: (err) => appLog.warn({ err }, 'worker exited; replacing it'),
      onWorkerRetire: (reason, why, fields) => appLog[reason === 'hung' ? 'warn' : 'info']({ ...fields, reason }, `retiring a worker: ${why}`),
    })
    apps.push(new MountedApp(app, runtime, appLog))
  }
  const started = await Promise.allSettled(apps.map(async (app) => app.runtime.start()))
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failed !== undefined) {
    await Promise.all(apps.map(async (app) => app.runtime.destroy()))
    await spawner?.close()
    throw failed.reason
  }
  return new GatewayImpl(resolved, apps, log, spawner)
}

function checkEntries (config: ResolvedConfig): void {
  const missing = config.apps.filter(app => !existsSync(app.entry) || (app.mode === 'cgi' ? !statSync(app.entry).isDirectory() : !statSync(app.entry).isFile()))
  if (missing.length > 0) {
    throw new GatewayError('WG_ERR_ENTRY_NOT_FOUND', missing.map(app => app.mode === 'cgi'
      ? `apps.${app.name}.cgi: directory not found: ${app.entry}`
      : `apps.${app.name}.entry: file not found: ${app.entry}`).join('\n'))
  }
}

class GatewayImpl implements Gateway {
  readonly config: ResolvedConfig
  readonly log: Logger
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void
  readonly #apps: MountedApp[]
  readonly #router: Router<MountedApp>
  #server: Server | undefined
  #fallbackHost: string
  #closePromise: Promise<void> | undefined
  readonly #spawner: Spawner | undefined

  constructor (config: ResolvedConfig, apps: MountedApp[], log: Logger, spawner: Spawner | undefined) {
    this.config = config
    this.log = log
    this.#apps = apps
    this.#spawner = spawner
    this.#router = new Router(apps.map(app => [app.config.route, app]))
    this.#fallbackHost = `${config.server.host}:${config.server.port}`
    this.handler = createRequestListener({ router: this.#router, log, fallbackHost: () => this.#fallbackHost })
  }

  async fetch (request: Request): Promise<Response> {
    const started = performance.now()
    const req = await fromWebRequest(request)
    const pathname = new URL(req.url).pathname
    const app = this.#router.match(pathname)
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
      try {
        res = await app.respond(req, controller)
        if (res.localRedirect !== undefined) res = await followLocalRedirects(res, req, app, this.#router, controller)
      } catch (error) {
        stopListening()
        throw error
      }
      // A streamed body still has a process behind it, which the caller's abort must stop.
      if (res.body === null || res.body instanceof Uint8Array) stopListening()
      else res.body.once('close', stopListening)
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
    const server = createServer(serverOptions(this.config.server), this.handler)
    server.on('clientError', createClientErrorHandler(this.log))
    this.#server = server
    return new Promise((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        this.#server = undefined
        reject(new GatewayError('WG_ERR_LISTEN', `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, { cause: error }))
      })
      server.listen({ port, host }, () => {
        const address = server.address() as AddressInfo
        const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
        this.#fallbackHost = `${urlHost}:${address.port}`
        resolve({ url: `http://${urlHost}:${address.port}`, host: address.address, port: address.port })
      })
    })
  }

  routes (): RouteInfo[] {
    return this.#apps.map(({ config: app }) => ({
      route: app.route,
      app: app.name,
      mode: app.mode,
      workers: app.mode === 'warm' ? `${app.workers.min}-${app.workers.max}` : '-',
      entry: app.entry,
    }))
  }

  stats (): Record<string, RuntimeStats> {
    return Object.fromEntries(this.#apps.map(app => [app.config.name, app.runtime.stats()]))
  }

  close (): Promise<void> {
    this.#closePromise ??= this.#close()
    return this.#closePromise
  }

  async #close (): Promise<void> {
    const server = this.#server
    const serverClosed = server === undefined
      ? Promise.resolve()
      : new Promise<void>(resolve => server.close(() => resolve()))
    server?.closeIdleConnections()
    // In-flight requests finish on the runtimes; then the runtimes stop their workers.
    await Promise.all(this.#apps.map(async (app) => app.runtime.close()))
    await this.#spawner?.close()
    // Connections still open are idle now, or stuck on a slow client: do not wait for them forever.
    const grace = setTimeout(() => server?.closeAllConnections(), 5000)
    server?.closeIdleConnections()
    await serverClosed
    clearTimeout(grace)
  }
}
