import { GatewayError, isGatewayError } from '../../errors.ts'
import { FastCgiProtocolError } from '../../fastcgi/records.ts'

// How a FastCGI exchange fails, in the terms the runtime acts on.

const stale = new WeakSet<object>()

/** Marks `error` as the failure of a stale pooled connection (see isStaleConnection). */
export function markStale (error: GatewayError): GatewayError {
  stale.add(error)
  return error
}

/**
 * The failure of a reused connection that closed before a single record came back: what a connection
 * looks like when the backend closed it between requests (php-fpm after `pm.max_requests`, a restart).
 * It may also be a backend that died while running the request, so only an idempotent request goes
 * again on a new connection (nginx's `fastcgi_next_upstream error` without `non_idempotent`).
 */
export function isStaleConnection (error: unknown): boolean {
  return typeof error === 'object' && error !== null && stale.has(error)
}

/** A codec error (or anything thrown while reading records) as the gateway's 502. */
export function protocolError (error: unknown): GatewayError {
  if (isGatewayError(error)) return error
  const message = error instanceof FastCgiProtocolError ? error.message : String(error)
  return new GatewayError('WG_ERR_FASTCGI_PROTOCOL', `the FastCGI backend broke the protocol: ${message}`, { cause: error })
}
