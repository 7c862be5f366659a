// A Lambda result → a web Response, as API Gateway interprets it ("Lambda function response for format
// 2.0", and the REST proxy output format for 1.0). Pure apart from building the Response.
import type { LambdaPayload } from '../config/define.ts'
import { GatewayError } from '../errors.ts'

type HeaderValue = string | number | boolean

/** RFC 9110 §15.2/§15.3.5/§15.4.5: these statuses carry no content; a body given with one is dropped. */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304])

/**
 * Checks a handler's result and builds the response. Payload 2.0 also takes the shorthand API Gateway
 * accepts: anything that is not an object with a `statusCode` (a string, a plain object, an array, a
 * number) is a 200 whose body is the string itself or the value's JSON, typed `application/json`.
 * Throws `WG_ERR_LAMBDA_RESULT` (502, as API Gateway's "malformed Lambda proxy response") otherwise.
 */
export function responseFromResult (result: unknown, payload: LambdaPayload): Response {
  const full = typeof result === 'object' && result !== null && !Array.isArray(result) && 'statusCode' in result
  if (!full) {
    if (payload === '1.0') throw invalid(`a payload 1.0 result must be an object with a statusCode, got ${describe(result)}`)
    if (result === undefined) throw invalid('the handler returned nothing (undefined)')
    let body: string | undefined
    try {
      body = typeof result === 'string' ? result : JSON.stringify(result)
    } catch (cause) {
      throw invalid(`the result cannot be serialized as JSON: ${(cause as Error).message}`, cause)
    }
    // JSON.stringify gives undefined for a function or a symbol: Lambda itself would fail to serialize it.
    if (body === undefined) throw invalid(`the result is ${describe(result)}, which has no JSON form`)
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } })
  }
  const { statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded } = result as Record<string, unknown>
  if (!(Number.isInteger(statusCode) && (statusCode as number) >= 100 && (statusCode as number) <= 599)) {
    throw invalid(`statusCode must be an integer from 100 to 599, got ${describe(statusCode)}`)
  }
  if (body !== undefined && body !== null && typeof body !== 'string') throw invalid(`body must be a string, got ${describe(body)}`)
  if (isBase64Encoded !== undefined && typeof isBase64Encoded !== 'boolean') throw invalid(`isBase64Encoded must be true or false, got ${describe(isBase64Encoded)}`)
  const list: Array<[string, string]> = []
  try {
    addHeaders(list, headers, multiValueHeaders, cookies)
    const status = statusCode as number
    const bytes = typeof body === 'string' && body !== '' && !NULL_BODY_STATUS.has(status)
      ? (isBase64Encoded === true ? Buffer.from(body, 'base64') : body)
      : null
    // API Gateway's default Content-Type for a proxy response is JSON; fetch's would be text/plain.
    if (bytes !== null && !list.some(([name]) => name.toLowerCase() === 'content-type')) list.push(['content-type', 'application/json'])
    return new Response(bytes, { status, headers: list })
  } catch (cause) {
    if (cause instanceof GatewayError) throw cause
    // The Headers and Response constructors refuse a bad name, a CR/LF in a value, a status like 101.
    throw invalid(`the result cannot be sent: ${(cause as Error).message}`, cause)
  }
}

/** `headers` first, then `multiValueHeaders`: a name in both gets the multi values only, as in API Gateway. */
function addHeaders (list: Array<[string, string]>, headers: unknown, multi: unknown, cookies: unknown): void {
  const multiNames = new Set<string>()
  if (multi !== undefined && multi !== null) {
    if (!isRecord(multi)) throw invalid(`multiValueHeaders must be an object of arrays, got ${describe(multi)}`)
    for (const [name, values] of Object.entries(multi)) {
      if (!Array.isArray(values) || !values.every(isHeaderValue)) throw invalid(`multiValueHeaders.${name} must be an array of strings, got ${describe(values)}`)
      multiNames.add(name.toLowerCase())
    }
  }
  if (headers !== undefined && headers !== null) {
    if (!isRecord(headers)) throw invalid(`headers must be an object, got ${describe(headers)}`)
    for (const [name, value] of Object.entries(headers)) {
      if (!isHeaderValue(value)) throw invalid(`headers.${name} must be a string, got ${describe(value)}`)
      if (!multiNames.has(name.toLowerCase())) list.push([name, String(value)])
    }
  }
  if (isRecord(multi)) {
    for (const [name, values] of Object.entries(multi)) for (const value of values as HeaderValue[]) list.push([name, String(value)])
  }
  if (cookies !== undefined && cookies !== null) {
    if (!Array.isArray(cookies) || !cookies.every(cookie => typeof cookie === 'string')) throw invalid(`cookies must be an array of strings, got ${describe(cookies)}`)
    // Format 2.0: each cookie becomes its own Set-Cookie header.
    for (const cookie of cookies as string[]) list.push(['set-cookie', cookie])
  }
}

function isHeaderValue (value: unknown): value is HeaderValue {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function invalid (message: string, cause?: unknown): GatewayError {
  return new GatewayError('WG_ERR_LAMBDA_RESULT', `invalid Lambda result: ${message}`, { cause })
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'object') return 'an object'
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value
}
