import { STATUS_CODES } from 'node:http'
import { ERROR_CODES, type ErrorCode } from '../errors.ts'
import type { GatewayResponse } from '../types.ts'

const encoder = new TextEncoder()

/**
 * A short plain-text answer for an error the gateway produced itself, with the status its code maps to.
 * It never carries handler output, a message or a stack: those go to the log, under the request id that
 * the body names. (`warmgate dev`, GatewayOptions.exposeErrors, answers a 5xx of an app with its error
 * page instead: dev/error-view.ts, from MountedApp.)
 */
export function errorResponse (code: ErrorCode, requestId: string): GatewayResponse {
  const status = ERROR_CODES[code].statusCode
  const reason = status === 499 ? 'Client Closed Request' : (STATUS_CODES[status] ?? 'Error')
  return {
    status,
    statusText: reason,
    headers: ['content-type', 'text/plain; charset=utf-8'],
    body: encoder.encode(`${status} ${reason} (request ${requestId})\n`),
    errorCode: code,
  }
}
