import { once } from 'node:events'
import { Readable } from 'node:stream'
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import { Piscina } from 'piscina'
import type { ResolvedApp } from '../../config/resolve.ts'
import { GatewayError, reviveError, type SerializedError } from '../../errors.ts'
import { handlerOptionsOf } from '../../handler/options.ts'
import {
  ABORT, FAILURE, LOAD_FAILED, LOG, PROTOCOL_VERSION, READY, REQUEST, REQUEST_CREDIT, RESPONSE,
  RESPONSE_CHUNK, RESPONSE_END, RESPONSE_HEAD, RETIRE, STOP, STOPPED, WS_ACK, WS_CLOSE, WS_CLOSED, WS_MESSAGE, WS_OPEN, WS_SEND,
  type FromWorker, type ServeTask, type ToWorker,
} from '../../protocol/messages.ts'
import type { WebSocketConnection } from '../../websocket/connection.ts'
import type { GatewayRequest, GatewayResponse } from '../../types.ts'
import type { RuntimeHooks } from '../inline/inline-runtime.ts'
import { COMPILE_CACHE } from '../compile-cache.ts'
import { BaseRuntime, type SignalSource } from '../runtime.ts'
import { Slots } from '../slots.ts'
import { WarmBodies } from './warm-body.ts'
import { type RetireReason, WarmThread } from './warm-thread.ts'

/**
 * How long a handler may keep running after its request ended (timed out, client gone) before its
 * thread is replaced: long enough for a handler that honours ctx.signal to notice, short enough that a
 * `for(;;){}` does not hold a thread for long.
 */
export const KILL_GRACE_MS = 1000

// A CommonJS shim (see the file): piscina require()s a worker file first, and require(esm) is unsafe to terminate.
const WORKER_FILE = new URL('./warm.worker.cjs', import.meta.url).href

export interface WarmRuntimeHooks extends RuntimeHooks {
  /** A log line a worker sent (its bindings travel as data, never as a logger object). */
  onWorkerLog (level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void
  /** A worker thread ended unexpectedly; its in-flight requests have been failed. */
  onWorkerExit (error: Error): void
  /** A worker thread is being replaced or stopped on purpose (recycle, idle, hung handler). */
  onWorkerRetire (reason: RetireReason, why: string, fields: Record<string, unknown>): void
  /** A thread loaded its handler and joined the pool (metrics). */
  onWorkerStart?: () => void
}

interface Pending {
  resolve: (res: GatewayResponse) => void
  reject: (error: unknown) => void
  thread: WarmThread
  signal: AbortSignal
  onAbort: () => void
  reqId: string
  dispatchedAt: number
}

interface Waiter {
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * FastCGI's persistence, in-process: a pool of worker threads that imported the handler once.
 * piscina owns the threads (creation, resource limits, termination); each thread runs one long-lived
 * serve task and takes requests over its own MessagePort, several in flight at once, in batches.
 * This class decides which thread gets a request, and when a thread is retired and replaced:
 * after `workers.maxRequests` / `workers.maxHeapMb`, when idle above `workers.min`, after an uncaught
 * exception, and when a handler is still running KILL_GRACE_MS after its request ended (a thread stuck
 * in `for(;;){}` is terminated: the only way to stop synchronous JavaScript).
 */
export class WarmRuntime extends BaseRuntime {
  readonly mode = 'warm' as const
  readonly streamsRequestBody = true
  readonly #app: ResolvedApp
  readonly #hooks: WarmRuntimeHooks
  readonly #slots: Slots
  #pool: Piscina | undefined
  /** Every live thread that finished loading, routable or retiring. */
  readonly #threads: WarmThread[] = []
  #starting = 0
  /** Thread starts waiting for piscina to have room (#spawn); counted in #starting. */
  readonly #deferred: Array<() => void> = []
  #nextThreadId = 0
  readonly #pending = new Map<number, Pending>()
  #seq = 0
  /** Bodies streaming to and from workers (README "Streaming"). */
  readonly #bodies = new WarmBodies()
  #closing = false
  #sweeper: NodeJS.Timeout | undefined
  /** What the handler module does with WebSockets (every thread's READY says; protocol/messages.ts). */
  #websocket: 0 | 1 | 2 = 0
  /** Requests waiting for a first routable thread (`workers.min: 0`, or every thread died or retired). */
  #waiting: Waiter[] = []

