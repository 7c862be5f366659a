// Pure helpers shared by the 1.0 and 2.0 event builders: no I/O.

/** What an API Gateway event is built from: the request as the gateway received it. */
export interface EventInput {
  /** The gateway request id: `requestContext.requestId`. */
  requestId: string
  method: string
  /** Absolute URL. */
  url: string
  /** Flat `[name, value, …]` pairs as received; repeated headers stay separate. */
  headers: readonly string[]
  body: Uint8Array | null
  /** The client's address: `sourceIp`. */
  sourceIp: string
  /** `'HTTP/1.1'`. */
  protocol: string
  /** When the request was handed to the handler (epoch ms): `timeEpoch` / `requestTimeEpoch`. */
  time: number
}

/** Not a real account: API Gateway puts the caller's AWS account id here; a local gateway has none. */
export const LOCAL_ACCOUNT_ID = '000000000000'
export const LOCAL_API_ID = 'warmgate'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** API Gateway's `requestContext.time`: the Common Log Format date, in UTC (`12/Mar/2020:19:03:58 +0000`). */
export function formatRequestTime (epochMs: number): string {
  const d = new Date(epochMs)
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
}

/** Media types API Gateway's own examples treat as text; anything else travels base64. */
const TEXT_TYPE_RE = /^(?:text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded|graphql)\b)/i
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * The event's `body` and `isBase64Encoded`: a text body (a textual Content-Type, or none, and valid
 * UTF-8) as is, anything else base64, so binary uploads arrive intact. No body: `undefined`.
 */
export function encodeBody (body: Uint8Array | null, contentType: string | undefined): { body: string, isBase64Encoded: boolean } | undefined {
  if (body === null || body.byteLength === 0) return undefined
  if (contentType === undefined || TEXT_TYPE_RE.test(contentType)) {
    try {
      return { body: STRICT_UTF8.decode(body), isBase64Encoded: false }
    } catch {}
  }
  return { body: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'), isBase64Encoded: true }
}

/** The URL's path and query as sent (no re-encoding), split. */
export function splitTarget (url: string): { path: string, query: string } {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start === -1) return { path: '/', query: '' }
  const rest = url.slice(start).split('#')[0]
  const q = rest.indexOf('?')
  return q === -1 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q + 1) }
}

/** Query parameters in order, decoded as API Gateway decodes them (`+` is a space). */
export function queryPairs (query: string): Array<[string, string]> {
  return query === '' ? [] : [...new URLSearchParams(query)]
}

/** The host the client addressed (`requestContext.domainName`) and its first label (`domainPrefix`). */
export function domainOf (url: string): { domainName: string, domainPrefix: string } {
  const host = new URL(url).hostname
  return { domainName: host, domainPrefix: host.split('.')[0] }
}
