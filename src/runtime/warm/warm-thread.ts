import type { MessagePort } from 'node:worker_threads'
import { Outbox, type ToWorker } from '../../protocol/messages.ts'
import type { WebSocketConnection } from '../../websocket/connection.ts'

/**
 * Why a thread stops taking requests:
 * - `recycle`: it reached `workers.maxRequests` or `workers.maxHeapMb`; it keeps serving until a
 *   replacement is ready, so a recycle never makes a request wait;
 * - `drain`: it stops taking requests now (idle above `workers.min`, or its state is suspect after an
 *   uncaught exception); it stops gracefully once its requests are answered;
 * - `hung`: a handler kept running past its request's end plus the grace; the thread is terminated once
 *   no live request is left on it (those are blocked too, and each ends at its own timeout).
 */
export type RetireReason = 'recycle' | 'drain' | 'hung'

/** One thread of a warm pool, as the main side sees it: its port, its outbox, its load and its fate. */
export class WarmThread {
  readonly id: number
  readonly port: MessagePort
  readonly outbox: Outbox<ToWorker>
  /** Aborting it makes piscina terminate the thread (warm modules and all). */
  readonly kill = new AbortController()
  /** Requests sent and not answered, aborted or timed out. */
  inFlight = 0
  /** Requests ever sent (for `workers.maxRequests`). */
  served = 0
  /** performance.now() when inFlight last fell to 0. */
  idleSince = performance.now()
  ready = false
  retire: RetireReason | undefined
  /** STOP has been sent (or the thread is being terminated): it takes nothing more. */
  stopping = false
  /** Terminates the thread if it never answers STOP with STOPPED. */
  stopTimer: NodeJS.Timeout | undefined
  /** Requests answered elsewhere (timeout, client gone) whose handler has not finished: seq → deadline timer. */
  readonly abandoned = new Map<number, NodeJS.Timeout>()
  /** WebSocket connections pinned to this thread for their life (docs/websockets.md), by connection id. */
  readonly sockets = new Map<number, WebSocketConnection>()
  /** The OS-level thread's id (worker_threads `threadId`), from its READY message. */
  threadId = -1
  /** Resolves once the thread has really ended (not only its task): close() waits for it. */
  readonly exited: Promise<void>
  markExited!: () => void
  /** Set by `terminate`: the thread's own 'exit', which comes after piscina has rejected its task. */
  ended: Promise<unknown> | undefined

  /** `unsendable`: see Outbox; a request that cannot be posted must fail rather than wait forever. */
  constructor (id: number, port: MessagePort, unsendable: (message: ToWorker, error: unknown) => ToWorker) {
    this.id = id
    this.port = port
    this.outbox = new Outbox<ToWorker>((batch, transfer) => port.postMessage(batch, transfer), unsendable)
    this.exited = new Promise<void>(resolve => { this.markExited = resolve })
  }

  /**
   * May take a new request. Not while a handler it was told to abandon is still running: a request sent
   * there could sit behind a `for(;;){}` until the thread is terminated, so another thread is started
   * instead (it honoured ctx.signal in the common case, and the thread is routable again at once).
   */
  get routable (): boolean {
    return this.ready && !this.stopping && this.retire === undefined && this.abandoned.size === 0
  }
}
