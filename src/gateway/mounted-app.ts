import type { ResolvedApp } from '../config/resolve.ts'
import { ERROR_CODES, GatewayError, isGatewayError } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import type { GatewayMetrics } from '../ops/metrics.ts'
import type { WebSocketConnection } from '../websocket/connection.ts'
import type { Runtime } from '../runtime/runtime.ts'
import type { Aborter, GatewayRequest, GatewayResponse, MaybePromise } from '../types.ts'
import { devErrorResponse } from '../dev/error-view.ts'
import { errorResponse } from './error-response.ts'
import { TimeoutWheel, type Expiring } from './timeout-wheel.ts'

export interface MountedAppOptions {
  exposeErrors?: boolean
  serverTiming?: boolean
  metrics?: GatewayMetrics
}

/**
 * An app as the gateway serves it: its resolved config, its runtime, and the cross-cutting behaviour
 * wrapped around `dispatch` (the timeout, turning errors into responses, logging with the request id).
 * Everything per-app is computed once here, not per request.
 */
export class MountedApp {
  readonly config: ResolvedApp
  readonly runtime: Runtime
  /** Child logger bound to `{ app, mode }` once; requests add `reqId` to each line. */
  readonly log: Logger
  #routed = 0
  #idle: Array<() => void> = []
  /** The timeouts of this app's requests answered asynchronously (timeout-wheel.ts). */
  readonly #timeouts: TimeoutWheel

  /** `warmgate dev`: a 5xx answer is the dev error page, with the error's message and stack (never in `start`). */
  readonly exposeErrors: boolean
  /** Responses carry `Server-Timing: queue;dur=…, handler;dur=…, mode;desc=…` (server.serverTiming). */
  readonly serverTiming: boolean
  readonly metrics: GatewayMetrics | undefined

  /** Its open WebSocket connections (websocket/upgrade.ts), closed when the app leaves (reload, shutdown). */
  readonly sockets = new Set<WebSocketConnection>()
  /** Set once the app's connections were told to close: no new ones are upgraded. */
  closingSockets = false

  constructor (config: ResolvedApp, runtime: Runtime, log: Logger, options: MountedAppOptions = {}) {
    this.config = config
    this.runtime = runtime
    this.log = log
    this.exposeErrors = options.exposeErrors === true
    this.serverTiming = options.serverTiming === true
    this.metrics = options.metrics
    this.#timeouts = new TimeoutWheel(config.timeoutMs)
  }

  /**
   * A front door routed a request here (counted from the route match, before its body is read, to the
   * end of its response). A reload swaps the router under such a request: it must still find this app's
   * runtime open, so the app is drained by this count, not by the runtime's own (drain.ts).
   */
  enter (): void {
    this.#routed++
  }

  leave (): void {
    if (--this.#routed !== 0 || this.#idle.length === 0) return
    const idle = this.#idle
    this.#idle = []
    for (const resolve of idle) resolve()
  }

  /**
   * Closes every WebSocket of this app (RFC 6455 §7.4.1: 1001 going away, at shutdown; 1012 service
   * restart, at a reload, so that clients reconnect to the new version), and upgrades no more.
   */
  closeWebSockets (code: 1001 | 1012, reason: string): void {
    this.closingSockets = true
    for (const conn of this.sockets) conn.close(code, reason)
  }

  /** Requests routed here and not yet answered. */
  get routed (): number {
    return this.#routed
  }

  /** Resolves once no routed request is left. */
  whenIdle (): Promise<void> {
    return this.#routed === 0 ? Promise.resolve() : new Promise(resolve => this.#idle.push(resolve))
  }

  /**
   * Answers a request; never rejects. `controller` is aborted by the front door when the client goes
   * away; the timeout aborts it too, so the handler's `ctx.signal` sees both. An answer the runtime
   * has at once (a synchronous inline handler) is returned as it is, and no timeout is watched for it.
   */
  respond (req: GatewayRequest, controller: Aborter): MaybePromise<GatewayResponse> {
    // The timeout counts from dispatch, not from arrival: time spent waiting for a slot is bounded by
    // queueTimeout instead, so a burst does not eat into the handler's own time.
    const arrived = performance.now()
    const timing = new RequestTiming(arrived, this.#timeouts, this.config.timeoutMs, controller)
    const answer = this.runtime.dispatch(req, controller, timing.started)
    if (!(answer instanceof Promise)) return this.#answered(req, answer, timing)
    timing.waiting()
    return answer.then(
      (res) => this.#answered(req, res, timing),
      (error: unknown) => {
        timing.stop()
        const res = this.#fail(req, error)
        this.#timed(res, timing)
        return res
      },
    )
  }

  #answered (req: GatewayRequest, res: GatewayResponse, timing: RequestTiming): GatewayResponse {
    this.#timed(res, timing)
    // A streamed body is still the request's work: the timeout covers it until it ends.
    if (res.body === null || res.body instanceof Uint8Array) timing.stop()
    else {
      res.body.once('close', () => timing.stop())
      // Past the head a failure cannot become an error response: the front door closes the connection.
      res.body.once('error', (error: Error) => this.#logBodyFailure(req, error))
    }
    return res
  }

  /** Queue wait (arrival to hand-off) and handler time (hand-off to response head), to metrics and Server-Timing. */
  #timed (res: GatewayResponse, timing: RequestTiming): void {
    if (this.metrics === undefined && !this.serverTiming) return
    const now = performance.now()
    const { arrived, ran } = timing
    // A request refused while it waited (queue full, timeout in the queue) never ran: all of it was queue.
    const queueMs = (ran === 0 ? now : ran) - arrived
    const handlerMs = ran === 0 ? 0 : now - ran
    this.metrics?.timing(this.config, queueMs / 1000, handlerMs / 1000)
    // RFC: W3C Server Timing; `dur` in milliseconds. A handler's own Server-Timing entries stay: a second
    // field line is combined with the first (RFC 9110 §5.3).
    if (this.serverTiming) res.headers.push('server-timing', `queue;dur=${queueMs.toFixed(2)}, handler;dur=${handlerMs.toFixed(2)}, mode;desc=${this.config.mode}`)
  }

  #logBodyFailure (req: GatewayRequest, error: Error): void {
    const code = isGatewayError(error) ? error.code : 'WG_ERR_HANDLER_THREW'
    if (code === 'WG_ERR_CLIENT_ABORTED') this.log.info({ reqId: req.id, code }, 'client went away during the response body')
    else this.log.error({ reqId: req.id, code, err: error }, `response body failed mid-stream: ${error.message}`)
  }

