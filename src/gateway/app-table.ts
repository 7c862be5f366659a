import { existsSync, statSync } from 'node:fs'
import type { ResolvedApp, ResolvedConfig } from '../config/resolve.ts'
import { GatewayError } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import { createRuntime } from '../runtime/create-runtime.ts'
import type { Runtime } from '../runtime/runtime.ts'
import { createSpawner } from '../spawn/create-spawner.ts'
import type { Spawner } from '../spawn/spawner.ts'
import { drainApps } from './drain.ts'
import type { NotReady } from '../ops/admin.ts'
import { GatewayMetrics, type ReplaceReason } from '../ops/metrics.ts'
import { MountedApp } from './mounted-app.ts'
import { Router } from './router.ts'

/** What a front door reads of the app table (gateway/app-table.ts) for each request. */
export interface StartingTable {
  readonly router: Router<MountedApp>
  readonly closing: boolean
  readonly starting?: boolean
  readonly metrics?: GatewayMetrics
  /** While `starting`: true once the apps serve, false past `server.startupTimeout` or at close. */
  whenStarted?: () => Promise<boolean>
}

/** See GatewayOptions: both are for `warmgate dev`. */
export interface AppTableOptions {
  exposeErrors?: boolean
  inlineInThread?: boolean
  /** Add a `Server-Timing` header to every app response (README "Health and metrics"). */
  serverTiming?: boolean
  /** See GatewayOptions.onLoadFailure (`warmgate dev`). */
  onLoadFailure?: (app: ResolvedApp, error: unknown) => Runtime | undefined
}

/**
 * The apps a gateway serves and the router over them, replaced whole (`swap`) so that a request sees
 * one consistent table. It also owns what outlives one table: the shared spawner, and the drains of
 * apps a reload took out of service, which close() must wait for.
 */
export class AppTable {
  readonly log: Logger
  #config: ResolvedConfig
  #apps: readonly MountedApp[] = []
  #router: Router<MountedApp> = new Router([])
  #spawner: Spawner | undefined
  #building: Promise<unknown> | undefined
  readonly #draining = new Set<Promise<number>>()
  #closing = false
  #starting = true
  #built = false
  /** Settles when the first table is swapped in (true) or the gateway closes before that (false). */
  #settleStarted!: (started: boolean) => void
  readonly #started = new Promise<boolean>((resolve) => { this.#settleStarted = resolve })

