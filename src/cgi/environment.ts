/**
 * The CGI/1.1 request meta-variables (RFC 3875 §4.1) for one request, built as a plain object from
 * allowlisted parts only. Pure: no I/O, never reads `process.env` itself (the caller hands in the
 * gateway's environment and the names it may pass through).
 */

export interface CgiEnvironmentInput {
  readonly method: string
  /** Absolute request URL as received, e.g. `http://example.com/cgi-bin/test.pl/extra?x=1`. */
  readonly url: string
  /** Request headers, flat: `[name, value, name, value, …]`; repeated headers stay separate. */
  readonly headers: readonly string[]
  /** Body length in bytes; `null` or 0 means the request has no body. */
  readonly bodyLength: number | null
  /** URL path of the script, e.g. `/cgi-bin/test.pl`. */
  readonly scriptName: string
  /** Decoded path after the script, e.g. `/extra/path`; `''` when absent. */
  readonly pathInfo: string
  /** Absolute file-system path of the script. */
  readonly scriptFilename: string
  /** Directory that `pathInfo` is translated against for `PATH_TRANSLATED`. */
  readonly documentRoot: string
  /** Defaults to the URL's host name. */
  readonly serverName?: string
  /** Defaults to the URL's port, or 80/443 by scheme. */
  readonly serverPort?: number | string
  /** The request's HTTP version as Node reports it (`'1.1'`, `'1.0'`). */
  readonly httpVersion: string
  readonly serverSoftware: string
  readonly remoteAddress: string
  readonly remotePort: number | string
  /** The request arrived over TLS. */
  readonly https: boolean
  /** The gateway's own environment; only `PATH` and `passEnv` names are read from it. */
  readonly gatewayEnv: Readonly<Record<string, string | undefined>>
  readonly passEnv?: readonly string[]
  /** Pass `Authorization` / `Proxy-Authorization` to the script (off by default, like Apache's CGIPassAuth). */
  readonly passAuthorization?: boolean
}

// RFC 9110 §5.6.2: a header name is a token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Headers that never become `HTTP_*` variables, by their variable name.
 * RFC 3875 §4.1.18: the server "SHOULD remove any header fields carrying authentication information,
 * such as 'Authorization'; or that are available to the script in other meta-variables, such as
 * 'Content-Length' and 'Content-Type'". Transfer-Encoding is framing the gateway already undid.
 * HTTP_PROXY: a `Proxy:` header would shadow the proxy setting many HTTP clients read from the
 * environment (httpoxy, CVE-2016-5385).
 */
const NEVER = new Set(['HTTP_PROXY', 'HTTP_CONTENT_LENGTH', 'HTTP_CONTENT_TYPE', 'HTTP_TRANSFER_ENCODING'])
// RFC 3875 §4.1.18 again (authentication data); passed only when the app opts in.
const CREDENTIALS = new Set(['HTTP_AUTHORIZATION', 'HTTP_PROXY_AUTHORIZATION'])

/**
 * Builds the environment of a CGI child for one request.
 *
 * @example
 * const env = buildCgiEnvironment({
 *   method: 'GET', url: 'http://example.com/cgi-bin/test.pl/extra?x=1', headers: ['Host', 'example.com'],
 *   bodyLength: null, scriptName: '/cgi-bin/test.pl', pathInfo: '/extra', scriptFilename: '/srv/cgi-bin/test.pl',
 *   documentRoot: '/srv/cgi-bin', httpVersion: '1.1', serverSoftware: 'warmgate/0.1.0',
 *   remoteAddress: '127.0.0.1', remotePort: 50000, https: false, gatewayEnv: process.env, passEnv: ['TZ'],
 * })
 * // env.QUERY_STRING === 'x=1', env.PATH_INFO === '/extra'
 */
