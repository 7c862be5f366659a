import { randomUUID } from 'node:crypto'

/** A valid incoming `x-request-id` is kept (so ids follow a request across proxies); anything else is replaced. */
const REQUEST_ID_RE = /^[A-Za-z0-9._:\-]{1,128}$/

export function pickRequestId (incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : newRequestId()
}

/** Ids a prefix serves before a new one is drawn: the 12 hex digits of the counter. */
const IDS_PER_PREFIX = 2 ** 48
const ZEROS = '000000000000'
let idPrefix = ''
let idCount = IDS_PER_PREFIX

/**
 * A new request id, shaped as a version 4 UUID: a random prefix (74 random bits, drawn per process and
 * again when the counter runs out) and a counter in the last 12 hex digits, from a random start below
 * 2^47, as hyperid does. Unique as randomUUID's
 * are, but not unguessable: an id names a request in logs and headers, it is no secret. About half the
 * time of randomUUID, and no buffer per id.
 */
export function newRequestId (): string {
  if (idCount === IDS_PER_PREFIX) {
    idPrefix = randomUUID().slice(0, 24)
    idCount = Math.floor(Math.random() * 2 ** 47)
  }
  const hex = (idCount++).toString(16)
  return idPrefix + ZEROS.slice(hex.length) + hex
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
  const origin = originOf(authority, secure)
  if (origin === undefined) return undefined
  if (rawUrl.charCodeAt(0) === 47 /* / */ && !NEEDS_PARSE_RE.test(rawUrl)) {
    // The handler's Request is made from this URL, lazily (handler/light-request.ts): it must parse.
    // Only the origin can make it fail (a path or query is escaped, never refused), and originOf checked it.
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

/** Origins by Host value, `null` for a Host that is refused; one map per scheme. */
const ORIGINS = { 'http://': new Map<string, string | null>(), 'https://': new Map<string, string | null>() }

/**
 * The origin (`http://host:port`) for a Host value, or `undefined` when it is not one: not a reg-name or
 * IP-literal with an optional port (HOST_RE), a port past 65535, or one the URL parser refuses (HOST_RE
 * admits some: `[1]`, `xn--zz`, `1.2.3.999`, a bad `%` escape). Remembered per Host: a gateway sees few
 * Host values, and the checks cost two regular expressions and up to ~1 µs of parsing a request.
 */
function originOf (authority: string, secure: boolean): string | undefined {
  const scheme = secure ? 'https://' : 'http://'
  const known = ORIGINS[scheme]
  let origin = known.get(authority)
  if (origin === undefined) {
    origin = HOST_RE.test(authority) && validPort(authority) && URL.canParse(`${scheme}${authority}/`) ? scheme + authority : null
    // Bounded: a client sending a new Host with every request costs the checks each time, not memory.
    if (known.size >= 256) known.clear()
    known.set(authority, origin)
  }
  return origin ?? undefined
}

function validPort (authority: string): boolean {
  const colon = authority.lastIndexOf(':')
  if (colon === -1 || authority.endsWith(']')) return true
  const port = authority.slice(colon + 1)
  return port === '' || Number(port) <= 65535
}
