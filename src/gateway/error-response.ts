import { STATUS_CODES } from 'node:http'
import type { GatewayResponse } from '../types.ts'

const encoder = new TextEncoder()

/**
 * A short plain-text answer for a status the gateway produced itself. It never carries handler output,
 * a message or a stack (those go to the log, with the request id the body names).
 */
export function errorResponse (status: number, requestId: string): GatewayResponse {
  const reason = STATUS_CODES[status] ?? 'Error'
  return {
    status,
    statusText: status === 499 ? 'Client Closed Request' : reason,
    headers: ['content-type', 'text/plain; charset=utf-8'],
    body: encoder.encode(`${status} ${reason} (request ${requestId})\n`),
  }
}