export function buildCgiEnvironment (input: CgiEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {}

  // Pass-through first, so no gateway variable can override a meta-variable set below.
  // Only PATH and the configured names: a secret in the gateway's environment never reaches a script.
  for (const name of ['PATH', ...(input.passEnv ?? [])]) {
    const value = input.gatewayEnv[name]
    if (typeof value === 'string' && !value.includes('\0')) env[name] = value
  }

  const target = splitTarget(input.url)

  // HTTP_* first, then the meta-variables, so a header can never overwrite one of them.
  addHeaderVariables(env, input.headers, input.passAuthorization === true)

  env.GATEWAY_INTERFACE = 'CGI/1.1' // RFC 3875 §4.1.4
  env.SERVER_PROTOCOL = `HTTP/${input.httpVersion}` // §4.1.16: the protocol of the request
  env.SERVER_SOFTWARE = input.serverSoftware // §4.1.17
  env.SERVER_NAME = input.serverName ?? target.hostname // §4.1.14: host name (IPv6 keeps its brackets)
  env.SERVER_PORT = String(input.serverPort ?? target.port) // §4.1.15
  env.REQUEST_METHOD = input.method // §4.1.12
  // §4.1.7: the query component verbatim (still URL-encoded), without the '?'; '' when there is none.
  env.QUERY_STRING = target.query
  env.SCRIPT_NAME = input.scriptName // §4.1.13
  env.PATH_INFO = input.pathInfo // §4.1.5: decoded, '' when the URL names the script itself
  // §4.1.6: PATH_TRANSLATED only when there is path info ("if PATH_INFO is NULL, PATH_TRANSLATED is NULL").
  if (input.pathInfo !== '') env.PATH_TRANSLATED = input.documentRoot.replace(/\/+$/, '') + input.pathInfo
  env.SCRIPT_FILENAME = input.scriptFilename // not in RFC 3875; Apache/lighttpd/Go set it, PHP needs it
  env.REQUEST_URI = target.pathAndQuery // not in RFC 3875; the raw request target (path + query)
  env.REMOTE_ADDR = input.remoteAddress // §4.1.8
  env.REMOTE_PORT = String(input.remotePort) // not in RFC 3875; common extension
  // §4.1.2: CONTENT_LENGTH "if and only if the request is accompanied by a message-body".
  // The front door reports an empty body as null; a zero length is treated the same way (as Go does).
  const bodyLength = input.bodyLength ?? 0
  if (bodyLength > 0) {
    env.CONTENT_LENGTH = String(bodyLength)
    // §4.1.3: CONTENT_TYPE describes the body, so it exists only with one.
    const contentType = headerValue(input.headers, 'content-type')
    if (contentType !== undefined) env.CONTENT_TYPE = contentType
  }
  if (input.https) env.HTTPS = 'on' // not in RFC 3875; the de-facto TLS marker (Apache mod_ssl)
  return env
}

/** RFC 3875 §4.1.18 protocol-specific variables: one `HTTP_*` per header name, repeats joined. */
function addHeaderVariables (env: Record<string, string>, headers: readonly string[], passAuthorization: boolean): void {
  const values = new Map<string, string[]>()
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]
    const value = headers[i + 1]
    // A name with '_' would collide with its '-' twin after mapping (X_Foo posing as X-Foo), so it is
    // dropped outright (nginx and Apache 2.4 do the same). A NUL cannot live in an environment string.
    if (!TOKEN.test(name) || name.includes('_') || value.includes('\0')) continue
    // §4.1.18: upper-case, '-' replaced by '_', prefixed with HTTP_.
    const variable = `HTTP_${name.toUpperCase().replaceAll('-', '_')}`
    if (NEVER.has(variable)) continue
    if (!passAuthorization && CREDENTIALS.has(variable)) continue
    const list = values.get(variable)
    if (list === undefined) values.set(variable, [value])
    else list.push(value)
  }
  for (const [variable, list] of values) {
    // §4.1.18: repeated fields are combined as HTTP would combine them (RFC 9110 §5.3: ', '),
    // except Cookie, whose own separator is '; ' (RFC 6265 §5.4).
    env[variable] = list.join(variable === 'HTTP_COOKIE' ? '; ' : ', ')
  }
}

function headerValue (headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i].toLowerCase() === lowerName) return headers[i + 1]
  }
  return undefined
}

interface SplitTarget {
  hostname: string
  port: string
  pathAndQuery: string
  query: string
}

/**
 * Splits an absolute URL by hand rather than through `new URL()`, which would re-encode the path and
 * query: QUERY_STRING and REQUEST_URI must be the bytes the client sent.
 */
function splitTarget (url: string): SplitTarget {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)/.exec(url)
  let rest = url
  let hostname = ''
  let port = ''
  if (scheme !== null) {
    rest = url.slice(scheme[0].length)
    const authority = scheme[2].slice(scheme[2].lastIndexOf('@') + 1)
    const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority)
    hostname = hostPort?.[1] ?? authority
    port = hostPort?.[2] ?? ''
    if (port === '') port = scheme[1].toLowerCase() === 'https' ? '443' : '80'
  }
  const hash = rest.indexOf('#')
  if (hash !== -1) rest = rest.slice(0, hash)
  if (rest === '' || rest.startsWith('?')) rest = `/${rest}`
  const question = rest.indexOf('?')
  return { hostname, port, pathAndQuery: rest, query: question === -1 ? '' : rest.slice(question + 1) }
}
