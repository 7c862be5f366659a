import { decodeParamPairs } from '../fastcgi/params.ts'
import { encodeEndRequest, FastCgiProtocolError, ProtocolStatus } from '../fastcgi/records.ts'
import { clientAborted, type MountedApp } from '../gateway/mounted-app.ts'
import { answerOperator, isOperatorPath, recordAnswer, refusal, routeTo, waitForStart, type Asked } from '../gateway/pipeline.ts'
import { respondRouted } from '../gateway/respond.ts'
import type { Router } from '../gateway/router.ts'
import { STREAM_BODY_ABOVE } from '../http/body.ts'
import type { ErrorCode } from '../errors.ts'
import type { GatewayRequest, GatewayResponse } from '../types.ts'
import { BufferedBody, StdinBody } from './fastcgi-body.ts'
import type { FastCgiConnection, ResponderContext } from './fastcgi-connection.ts'
import { fastCgiRequestHead, METHOD_RE, type FastCgiRequestHead } from './fastcgi-request.ts'
import { cgiHead, endRecords, writeResponse, type ResponseWriting } from './fastcgi-response.ts'

type Phase = 'params' | 'stdin' | 'received'

/** STDIN held for a request waiting for the apps to start, past which the connection is paused. */
const EARLY_STDIN_MAX = 64 * 1024
const EMPTY = new Uint8Array(0)

/**
 * One FastCGI request on a connection, from BEGIN_REQUEST to END_REQUEST: PARAMS → the request head,
 * STDIN → the body (bytes, or a stream for a large body), through the steps every door takes
 * (src/gateway/pipeline.ts: operator endpoints, start-up wait, routing, body limit, dispatch, refusals,
 * the access line and the count), and the response back as STDOUT records. The steps are called one by
 * one because the body arrives as records after routing, not with the request.
 */
export class FastCgiExchange {
  readonly requestId: number
  readonly #connection: FastCgiConnection
  readonly #context: ResponderContext
  readonly #keepConn: boolean
  readonly #started = performance.now()
  readonly #controller = new AbortController()
  #phase: Phase = 'params'
  #params: Uint8Array[] = []
  #paramsSize = 0
  #head: FastCgiRequestHead | undefined
  #app: MountedApp | undefined
  /** The router that routed it: local redirects go through the same one. */
  #router: Router<MountedApp> | undefined
  #buffered: BufferedBody | undefined
  #streamed: StdinBody | undefined
  /** Set once the request went to the app. */
  #dispatched = false
  /** Set once a response (or a refusal) started going out: nothing else may be written for it. */
  #answered = false
  #aborted = false
  #writing: ResponseWriting | undefined
  #over = false
  /** Answered while the body still arrives: drop it to its end, then the connection may be reused. */
  #finishAtInputEnd = false
  /** An operator endpoint (health, ready, metrics) answered this request. */
  #operator = false
  /** Answered while a body we will not read (413) still arrives: the connection closes after END_REQUEST. */
  #closeAfter = false
  /**
   * STDIN that arrived while the request waited for the apps to start (`whenStarted`), replayed once
   * it is routed; `null` in it stands for the end of STDIN. The socket pauses past EARLY_STDIN_MAX.
   */
  #early: Array<Uint8Array | null> | undefined
  #earlySize = 0

  constructor (connection: FastCgiConnection, context: ResponderContext, requestId: number, keepConn: boolean) {
    this.#connection = connection
    this.#context = context
    this.requestId = requestId
    this.#keepConn = keepConn
  }

