import type { ServerOptions } from 'node:http'
import type { ResolvedServer } from '../config/resolve.ts'

/** Node checks its header and request timeouts on an interval, 30 s by default: too coarse to cut off a slow client on time. */
const MAX_CHECK_INTERVAL_MS = 1000
const MIN_CHECK_INTERVAL_MS = 50

/**
 * The `node:http` server options of the front door: slow-client timeouts, the header size limit and a
 * strict parser. A timeout fires at most a quarter of itself late (the connection check interval).
 * @example
 * const server = createServer(serverOptions(config.server), handler)
 */
export function serverOptions (server: ResolvedServer): ServerOptions {
  const shortest = Math.min(server.headersTimeoutMs, server.requestTimeoutMs)
  return {
    headersTimeout: server.headersTimeoutMs,
    requestTimeout: server.requestTimeoutMs,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    maxHeaderSize: server.maxHeaderSize,
    connectionsCheckingInterval: Math.max(MIN_CHECK_INTERVAL_MS, Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(shortest / 4))),
    // Explicit, so that `--insecure-http-parser` in NODE_OPTIONS cannot turn it on: the lenient parser
    // accepts Content-Length with Transfer-Encoding and bare LF, the raw material of request smuggling
    // (RFC 9112 §6.1, §11.2).
    insecureHTTPParser: false,
  }
}
