import type { GatewayResponse } from '../types.ts'
import type { GatewayMetrics } from './metrics.ts'

/** Why the gateway is not ready, or `undefined` when it is. */
export type NotReady = 'starting' | 'closing' | { app: string, workers: number, min: number }

export interface AdminSource {
  /** `server.adminPrefix`, e.g. `/__warmgate`. */
  readonly prefix: string
  readonly metrics: GatewayMetrics
  notReady (): NotReady | undefined
}

/**
 * The operator's endpoints (README "Health and metrics"), answered by the gateway itself and never
 * routed to an app:
 * - `health`: liveness. 200 whenever this process answers HTTP at all.
 * - `ready`: readiness. 200 when every app can take requests now (each warm pool has its `workers.min`
 *   threads loaded), 503 while the gateway is starting or closing (a load balancer stops sending before
 *   the listener goes away) or while a pool is below its minimum (threads being replaced).
 * - `metrics`: Prometheus text format, from prom-client.
 */
export async function adminResponse (source: AdminSource, method: string, pathname: string): Promise<GatewayResponse> {
  const name = pathname.slice(source.prefix.length)
  if (name !== '/health' && name !== '/ready' && name !== '/metrics') return json(404, { error: 'not found', endpoints: ['health', 'ready', 'metrics'].map(n => `${source.prefix}/${n}`) })
  // RFC 9110 §15.5.6: 405 names the methods that work.
  if (method !== 'GET' && method !== 'HEAD') return { ...json(405, { error: 'method not allowed' }), headers: ['content-type', 'application/json', 'allow', 'GET, HEAD', 'cache-control', 'no-store'] }
  if (name === '/health') return json(200, { status: 'ok' })
  if (name === '/ready') {
    const why = source.notReady()
    if (why === undefined) return json(200, { status: 'ready' })
    return typeof why === 'string'
      ? json(503, { status: why })
      : json(503, { status: 'degraded', app: why.app, workers: why.workers, min: why.min })
  }
  const { contentType, text } = await source.metrics.exposition()
  return { status: 200, statusText: '', headers: ['content-type', contentType, 'cache-control', 'no-store'], body: Buffer.from(text) }
}

/** Whether `pathname` is the prefix itself or under it (`/__warmgate/…`, not `/__warmgateway`). */
export function isAdminPath (pathname: string, prefix: string): boolean {
  return pathname.startsWith(prefix) && (pathname.length === prefix.length || pathname.charCodeAt(prefix.length) === 0x2f)
}

function json (status: number, value: unknown): GatewayResponse {
  // no-store: a cache between a probe and the gateway must not answer for it.
  return { status, statusText: '', headers: ['content-type', 'application/json', 'cache-control', 'no-store'], body: Buffer.from(JSON.stringify(value)) }
}
