import type { Readable } from 'node:stream'
import type { Aborter, GatewayRequest, GatewayResponse } from '../types.ts'
import { errorResponse } from './error-response.ts'
import type { MountedApp } from './mounted-app.ts'
import type { Router } from './router.ts'

/** Apache's LimitInternalRecursion default; a chain longer than this is a loop. */
export const MAX_LOCAL_REDIRECTS = 10

// Fields that describe the original body, which a redirected GET does not carry.
const BODY_FIELDS = new Set(['content-length', 'content-type', 'transfer-encoding'])

/**
 * RFC 3875 §6.2.2: a CGI "local redirect" (`Location: /path?query`, no Status) is served by the gateway
 * itself, as a GET for that path, through the router (it may name another app). The client never sees
 * the first response; its body is discarded.
 */
export async function followLocalRedirects (first: GatewayResponse, req: GatewayRequest, from: MountedApp, router: Router<MountedApp>, controller: Aborter): Promise<GatewayResponse> {
  let res = first
  let app = from
  for (let hops = 1; res.localRedirect !== undefined; hops++) {
    discard(res.body)
    if (hops > MAX_LOCAL_REDIRECTS) {
      app.log.error({ reqId: req.id, code: 'WG_ERR_REDIRECT_LOOP', location: res.localRedirect }, `more than ${MAX_LOCAL_REDIRECTS} local redirects`)
      return errorResponse('WG_ERR_REDIRECT_LOOP', req.id)
    }
    // The URL parser resolves dot segments, as the front door does for a request line.
    const url = new URL(res.localRedirect, req.url)
    const next = router.match(url.pathname)
    if (next === undefined) return errorResponse('WG_ERR_NOT_FOUND', req.id)
    const headers: string[] = []
    for (let i = 0; i < req.headers.length; i += 2) {
      if (!BODY_FIELDS.has(req.headers[i].toLowerCase())) headers.push(req.headers[i], req.headers[i + 1])
    }
    app = next
    // Held while dispatched: a reload that retires this app drains it first (process runtimes then
    // wait for a streamed body's process themselves).
    app.enter()
    try {
      res = await app.respond({ id: req.id, method: 'GET', url: url.href, headers, body: null, connection: req.connection }, controller)
    } finally {
      app.leave()
    }
  }
  return res
}

function discard (body: GatewayResponse['body']): void {
  if (body !== null && !(body instanceof Uint8Array)) (body as Readable).destroy()
}
