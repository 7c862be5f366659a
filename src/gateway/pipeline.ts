import type { ErrorCode } from '../errors.ts'
import { logAccess, type Logger } from '../log/logger.ts'
import { adminResponse, isAdminPath, type AdminSource } from '../ops/admin.ts'
import type { BufferedRequest, GatewayResponse } from '../types.ts'
import type { StartingTable } from './app-table.ts'
import { errorResponse } from './error-response.ts'
import { clientAborted, type MountedApp } from './mounted-app.ts'
import { respondRouted } from './respond.ts'
import type { Router } from './router.ts'

/** What the steps read of a gateway: its app table, its logger, and where the operator endpoints are answered. */
export interface PipelineContext {
  /** Read once per request: a reload swaps the router, and close() sets `closing`. */
  readonly table: StartingTable
  readonly log: Logger
  /** The operator endpoints: answered when `serve`, else (`server.admin` has them) 404. Never routed. */
  readonly admin?: { readonly source: AdminSource, readonly serve: boolean }
}

/** Who asked, for the access line and the metrics. */
export interface Asked {
  readonly id: string
  readonly method: string
  /** For the access line: the routed path (or the raw target when none could be made). */
  readonly path: string
  /** `performance.now()` when the request arrived. */
  readonly started: number
}

// The steps every request takes whatever door it came in by, in this order: operator endpoints,
// the start-up wait, routing (and enter, for drains), the body limit, dispatch with local redirects,
// error answers, then one access line and one count. `handle` runs them all for a request whose body is
// already in memory (gateway.fetch); the FastCGI responder, whose body arrives as STDIN records after
// routing, calls the same steps one by one (src/front/fastcgi-exchange.ts).

/** Whether `pathname` is an operator endpoint (health, ready, metrics): never routed to an app. */
export function isOperatorPath (context: PipelineContext, pathname: string): boolean {
  const admin = context.admin
  return admin !== undefined && isAdminPath(pathname, admin.source.prefix)
}

/** Answers an operator endpoint (404 when `server.admin` has them); never rejects. */
export function answerOperator (context: PipelineContext, asked: Asked, pathname: string): Promise<GatewayResponse> {
  const admin = context.admin
  if (admin === undefined || !admin.serve) return Promise.resolve(errorResponse('WG_ERR_NOT_FOUND', asked.id))
  return adminResponse(admin.source, asked.method, pathname).catch((error: unknown) => {
    context.log.error({ reqId: asked.id, err: error }, 'admin endpoint failed')
    return errorResponse('WG_ERR_HANDLER_THREW', asked.id)
  })
}

/**
 * While the apps start (a door that listened first): resolves `undefined` once they serve, or the 503
 * (`WG_ERR_STARTING`, `Retry-After`) past `server.startupTimeout` or when the gateway closed first.
 */
export async function waitForStart (context: PipelineContext, asked: Asked): Promise<GatewayResponse | undefined> {
  const table = context.table
  if (table.starting !== true) return undefined
  let ready = false
  try {
    ready = await (table.whenStarted?.() ?? Promise.resolve(false))
  } catch (error) {
    context.log.error({ reqId: asked.id, err: error }, 'waiting for the apps to start failed')
  }
  return ready && table.starting !== true ? undefined : refusal(context, 'WG_ERR_STARTING', asked.id)
}

/**
 * The app for `pathname`, entered (counted as routed until `leave()`: a reload drains it by that count),
 * with the router that found it: local redirects go through the same one even if a reload swaps it.
 */
export function routeTo (context: PipelineContext, pathname: string): { app: MountedApp, router: Router<MountedApp> } | undefined {
  const router = context.table.router
  const app = router.match(pathname)
  if (app === undefined) return undefined
  app.enter()
  return { app, router }
}

/**
 * The gateway's own answer for a request refused before (or instead of) its app's answer: 400, 404,
 * 413, 503 while starting. One warn line with the code (operations.md "Limits"), except a 404.
 */
export function refusal (context: PipelineContext, code: ErrorCode, id: string, app?: MountedApp, fields: Record<string, unknown> = {}): GatewayResponse {
  if (code !== 'WG_ERR_NOT_FOUND') {
    const why = code === 'WG_ERR_STARTING'
      ? (context.table.closing ? 'the gateway closed before its apps started' : 'the apps did not start within server.startupTimeout')
      : code
    ;(app?.log ?? context.log).warn({ reqId: id, code, ...fields }, `request refused: ${why}`)
  }
  const res = errorResponse(code, id)
  // RFC 9110 §10.2.3: worth retrying once the apps serve.
  if (code === 'WG_ERR_STARTING') res.headers.push('retry-after', '1')
  return res
}

/** One access line and one count per answered request; operator endpoints are logged at debug and not counted. */
export function recordAnswer (context: PipelineContext, asked: Asked, app: MountedApp | undefined, status: number, operator: boolean): void {
  if (!operator) context.table.metrics?.request(app?.config, status)
  // A probe every few seconds would drown the access log: admin lines are debug.
  logAccess(app?.log ?? context.log, asked.id, asked.method, asked.path, status, asked.started, operator ? 'debug' : 'info')
}

/** A request whose body is already whole (bytes or nothing), with the path it is routed by. */
export interface WholeRequest extends BufferedRequest {
  readonly pathname: string
  /** `performance.now()` when it arrived, before its body was read. Default: now. */
  readonly started?: number
}

/**
 * Every step for a request whose body is already in memory (`gateway.fetch`): operator endpoints, the
 * start-up wait, routing, the body limit, dispatch and local redirects, then the access line and the
 * count. `signal` is the caller's: its abort reaches the handler's `ctx.signal`. The app is left when
 * the answer's body is over (at once for bytes; when a streamed body closes). Never rejects for a
 * handler's failure: that is an error response.
 */
export async function handle (context: PipelineContext, req: WholeRequest, signal?: AbortSignal): Promise<GatewayResponse> {
  const asked: Asked = { id: req.id, method: req.method, path: req.pathname, started: req.started ?? performance.now() }
  if (isOperatorPath(context, req.pathname)) {
    const res = await answerOperator(context, asked, req.pathname)
    recordAnswer(context, asked, undefined, res.status, true)
    return res
  }
  const notStarted = await waitForStart(context, asked)
  if (notStarted !== undefined) {
    recordAnswer(context, asked, undefined, notStarted.status, false)
    return notStarted
  }
  const routed = routeTo(context, req.pathname)
  if (routed === undefined) {
    const res = refusal(context, 'WG_ERR_NOT_FOUND', req.id)
    recordAnswer(context, asked, undefined, res.status, false)
    return res
  }
  const { app, router } = routed
  if (req.body !== null && req.body.byteLength > app.config.bodyLimit) {
    app.leave()
    const res = refusal(context, 'WG_ERR_BODY_TOO_LARGE', req.id, app)
    recordAnswer(context, asked, app, res.status, false)
    return res
  }
  const controller = new AbortController()
  const onAbort = (): void => controller.abort(clientAborted())
  signal?.addEventListener('abort', onAbort, { once: true })
  const over = (): void => {
    signal?.removeEventListener('abort', onAbort)
    app.leave()
  }
  let res: GatewayResponse
  try {
    res = await respondRouted(app, req, router, controller)
  } catch (error) {
    over()
    throw error
  }
  recordAnswer(context, asked, app, res.status, false)
  // A streamed body still has a handler or a process behind it, which the caller's abort must stop.
  if (res.body === null || res.body instanceof Uint8Array) over()
  else res.body.once('close', over)
  return res
}
