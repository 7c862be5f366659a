// Shared by the main thread (inline mode), warm workers and cold mode's runner: imports nothing from either side.
import { GatewayError } from '../errors.ts'

// RFC 9110 §5.1: a field name is a token (§5.6.2).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// RFC 9110 §5.5: a field value holds no CR, LF or NUL; Node's checkInvalidHeaderChar also refuses the other
// control bytes, so HTAB, SP, VCHAR and obs-text only. The same rule holds for a reason phrase (RFC 9112 §4).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/**
 * Why a handler's response head (`headers` flat: `[name, value, …]`) cannot be sent as it is, or `undefined` when it can. A `Headers` object
 * never yields a bad field, but a `Response` subclass can override `headers`, `status` or `statusText` with
 * anything: warm and inline would fail in `setHeader`, and cold mode's runner would write the CR LF into its
 * CGI output, where it starts a new field (header injection).
 *
 * @example
 * const problem = responseHeadProblem(res.status, res.statusText, ['x-a', 'a\r\nSet-Cookie: pwn=1'])
 * // 'response header "x-a" has a value with a CR, LF, NUL or other control character (RFC 9110 §5.5)'
 */
export function responseHeadProblem (status: unknown, statusText: unknown, headers: readonly unknown[]): string | undefined {
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    return `response status must be an integer from 100 to 599, got ${typeof status === 'number' ? status : typeof status}`
  }
  if (typeof statusText !== 'string' || !FIELD_VALUE.test(statusText)) {
    return 'response statusText has a CR, LF, NUL or other control character, or is not a string (RFC 9112 §4)'
  }
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]
    const value = headers[i + 1]
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      return `response header name ${JSON.stringify(String(name).slice(0, 100))} is not a token (RFC 9110 §5.1)`
    }
    if (typeof value !== 'string' || !FIELD_VALUE.test(value)) {
      return `response header ${JSON.stringify(name)} has a value with a CR, LF, NUL or other control character, or one that is not a string (RFC 9110 §5.5)`
    }
  }
  return undefined
}

/** Throws `WG_ERR_HANDLER_RESULT` (500) for a head `responseHeadProblem` refuses; `headers` is flat `[name, value, …]`. */
export function assertResponseHead (status: unknown, statusText: unknown, headers: readonly unknown[]): void {
  const problem = responseHeadProblem(status, statusText, headers)
  if (problem !== undefined) throw new GatewayError('WG_ERR_HANDLER_RESULT', `handler returned an invalid response head: ${problem}`)
}
