import type { IncomingMessage, ServerResponse } from 'node:http'
import { STATUS_CODES } from 'node:http'
import { errorResponse } from '../gateway/error-response.ts'
import { clientAborted, type MountedApp } from '../gateway/mounted-app.ts'
import type { Router } from '../gateway/router.ts'
import { logAccess, type Logger } from '../log/logger.ts'
import type { GatewayRequest, GatewayResponse } from '../types.ts'
import { readBody } from './body.ts'
import { pickRequestId, requestTarget } from './target.ts'

export interface ListenerContext {
  router: Router<MountedApp>
  log: Logger
  /** Host used when a request has no Host header (HTTP/1.0). */
  fallbackHost: () => string
}

/**
 * The only code that touches Node's `IncomingMessage`/`ServerResponse`: turns the wire into a
 * `GatewayRequest`, hands it to the app, writes the `GatewayResponse` back, and logs one access line.
 */
export function createRequestListener (context: ListenerContext): (req: IncomingMessage, res: ServerResponse) => void {
  const { router, log } = context
  return function onRequest (req, res) {
    const started = performance.now()
    const id = pickRequestId(req.headers['x-request-id'])
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true
    const target = requestTarget(req.url ?? '/', req.headers.host, context.fallbackHost(), secure)
    let app: MountedApp | undefined
    const finish = (response: GatewayResponse): void => {
      writeResponse(req, res, id, response)
      logAccess(app?.log ?? log, id, req.method, target?.pathname ?? req.url, response.status, started)
    }
    if (target === undefined) return finish(errorResponse('WG_ERR_BAD_REQUEST', id))
    app = router.match(target.pathname)
    if (app === undefined) return finish(errorResponse('WG_ERR_NOT_FOUND', id))
    const mounted = app

    const controller = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(clientAborted())
    })
    readBody(req, mounted.config.bodyLimit).then((body) => {
      if (body === 'too-large') {
        const tooLarge = errorResponse('WG_ERR_BODY_TOO_LARGE', id)
        tooLarge.headers.push('connection', 'close') // the rest of the body is not read: the connection cannot be reused
        return finish(tooLarge)
      }
      if (body === 'aborted') return
      const request: GatewayRequest = { id, method: req.method as string, url: target.url, headers: req.rawHeaders, body }
      return mounted.respond(request, controller).then(finish)
    }).catch((error: unknown) => {
      mounted.log.error({ reqId: id, err: error }, 'writing the response failed')
      if (!res.headersSent) finish(errorResponse('WG_ERR_HANDLER_THREW', id))
      else res.destroy()
    })
  }
}

/** Headers the gateway sets itself from the body it holds (RFC 9112 §6: one framing, ours). */
const FRAMING = new Set(['content-length', 'transfer-encoding'])

function writeResponse (req: IncomingMessage, res: ServerResponse, id: string, response: GatewayResponse): void {
  if (res.destroyed || res.headersSent) return
  const { status, body } = response
  const out: string[] = []
  const raw = response.headers
  let handlerLength: string | undefined
  let hasRequestId = false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    if (FRAMING.has(name)) {
      if (name === 'content-length') handlerLength = raw[i + 1]
      continue
    }
    if (name === 'x-request-id') hasRequestId = true
    out.push(name, raw[i + 1])
  }
  if (!hasRequestId) out.push('x-request-id', id)
  // RFC 9110 §8.6: no Content-Length in 1xx/204; 304 carries no body. HEAD: the length GET would have.
  const bodyless = status === 204 || status === 304 || (status >= 100 && status < 200)
  if (!bodyless) {
    if (body !== null) out.push('content-length', String(body.byteLength))
    else if (req.method === 'HEAD' && handlerLength !== undefined) out.push('content-length', handlerLength)
    else out.push('content-length', '0')
  }
  const reason = response.statusText !== '' ? response.statusText : (STATUS_CODES[status] ?? '')
  res.writeHead(status, reason, out)
  if (body === null || bodyless || req.method === 'HEAD') res.end()
  else res.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength))
}
