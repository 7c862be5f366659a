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

export type ChildMessage = ReadyMessage | ListenFailedMessage

export function isChildMessage (value: unknown): value is ChildMessage {
  const type = (value as { type?: unknown } | null)?.type
  return type === 'warmgate:ready' || type === 'warmgate:listen-failed'
}
