/**
 * The supervisor ⇄ gateway-process messages of `warmgate start --processes N`, over the IPC channel that
 * `child_process.fork` / `cluster.fork` open. Pure data, no I/O.
 */
import type { RouteInfo } from '../gateway/gateway.ts'

/** How the processes share the port: SO_REUSEPORT sockets, or node:cluster's primary handing out connections. */
export type Balancer = 'reuseport' | 'cluster'

/** The environment variable that tells a gateway process it is supervised, and with which balancer. */
export const BALANCER_ENV = 'WARMGATE_BALANCER'

/** child → supervisor: listening, every pool prewarmed; the supervisor may now retire an older process. */
export interface ReadyMessage {
  type: 'warmgate:ready'
  pid: number
  url: string
  port: number
  routes: RouteInfo[]
}

/** child → supervisor: `listen` failed; `errno` (ENOTSUP, EINVAL, EADDRINUSE…) decides whether to fall back to cluster. */
export interface ListenFailedMessage {
  type: 'warmgate:listen-failed'
  errno: string
  message: string
}

/**
 * SIGHUP with SO_REUSEPORT: the supervisor asks the old process for its listening socket
 * (`HandoffRequest`), which answers with a `Handoff` carrying the socket handle; the supervisor passes it
 * to the new process in another `Handoff`. The new process accepts from the same socket, so connections
 * queued on it survive the old process closing its copy (a reuseport socket closed with connections in
 * its accept queue resets them, unless net.ipv4.tcp_migrate_req is 1).
 */
export interface HandoffRequest {
  type: 'warmgate:handoff-request'
}

export interface Handoff {
  type: 'warmgate:handoff'
}

/** Set (to 1) in the environment of a new process that will get its listening socket in a `Handoff`. */
export const INHERIT_SOCKET_ENV = 'WARMGATE_INHERIT_SOCKET'

export type ChildMessage = ReadyMessage | ListenFailedMessage

export function isChildMessage (value: unknown): value is ChildMessage {
  const type = (value as { type?: unknown } | null)?.type
  return type === 'warmgate:ready' || type === 'warmgate:listen-failed'
}

export function isHandoff (value: unknown): value is Handoff {
  return (value as { type?: unknown } | null)?.type === 'warmgate:handoff'
}

export function isHandoffRequest (value: unknown): value is HandoffRequest {
  return (value as { type?: unknown } | null)?.type === 'warmgate:handoff-request'
}
