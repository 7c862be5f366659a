import { GatewayError } from '../errors.ts'
import type { MountedApp } from './mounted-app.ts'

/** After a forced stop, how long the failed requests get to have their error responses written. */
const ANSWER_GRACE_MS = 1000

/**
 * Takes apps out of service gracefully: each one's routed requests finish, then its runtime closes
 * (workers stopped, processes reaped). At `deadline` (a `performance.now()` time) what is left is
 * destroyed: its in-flight requests fail with `WG_ERR_RUNTIME_DESTROYED` (503, logged with their request
 * ids by MountedApp). Resolves with the number of requests that were in flight at the deadline.
 */
export async function drainApps (apps: readonly MountedApp[], deadline: number): Promise<number> {
  const counts = await Promise.all(apps.map(async (app) => drainApp(app, deadline)))
  return counts.reduce((sum, count) => sum + count, 0)
}

async function drainApp (app: MountedApp, deadline: number): Promise<number> {
  const graceful = app.whenIdle().then(async () => app.runtime.close())
  graceful.catch((error: unknown) => app.log.error({ err: error }, 'closing the runtime failed'))
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<'expired'>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - performance.now()), 'expired') })
  const outcome = await Promise.race([graceful.then(() => 'drained' as const, () => 'drained' as const), expired])
  clearTimeout(timer)
  if (outcome === 'drained') return 0
  const left = app.routed
  // With nothing routed left, only the runtime's own stop was slow (a worker's ctx.waitUntil work).
  app.log.warn({ inFlight: left }, `server.shutdownTimeout passed with ${left} request(s) in flight; stopping the ${app.config.mode} runtime now`)
  await app.runtime.destroy(new GatewayError('WG_ERR_RUNTIME_DESTROYED', 'server.shutdownTimeout passed'))
  // The failed requests are answered with 503 now; a client that does not read is cut off by the caller.
  await Promise.race([app.whenIdle(), new Promise(resolve => setTimeout(resolve, ANSWER_GRACE_MS).unref())])
  return left
}