  constructor (app: ResolvedApp, hooks: WarmRuntimeHooks) {
    super()
    this.#app = app
    this.#hooks = hooks
    this.#slots = new Slots(app.concurrency, app.maxQueue, app.queueTimeoutMs)
  }

  /** piscina's cap (see onStart); a thread start beyond it waits in #deferred. */
  get #maxThreads (): number {
    return this.#app.workers.max * 2
  }

  protected async onStart (): Promise<void> {
    const { min, idleTimeoutMs } = this.#app.workers
    this.#pool = new Piscina({
      filename: WORKER_FILE,
      // 0, not `min`: this class keeps `min` serve tasks itself. piscina's own minimum would start a spare
      // idle thread each time one is terminated (recycle, close), which costs a thread start-up on the
      // two cores serving requests, during a reload or shutdown (measured: reload p99 ~3.9x -> see README).
      minThreads: 0,
      // Room for a replacement next to each retiring thread: we cap routable threads at `max` ourselves.
      maxThreads: this.#maxThreads,
      idleTimeout: 1000,
      concurrentTasksPerWorker: 1,
      // Idle threads must keep their event loop running: 'sync' would park them in Atomics.wait.
      atomics: 'disabled',
      recordTiming: false,
      // Each thread's copy of the environment, plus the shared compile cache (compile-cache.ts): a thread
      // started by a reload or a recycle loads the cached code of our worker and of the handler.
      env: { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? COMPILE_CACHE },
      // Measured: young-generation growth per isolate doubled RSS under load; a small nursery kept it
      // near in-process levels with no measurable throughput loss.
      resourceLimits: { maxYoungGenerationSizeMb: 12, ...(this.#app.memoryMb === undefined ? {} : { maxOldGenerationSizeMb: this.#app.memoryMb }) },
    })
    // A thread that fails outside a task must not take the gateway down; its task rejects and we replace it.
    this.#pool.on('error', (error: Error) => this.#hooks.onWorkerLog('error', 'worker pool error', { err: { message: error.message, stack: error.stack } }))
    this.#sweeper = setInterval(this.#sweepIdle, Math.max(50, Math.min(1000, idleTimeoutMs / 2))).unref()
    // Start every `min` worker and wait until each has imported the handler: the first request is warm.
    await Promise.all(Array.from({ length: min }, async () => this.#spawn()))
  }

  /**
   * One thread at a time: each start costs ~50 ms of CPU on the cores that are serving the old pool's
   * requests meanwhile, and nothing waits on these threads until the swap. A thread that fails to start
   * is logged (#onSpawnFailed) and ends the prewarm: the pool already has its `workers.min`.
   */
  async prewarm (threads: number): Promise<void> {
    const target = Math.min(threads, this.#app.workers.max)
    while (!this.#closing && this.#routableCount() + this.#starting < target) {
      try {
        await this.#spawn()
      } catch (error) {
        this.#onSpawnFailed(error as Error)
        return
      }
    }
  }

  /** Starts one thread; resolves when it is ready, rejects with the handler's load error. */
  #spawn (): Promise<WarmThread> {
    const pool = this.#pool as Piscina
    const { port1, port2 } = new MessageChannel()
    const thread = new WarmThread(++this.#nextThreadId, port1, this.#unsendable)
    this.#starting++
    const task: ServeTask = { version: PROTOCOL_VERSION, port: port2, entry: this.#app.entry, env: this.#app.env, maxHeapMb: this.#app.workers.maxHeapMb, mode: this.#app.mode === 'inline' ? 'inline' : 'warm', handler: handlerOptionsOf(this.#app) }
    return new Promise<WarmThread>((resolve, reject) => {
      let settled = false
      const onLoad = (error?: SerializedError): void => {
        if (settled) return
        settled = true
        this.#starting--
        if (error !== undefined) return reject(reviveLoadError(error))
        thread.ready = true
        this.#threads.push(thread)
        this.#hooks.onWorkerStart?.()
        if (this.#closing) this.#stop(thread)
        else this.#onRoutable()
        resolve(thread)
      }
      port1.on('message', (batch: FromWorker[]) => this.#onMessages(thread, batch, onLoad))
      const start = (): void => {
        if (this.#closing) {
          port1.close()
          port2.close()
          return onLoad({ code: 'WG_ERR_RUNTIME_CLOSED', message: `the ${this.mode} runtime closed before a worker waiting for room could start` })
        }
        pool.run(task, { transferList: [port2 as never], signal: thread.kill.signal }).then(
          (loadError: SerializedError | undefined) => {
            if (loadError !== undefined) onLoad(loadError)
            this.#onExit(thread, undefined, onLoad)
          },
          (error: Error) => this.#onExit(thread, error, onLoad),
        )
      }
      // At the cap (threads still stopping, successors of successors) piscina would queue the task, and
      // it starts no thread for a queued task when one it ended frees room: the start waits here instead,
      // for #onExit.
      if (pool.threads.length >= this.#maxThreads) this.#deferred.push(start)
      else start()
    })
  }

  /** A request message postMessage refused: fail that request (the thread is told to drop it). */
  #unsendable = (message: ToWorker, error: unknown): ToWorker => {
    if (message[0] !== REQUEST) throw error
    const pending = this.#take(message[1])
    pending?.reject(new GatewayError('WG_ERR_BAD_REQUEST', `the request cannot be sent to a worker thread: ${(error as Error).message}`, { cause: error }))
    return [ABORT, message[1]]
  }

  #onMessages (thread: WarmThread, batch: FromWorker[], onLoad: (error?: SerializedError) => void): void {
    for (const message of batch) {
      switch (message[0]) {
        case RESPONSE: {
          const pending = this.#answered(thread, message[1])
          this.#bodies.finish(message[1])
          if (pending !== undefined) pending.resolve({ status: message[2], statusText: message[3], headers: message[4], body: message[5] })
          break
        }
        case RESPONSE_HEAD: {
          const pending = this.#answered(thread, message[1])
          if (pending !== undefined) pending.resolve({ status: message[2], statusText: message[3], headers: message[4], body: this.#bodies.openResponse(message[1], thread.outbox, pending.signal) })
          // Answered already (timed out, client gone): nobody reads this body, so the worker must stop producing it.
          else thread.outbox.push([ABORT, message[1]])
          break
        }
        case RESPONSE_CHUNK: this.#bodies.onResponseChunk(message[1], message[2]); break
        case RESPONSE_END: this.#bodies.onResponseEnd(message[1], message[2]); break
        case REQUEST_CREDIT: this.#bodies.onRequestCredit(message[1], message[2]); break
        case FAILURE: {
          const pending = this.#answered(thread, message[1])
          this.#bodies.finish(message[1])
          if (pending !== undefined) pending.reject(reviveError(message[2], 'WG_ERR_HANDLER_THREW'))
          break
        }
        case READY:
          if (message[1] !== PROTOCOL_VERSION) {
            onLoad({ code: 'WG_ERR_PROTOCOL', message: `worker speaks protocol ${message[1]}, expected ${PROTOCOL_VERSION}` })
            this.#terminate(thread)
          } else {
            thread.threadId = message[2]
            this.#websocket = message[3]
            onLoad()
          }
          break
        case LOAD_FAILED:
          onLoad(message[1])
          break
        case LOG:
          this.#hooks.onWorkerLog(message[1], message[2], { thread: thread.id, ...message[3] })
          break
        case RETIRE:
          this.#retire(thread, message[1], message[2], {}, true)
          break
        case STOPPED:
          this.#terminate(thread)
          break
        case WS_SEND: thread.sockets.get(message[1])?.send(message[2]); break
        case WS_CLOSE: thread.sockets.get(message[1])?.close(message[2], message[3]); break
        case WS_ACK: thread.sockets.get(message[1])?.ack(message[2]); break
      }
    }
  }

  /** The thread finished `seq`: the pending request if it is still waiting, else forget it as abandoned. */
  #answered (thread: WarmThread, seq: number): Pending | undefined {
    const pending = this.#take(seq)
    if (pending !== undefined) return pending
    const timer = thread.abandoned.get(seq)
    if (timer !== undefined) {
      clearTimeout(timer)
      thread.abandoned.delete(seq)
      if (thread.routable) this.#onRoutable()
    }
    return undefined
  }

  #take (seq: number): Pending | undefined {
    const pending = this.#pending.get(seq)
    if (pending === undefined) return undefined // already answered: timed out or aborted
    this.#pending.delete(seq)
    const thread = pending.thread
    pending.signal.removeEventListener('abort', pending.onAbort)
    this.#slots.release()
    if (--thread.inFlight === 0) {
      thread.idleSince = performance.now()
      if (thread.retire !== undefined) this.#maybeStop(thread)
    }
    return pending
  }

  #onExit (thread: WarmThread, error: Error | undefined, onLoad: (error?: SerializedError) => void): void {
    // The port and piscina's channel are not ordered together: read what the worker sent before it ended.
    for (let m = receiveMessageOnPort(thread.port); m !== undefined; m = receiveMessageOnPort(thread.port)) {
      this.#onMessages(thread, m.message as FromWorker[], onLoad)
    }
    onLoad({ code: 'WG_ERR_HANDLER_LOAD', message: `worker for ${this.#app.entry} exited during start-up${error === undefined ? '' : `: ${error.message}`}`, stack: error?.stack })
    const intended = thread.stopping
    thread.stopping = true
    const index = this.#threads.indexOf(thread)
    if (index !== -1) this.#threads.splice(index, 1)
    // Cleared, not left to fire: a pending timer would keep the thread (and this runtime) alive for the
    // app's whole timeout after a reload, which over many dev reloads is memory that only grows.
    clearTimeout(thread.stopTimer)
    for (const timer of thread.abandoned.values()) clearTimeout(timer)
    thread.abandoned.clear()
    thread.port.close()
    // piscina has let go of this thread (its task settled): room for a start that waited for it.
    this.#deferred.shift()?.()
    // RFC 6455 §7.4.1 1011: the server could not go on with this connection (its thread ended under it).
    const orphans = [...thread.sockets.values()]
    thread.sockets.clear()
    for (const conn of orphans) {
      conn.sink = undefined
      conn.close(1011, 'worker exited')
    }
    this.#bodies.failWorker(thread.outbox, new GatewayError('WG_ERR_WORKER_DIED', `worker thread exited while streaming${error === undefined ? '' : `: ${error.message}`}`, { cause: error }))
    if (thread.inFlight > 0) {
      const died = new GatewayError('WG_ERR_WORKER_DIED', `worker thread exited with ${thread.inFlight} request(s) in flight${error === undefined ? '' : `: ${error.message}`}`, { cause: error })
      for (const [seq, pending] of this.#pending) {
        if (pending.thread === thread) {
          this.#take(seq)
          pending.reject(died)
        }
      }
    }
    void (thread.ended ?? Promise.resolve()).then(thread.markExited, thread.markExited)
    if (this.#closing || !thread.ready) return
    if (!intended) this.#hooks.onWorkerExit(error ?? new Error('worker stopped'))
    this.#replenish()
  }

  acceptsWebSocket (): boolean {
    return this.#websocket === 1
  }

  websocketRefusal (): string | undefined {
    return this.#websocket === 2 ? "the app's own 'upgrade' listeners need the connection's socket, which cannot be handed to a worker thread; run it in inline mode, or use websocket hooks (docs/websockets.md)" : undefined
  }

  /**
   * Pins a connection to the least-loaded thread for its life: its events cross the thread's port in
   * order, in the same batches as requests. With no thread to take it, 1013 (try again later).
   */
  attachWebSocket (conn: WebSocketConnection): void {
    let best: WarmThread | undefined
    for (const thread of this.#threads) {
      if (thread.routable && (best === undefined || thread.inFlight + thread.sockets.size < best.inFlight + best.sockets.size)) best = thread
    }
    if (this.#closing) return conn.close(1001, 'server shutting down')
    if (best === undefined) {
      // None routable now (a thread replacing one that failed, workers.min 0): wait as a request would,
      // up to queueTimeout; the client's first messages wait with it. Then 1013, try again later.
      this.#waitForThread(new AbortController().signal).then(() => {
        if (!conn.ended) this.attachWebSocket(conn)
      }, () => conn.close(1013, 'no worker available'))
      return
    }
    const thread = best
    thread.sockets.set(conn.id, conn)
    // Open first: setting the sink delivers the messages that waited for a thread.
    thread.outbox.push([WS_OPEN, conn.id, conn.reqId, conn.url, conn.headers, conn.remoteAddress])
    conn.sink = {
      message: (data) => thread.outbox.push([WS_MESSAGE, conn.id, data], typeof data === 'string' ? undefined : data),
      closed: (code, reason) => {
        thread.sockets.delete(conn.id)
        thread.outbox.push([WS_CLOSED, conn.id, code, reason])
        if (thread.retire !== undefined) this.#maybeStop(thread)
      },
    }
  }

  /** Closes a thread's connections (their 'close' events reach the thread, which runs the app's close hook). */
  #closeSockets (thread: WarmThread, code: number, reason: string): void {
    for (const conn of thread.sockets.values()) conn.close(code, reason)
  }

  protected onDispatch (req: GatewayRequest, abort: SignalSource, started: () => void): Promise<GatewayResponse> {
    const signal = abort.signal
    if (this.#closing) return Promise.reject(new GatewayError('WG_ERR_RUNTIME_CLOSED', 'warm runtime is closing'))
    if (this.#slots.tryAcquire()) return this.#run(req, signal, started)
    return this.#slots.acquire(signal).then(() => this.#run(req, signal, started))
  }

  /**
   * Sends a request that holds a slot to a thread; the slot is given back when it is answered or
   * abandoned. Waiting for a thread to start is queue time (bounded by queueTimeout): the app's timeout
   * starts (`started`) when the request is handed to a thread.
   */
  #run (req: GatewayRequest, signal: AbortSignal, started: () => void): Promise<GatewayResponse> {
    const thread = this.#pick()
    if (thread === undefined) {
      return this.#waitForThread(signal).then(() => this.#run(req, signal, started), (error: unknown) => {
        this.#slots.release()
        throw error
      })
    }
    const seq = ++this.#seq
    return new Promise<GatewayResponse>((resolve, reject) => {
      const onAbort = (): void => {
        const pending = this.#take(seq)
        if (pending === undefined) return
        this.#bodies.finish(seq)
        thread.outbox.push([ABORT, seq])
        this.#abandon(pending, seq)
        reject(signal.reason)
      }
      if (signal.aborted) {
        this.#slots.release()
        reject(signal.reason)
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      started()
      this.#pending.set(seq, { resolve, reject, thread, signal, onAbort, reqId: req.id, dispatchedAt: performance.now() })
      thread.inFlight++
      const body = req.body
      if (body instanceof Readable) {
        const c = req.connection
        thread.outbox.push(c === undefined ? [REQUEST, seq, req.id, req.method, req.url, req.headers, true, ''] : [REQUEST, seq, req.id, req.method, req.url, req.headers, true, c.remoteAddress, c.remotePort, c.httpVersion, c.secure])
        this.#bodies.sendRequest(seq, body, thread.outbox)
      } else {
        const c = req.connection
        thread.outbox.push(c === undefined ? [REQUEST, seq, req.id, req.method, req.url, req.headers, body, ''] : [REQUEST, seq, req.id, req.method, req.url, req.headers, body, c.remoteAddress, c.remotePort, c.httpVersion, c.secure], body)
      }
      const { maxRequests } = this.#app.workers
      if (maxRequests > 0 && ++thread.served >= maxRequests) this.#retire(thread, 'recycle', `served workers.maxRequests (${maxRequests}) requests`, {}, true)
    })
  }

  /**
   * The request was answered without its handler (timeout, client gone). The handler was told (ABORT →
   * ctx.signal); if it is still running KILL_GRACE_MS after the app's timeout would have passed, its
   * thread is replaced.
   */
  #abandon (pending: Pending, seq: number): void {
    const { thread, reqId, dispatchedAt } = pending
    const wait = Math.max(0, dispatchedAt + this.#app.timeoutMs - performance.now()) + KILL_GRACE_MS
    const timer = setTimeout(() => {
      thread.abandoned.delete(seq)
      this.#retire(thread, 'hung', `a handler was still running ${Math.round(performance.now() - dispatchedAt)} ms after dispatch, ${KILL_GRACE_MS} ms past its end`, { reqId }, true)
    }, wait)
    timer.unref()
    thread.abandoned.set(seq, timer)
  }

  /** The least-loaded routable thread; grows the pool (up to max) when every thread is busy. */
  #pick (): WarmThread | undefined {
    const threads = this.#threads
    let best: WarmThread | undefined
    let routable = 0
    for (let i = 0; i < threads.length; i++) {
      const thread = threads[i]
      if (!thread.routable) continue
      routable++
      if (best === undefined || thread.inFlight < best.inFlight) best = thread
    }
    if ((best === undefined || best.inFlight > 0) && !this.#closing && routable + this.#starting < this.#app.workers.max) {
      this.#spawn().catch((err: Error) => this.#onSpawnFailed(err))
    }
    // A recycling thread serves on until its replacement is ready: the newest one, so that older ones drain (#maybeStop).
    if (best === undefined) best = this.#newestServingRecycler()
    return best
  }

  /** Waits for a routable thread, at most queueTimeout (a thread that cannot start must not hold requests). */
  #waitForThread (signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: unknown): void => {
        signal.removeEventListener('abort', onAbort)
        clearTimeout(timer)
        if (error === undefined) resolve()
        else reject(error)
      }
      const waiter: Waiter = { resolve: () => settle(), reject: settle }
      const leave = (error: unknown): void => {
        const index = this.#waiting.indexOf(waiter)
        if (index !== -1) this.#waiting.splice(index, 1)
        settle(error)
      }
      const onAbort = (): void => leave(signal.reason)
      const ms = this.#app.queueTimeoutMs
      const timer = setTimeout(() => leave(new GatewayError('WG_ERR_QUEUE_TIMEOUT', `no worker thread was ready within queueTimeout (${ms} ms)`)), ms)
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(waiter)
    })
  }

  /** Wakes requests waiting for a thread: to retry when one is ready, or with the error when none can start. */
  #wakeWaiting (error?: Error): void {
    const waiting = this.#waiting
    this.#waiting = []
    for (const waiter of waiting) {
      if (error === undefined) waiter.resolve()
      else waiter.reject(error)
    }
  }

  /** A thread became routable: wake waiters, and let recycling threads whose replacement this is stop. */
  #onRoutable (): void {
    this.#wakeWaiting()
    this.#stopRecyclers()
  }

  /** A thread failed to start: requests waiting for one get the cause unless another is on its way. */
  #onSpawnFailed (error: Error): void {
    if (this.#closing) return // a thread stopped by close() while starting is not a failure
    this.#hooks.onWorkerLog('error', 'starting a worker failed', { err: { message: error.message, stack: error.stack } })
    if (this.#starting === 0 && !this.#threads.some(thread => thread.routable || (thread.retire === 'recycle' && !thread.stopping))) this.#wakeWaiting(error)
  }

  /** Takes a thread out of rotation (see RetireReason); `replace` starts a successor to keep the pool's size. */
  #retire (thread: WarmThread, reason: RetireReason, why: string, fields: Record<string, unknown>, replace: boolean): void {
    if (thread.stopping || thread.retire === 'hung' || (thread.retire !== undefined && reason === 'recycle')) return
    thread.retire = reason
    this.#hooks.onWorkerRetire(reason, why, { thread: thread.id, ...fields })
    // A recycled thread's clients reconnect to its successor (1012 service restart); a hung or failed
    // thread's connections end with 1011 (internal error).
    if (reason === 'recycle') this.#closeSockets(thread, 1012, 'service restart')
    else this.#closeSockets(thread, 1011, reason === 'hung' ? 'the app stopped answering' : 'the app failed')
    if (replace) this.#replenish(Math.max(1, this.#app.workers.min))
    // An older recycling thread may now let this one serve in its place.
    this.#stopRecyclers()
    this.#maybeStop(thread)
  }

  /** Starts threads until `target` are routable or starting (default: `workers.min`, or 1 when requests wait). */
  #replenish (target = Math.max(this.#app.workers.min, this.#waiting.length > 0 ? 1 : 0)): void {
    if (this.#closing) return
    for (let have = this.#starting + this.#routableCount(); have < target; have++) this.#spawn().catch((err: Error) => this.#onSpawnFailed(err))
  }

  /**
   * Stops a retiring thread once nothing live is on it. A recycling one waits until a successor is
   * routable, or until a newer recycling thread serves in its place: a successor recycled before its
   * predecessor stopped would otherwise leave two threads waiting for a third that piscina (at most
   * 2 × `workers.max` threads) has no room to start (tested).
   */
  #maybeStop (thread: WarmThread): void {
    if (thread.stopping || !thread.ready || thread.inFlight > 0 || thread.sockets.size > 0) return
    if (thread.retire === 'recycle' && !this.#threads.some(other => other.routable) && this.#newestServingRecycler() === thread) return
    this.#stop(thread)
  }

  /** Lets each recycling thread stop that has a successor, or a newer recycling thread, serving instead. */
  #stopRecyclers (): void {
    for (const thread of [...this.#threads]) if (thread.retire === 'recycle') this.#maybeStop(thread)
  }

  #routableCount (): number {
    let routable = 0
    for (const thread of this.#threads) if (thread.routable) routable++
    return routable
  }

  /** The most recently started recycling thread that can still take requests. */
  #newestServingRecycler (): WarmThread | undefined {
    let newest: WarmThread | undefined
    for (const thread of this.#threads) {
      if (thread.retire === 'recycle' && !thread.stopping && thread.abandoned.size === 0 && (newest === undefined || thread.id > newest.id)) newest = thread
    }
    return newest
  }

  /** STOP lets the worker finish its ctx.waitUntil work and answer STOPPED; a hung one is terminated now. */
  #stop (thread: WarmThread): void {
    thread.stopping = true
    if (thread.retire === 'hung') return this.#terminate(thread)
    thread.outbox.push([STOP])
    // A worker that never answers STOPPED (its event loop blocked) is terminated all the same.
    thread.stopTimer = setTimeout(() => this.#terminate(thread), this.#app.timeoutMs + KILL_GRACE_MS).unref()
  }

  /** Ends the thread through piscina (which rejects its task at once), keeping hold of the thread's own exit. */
  #terminate (thread: WarmThread): void {
    if (thread.kill.signal.aborted) return
    const worker = this.#pool?.threads.find(candidate => candidate.threadId === thread.threadId)
    if (worker !== undefined) thread.ended = once(worker, 'exit')
    thread.kill.abort()
  }

  /** Stops threads above `workers.min` that have been idle for `workers.idleTimeout`. */
  #sweepIdle = (): void => {
    const { min, idleTimeoutMs } = this.#app.workers
    let routable = 0
    for (const thread of this.#threads) if (thread.routable) routable++
    const now = performance.now()
    for (const thread of [...this.#threads]) {
      if (routable <= min) return
      if (thread.routable && thread.inFlight === 0 && thread.sockets.size === 0 && now - thread.idleSince >= idleTimeoutMs) {
        routable--
        this.#retire(thread, 'drain', `idle for workers.idleTimeout (${idleTimeoutMs} ms) above workers.min (${min})`, { idle: true }, false)
      }
    }
  }

  protected workerCount (): number {
    return this.#threads.length
  }

  protected queuedCount (): number {
    return this.#slots.waiting
  }

  protected busyWorkerCount (): number {
    return this.#threads.filter(thread => thread.inFlight > 0).length
  }

  protected retiringWorkerCount (): number {
    return this.#threads.filter(thread => thread.inFlight === 0 && !thread.routable).length
  }

  protected async onClose (): Promise<void> {
    this.#closing = true
    clearInterval(this.#sweeper)
    for (const start of this.#deferred.splice(0)) start() // each fails: the runtime is closing
    for (const thread of this.#threads) this.#closeSockets(thread, 1001, 'server shutting down')
    // STOP lets each worker finish its ctx.waitUntil work; it answers STOPPED and its thread ends.
    const threads = [...this.#threads]
    for (const thread of threads) if (!thread.stopping) this.#stop(thread)
    await Promise.all(threads.map(async (thread) => thread.exited))
    await this.#pool?.destroy()
  }

  protected async onDestroy (reason: Error): Promise<void> {
    this.#closing = true
    clearInterval(this.#sweeper)
    for (const start of this.#deferred.splice(0)) start()
    for (const [seq, pending] of this.#pending) {
      this.#take(seq)
      pending.reject(reason)
    }
    this.#wakeWaiting(reason)
    await this.#pool?.destroy()
  }
}

function reviveLoadError (data: SerializedError): GatewayError {
  return reviveError(data, 'WG_ERR_HANDLER_LOAD')
}
