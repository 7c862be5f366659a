import type { GatewayRequest, GatewayResponse } from '../types.ts'
import { followLocalRedirects } from './local-redirect.ts'
import type { MountedApp } from './mounted-app.ts'
import type { Router } from './router.ts'

/**
 * What every front door (HTTP listener, FastCGI responder) does with a request routed to `mounted`:
 * dispatch it (timeout, errors as responses), then serve a CGI local redirect through the same router
 * that routed it. Never rejects for a handler's failure: that is a 5xx response.
 */
export function respondRouted (mounted: MountedApp, request: GatewayRequest, router: Router<MountedApp>, controller: AbortController): Promise<GatewayResponse> {
  return mounted.respond(request, controller)
    .then(res => res.localRedirect === undefined ? res : followLocalRedirects(res, request, mounted, router, controller))
}
