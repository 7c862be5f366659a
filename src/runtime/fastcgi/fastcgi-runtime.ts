import { Readable } from 'node:stream'
import type { ResolvedApp, ResolvedFastCgi } from '../../config/resolve.ts'
import { GatewayError } from '../../errors.ts'
import type { Logger } from '../../log/logger.ts'
import type { GatewayRequest, GatewayResponse } from '../../types.ts'
import { pathOf, rawUrl } from '../cgi/cgi-request.ts'
import { runFastCgi } from './fastcgi-backend-exchange.ts'
import { isStaleConnection } from './fastcgi-failure.ts'
import { FastCgiPool, type FastCgiPoolStats } from './fastcgi-pool.ts'
import { fastCgiParams } from './fastcgi-backend-request.ts'
import { splitFastCgiPath } from './fastcgi-script.ts'
import { BaseRuntime, requestController, type SignalSource } from '../runtime.ts'
import { Slots } from '../slots.ts'

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

export interface FastCgiRuntimeHooks {
  readonly log: Logger
}

/**
 * An app forwarded to a FastCGI backend (php-fpm, or any FastCGI responder), as nginx's `fastcgi_pass`
 * with `fastcgi_keep_conn on` does. At most min(`concurrency`, `maxConnections`) requests run at once,
 * each on its own pooled connection; the rest wait in the app's queue. Path checks happen before a
 * slot or a connection is taken, so a refused path never reaches the backend.
 */
export class FastCgiRuntime extends BaseRuntime {
  readonly mode = 'fastcgi' as const
  /** Bodies with a declared length go out as STDIN while they arrive; chunked ones are read whole first (CONTENT_LENGTH). */
  readonly streamsRequestBody = true
  readonly #app: ResolvedApp
  readonly #fastcgi: ResolvedFastCgi
  readonly #log: Logger
  readonly #slots: Slots
  readonly #pool: FastCgiPool
  /** Exchanges whose connection is still in use (a body may stream after dispatch resolved). */
  #busy = 0
  #idle: (() => void) | undefined
  /** Aborted by destroy(): waiting and running requests fail with its reason. */
  readonly #destroyed = new AbortController()
  /** The controllers of requests not yet done, which destroy() aborts. */
  readonly #live = new Set<AbortController>()

  constructor (app: ResolvedApp, hooks: FastCgiRuntimeHooks) {
    super()
    if (app.fastcgi === undefined) throw new TypeError(`app ${app.name} has no fastcgi settings`)
    this.#app = app
    this.#fastcgi = app.fastcgi
    this.#log = hooks.log
    this.#slots = new Slots(Math.min(app.concurrency, app.fastcgi.maxConnections), app.maxQueue, app.queueTimeoutMs)
    this.#pool = new FastCgiPool(app.fastcgi)
  }

  /** Connections for tests and metrics. */
  poolStats (): FastCgiPoolStats {
    return this.#pool.stats()
  }

  // No connection at start: php-fpm may come up after the gateway, and a request answers 502 until it does.
  protected async onStart (): Promise<void> {}

  protected async onDispatch (req: GatewayRequest, abort: SignalSource, started: () => void): Promise<GatewayResponse> {
    const requestSignal = abort.signal
    // The path as sent, not as the URL parser resolved it (see CgiRuntime): `%2e%2e` and `/../` are refused.
    const url = rawUrl(req)
    const path = pathOf(url)
    const route = this.#app.route
    if (route !== '/' && path !== route && !path.startsWith(`${route}/`)) {
      throw new GatewayError('WG_ERR_BAD_REQUEST', `the request path ${JSON.stringify(path.slice(0, 200))} reaches ${route} only after dot segments are resolved`)
    }
    const found = splitFastCgiPath(route, path, this.#fastcgi.index, this.#fastcgi.frontController)
    if (!found.ok) throw new GatewayError(found.code, found.reason)
    // One controller per request, aborted by the client/timeout signal or by destroy() (runtime.ts).
    const { controller, unforward } = requestController(requestSignal, this.#destroyed.signal, this.#live)
    const { signal } = controller
    let busy = false
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      unforward()
      this.#live.delete(controller)
      if (!busy) return
      this.#slots.release()
      if (--this.#busy === 0) this.#idle?.()
    }
    try {
      let body = req.body
      if (body instanceof Readable && declaredLength(req.headers) === null) body = await readWhole(body, signal)
      const bodyLength = body instanceof Readable ? declaredLength(req.headers) : body?.byteLength ?? null
      const params = fastCgiParams(this.#app, this.#fastcgi, req, found.script, url, bodyLength)
      // A free slot is taken without a promise turn (the usual case below maxConnections).
      if (!this.#slots.tryAcquire()) await this.#slots.acquire(signal)
      busy = true
      this.#busy++
      started()
      // RFC 9110 §9.2.2: only an idempotent request, whose body is still at hand, may be sent twice.
      const idempotent = IDEMPOTENT.has(req.method) && !(body instanceof Readable)
      let retried = false
      const retry = (error: unknown): boolean => idempotent && !retried && !signal.aborted && isStaleConnection(error)
      for (;;) {
        // An idle connection comes back as it is: awaiting it would cost a microtask turn a request.
        const taken = this.#pool.acquire(signal)
        const conn = taken instanceof Promise ? await taken : taken
        try {
          return await runFastCgi(conn, params, body, signal, {
            log: this.#log,
            reqId: req.id,
            done: (reusable, error) => {
              this.#pool.release(conn, reusable)
              if (!retry(error)) release()
            },
          })
        } catch (error) {
          if (!retry(error)) throw error
          retried = true
          this.#log.info({ reqId: req.id }, 'the backend had closed a pooled connection before this request; sending it again on a new one')
        }
      }
    } catch (error) {
      release()
      throw error
    }
  }

  protected async onClose (): Promise<void> {
    // Answered requests may still stream their bodies: they get the app's timeout, then their connections close.
    if (this.#busy > 0) {
      const timer = setTimeout(() => this.#pool.destroy(), this.#app.timeoutMs)
      await new Promise<void>(resolve => { this.#idle = resolve })
      clearTimeout(timer)
    }
    this.#pool.close()
  }

  protected async onDestroy (reason: Error): Promise<void> {
    this.#destroyed.abort(reason)
    for (const controller of this.#live) controller.abort(reason)
    this.#pool.destroy()
  }

  protected workerCount (): number {
    return this.#pool.stats().open
  }
}

/** The request's Content-Length, when it has a valid one (the front door already refused conflicting framing). */
function declaredLength (headers: readonly string[]): number | null {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === 14 && headers[i].toLowerCase() === 'content-length') {
      const n = Number(headers[i + 1])
      return Number.isSafeInteger(n) && n >= 0 ? n : null
    }
  }
  return null
}

/**
 * A chunked body, read whole: CONTENT_LENGTH must be sent before STDIN and php-fpm relies on it (nginx
 * buffers chunked bodies for FastCGI too). The front door's stream already stops at the body limit.
 */
async function readWhole (body: Readable, signal: AbortSignal): Promise<Uint8Array | null> {
  const onAbort = (): void => { body.destroy(signal.reason as Error) }
  signal.throwIfAborted()
  signal.addEventListener('abort', onAbort, { once: true })
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk)
      size += chunk.byteLength
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  return size === 0 ? null : new Uint8Array(Buffer.concat(chunks, size))
}