  readonly #options: AppTableOptions
  /** Per gateway, across reloads: counters must not restart when the table is replaced. */
  readonly metrics = new GatewayMetrics(() => this.#apps.map(app => ({ name: app.config.name, mode: app.config.mode, routed: app.routed, stats: app.runtime.stats() })))

  constructor (config: ResolvedConfig, log: Logger, options: AppTableOptions = {}) {
    this.#config = config
    this.log = log
    this.#options = options
  }

  get config (): ResolvedConfig { return this.#config }
  get apps (): readonly MountedApp[] { return this.#apps }
  get router (): Router<MountedApp> { return this.#router }
  /** Set by close(): responses say `Connection: close`, and builds are refused. */
  get closing (): boolean { return this.#closing }
  /** Until the first table is swapped in: a front door that already listens holds requests (`whenStarted`). */
  get starting (): boolean { return this.#starting }

  /**
   * For a request that arrived while the apps start: resolves true once they serve, false if
   * `server.startupTimeout` passes first or the gateway closes (the front door answers 503
   * `WG_ERR_STARTING` with `Retry-After`).
   */
  whenStarted (): Promise<boolean> {
    if (!this.#starting) return Promise.resolve(!this.#closing)
    const ms = this.#config.server.startupTimeoutMs
    if (ms === 0) return Promise.resolve(false)
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(resolve, ms, false)
      void this.#started.then((started) => {
        clearTimeout(timer)
        resolve(started)
      })
    })
  }

  /** For the readiness endpoint (ops/admin.ts): why this table cannot take every request now. */
  notReady (): NotReady | undefined {
    if (this.#closing) return 'closing'
    if (this.#starting) return 'starting'
    for (const app of this.#apps) {
      if (app.runtime.mode !== 'warm') continue
      // An inline app run in a thread (warmgate dev) has exactly one.
      const min = app.config.mode === 'inline' ? 1 : app.config.workers.min
      const workers = app.runtime.stats().workers
      if (workers < min) return { app: app.config.name, workers, min }
    }
    return undefined
  }

  /**
   * Creates and starts a runtime for each app (warm pools prewarmed, handlers imported). If one fails,
   * every runtime built here is destroyed and the error thrown; nothing is left running.
   * Builds after the first import main-thread handlers under a new version (handler/load.ts).
   */
  build (apps: readonly ResolvedApp[]): Promise<MountedApp[]> {
    const building = this.#build(apps)
    this.#building = building.catch(() => {})
    return building
  }

  async #build (apps: readonly ResolvedApp[]): Promise<MountedApp[]> {
    if (this.#closing) throw new GatewayError('WG_ERR_RELOAD_FAILED', 'the gateway is closing')
    checkEntries(apps)
    // Per process, not per table: two gateways may serve the same entry.
    const version = this.#built ? String(++importVersions) : undefined
    this.#built = true
    // One spawner for every cold and cgi app (helper-spawner.ts: one small process forks them all),
    // created by the first table that needs one and kept from then on.
    if (this.#spawner === undefined && apps.some(app => app.mode === 'cold' || app.mode === 'cgi')) this.#spawner = await createSpawner(this.log)
    const metrics = this.metrics
    const mounted = apps.map((app) => {
      const appLog = this.log.child({ app: app.name, mode: app.mode })
      const runtime = createRuntime(app, {
        spawner: this.#spawner as Spawner,
        log: appLog,
        importVersion: version,
        onBackgroundError: (reqId, err) => appLog.error({ reqId, err }, 'ctx.waitUntil promise rejected'),
        onWorkerLog: (level, message, fields) => appLog[level](fields, message),
        onWorkerExit: (err) => {
          appLog.warn({ err }, 'worker exited; replacing it')
          metrics.workerReplaced(app.name, (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'oom' : 'crash')
        },
        onWorkerRetire: (reason, why, fields) => {
          appLog[reason === 'hung' ? 'warn' : 'info']({ ...fields, reason }, `retiring a worker: ${why}`)
          metrics.workerReplaced(app.name, retireReason(reason, fields))
        },
        onWorkerStart: () => metrics.workerStarted(app.name),
        onProcessSpawn: () => metrics.processSpawned(app),
        onProcessExit: (seconds) => metrics.processExited(app, seconds),
      }, this.#options.inlineInThread)
      return new MountedApp(app, runtime, appLog, { exposeErrors: this.#options.exposeErrors, serverTiming: this.#options.serverTiming, metrics })
    })
    const onLoadFailure = this.#options.onLoadFailure
    const started = await Promise.allSettled(mounted.map(async (app, i) => {
      try {
        await app.runtime.start()
      } catch (error) {
        // `warmgate dev`: the app is served by what onLoadFailure returns (its error page) instead.
        const stand = onLoadFailure?.(app.config, error)
        if (stand === undefined) throw error
        await stand.start()
        mounted[i] = new MountedApp(app.config, stand, app.log, { exposeErrors: app.exposeErrors, serverTiming: app.serverTiming, metrics })
      }
    }))
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failed !== undefined) {
      await Promise.all(mounted.map(async (app) => app.runtime.destroy()))
      throw failed.reason
    }
    return mounted
  }

  /** Serves `apps` from now on, under `config`; the apps no longer in the table are returned, still open. */
  swap (config: ResolvedConfig, apps: readonly MountedApp[]): MountedApp[] {
    this.#starting = false
    this.#settleStarted(true)
    const retired = this.#apps.filter(app => !apps.includes(app))
    this.#config = config
    this.#apps = apps
    this.#router = new Router(apps.map(app => [app.config.route, app]))
    return retired
  }

  /** Drains apps taken out of service (bounded by `server.shutdownTimeout`); close() waits for it too. */
  async retire (apps: readonly MountedApp[]): Promise<void> {
    if (apps.length === 0) return
    for (const app of apps) app.closeWebSockets(1012, 'service restart')
    const drain = drainApps(apps, performance.now() + this.#config.server.shutdownTimeoutMs)
    this.#draining.add(drain)
    try {
      await drain
    } finally {
      this.#draining.delete(drain)
    }
  }

  /**
   * Stops every app: requests routed to them finish until `deadline` (a `performance.now()` time), then
   * their runtimes are destroyed. Waits for a build in progress first, so that a reload racing with
   * close either swapped its apps in (drained here) or destroyed them. Resolves with the number of
   * requests that were still in flight at the deadline.
   */
  async close (deadline: number): Promise<number> {
    this.#closing = true
    this.#settleStarted(false)
    await this.#building
    for (const app of this.#apps) app.closeWebSockets(1001, 'server shutting down')
    const counts = await Promise.all([drainApps(this.#apps, deadline), ...this.#draining])
    await this.#spawner?.close()
    return counts.reduce((sum, count) => sum + count, 0)
  }
}

let importVersions = 0

function checkEntries (apps: readonly ResolvedApp[]): void {
  // A FastCGI backend's root is a path on the backend's machine (php-fpm may run in another container).
  const missing = apps.filter(app => app.mode !== 'fastcgi' && (!existsSync(app.entry) || (app.mode === 'cgi' ? !statSync(app.entry).isDirectory() : !statSync(app.entry).isFile())))
  if (missing.length > 0) {
    const note = '(relative paths are taken from the directory of the config file, or of the process for a config object)'
    throw new GatewayError('WG_ERR_ENTRY_NOT_FOUND', `${missing.map(app => app.mode === 'cgi'
      ? `apps.${app.name}.cgi: directory not found: ${app.entry}`
      : `apps.${app.name}.entry: file not found: ${app.entry}`).join('\n')}\n${note}`)
  }
}

/** A worker's retirement as a metrics reason: the worker itself drains after an uncaught exception. */
function retireReason (reason: 'recycle' | 'drain' | 'hung', fields: Record<string, unknown>): ReplaceReason {
  if (reason === 'hung') return 'timeout'
  if (reason === 'recycle') return 'recycle'
  return fields.idle === true ? 'idle' : 'crash'
}
