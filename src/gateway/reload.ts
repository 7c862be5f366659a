import { setImmediate as yieldToIo } from 'node:timers/promises'
import type { ResolvedApp, ResolvedConfig } from '../config/resolve.ts'
import { GatewayError, isGatewayError } from '../errors.ts'
import type { AppTable } from './app-table.ts'
import type { MountedApp } from './mounted-app.ts'

/**
 * Replaces the apps named in `names` with new runtimes built from `next`, without a request failing:
 * the new runtimes are started (warm pools prewarmed) while the old ones serve; then the table is
 * swapped in one step, so a request is routed either to the old app or to the new one; then the old
 * apps drain (requests already routed to them finish there) and stop, bounded by `server.shutdownTimeout`.
 * Apps of `next` that are not running yet are built whatever `names` says, apps missing from `next` are
 * retired, and the others keep their runtime and their config as it was.
 *
 * If a runtime fails to start, the ones built are destroyed and the error thrown: the table is untouched.
 * Resolves once the old apps are stopped. `listen` changes (server host/port) are not applied: the
 * socket stays where it is, and a warning says so. `onSwapped` runs right after the swap, before the
 * drain: from then on new requests see the new code (`warmgate dev` times its reloads by it).
 */
export async function replaceApps (table: AppTable, next: ResolvedConfig, names: ReadonlySet<string>, onSwapped?: () => void): Promise<void> {
  const running = new Map(table.apps.map(app => [app.config.name, app]))
  const toBuild = next.apps.filter(app => names.has(app.name) || !running.has(app.name))
  const built = new Map((await table.build(toBuild)).map(app => [app.config.name, app]))
  // A warm pool that grew under load is replaced by one as large, not by `workers.min` threads that
  // would have to grow again, under the same load, right after the swap.
  await Promise.all([...built.values()].map(async (app) => {
    const old = running.get(app.config.name)
    if (old === undefined || old.runtime.mode !== 'warm' || app.runtime.prewarm === undefined) return
    const { workers, retiringWorkers } = old.runtime.stats()
    await app.runtime.prewarm(workers - retiringWorkers)
  }))
  await yieldToIo()
  // From here to swap() nothing awaits: close() either sees the old table or the new one, never half.
  if (table.closing) {
    await Promise.all([...built.values()].map(async (app) => app.runtime.destroy()))
    throw new GatewayError('WG_ERR_RELOAD_FAILED', 'the gateway closed while the reload was starting the new runtimes')
  }
  const apps = next.apps.map(app => built.get(app.name) ?? running.get(app.name) as MountedApp)
  const current = table.config
  if (next.server.host !== current.server.host || next.server.port !== current.server.port) {
    table.log.warn({ listen: `${current.server.host}:${current.server.port}`, configured: `${next.server.host}:${next.server.port}` }, 'reload does not move the listening socket: server.host/port changes need a restart')
  }
  const config: ResolvedConfig = Object.freeze({
    ...next,
    server: Object.freeze({ ...next.server, host: current.server.host, port: current.server.port }),
    apps: Object.freeze(apps.map((app): ResolvedApp => app.config)),
  })
  const retired = table.swap(config, apps)
  onSwapped?.()
  await table.retire(retired)
}

/**
 * Re-reads the whole configuration and rebuilds every app (`gw.reload()`). On any failure the old
 * version keeps serving; the cause is logged and thrown inside a `WG_ERR_RELOAD_FAILED`.
 */
export async function reloadAll (table: AppTable, read: () => Promise<ResolvedConfig>): Promise<void> {
  const started = performance.now()
  try {
    const next = await read()
    // A reload is background work on the thread that serves requests (inline apps): let the requests
    // that arrived meanwhile through between its steps, so none waits for the whole reload.
    await yieldToIo()
    await replaceApps(table, next, new Set(next.apps.map(app => app.name)))
  } catch (cause) {
    const code = isGatewayError(cause) ? cause.code : undefined
    table.log.error({ err: cause, code }, `reload failed; still serving the previous version: ${(cause as Error)?.message ?? String(cause)}`)
    if (isGatewayError(cause) && cause.code === 'WG_ERR_RELOAD_FAILED') throw cause
    throw new GatewayError('WG_ERR_RELOAD_FAILED', `reload failed; still serving the previous version: ${(cause as Error)?.message ?? String(cause)}`, { cause })
  }
  table.log.info({ apps: table.apps.map(app => app.config.name), ms: Math.round(performance.now() - started) }, 'reloaded')
}

/**
 * Runs `task` one at a time. A call while it runs does not start a second run at once, nor share the
 * running one (which may have read the config before the edit that prompted the call): it waits and
 * shares the next run, which every call made meanwhile shares too (vite's restart promise, queued).
 */
export function serialized (task: () => Promise<void>): () => Promise<void> {
  let last: Promise<void> | undefined // the run going on, or the one waiting for it
  let waiting: Promise<void> | undefined // a run that has not started yet
  return () => {
    if (waiting !== undefined) return waiting
    const previous = last
    const run = previous === undefined
      ? task()
      : (waiting = previous.catch(noop).then(async () => {
          waiting = undefined
          return task()
        }))
    last = run
    run.catch(noop).finally(() => { if (last === run) last = undefined })
    return run
  }
}

function noop (): void {}
