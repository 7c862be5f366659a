import { setImmediate as yieldToIo } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Mode } from '../config/define.ts'
import { loadConfigFile } from '../config/load.ts'
import type { ResolvedApp } from '../config/resolve.ts'
import type { AppTable } from '../gateway/app-table.ts'
import { appTableOf, type Gateway } from '../gateway/gateway.ts'
import { MountedApp } from '../gateway/mounted-app.ts'
import { replaceApps } from '../gateway/reload.ts'
import type { Runtime } from '../runtime/runtime.ts'
import { describeLoadFailure, ErrorPageRuntime, formatPlace, type LoadFailure } from './error-page.ts'
import { collectGraph } from './import-graph.ts'
import type { LiveReload } from './live-reload.ts'
import { createFileWatcher, type FileWatcher } from './watch.ts'

/**
 * A full GC after each reload (dev only, set by `enableReloadGc`): the old pool's objects and the import
 * scan's garbage go at once, so RSS returns to its level between saves instead of drifting up until V8
 * decides to collect.
 */
let collectGarbage: (() => void) | undefined

export function enableReloadGc (): void {
  setFlagsFromString('--expose-gc')
  collectGarbage = runInNewContext('gc') as () => void
}

export interface DevOutput {
  /** A line for the terminal (stdout). */
  info (line: string): void
  /** A line for the terminal (stderr). */
  error (line: string): void
  /** After a config reload: the new route table. */
  reloaded (): void
}

export interface DevWatcher {
  close (): void
}

export interface WatchOptions {
  /** The CLI's `--mode`, applied to the config again on each config reload. */
  mode?: Mode
  debounceMs?: number
  /** After each swap of the table (a reload, an error page mounted): pages poll this (live-reload.ts). */
  live?: LiveReload
}

/**
 * For GatewayOptions.onLoadFailure: a warm, inline or cold app whose module does not load (at start-up
 * as on a reload) prints where and why, once, and is served by an error page (ErrorPageRuntime) until a
 * save makes it load; the other apps serve as usual. Other modes keep failing (nothing to save there).
 */
export function serveLoadFailures (out: DevOutput): (app: ResolvedApp, error: unknown) => Runtime | undefined {
  return (app, error) => {
    if (app.mode !== 'warm' && app.mode !== 'inline' && app.mode !== 'cold') return undefined
    const failure = describeLoadFailure(error, collectGraph(app.entry))
    printLoadFailure(out, app.name, failure)
    return new ErrorPageRuntime(app.name, app.mode, failure)
  }
}

function printLoadFailure (out: DevOutput, name: string, failure: LoadFailure): void {
  const where = formatPlace(failure)
  out.error(`✖ ${name} failed to load${where === undefined ? '' : ` at ${where}`}: ${failure.message}\n  ${failure.stack.split('\n').join('\n  ')}`)
}

/**
 * Watches what a gateway serves and reloads exactly what a save changed: an app whose import graph
 * holds a changed file is rebuilt alone (`replaceApps`: new pool prewarmed, table swapped, old pool
 * drained; other apps keep their workers); a change to the config file or its imports reloads
 * everything (keeping the last good config when the new one fails). An app that fails to load is served
 * by an error page (ErrorPageRuntime, through GatewayOptions.onLoadFailure: `serveLoadFailures`) and
 * stays watched, whatever its mode, until a save makes it load again.
 * Changes are handled one at a time, in order; the graphs are scanned again after each.
 */
export function watchGateway (gateway: Gateway, configFile: string | undefined, out: DevOutput, options: WatchOptions = {}): DevWatcher {
  const table = appTableOf(gateway)
  let graphs = new Map<string, Set<string>>()
  let configGraph = new Set<string>()
  let queue = Promise.resolve()
  let closed = false
  const swapped = (): void => options.live?.bump()

  const rescan = (): void => {
    // cold and cgi apps start a fresh process per request: nothing to reload, nothing to watch, unless
    // they failed to load (their error page is replaced on the next save).
    const watched = table.apps.filter(app => app.config.mode === 'warm' || app.config.mode === 'inline' || app.runtime instanceof ErrorPageRuntime)
    graphs = new Map(watched.map(app => [app.config.name, collectGraph(app.config.entry)]))
    configGraph = configFile === undefined ? new Set() : collectGraph(configFile)
    watcher.update([...configGraph, ...[...graphs.values()].flatMap(graph => [...graph])])
  }

  const onChange = (files: Set<string>, at: number): void => {
    queue = queue.then(async () => {
      if (closed) return
      if (configFile !== undefined && [...files].some(file => configGraph.has(file))) await reloadConfig(table, configFile, options.mode, out, at, swapped)
      else {
        const names = [...graphs].filter(([, graph]) => [...files].some(file => graph.has(file))).map(([name]) => name)
        for (const name of names) await reloadApp(table, name, graphs.get(name) as Set<string>, out, at, swapped)
      }
      if (!closed) rescan()
    }).catch((error: unknown) => out.error(`warmgate dev: ${(error as Error)?.stack ?? String(error)}`))
  }

  const watcher: FileWatcher = createFileWatcher(onChange, options.debounceMs ?? 50)
  rescan()
  return {
    close () {
      closed = true
      watcher.close()
    },
  }
}

/**
 * `gw.reload()` without its log line: the config file imported afresh, every app rebuilt. A failure is
 * printed once, here (the gateway's error log would print the same message again in each of its fields).
 */
async function reloadConfig (table: AppTable, configFile: string, mode: Mode | undefined, out: DevOutput, at: number, swapped: () => void): Promise<void> {
  try {
    const next = await loadConfigFile(configFile, { mode, fresh: true })
    // Background work on the thread that serves requests: let requests that arrived meanwhile through.
    await yieldToIo()
    await replaceApps(table, next, new Set(next.apps.map(app => app.name)), swapped)
    out.info(`↻ config reloaded in ${Math.round(performance.now() - at)} ms`)
    out.reloaded()
    collectGarbage?.()
  } catch (error) {
    const why = (error as Error)?.message ?? String(error)
    out.error(`✖ config reload failed, still serving the last good config:\n  ${why.split('\n').join('\n  ')}`)
  }
}

async function reloadApp (table: AppTable, name: string, graph: Set<string>, out: DevOutput, at: number, swapped: () => void): Promise<void> {
  let servedAt = 0
  try {
    await replaceApps(table, table.config, new Set([name]), () => {
      servedAt = performance.now()
      swapped()
    })
    // serveLoadFailures printed why, and mounted the error page.
    if (table.apps.find(app => app.config.name === name)?.runtime instanceof ErrorPageRuntime) return
    out.info(`↻ ${name} reloaded in ${Math.round(servedAt - at)} ms`)
    collectGarbage?.()
  } catch (error) {
    // Not a load failure (the entry file is gone mid-save, say): the error page all the same.
    const failure = describeLoadFailure(error, graph)
    printLoadFailure(out, name, failure)
    await mountErrorPage(table, name, failure)
    swapped()
  }
}

/** Serves `failure` at the app's route in place of the app (same swap and drain as a reload). */
async function mountErrorPage (table: AppTable, name: string, failure: LoadFailure): Promise<void> {
  const current = table.apps.find(app => app.config.name === name)
  if (current === undefined || table.closing) return
  const runtime = new ErrorPageRuntime(name, current.config.mode, failure)
  await runtime.start()
  const page = new MountedApp(current.config, runtime, current.log, { exposeErrors: current.exposeErrors, serverTiming: current.serverTiming, metrics: current.metrics })
  const retired = table.swap(table.config, table.apps.map(app => app === current ? page : app))
  await table.retire(retired)
}
