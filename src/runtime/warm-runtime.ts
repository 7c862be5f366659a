import { Readable } from 'node:stream'
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import { Piscina } from 'piscina'
import type { ResolvedApp } from '../config/resolve.ts'
import { GatewayError, reviveError, type SerializedError } from '../errors.ts'
import {
  ABORT, FAILURE, LOAD_FAILED, LOG, Outbox, PROTOCOL_VERSION, READY, REQUEST, REQUEST_CREDIT, RESPONSE,
  RESPONSE_CHUNK, RESPONSE_END, RESPONSE_HEAD, STOP, type FromWorker, type ServeTask, type ToWorker,
} from '../protocol/messages.ts'
import type { GatewayRequest, GatewayResponse } from '../types.ts'
import type { RuntimeHooks } from './inline-runtime.ts'
import { BaseRuntime } from './runtime.ts'
import { WarmBodies } from './warm-body.ts'

// A CommonJS shim (see the file): piscina require()s a worker file first, and require(esm) is unsafe to terminate.
const WORKER_FILE = new URL('./warm.worker.cjs', import.meta.url).href

export interface WarmRuntimeHooks extends RuntimeHooks {
  /** A log line a worker sent (its bindings travel as data, never as a logger object). */
  onWorkerLog (level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void
  /** A worker thread ended unexpectedly; its in-flight requests have been failed. */
  onWorkerExit (error: Error): void
}

interface Pending {
  resolve: (res: GatewayResponse) => void
  reject: (error: unknown) => void
  worker: WarmWorker
  signal: AbortSignal
  onAbort: () => void
}

/** One thread of the pool, as the main side sees it: its port, its outbox and its load. */
class WarmWorker {
  readonly port: MessagePort
  readonly outbox: Outbox<ToWorker>
  /** Aborting it makes piscina terminate the thread. */
  readonly kill = new AbortController()
  inFlight = 0
  ready = false

  constructor (port: MessagePort) {
    this.port = port
    this.outbox = new Outbox<ToWorker>((batch, transfer) => port.postMessage(batch, transfer))
  }
}

/**
 * FastCGI's persistence, in-process: a pool of worker threads that imported the handler once.
 * piscina owns the threads (creation, resource limits, termination); each thread runs one long-lived
 * serve task and takes requests over its own MessagePort, several in flight at once, in batches.
 */
export class WarmRuntime extends BaseRuntime {
  readonly mode = 'warm' as const
  readonly streamsRequestBody = true
  readonly #app: ResolvedApp
  readonly #hooks: WarmRuntimeHooks
  #pool: Piscina | undefined
  readonly #workers: WarmWorker[] = []
  #starting = 0
  readonly #pending = new Map<number, Pending>()
  #seq = 0
  /** Bodies streaming to and from workers (README "Streaming"). */
  readonly #bodies = new WarmBodies()
  #closing = false
  /** Requests waiting for a first worker (only when `workers.min` is 0 or every worker died). */
  #waiting: Array<{ resolve: () => void, reject: (error: Error) => void }> = []

  constructor (app: ResolvedApp, hooks: WarmRuntimeHooks) {
    super()
    this.#app = app
    this.#hooks = hooks
  }

