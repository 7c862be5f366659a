import type { ResolvedApp } from '../config/resolve.ts'
import type { Logger } from '../log/logger.ts'
import type { CgiChild, Spawner } from '../spawn/spawner.ts'
import { Readable } from 'node:stream'
import type { BufferedRequest, GatewayRequest, GatewayResponse } from '../types.ts'
import { Slots } from './slots.ts'
import { BaseRuntime, requestController, type SignalSource } from './runtime.ts'

/**
 * How long a process may go on once its response is complete before it gives up its slot (a cgi script
 * is killed then): enough for a script to exit after its last write, short enough that one which closes
 * its output and sleeps on does not hold the app's `concurrency` for the next request.
 */
export const AFTER_RESPONSE_GRACE_MS = 1000

interface Held {
  readonly child: CgiChild
  /** Whether it still holds its slot. */
  slot: boolean
  timer: NodeJS.Timeout | undefined
}

export interface ProcessRuntimeHooks {
  /** The gateway's spawner (shared by every cold and cgi app). */
  readonly spawner: Spawner
  readonly log: Logger
  /** A request's process started (metrics). */
  onProcessSpawn?: () => void
  /** A request's process exited, `seconds` after it started (metrics). */
  onProcessExit?: (seconds: number) => void
}

/**
 * What cold mode and cgi apps share: one process per request, at most `concurrency` running a request
 * (the rest queue), every child tracked until it has exited so that close() drains them and destroy()
 * kills them. A process holds its slot until it exits, or until AFTER_RESPONSE_GRACE_MS after its
 * response is complete.
 */
export abstract class ProcessRuntime extends BaseRuntime {
  /** A script's stdin is written whole, after CONTENT_LENGTH: the front door buffers the body. */
  readonly streamsRequestBody = false
  protected readonly app: ResolvedApp
  protected readonly hooks: ProcessRuntimeHooks
  readonly #slots: Slots
  readonly #children = new Set<CgiChild>()
  /** Aborted by destroy(): requests waiting for a slot or running fail with its reason, as in warm mode. */
  readonly #destroyed = new AbortController()
  /** Each running request's own controller (onDispatch), aborted by destroy(). */
  readonly #live = new Set<AbortController>()

  constructor (app: ResolvedApp, hooks: ProcessRuntimeHooks) {
    super()
    this.app = app
    this.hooks = hooks
    this.#slots = new Slots(app.concurrency, app.maxQueue, app.queueTimeoutMs)
  }

  /**
   * Whether a process may run on past its response, up to the app's timeout (cold mode: ctx.waitUntil
   * work). Otherwise it is killed AFTER_RESPONSE_GRACE_MS after it.
   */
  protected readonly keepsRunningAfterResponse: boolean = false

  /** Runs one request in its own process; `track` must be handed to `runCgi` as `onChild`. */
  protected abstract run (req: BufferedRequest, signal: AbortSignal, track: (child: CgiChild) => void): Promise<GatewayResponse>

  protected async onDispatch (req: GatewayRequest, abort: SignalSource, started: () => void): Promise<GatewayResponse> {
    const requestSignal = abort.signal
    // A front door's contract (streamsRequestBody is false), not something a client can cause.
    if (req.body instanceof Readable) throw new TypeError(`${this.mode} runtime takes a buffered request body, got a stream`)
    const { controller } = requestController(requestSignal, this.#destroyed.signal, this.#live)
    // Linked to the request's signal for good: past the head, a client that goes away mid-body must still
    // kill the process (cgi-exchange.ts), and that signal lives no longer than the request. destroy() needs
    // the controller only until the process runs: from then on it kills the process itself.
    try {
      return await this.#runInSlot(req, controller.signal, started)
    } finally {
      this.#live.delete(controller)
    }
  }

  async #runInSlot (req: GatewayRequest, signal: AbortSignal, started: () => void): Promise<GatewayResponse> {
    await this.#slots.acquire(signal)
    started()
    const startedAt = performance.now()
    let held: Held | undefined
    const track = (child: CgiChild): void => {
      const entry: Held = held = { child, slot: true, timer: undefined }
      this.#children.add(child)
      const bornAt = performance.now()
      this.hooks.onProcessSpawn?.()
      void child.exited.then(() => {
        this.hooks.onProcessExit?.((performance.now() - bornAt) / 1000)
        this.#children.delete(child)
        clearTimeout(entry.timer)
        this.#release(entry)
      })
    }
    try {
      const res = await this.run(req as BufferedRequest, signal, track)
      if (held !== undefined) this.#afterResponse(held, res, startedAt)
      return res
    } finally {
      if (held === undefined) this.#slots.release()
    }
  }

  #release (held: Held): void {
    if (!held.slot) return
    held.slot = false
    this.#slots.release()
  }

  /** The response is complete once its body is buffered, or read to its end (or abandoned). */
  #afterResponse (held: Held, res: GatewayResponse, startedAt: number): void {
    if (res.body instanceof Readable) res.body.once('close', () => this.#graceAfterResponse(held, startedAt))
    else this.#graceAfterResponse(held, startedAt)
  }

  /**
   * A process whose response is complete gets AFTER_RESPONSE_GRACE_MS to exit, then its slot goes to the
   * next request. A cgi script is killed then (its group: TERM, KILL after the kill grace); cold mode's
   * runner is left to its ctx.waitUntil work until the app's timeout, counted from dispatch as the
   * request's own (whose timer stopped with the response). Either way nothing runs on past the timeout.
   */
  #graceAfterResponse (held: Held, startedAt: number): void {
    // Exited already (often, with its stdout's end): its slot is free. Else a timer (cleared at its exit).
    if (!held.slot) return
    const deadline = startedAt + this.app.timeoutMs
    held.timer = setTimeout(() => {
      this.#release(held)
      const left = deadline - performance.now()
      if (left <= 0 || !this.keepsRunningAfterResponse) held.child.kill()
      else held.timer = setTimeout(() => held.child.kill(), left)
    }, Math.max(0, Math.min(AFTER_RESPONSE_GRACE_MS, deadline - performance.now())))
  }

  protected async onClose (): Promise<void> {
    // Requests are answered; their processes may still be streaming or finishing ctx.waitUntil work.
    // They get the app's timeout to end on their own, then the group is killed.
    if (this.#children.size === 0) return
    const all = Promise.all([...this.#children].map(async (child) => child.exited))
    const timer = setTimeout(() => { for (const child of this.#children) child.kill() }, this.app.timeoutMs)
    await all
    clearTimeout(timer)
  }

  protected async onDestroy (reason: Error): Promise<void> {
    this.#destroyed.abort(reason)
    for (const controller of this.#live) controller.abort(reason)
    const children = [...this.#children]
    for (const child of children) child.kill()
    await Promise.all(children.map(async (child) => child.exited))
  }

  protected workerCount (): number {
    return this.#children.size
  }

  protected queuedCount (): number {
    return this.#slots.waiting
  }
}
