import type { ResolvedApp } from '../config/resolve.ts'
import type { Logger } from '../log/logger.ts'
import type { CgiChild, Spawner } from '../spawn/spawner.ts'
import { Readable } from 'node:stream'
import type { BufferedRequest, GatewayRequest, GatewayResponse } from '../types.ts'
import { Slots } from './slots.ts'
import { BaseRuntime, requestController } from './runtime.ts'

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
 * What cold mode and cgi apps share: one process per request, at most `concurrency` alive (the rest
 * queue), every child tracked until it has exited so that close() drains them and destroy() kills them.
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

  /** Runs one request in its own process; `track` must be handed to `runCgi` as `onChild`. */
  protected abstract run (req: BufferedRequest, signal: AbortSignal, track: (child: CgiChild) => void): Promise<GatewayResponse>

  protected async onDispatch (req: GatewayRequest, requestSignal: AbortSignal, started: () => void): Promise<GatewayResponse> {
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
    let spawned = false
    const track = (child: CgiChild): void => {
      spawned = true
      this.#children.add(child)
      const bornAt = performance.now()
      this.hooks.onProcessSpawn?.()
      void child.exited.then(() => {
        this.hooks.onProcessExit?.((performance.now() - bornAt) / 1000)
        this.#children.delete(child)
        this.#slots.release()
      })
    }
    try {
      return await this.run(req as BufferedRequest, signal, track)
    } finally {
      if (!spawned) this.#slots.release()
    }
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