  protected async onStart (): Promise<void> {
    const { min, max } = this.#app.workers
    this.#pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: min,
      maxThreads: max,
      idleTimeout: 1000,
      concurrentTasksPerWorker: 1,
      // Idle threads must keep their event loop running: 'sync' would park them in Atomics.wait.
      atomics: 'disabled',
      recordTiming: false,
      // PERF-NOTES.md: young-generation growth per isolate doubled RSS under load; a small nursery kept it
      // near in-process levels with no measurable throughput loss.
      resourceLimits: { maxYoungGenerationSizeMb: 12 },
    })
    // A thread that fails outside a task must not take the gateway down; its task rejects and we replace it.
    this.#pool.on('error', (error: Error) => this.#hooks.onWorkerLog('error', 'worker pool error', { err: { message: error.message, stack: error.stack } }))
    // Start every `min` worker and wait until each has imported the handler: the first request is warm.
    await Promise.all(Array.from({ length: min }, () => this.#spawn()))
  }

  /** Starts one worker; resolves when it is ready, rejects with the handler's load error. */
  #spawn (): Promise<WarmWorker> {
    const pool = this.#pool as Piscina
    const { port1, port2 } = new MessageChannel()
    const worker = new WarmWorker(port1)
    this.#starting++
    const task: ServeTask = { version: PROTOCOL_VERSION, port: port2, entry: this.#app.entry, env: this.#app.env }
    return new Promise<WarmWorker>((resolve, reject) => {
      let settled = false
      const onLoad = (error?: SerializedError): void => {
        if (settled) return
        settled = true
        this.#starting--
        if (error === undefined) {
          worker.ready = true
          this.#workers.push(worker)
          this.#wakeWaiting()
          resolve(worker)
        } else {
          reject(reviveLoadError(error))
        }
      }
      port1.on('message', (batch: FromWorker[]) => this.#onMessages(worker, batch, onLoad))
      pool.run(task, { transferList: [port2 as never], signal: worker.kill.signal }).then(
        (loadError: SerializedError | undefined) => {
          if (loadError !== undefined) onLoad(loadError)
          this.#onExit(worker, undefined, onLoad)
        },
        (error: Error) => this.#onExit(worker, error, onLoad),
      )
    })
  }

  #onMessages (worker: WarmWorker, batch: FromWorker[], onLoad: (error?: SerializedError) => void): void {
    for (const message of batch) {
      switch (message[0]) {
        case RESPONSE: {
          const pending = this.#take(message[1])
          this.#bodies.finish(message[1])
          if (pending !== undefined) pending.resolve({ status: message[2], statusText: message[3], headers: message[4], body: message[5] })
          break
        }
        case RESPONSE_HEAD: {
          const pending = this.#take(message[1])
          if (pending !== undefined) pending.resolve({ status: message[2], statusText: message[3], headers: message[4], body: this.#bodies.openResponse(message[1], worker.outbox, pending.signal) })
          break
        }
        case RESPONSE_CHUNK: this.#bodies.onResponseChunk(message[1], message[2]); break
        case RESPONSE_END: this.#bodies.onResponseEnd(message[1], message[2]); break
        case REQUEST_CREDIT: this.#bodies.onRequestCredit(message[1], message[2]); break
        case FAILURE: {
          const pending = this.#take(message[1])
          this.#bodies.finish(message[1])
          if (pending !== undefined) pending.reject(reviveError(message[2], 'WG_ERR_HANDLER_THREW'))
          break
        }
        case READY:
          if (message[1] !== PROTOCOL_VERSION) {
            onLoad({ code: 'WG_ERR_PROTOCOL', message: `worker speaks protocol ${message[1]}, expected ${PROTOCOL_VERSION}` })
            worker.kill.abort()
          } else {
            onLoad()
          }
          break
        case LOAD_FAILED:
          onLoad(message[1])
          break
        case LOG:
          this.#hooks.onWorkerLog(message[1], message[2], message[3])
          break
      }
    }
  }

  #take (seq: number): Pending | undefined {
    const pending = this.#pending.get(seq)
    if (pending === undefined) return undefined // already answered: timed out or aborted
    this.#pending.delete(seq)
    pending.worker.inFlight--
    pending.signal.removeEventListener('abort', pending.onAbort)
    return pending
  }

  #onExit (worker: WarmWorker, error: Error | undefined, onLoad: (error?: SerializedError) => void): void {
    // The port and piscina's channel are not ordered together: read what the worker sent before it ended.
    for (let m = receiveMessageOnPort(worker.port); m !== undefined; m = receiveMessageOnPort(worker.port)) {
      this.#onMessages(worker, m.message as FromWorker[], onLoad)
    }
    onLoad({ code: 'WG_ERR_HANDLER_LOAD', message: `worker for ${this.#app.entry} exited during start-up${error === undefined ? '' : `: ${error.message}`}`, stack: error?.stack })
    const index = this.#workers.indexOf(worker)
    if (index !== -1) this.#workers.splice(index, 1)
    worker.port.close()
    this.#bodies.failWorker(worker.outbox, new GatewayError('WG_ERR_WORKER_DIED', `worker thread exited while streaming${error === undefined ? '' : `: ${error.message}`}`, { cause: error }))
    if (worker.inFlight > 0) {
      const died = new GatewayError('WG_ERR_WORKER_DIED', `worker thread exited with ${worker.inFlight} request(s) in flight${error === undefined ? '' : `: ${error.message}`}`, { cause: error })
      for (const [seq, pending] of this.#pending) {
        if (pending.worker === worker) {
          this.#take(seq)
          pending.reject(died)
        }
      }
    }
    if (this.#closing || !worker.ready) return
    this.#hooks.onWorkerExit(error ?? new Error('worker stopped'))
    if (this.#workers.length + this.#starting < this.#app.workers.min) {
      this.#spawn().catch((err: Error) => this.#onSpawnFailed(err))
    }
  }

  protected onDispatch (req: GatewayRequest, signal: AbortSignal): Promise<GatewayResponse> {
    if (this.#closing) return Promise.reject(new GatewayError('WG_ERR_RUNTIME_CLOSED', 'warm runtime is closing'))
    const worker = this.#pick()
    if (worker === undefined) return this.#waitForWorker().then(() => this.onDispatch(req, signal))
    const seq = ++this.#seq
    return new Promise<GatewayResponse>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.#take(seq) === undefined) return
        this.#bodies.finish(seq)
        worker.outbox.push([ABORT, seq])
        reject(signal.reason)
      }
      if (signal.aborted) {
        reject(signal.reason)
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(seq, { resolve, reject, worker, signal, onAbort })
      worker.inFlight++
      const body = req.body
      if (body instanceof Readable) {
        worker.outbox.push([REQUEST, seq, req.id, req.method, req.url, req.headers, true])
        this.#bodies.sendRequest(seq, body, worker.outbox)
      } else {
        worker.outbox.push([REQUEST, seq, req.id, req.method, req.url, req.headers, body], body)
      }
    })
  }

  /** The least-loaded ready worker; grows the pool (up to max) when every worker is busy. */
  #pick (): WarmWorker | undefined {
    const workers = this.#workers
    let best: WarmWorker | undefined
    for (let i = 0; i < workers.length; i++) {
      const worker = workers[i]
      if (best === undefined || worker.inFlight < best.inFlight) best = worker
      if (worker.inFlight === 0) break
    }
    if ((best === undefined || best.inFlight > 0) && !this.#closing && workers.length + this.#starting < this.#app.workers.max) {
      this.#spawn().catch((err: Error) => this.#onSpawnFailed(err))
    }
    return best
  }

  #waitForWorker (): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#waiting.push({ resolve, reject }))
  }

  /** Wakes requests waiting for a worker: to retry when one is ready, or with the error when none can start. */
  #wakeWaiting (error?: Error): void {
    const waiting = this.#waiting
    this.#waiting = []
    for (const waiter of waiting) {
      if (error === undefined) waiter.resolve()
      else waiter.reject(error)
    }
  }

  /** A worker failed to start: requests waiting for one get the cause unless another is on its way. */
  #onSpawnFailed (error: Error): void {
    if (this.#closing) return // a worker stopped by close() while starting is not a failure
    this.#hooks.onWorkerLog('error', 'starting a worker failed', { err: { message: error.message, stack: error.stack } })
    if (this.#workers.length === 0 && this.#starting === 0) this.#wakeWaiting(error)
  }

  protected workerCount (): number {
    return this.#workers.length
  }

  protected async onClose (): Promise<void> {
    this.#closing = true
    // STOP lets each worker finish its ctx.waitUntil work; its serve task then resolves.
    for (const worker of this.#workers) worker.outbox.push([STOP])
    await this.#pool?.close()
    await this.#pool?.destroy()
  }

  protected async onDestroy (reason: Error): Promise<void> {
    this.#closing = true
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
