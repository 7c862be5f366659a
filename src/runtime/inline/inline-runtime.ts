import { Readable } from 'node:stream'
import type { ResolvedApp } from '../../config/resolve.ts'
import { installLightFetch } from '../../handler/install-fetch.ts'
import { invokeHandler, type HandlerCall } from '../../handler/invoke.ts'
import { loadHandler } from '../../handler/load.ts'
import { handlerOptionsOf } from '../../handler/options.ts'
import { primeWebClasses } from '../../handler/prime.ts'
import { StreamedBody } from '../../handler/response-body.ts'
import { hooksOf, nodeUpgradeOf, WebSocketSessions } from '../../handler/websocket.ts'
import { WS_CLOSE, WS_SEND } from '../../protocol/messages.ts'
import type { WebSocketConnection } from '../../websocket/connection.ts'
import type { FetchHandler, GatewayRequest, GatewayResponse, MaybePromise } from '../../types.ts'
import { readableFromBody, webStreamFromReadable } from './inline-body.ts'
import { BaseRuntime, onAbort, type SignalSource } from '../runtime.ts'

export interface RuntimeHooks {
  /** Receives a rejected `ctx.waitUntil` promise, to log it with the request id. */
  onBackgroundError (requestId: string, error: unknown): void
  /**
   * Set by a reload: runtimes that import the entry on the main thread import it under this version
   * (handler/load.ts), since the module cache there outlives runtimes. Worker threads start empty.
   */
  importVersion?: string
}

/**
 * mod_python's model: the handler runs on the server's own event loop. The speed reference for the
 * other modes; a synchronous handler blocks every other request while it runs.
 */
export class InlineRuntime extends BaseRuntime {
  readonly mode = 'inline' as const
  readonly streamsRequestBody = true
  readonly #app: ResolvedApp
  readonly #hooks: RuntimeHooks
  #handler: FetchHandler | undefined
  readonly #background = new Set<Promise<unknown>>()
  #sessions: WebSocketSessions | undefined
  readonly #sockets = new Map<number, WebSocketConnection>()
  /** Rejecters of dispatches not yet answered, so that destroy() can answer them. */
  readonly #pending = new Set<(reason: unknown) => void>()

  constructor (app: ResolvedApp, hooks: RuntimeHooks) {
    super()
    this.#app = app
    this.#hooks = hooks
  }

  protected async onStart (): Promise<void> {
    // The main thread's globals too (README "Fetch classes"): inline is the speed reference.
    installLightFetch()
    this.#handler = await loadHandler(this.#app.entry, this.#hooks.importVersion, handlerOptionsOf(this.#app))
    await primeWebClasses()
  }

  acceptsWebSocket (): boolean {
    return hooksOf(this.#handler) !== undefined
  }

  nodeUpgrade (): ((req: unknown, socket: unknown, head: unknown) => void) | undefined {
    return nodeUpgradeOf(this.#handler)
  }

  /** The app's hooks run on this thread, as its requests do: the same sessions a warm worker runs, without the hop. */
  attachWebSocket (conn: WebSocketConnection): void {
    const hooks = hooksOf(this.#handler)
    if (hooks === undefined) return conn.close(1011, 'the app does not accept websockets')
    const sockets = this.#sockets
    this.#sessions ??= new WebSocketSessions(hooks, (message) => {
      const target = sockets.get(message[1])
      if (target === undefined) return
      if (message[0] === WS_SEND) target.send(message[2])
      else if (message[0] === WS_CLOSE) target.close(message[2], message[3])
      else target.ack(message[2])
    }, (id, line, fields) => sockets.get(id)?.logError(line, fields))
    const sessions = this.#sessions
    sockets.set(conn.id, conn)
    sessions.open(conn.id, conn.reqId, conn.url, conn.headers, conn.remoteAddress)
    conn.sink = {
      message: (data) => sessions.message(conn.id, data),
      closed: (code, reason) => {
        sockets.delete(conn.id)
        sessions.closed(conn.id, code, reason)
      },
    }
  }

  protected onDispatch (req: GatewayRequest, abort: SignalSource, started: () => void): MaybePromise<GatewayResponse> {
    const handler = this.#handler as FetchHandler
    // No queue: the handler runs now, on this thread.
    started()
    const waitUntil = (promise: Promise<unknown>): void => this.#track(req.id, promise)
    const call: HandlerCall = req.body instanceof Readable ? { ...req, connection: req.connection, body: webStreamFromReadable(req.body) } : req as HandlerCall
    const answer = invokeHandler(handler, call, this.#app.env, 'inline', abort, waitUntil)
    // A synchronous handler's whole answer: nothing to wait for, no promise, and no signal is made (a
    // client gone meanwhile is the front door's to see: it does not write to a closed connection).
    if (!(answer instanceof Promise) && !(answer.body instanceof StreamedBody)) return answer as GatewayResponse
    const signal = abort.signal
    return new Promise<GatewayResponse>((resolve, reject) => {
      // The handler keeps running after an abort (it sees ctx.signal); the caller gets its answer now.
      const stopListening = onAbort(signal, reject)
      this.#pending.add(reject)
      const done = (): void => { stopListening(); this.#pending.delete(reject) }
      Promise.resolve(answer).then(
        (res) => {
          done()
          if (!(res.body instanceof StreamedBody)) return resolve(res as GatewayResponse)
          // Aborted while the handler was still answering: nobody will read the body.
          if (signal.aborted) return res.body.cancel(signal.reason)
          resolve({ status: res.status, statusText: res.statusText, headers: res.headers, body: readableFromBody(res.body, signal) })
        },
        (error: unknown) => { done(); reject(error) },
      )
    })
  }

  #track (requestId: string, promise: Promise<unknown>): void {
    const tracked = Promise.resolve(promise).catch((error: unknown) => this.#hooks.onBackgroundError(requestId, error))
    this.#background.add(tracked)
    void tracked.finally(() => this.#background.delete(tracked))
  }

  protected async onClose (): Promise<void> {
    await Promise.all(this.#background)
  }

  protected async onDestroy (reason: Error): Promise<void> {
    // A handler on the main thread cannot be preempted (README, inline mode): it runs on, but its
    // caller is answered now, as in the other modes.
    for (const reject of this.#pending) reject(reason)
    this.#pending.clear()
  }
}
