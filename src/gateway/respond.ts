import type { Aborter, GatewayRequest, GatewayResponse, MaybePromise } from '../types.ts'
import { followLocalRedirects } from './local-redirect.ts'
import type { MountedApp } from './mounted-app.ts'
import type { Router } from './router.ts'

/**
 * What every front door (HTTP listener, FastCGI responder) does with a request routed to `mounted`:
 * dispatch it (timeout, errors as responses), then serve a CGI local redirect through the same router
 * that routed it. Never rejects for a handler's failure: that is a 5xx response. An answer there at once
 * is returned as it is (MaybePromise).
 */
export function respondRouted (mounted: MountedApp, request: GatewayRequest, router: Router<MountedApp>, controller: Aborter): MaybePromise<GatewayResponse> {
  const answer = mounted.respond(request, controller)
  if (!(answer instanceof Promise)) return answer.localRedirect === undefined ? answer : followLocalRedirects(answer, request, mounted, router, controller)
  return answer.then(res => res.localRedirect === undefined ? res : followLocalRedirects(res, request, mounted, router, controller))
}
