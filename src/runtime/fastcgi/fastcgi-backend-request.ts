import type { ResolvedApp, ResolvedFastCgi } from '../../config/resolve.ts'
import type { GatewayRequest } from '../../types.ts'
import { cgiEnvironment } from '../cgi/cgi-request.ts'
import type { FastCgiScript } from './fastcgi-script.ts'

/**
 * The PARAMS of one request: the RFC 3875 meta-variables the cgi apps get (cgi/environment.ts: no
 * HTTP_PROXY, credentials only with passAuthorization, CONTENT_* only with a body), plus what nginx's
 * `fastcgi_params` adds and php-fpm expects. The app's `env` goes underneath, like extra
 * `fastcgi_param` lines that can never override a meta-variable.
 */
export function fastCgiParams (app: ResolvedApp, fastcgi: ResolvedFastCgi, req: GatewayRequest, script: FastCgiScript, url: string, bodyLength: number | null): Record<string, string> {
  const meta = cgiEnvironment(app, req, {
    scriptName: script.scriptName,
    pathInfo: script.pathInfo,
    // nginx: `$document_root$fastcgi_script_name` (with `alias` semantics: the route maps onto root).
    scriptFilename: `${fastcgi.root}/${script.relative}`,
    documentRoot: fastcgi.root,
    passAuthorization: app.passAuthorization,
  }, url, bodyLength)
  // One plain object built in order, not `delete` and spreads: `delete` turns the object into a slow
  // dictionary, and this runs for every request (~7 µs of self time in a profile before).
  const params: Record<string, string> = {}
  for (const name in app.env) params[name] = app.env[name]
  // PATH is the environment of a child process; a FastCGI backend has its own (php-fpm's `env[PATH]`).
  const keepPath = app.passEnv.includes('PATH')
  for (const name in meta) if (keepPath || name !== 'PATH') params[name] = meta[name]
  params.DOCUMENT_ROOT = fastcgi.root
  // nginx's $document_uri: the decoded path the script answers for.
  params.DOCUMENT_URI = script.scriptName + script.pathInfo
  // php-cgi built with --enable-force-cgi-redirect refuses to run without it (nginx's fastcgi_params sets it).
  params.REDIRECT_STATUS = '200'
  return params
}
