import type { ConnectionInfo } from '../types.ts'
import { pickRequestId, requestTarget, type RequestTarget } from '../http/target.ts'

/** What a FastCGI request's PARAMS say, in the terms of a `GatewayRequest` (its body comes from STDIN). */
export interface FastCgiRequestHead {
  readonly id: string
  readonly method: string
  /** The request-target as the web server received it (REQUEST_URI). */
  readonly rawTarget: string
  /** `undefined`: no URL can be made of REQUEST_URI and the host (400). */
  readonly target: RequestTarget | undefined
  /** Flat `[name, value, …]`, lower-case names, as a Node request's rawHeaders would carry them. */
  readonly headers: string[]
  /** CONTENT_LENGTH as a number; `undefined` when absent or empty (no body expected). */
  readonly contentLength: number | undefined
  readonly connection: ConnectionInfo
}

// Framing the web server already undid, or that describes its connection to the client, not ours.
const SKIPPED = new Set(['HTTP_TRANSFER_ENCODING', 'HTTP_CONNECTION', 'HTTP_KEEP_ALIVE', 'HTTP_CONTENT_LENGTH', 'HTTP_CONTENT_TYPE'])

/** `HTTP_X_FORWARDED_FOR` → `x-forwarded-for`, once per distinct variable name. */
const headerNames = new Map<string, string>()

function headerName (variable: string): string {
  let name = headerNames.get(variable)
  if (name === undefined) {
    name = variable.slice(5).toLowerCase().replaceAll('_', '-')
    // Bounded: variable names come from peers; common ones are few, the rest are computed each time.
    if (headerNames.size < 1024) headerNames.set(variable, name)
  }
  return name
}

/**
 * Turns a responder's PARAMS (RFC 3875 §4.1 meta-variables, as nginx's `fastcgi_params` and lighttpd send
 * them) into the request the HTTP front door would have made:
 * - URL: REQUEST_URI, else SCRIPT_NAME + PATH_INFO + `?` QUERY_STRING (§4.1.13, §4.1.5, §4.1.7);
 * - host: HTTP_HOST, else SERVER_NAME:SERVER_PORT, else `fallbackHost`; https when HTTPS is `on`;
 * - headers: each HTTP_* variable (§4.1.18: `HTTP_FOO_BAR` → `foo-bar`), plus CONTENT_TYPE/LENGTH;
 * - the request id from a valid X-Request-Id, else a new one.
 * @example
 * const head = fastCgiRequestHead([['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/hello']], '127.0.0.1:8080')
 */
export function fastCgiRequestHead (pairs: ReadonlyArray<readonly [string, string]>, fallbackHost: string): FastCgiRequestHead {
  const headers: string[] = []
  const params = new Map<string, string>()
  for (const [variable, value] of pairs) {
    // A header sent twice comes as two pairs of one name (nginx < 1.23): both are kept, as rawHeaders would.
    if (variable.startsWith('HTTP_') && !SKIPPED.has(variable)) headers.push(headerName(variable), value)
    params.set(variable, value)
  }
  const contentType = params.get('CONTENT_TYPE')
  if (contentType !== undefined && contentType !== '') headers.push('content-type', contentType)
  const lengthText = params.get('CONTENT_LENGTH')
  // §4.1.2: CONTENT_LENGTH is decimal digits, or unset/empty when there is no body.
  let contentLength: number | undefined
  if (lengthText !== undefined && lengthText !== '') {
    contentLength = /^\d{1,15}$/.test(lengthText) ? Number(lengthText) : Number.NaN
    if (!Number.isNaN(contentLength)) headers.push('content-length', lengthText)
  }
  const secure = params.get('HTTPS')?.toLowerCase() === 'on'
  const rawTarget = params.get('REQUEST_URI') ?? fallbackTarget(params)
  const host = params.get('HTTP_HOST') ?? serverAuthority(params)
  return {
    id: pickRequestId(params.get('HTTP_X_REQUEST_ID')),
    method: params.get('REQUEST_METHOD') ?? 'GET',
    rawTarget,
    target: requestTarget(rawTarget, host, fallbackHost, secure),
    headers,
    contentLength,
    connection: {
      remoteAddress: params.get('REMOTE_ADDR') ?? '',
      remotePort: Number(params.get('REMOTE_PORT') ?? 0) || 0,
      httpVersion: /^HTTP\/(\d(?:\.\d)?)$/.exec(params.get('SERVER_PROTOCOL') ?? '')?.[1] ?? '1.1',
      secure,
    },
  }
}

function fallbackTarget (params: ReadonlyMap<string, string>): string {
  const path = (params.get('SCRIPT_NAME') ?? '') + (params.get('PATH_INFO') ?? '')
  const query = params.get('QUERY_STRING') ?? ''
  return (path === '' ? '/' : path) + (query === '' ? '' : `?${query}`)
}

function serverAuthority (params: ReadonlyMap<string, string>): string | undefined {
  const name = params.get('SERVER_NAME')
  if (name === undefined || name === '') return undefined
  const port = params.get('SERVER_PORT')
  const literal = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name
  return port === undefined || port === '' ? literal : `${literal}:${port}`
}

/** RFC 9110 §9.1: a method is a token. */
export const METHOD_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