  params (content: Uint8Array): void {
    if (this.#phase !== 'params') throw new FastCgiProtocolError(`PARAMS record after the end of the PARAMS stream (request id ${this.requestId})`)
    if (content.byteLength > 0) {
      this.#paramsSize += content.byteLength
      if (this.#paramsSize > this.#context.maxParamsSize) throw new FastCgiProtocolError(`PARAMS stream larger than ${this.#context.maxParamsSize} bytes (server.maxHeaderSize + 8 KiB)`)
      this.#params.push(content)
      return
    }
    this.#phase = 'stdin'
    const params = decodeParamPairs(Buffer.concat(this.#params, this.#paramsSize))
    this.#params = []
    this.#begin(fastCgiRequestHead(params, this.#context.fallbackHost()))
  }

  stdin (content: Uint8Array): void {
    if (this.#phase === 'params') throw new FastCgiProtocolError(`STDIN record before the end of the PARAMS stream (request id ${this.requestId})`)
    if (this.#phase === 'received') throw new FastCgiProtocolError(`STDIN record after the end of the STDIN stream (request id ${this.requestId})`)
    if (this.#early !== undefined) return this.#holdEarly(content)
    if (content.byteLength === 0) return this.#inputEnded()
    // An operator endpoint (a body is dropped, as the HTTP door drops it), refused already (404, 413 …)
    // or aborted: the rest of the body is dropped as it arrives.
    if (this.#operator || (this.#answered && !this.#dispatched)) return
    const declared = this.#head?.contentLength
    if (declared !== undefined && (this.#streamed ?? this.#buffered)!.received + content.byteLength > declared) {
      throw new FastCgiProtocolError(`STDIN carries more than CONTENT_LENGTH (${declared}) bytes`)
    }
    if (this.#streamed !== undefined) {
      if (!this.#streamed.add(content) && !this.#answered) this.#refuse('WG_ERR_BODY_TOO_LARGE')
      return
    }
    const buffered = this.#buffered as BufferedBody
    // No CONTENT_LENGTH (nginx with fastcgi_request_buffering off and a chunked body): stream it after all.
    if (declared === undefined && buffered.received === 0 && this.#app?.runtime.streamsRequestBody === true) {
      this.#streamBody()
      return this.stdin(content)
    }
    if (!buffered.add(content)) this.#refuse('WG_ERR_BODY_TOO_LARGE')
  }

  /** ABORT_REQUEST (§5.4): the handler's ctx.signal aborts; END_REQUEST follows without the response. */
  abortRequest (): void {
    if (this.#aborted || this.#over) return
    this.#aborted = true
    if (this.#finishAtInputEnd) return this.#finish(true)
    this.#controller.abort(clientAborted())
    this.#streamed?.destroy(clientAborted())
    // §5.4: after ABORT_REQUEST the web server sends nothing more for this request, so the connection
    // stays usable (with FCGI_KEEP_CONN) once END_REQUEST is written.
    if (this.#writing !== undefined) {
      this.#writing.stop()
      this.#writing = undefined
      this.#endRequest(1)
    } else if (!this.#dispatched && !this.#answered) {
      this.#answered = true
      this.#log(499)
      this.#endRequest(1)
    }
    // Dispatched and not answered yet: #respond writes END_REQUEST when the handler gives up.
  }

  /** The socket closed (nginx's way to abort): stop the handler, write nothing more. */
  connectionLost (): void {
    if (this.#over) return
    this.#controller.abort(clientAborted())
    this.#streamed?.destroy(clientAborted())
    this.#writing?.stop()
    if (!this.#answered) this.#log(499)
    this.#finish(false)
  }

  #begin (head: FastCgiRequestHead): void {
    this.#head = head
    if (head.target === undefined || !METHOD_RE.test(head.method) || Number.isNaN(head.contentLength)) {
      return this.#refuse('WG_ERR_BAD_REQUEST')
    }
    if (isOperatorPath(this.#context, head.target.pathname)) return this.#answerOperator(head.target.pathname)
    if (this.#context.table.starting === true) return this.#waitForStart()
    this.#route()
  }

  /** Who asked, for the access line and the count. */
  get #asked (): Asked {
    const head = this.#head as FastCgiRequestHead
    return { id: head.id, method: head.method, path: head.target?.pathname ?? head.rawTarget, started: this.#started }
  }

  /** The apps are still starting (the port opened first): wait for them, up to server.startupTimeout. */
  #waitForStart (): void {
    this.#early = []
    waitForStart(this.#context, this.#asked).then((refused) => {
      const early = this.#early ?? []
      this.#early = undefined
      this.#connection.socket.resume()
      if (!this.#answered && !this.#over) {
        if (refused === undefined) this.#route()
        else this.#refuseWith(refused)
      }
      // Answered meanwhile (ABORT_REQUEST) or now: stdin() drops these; routed: they are the body.
      for (const content of early) {
        if (this.#over && !this.#finishAtInputEnd) break
        this.stdin(content ?? EMPTY)
      }
    }).catch((error: unknown) => {
      this.#context.log.error({ reqId: this.#head?.id, err: error }, 'a FastCGI request that waited for the apps to start failed')
      this.#connection.socket.destroy()
    })
  }

  #holdEarly (content: Uint8Array): void {
    const early = this.#early as Array<Uint8Array | null>
    if (content.byteLength === 0) {
      early.push(null)
      return
    }
    early.push(content)
    this.#earlySize += content.byteLength
    if (this.#earlySize > EARLY_STDIN_MAX) this.#connection.socket.pause()
  }

  #route (): void {
    const head = this.#head as FastCgiRequestHead
    const routed = routeTo(this.#context, head.target!.pathname)
    if (routed === undefined) return this.#refuse('WG_ERR_NOT_FOUND')
    const app = routed.app
    this.#app = app
    this.#router = routed.router
    if (head.contentLength !== undefined && head.contentLength > app.config.bodyLimit) return this.#refuse('WG_ERR_BODY_TOO_LARGE')
    if (app.runtime.streamsRequestBody && head.contentLength !== undefined && head.contentLength > STREAM_BODY_ABOVE) this.#streamBody()
    else this.#buffered = new BufferedBody(app.config.bodyLimit)
  }

  #streamBody (): void {
    const socket = this.#connection.socket
    this.#streamed = new StdinBody((this.#app as MountedApp).config.bodyLimit, () => socket.pause(), () => socket.resume())
    this.#buffered = undefined
    this.#dispatch(this.#streamed)
  }

  #inputEnded (): void {
    this.#phase = 'received'
    this.#connection.inputComplete()
    const declared = this.#head?.contentLength
    const received = (this.#streamed ?? this.#buffered)?.received ?? 0
    if (declared !== undefined && received < declared && !this.#answered && !this.#operator) {
      throw new FastCgiProtocolError(`STDIN ended after ${received} of CONTENT_LENGTH ${declared} bytes`)
    }
    if (this.#streamed !== undefined) this.#streamed.finish()
    else if (this.#buffered !== undefined && !this.#answered) this.#dispatch(this.#buffered.bytes())
    if (this.#finishAtInputEnd) this.#finish(true)
  }

  #dispatch (body: GatewayRequest['body']): void {
    const head = this.#head as FastCgiRequestHead
    const app = this.#app as MountedApp
    const router = this.#router as Router<MountedApp>
    this.#dispatched = true
    const request: GatewayRequest = {
      id: head.id,
      method: head.method,
      url: head.target!.url,
      rawTarget: head.rawTarget,
      headers: head.headers,
      body,
      connection: head.connection,
    }
    Promise.resolve(respondRouted(app, request, router, this.#controller))
      .then(response => this.#respond(this.#streamed?.tooLarge === true ? this.#tooLarge(response) : response))
      .catch((error: unknown) => {
        app.log.error({ reqId: head.id, err: error }, 'writing the FastCGI response failed')
        this.#connection.socket.destroy()
      })
  }

  #tooLarge (response: GatewayResponse): GatewayResponse {
    if (response.body !== null && !(response.body instanceof Uint8Array)) response.body.destroy()
    this.#closeAfter = true
    return this.#errorAnswer('WG_ERR_BODY_TOO_LARGE')
  }

  /** `/__warmgate/…` (ops/admin.ts): never an app's; not counted as traffic, logged at debug. */
  #answerOperator (pathname: string): void {
    this.#operator = true
    answerOperator(this.#context, this.#asked, pathname).then(response => this.#respond(response))
  }

  /** A request refused before it reached the app (400, 404, 413, 503 starting): answered at once. */
  #refuse (code: ErrorCode): void {
    this.#refuseWith(this.#errorAnswer(code))
  }

  #refuseWith (response: GatewayResponse): void {
    if (response.errorCode === 'WG_ERR_BODY_TOO_LARGE') this.#closeAfter = true
    this.#controller.abort(clientAborted())
    this.#streamed?.destroy()
    this.#respond(response)
  }

  #errorAnswer (code: ErrorCode): GatewayResponse {
    return refusal(this.#context, code, this.#head?.id ?? '', this.#app, this.#connection.peer())
  }

  #respond (response: GatewayResponse): void {
    if (this.#over || this.#answered) {
      if (response.body !== null && !(response.body instanceof Uint8Array)) response.body.destroy()
      return
    }
    this.#answered = true
    if (this.#aborted) {
      if (response.body !== null && !(response.body instanceof Uint8Array)) response.body.destroy()
      this.#log(499)
      return this.#endRequest(1)
    }
    this.#log(response.status)
    // §5.5: the app's slots and queue are full — the web server's own answer (nginx: 502) comes at once.
    if (response.errorCode === 'WG_ERR_OVERLOADED') {
      this.#connection.socket.write(encodeEndRequest(this.requestId, 0, ProtocolStatus.OVERLOADED))
      return this.#requestOver()
    }
    const head = cgiHead(response, this.#head?.id ?? '', this.#head?.method ?? 'GET')
    this.#writing = writeResponse(this.#connection.socket, this.requestId, head, response.body, () => {
      this.#writing = undefined
      this.#requestOver()
    })
  }

  #endRequest (appStatus: number): void {
    this.#connection.socket.write(endRecords(this.requestId, appStatus))
    this.#requestOver()
  }

  /** END_REQUEST is written. A body still arriving is dropped to its end, or (413) not read: the connection closes. */
  #requestOver (): void {
    // The exchange is over: what the handler did not read of a streamed body is dropped.
    this.#streamed?.destroy()
    if (this.#phase === 'received' || this.#aborted) return this.#finish(true)
    if (this.#closeAfter) return this.#finish(false)
    this.#finishAtInputEnd = true
  }

  /** `reusable`: the connection is in a clean state (nothing more will arrive for this request). */
  #finish (reusable: boolean): void {
    if (this.#over) return
    this.#over = true
    this.#app?.leave()
    this.#connection.exchangeDone(this.#keepConn && reusable)
  }

  #log (status: number): void {
    if (this.#head === undefined) return
    recordAnswer(this.#context, this.#asked, this.#app, status, this.#operator)
  }
}
