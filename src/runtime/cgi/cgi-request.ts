import { buildCgiEnvironment } from '../../cgi/environment.ts'
import type { ResolvedApp } from '../../config/resolve.ts'
import type { BufferedRequest, GatewayRequest } from '../../types.ts'
import { VERSION } from '../../version.ts'

/** RFC 3875 §4.1.17 SERVER_SOFTWARE. */
export const SERVER_SOFTWARE = `warmgate/${VERSION}`

/** Where a request's script sits, as RFC 3875 §4.1 describes it. */
export interface ScriptPlace {
  scriptName: string
  pathInfo: string
  scriptFilename: string
  documentRoot: string
  passAuthorization: boolean
}

/**
 * The request URL as the client wrote it (RFC 3875 §4.1.7 QUERY_STRING and REQUEST_URI must be verbatim;
 * `req.url` may have been normalized by the URL parser).
 */
export function rawUrl (req: GatewayRequest): string {
  const raw = req.rawTarget
  if (raw === undefined) return req.url
  if (!raw.startsWith('/')) return raw // absolute-form (RFC 9112 §3.2.2)
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(req.url)?.[0] ?? ''
  return origin + raw
}

/** The URL's path, without re-encoding it (`new URL` would). */
export function pathOf (url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start === -1) return '/'
  const end = url.slice(start).search(/[?#]/)
  return end === -1 ? url.slice(start) : url.slice(start, start + end)
}

/**
 * The request meta-variables, with PATH and `passEnv` from the gateway's own environment underneath
 * (a meta-variable always wins). The caller adds anything else under them. `bodyLength` defaults to
 * the buffered body's; a FastCGI app streaming its body passes the declared length.
 */
export function cgiEnvironment (app: ResolvedApp, req: GatewayRequest, place: ScriptPlace, url: string = req.url, bodyLength: number | null = (req as BufferedRequest).body?.byteLength ?? null): Record<string, string> {
  const connection = req.connection
  const meta = buildCgiEnvironment({
    method: req.method,
    url,
    headers: req.headers,
    bodyLength,
    scriptName: place.scriptName,
    pathInfo: place.pathInfo,
    scriptFilename: place.scriptFilename,
    documentRoot: place.documentRoot,
    // gateway.fetch has no socket: the caller is this process.
    httpVersion: connection?.httpVersion ?? '1.1',
    remoteAddress: connection?.remoteAddress ?? '127.0.0.1',
    remotePort: connection?.remotePort ?? 0,
    https: connection?.secure ?? req.url.startsWith('https:'),
    serverSoftware: SERVER_SOFTWARE,
    gatewayEnv: process.env,
    passEnv: app.passEnv,
    passAuthorization: place.passAuthorization,
  })
  return meta
}
