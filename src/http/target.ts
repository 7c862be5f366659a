import { randomUUID } from 'node:crypto'

/** A valid incoming `x-request-id` is kept (so ids follow a request across proxies); anything else is replaced. */
const REQUEST_ID_RE = /^[A-Za-z0-9._:\-]{1,128}$/

export function pickRequestId (incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID()
}

// RFC 9110 §7.2 / RFC 3986 §3.2.2: reg-name or IP-literal, optional port. Anything else (a '/', '@', space)
// could change the URL the handler sees, so it is a 400.
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_~!$&'()*+,;=%]+)(?::\d{1,5})?$/

export interface RequestTarget {
  /** The absolute URL the handler's `Request` gets. */
  url: string
  /** The path as the handler will see it (dot segments resolved), used for routing. */
  pathname: string
}

/**
 * Turns a request line's target and Host header into the absolute URL a web `Request` needs, or
 * `undefined` when they cannot form one (400). The WHATWG URL parser runs only when the raw target could
 * be changed by it in a way that matters for routing (dot segments, `%2e`, backslashes, absolute-form):
 * parsing every URL costs more than the rest of routing.
 */
export function requestTarget (rawUrl: string, host: string | undefined, fallbackHost: string, secure: boolean): RequestTarget | undefined {
  const authority = host === undefined || host === '' ? fallbackHost : host
  if (!HOST_RE.test(authority) || !validPort(authority)) return undefined
  const origin = (secure ? 'https://' : 'http://') + authority
  if (rawUrl.charCodeAt(0) === 47 /* / */ && !NEEDS_PARSE_RE.test(rawUrl)) {
    // The handler's Request is made from this URL, lazily (handler/light-request.ts): it must parse.
    // Only the origin can make it fail (a path or query is escaped, never refused), so that is what is checked.
    if (!originParses(origin)) return undefined
    const query = rawUrl.indexOf('?')
    return { url: origin + rawUrl, pathname: query === -1 ? rawUrl : rawUrl.slice(0, query) }
  }
  try {
    // Origin-form targets keep the Host; an absolute-form target (RFC 9112 §3.2.2) carries its own.
    const parsed = rawUrl.charCodeAt(0) === 47 ? new URL(origin + rawUrl) : new URL(rawUrl)
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined
    return { url: parsed.href, pathname: parsed.pathname }
  } catch {
    return undefined
  }
}

// `/.` (dot segments), `%2e` (encoded dots count as dots in URL path parsing), `\` (a slash in http URLs),
// `#` (a fragment is not part of the path), and `//` at the start (would read as an authority).
const NEEDS_PARSE_RE = /\/\.|%2e|\\|#|^\/\//i

/**
 * Whether the URL parser takes this origin (HOST_RE admits some it refuses: `[1]`, `xn--zz`, `1.2.3.999`,
 * a bad `%` escape). Remembered per origin: a gateway sees few Host values, and parsing costs ~1 µs.
 */
const parsedOrigins = new Map<string, boolean>()
function originParses (origin: string): boolean {
  let ok = parsedOrigins.get(origin)
  if (ok === undefined) {
    ok = URL.canParse(`${origin}/`)
    // Bounded: a client sending a new Host with every request costs a parse each, not memory.
    if (parsedOrigins.size >= 256) parsedOrigins.clear()
    parsedOrigins.set(origin, ok)
  }
  return ok
}

function validPort (authority: string): boolean {
  const colon = authority.lastIndexOf(':')
  if (colon === -1 || authority.endsWith(']')) return true
  const port = authority.slice(colon + 1)
  return port === '' || Number(port) <= 65535
}
