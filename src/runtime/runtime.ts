import type { AppKind } from '../config/define.ts'
import { GatewayError } from '../errors.ts'
import type { GatewayRequest, GatewayResponse, MaybePromise, SignalSource } from '../types.ts'
import type { WebSocketConnection } from '../websocket/connection.ts'

export type { SignalSource } from '../types.ts'

export interface RuntimeStats {
  readonly mode: AppKind
  readonly inFlight: number
  readonly completed: number
  readonly failed: number
  /** Live workers (warm mode), or live processes (cold and cgi); 0 for inline. */
  readonly workers: number
  /** Requests waiting for a slot (the app's `concurrency` in use); 0 where there is no limit. */
  readonly queued: number
  /** Warm mode: workers running at least one request. Otherwise the same as `workers`. */
  readonly busyWorkers: number
  /** Warm mode: idle workers that are retiring (recycled, idle-timed-out, over their heap) and take no new request. */
  readonly retiringWorkers: number
}

/** The one seam every mode implements (docs/architecture.md). */
export interface Runtime {
  readonly mode: AppKind
  /**
   * Whether `dispatch` takes a request body as a `Readable` still arriving (README "Streaming"): the
   * front door then streams large and chunked bodies instead of buffering them. Process runtimes take
   * bytes (a CGI script's stdin is written whole, with CONTENT_LENGTH).
   */
  readonly streamsRequestBody: boolean
  /** Preload / prewarm. Idempotent: concurrent calls share one promise. */
  start (): Promise<void>
  /**
   * Warm mode, after `start()`: starts threads until `threads` are ready (at most `workers.max`). A reload
   * calls it with the size its predecessor grew to under load (reload.ts). Never rejects.
   */
  prewarm? (threads: number): Promise<void>
  /**
   * Answers one request: the response itself when it is already there (inline mode, a synchronous
   * handler), else a promise of it. Never throws; fails with a `GatewayError` as a rejected promise (and
   * promptly when `abort.signal` aborts). `started` is called once the request leaves the app's wait queue and
   * runs: the app's timeout counts from there.
   */
  dispatch (req: GatewayRequest, abort: SignalSource, started?: () => void): MaybePromise<GatewayResponse>
  /** Stops taking requests, drains those in flight, then stops. Idempotent, shared promise. */
  close (): Promise<void>
  /** Stops now; in-flight requests fail with `WG_ERR_RUNTIME_DESTROYED`. */
  destroy (reason?: Error): Promise<void>
  stats (): RuntimeStats
  /** After `start()`: whether the app takes WebSocket connections (its module has `websocket` hooks; docs/websockets.md). */
  acceptsWebSocket? (): boolean
  /** Hands an upgraded connection to the app; it owns the connection from here to its end. */
  attachWebSocket? (conn: WebSocketConnection): void
  /** Inline mode: a Node-style app's own upgrade handling, given the raw request and socket (docs/node-apps.md). */
  nodeUpgrade? (): ((req: unknown, socket: unknown, head: unknown) => void) | undefined
  /** Why an upgrade the app would take cannot be served in this mode (a 501), or undefined. */
  websocketRefusal? (): string | undefined
}

type State = 'idle' | 'starting' | 'ready' | 'closing' | 'closed'

/**
 * Owns the lifecycle state machine (idle → starting → ready → closing → closed), in-flight counting for
 * drains, and idempotent start/close/destroy (undici's DispatcherBase pattern). Modes implement the hooks.
 */
export abstract class BaseRuntime implements Runtime {
  abstract readonly mode: AppKind
  abstract readonly streamsRequestBody: boolean
  #state: State = 'idle'
  #startPromise: Promise<void> | undefined
  #closePromise: Promise<void> | undefined
  #destroyPromise: Promise<void> | undefined
  #inFlight = 0
  #completed = 0
  #failed = 0
  #drained: (() => void) | undefined

  protected abstract onStart (): Promise<void>
  /** Must call `started` when the request stops waiting for a slot and runs. May throw (taken as a rejection). */
  protected abstract onDispatch (req: GatewayRequest, abort: SignalSource, started: () => void): MaybePromise<GatewayResponse>
  /** Called once nothing is in flight. */
  protected abstract onClose (): Promise<void>
  /** Called at most once; must make every pending dispatch settle. */
  protected abstract onDestroy (reason: Error): Promise<void>
  protected workerCount (): number { return 0 }
  protected queuedCount (): number { return 0 }
  protected busyWorkerCount (): number { return this.workerCount() }
  protected retiringWorkerCount (): number { return 0 }