  #fail (req: GatewayRequest, error: unknown): GatewayResponse {
    const code = isGatewayError(error) ? error.code : 'WG_ERR_HANDLER_THREW'
    if (code === 'WG_ERR_CLIENT_ABORTED') {
      this.log.info({ reqId: req.id, code }, 'client went away before the response')
    } else if (ERROR_CODES[code].statusCode < 500) {
      // The request's fault (no such script, traversal): worth a line, not a stack.
      this.log.warn({ reqId: req.id, code }, `request refused: ${(error as Error).message}`)
    } else {
      // The cause's stack is the handler's own; the GatewayError's is ours.
      const cause = (error as { cause?: unknown })?.cause
      this.log.error({ reqId: req.id, code, err: error, cause: cause instanceof Error ? cause : undefined }, `request failed: ${(error as Error)?.message ?? String(error)}`)
    }
    this.metrics?.error(this.config.name, code)
    const res = this.exposeErrors && ERROR_CODES[code].statusCode >= 500 ? devErrorResponse(code, req, this.config.name, error) : errorResponse(code, req.id)
    // RFC 9110 §10.2.3: tell the client when a full process limit is worth retrying.
    if (code === 'WG_ERR_OVERLOADED' || code === 'WG_ERR_QUEUE_TIMEOUT') res.headers.push('retry-after', '1')
    return res
  }
}

/**
 * When a request arrived and started to run, and its timeout. The timeout is watched (the app's
 * TimeoutWheel) only once the answer is known to be asynchronous (`waiting`) and the request runs
 * (`started`), whichever comes last: a synchronous answer never costs one.
 */
class RequestTiming implements Expiring {
  readonly arrived: number
  /** `performance.now()` when it left the wait queue and ran; 0 until then. */
  ran = 0
  deadline = Infinity
  readonly #wheel: TimeoutWheel
  readonly #timeoutMs: number
  readonly #controller: Aborter
  #waiting = false
  #watched = false
  #stopped = false

  constructor (arrived: number, wheel: TimeoutWheel, timeoutMs: number, controller: Aborter) {
    this.arrived = arrived
    this.#wheel = wheel
    this.#timeoutMs = timeoutMs
    this.#controller = controller
  }

  /** The runtime's `started` callback, bound once per request. */
  readonly started = (): void => {
    this.ran = performance.now()
    if (this.#waiting) this.#watch()
  }

  waiting (): void {
    this.#waiting = true
    // Started synchronously inside dispatch: the time it has run already counts (the deadline is from `ran`).
    if (this.ran !== 0) this.#watch()
  }

  stop (): void {
    this.#stopped = true
    if (this.#watched) this.#wheel.delete(this)
  }

  expire (): void {
    this.#watched = false
    this.#controller.abort(new GatewayError('WG_ERR_TIMEOUT', `handler did not answer within ${this.#timeoutMs} ms`))
  }

  #watch (): void {
    if (this.#stopped || this.#watched) return
    this.#watched = true
    this.deadline = this.ran + this.#timeoutMs
    this.#wheel.add(this)
  }
}

export function clientAborted (): GatewayError {
  return new GatewayError('WG_ERR_CLIENT_ABORTED', 'client closed the connection')
}
