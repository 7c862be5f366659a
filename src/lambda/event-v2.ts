// API Gateway HTTP API, payload format 2.0 ("Create AWS Lambda proxy integrations for HTTP APIs",
// "Payload format version"). Pure: the request in, the event out.
import { domainOf, encodeBody, formatRequestTime, LOCAL_ACCOUNT_ID, LOCAL_API_ID, queryPairs, splitTarget, type EventInput } from './event-input.ts'

export interface EventV2 {
  version: '2.0'
  routeKey: string
  rawPath: string
  rawQueryString: string
  cookies?: string[]
  headers: Record<string, string>
  queryStringParameters?: Record<string, string>
  requestContext: {
    accountId: string
    apiId: string
    domainName: string
    domainPrefix: string
    http: { method: string, path: string, protocol: string, sourceIp: string, userAgent: string }
    requestId: string
    routeKey: string
    stage: string
    time: string
    timeEpoch: number
  }
  body?: string
  isBase64Encoded: boolean
}

/**
 * Every app is one `$default` route on the `$default` stage: the handler sees the whole path, as a fetch
 * handler does. AWS's rules: header names lower-cased, repeats joined with `,`; the Cookie header is not a
 * header but the `cookies` array (one item per cookie); repeated query parameters joined with `,`; keys
 * with nothing to hold (cookies, query, body) absent.
 */
export function createEventV2 (input: EventInput): EventV2 {
  const headers: Record<string, string> = {}
  const cookies: string[] = []
  const raw = input.headers
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase()
    const value = raw[i + 1]
    if (name === 'cookie') {
      for (const cookie of value.split(';')) if (cookie.trim() !== '') cookies.push(cookie.trim())
      continue
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value
  }
  const { path, query } = splitTarget(input.url)
  const pairs = queryPairs(query)
  const event: EventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(pairs.length > 0 ? { queryStringParameters: joinPairs(pairs) } : {}),
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      ...domainOf(input.url),
      http: { method: input.method, path, protocol: input.protocol, sourceIp: input.sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId: input.requestId,
      routeKey: '$default',
      stage: '$default',
      time: formatRequestTime(input.time),
      timeEpoch: input.time,
    },
    isBase64Encoded: false,
  }
  const body = encodeBody(input.body, headers['content-type'])
  if (body !== undefined) {
    event.body = body.body
    event.isBase64Encoded = body.isBase64Encoded
  }
  return event
}

function joinPairs (pairs: Array<[string, string]>): Record<string, string> {
  const joined: Record<string, string> = {}
  for (const [name, value] of pairs) joined[name] = name in joined ? `${joined[name]},${value}` : value
  return joined
}