  start (): Promise<void> {
    if (this.#startPromise === undefined) {
      this.#state = 'starting'
      this.#startPromise = this.onStart().then(
        () => { if (this.#state === 'starting') this.#state = 'ready' },
        async (error: unknown) => {
          await this.destroy(error as Error)
          throw error
        },
      )
    }
    return this.#startPromise
  }

  dispatch (req: GatewayRequest, abort: SignalSource, started: () => void = noop): MaybePromise<GatewayResponse> {
    if (this.#state !== 'ready') {
      return Promise.reject(new GatewayError('WG_ERR_RUNTIME_CLOSED', `${this.mode} runtime is ${this.#state}, not ready`))
    }
    this.#inFlight++
    let answer: MaybePromise<GatewayResponse>
    try {
      answer = this.onDispatch(req, abort, started)
    } catch (error) {
      return Promise.reject(error).catch(this.#onFailed)
    }
    return answer instanceof Promise ? answer.then(this.#onSettled, this.#onFailed) : this.#onSettled(answer)
  }

  #onSettled = (res: GatewayResponse): GatewayResponse => {
    this.#completed++
    this.#leave()
    return res
  }

  #onFailed = (error: unknown): never => {
    this.#failed++
    this.#leave()
    throw error
  }

  #leave (): void {
    if (--this.#inFlight === 0 && this.#drained !== undefined) this.#drained()
  }

  close (): Promise<void> {
    if (this.#closePromise === undefined) {
      this.#closePromise = (async () => {
        if (this.#startPromise !== undefined) await this.#startPromise.catch(() => {})
        if (this.#state === 'closed') return
        this.#state = 'closing'
        if (this.#inFlight > 0) await new Promise<void>(resolve => { this.#drained = resolve })
        await this.onClose()
        this.#state = 'closed'
      })()
    }
    return this.#closePromise
  }

  destroy (reason?: Error): Promise<void> {
    if (this.#destroyPromise === undefined) {
      this.#state = 'closed'
      const error = new GatewayError('WG_ERR_RUNTIME_DESTROYED', `${this.mode} runtime destroyed${reason === undefined ? '' : `: ${reason.message}`}`, { cause: reason })
      this.#destroyPromise = this.onDestroy(error)
      // A close() waiting for a drain must not wait for requests that destroy() has failed.
      this.#drained?.()
    }
    return this.#destroyPromise
  }

  stats (): RuntimeStats {
    return { mode: this.mode, inFlight: this.#inFlight, completed: this.#completed, failed: this.#failed, workers: this.workerCount(), queued: this.queuedCount(), busyWorkers: this.busyWorkerCount(), retiringWorkers: this.retiringWorkerCount() }
  }
}

/** A promise that rejects with `signal.reason` when it aborts; the listener is removed by `done()`. */
export function onAbort (signal: AbortSignal, reject: (reason: unknown) => void): () => void {
  if (signal.aborted) {
    reject(signal.reason)
    return noop
  }
  const listener = (): void => reject(signal.reason)
  signal.addEventListener('abort', listener, { once: true })
  return () => signal.removeEventListener('abort', listener)
}

function noop (): void {}

/**
 * A request's own controller for a runtime: aborted when `requestSignal` aborts (client gone, timeout),
 * and kept in `live` (the caller deletes it when done), which the runtime's destroy() aborts. Throws if
 * either signal has aborted already. Not AbortSignal.any([requestSignal, destroyed]): its WeakRefs to the
 * long-lived `destroyed` kept every request's objects alive through young-generation GCs (fastcgi-runtime,
 * --trace-gc: 40 MB surviving each scavenge, 15 ms pauses, p99 170 ms). `unforward` drops the link to
 * `requestSignal` for a caller that is done with it before the request is.
 */
export function requestController (requestSignal: AbortSignal, destroyed: AbortSignal, live: Set<AbortController>): { controller: AbortController, unforward: () => void } {
  requestSignal.throwIfAborted()
  destroyed.throwIfAborted()
  const controller = new AbortController()
  const forward = (): void => controller.abort(requestSignal.reason)
  requestSignal.addEventListener('abort', forward, { once: true })
  live.add(controller)
  return { controller, unforward: () => requestSignal.removeEventListener('abort', forward) }
}
