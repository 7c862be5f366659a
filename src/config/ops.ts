// The operator-facing server keys (README "Health and metrics"): validated and resolved here, apart from
// the front door's limits, so that schema.ts and resolve.ts stay about requests.

export interface OpsServerConfig {
  /**
   * Serve the health, readiness and metrics endpoints on an address of their own (a port on
   * `server.host`, or `'host:port'`) instead of the main port. Default: on the main port.
   */
  admin?: number | string
  /** Path prefix of those endpoints. Default `'/__warmgate'`. */
  adminPrefix?: string
  /** Add `Server-Timing` (queue, handler, mode) to app responses. Default: off in `start`, on in `dev`. */
  serverTiming?: boolean
}

export interface ResolvedOps {
  /** Separate admin address; `undefined` serves the endpoints on the main port. */
  readonly admin: { readonly host: string, readonly port: number } | undefined
  readonly adminPrefix: string
  /** `undefined` when the config does not say: the gateway's option (dev: on) decides. */
  readonly serverTiming: boolean | undefined
}

import { parseListenAddress } from './listen-address.ts'

type Fail = (path: string, expected: string, got: unknown) => void

const PREFIX = /^(?:\/[A-Za-z0-9._~-]+)+$/

export function checkOps (server: Record<string, unknown>, fail: Fail): void {
  if (server.admin !== undefined && parseAddress(server.admin, '127.0.0.1') === undefined) {
    fail('server.admin', "a port (0–65535) or 'host:port' ('[::1]:9091' for IPv6)", server.admin)
  }
  if (server.adminPrefix !== undefined && !(typeof server.adminPrefix === 'string' && PREFIX.test(server.adminPrefix))) {
    fail('server.adminPrefix', "a path of one or more segments, starting with '/' and not ending with one, e.g. '/__warmgate'", server.adminPrefix)
  }
  if (server.serverTiming !== undefined && typeof server.serverTiming !== 'boolean') fail('server.serverTiming', 'true or false', server.serverTiming)
}

export function resolveOps (server: OpsServerConfig, host: string): ResolvedOps {
  return Object.freeze({
    admin: server.admin === undefined ? undefined : Object.freeze(parseAddress(server.admin, host) as { host: string, port: number }),
    adminPrefix: server.adminPrefix ?? '/__warmgate',
    serverTiming: server.serverTiming,
  })
}

/** A port number (on `defaultHost`), or a TCP `host:port` / `[v6]:port`; `undefined` when it is neither. */
export function parseAddress (value: unknown, defaultHost: string): { host: string, port: number } | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 65535 ? { host: defaultHost, port: value } : undefined
  const address = parseListenAddress(value)
  return address?.kind === 'tcp' ? { host: address.host, port: address.port } : undefined
}
