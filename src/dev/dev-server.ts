import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { collectGraph } from './import-graph.ts'
import { describeLoadFailure, ErrorPageRuntime, formatPlace, type LoadFailure } from './error-page.ts'
import { createFileWatcher, type FileWatcher } from './watch.ts'
import type { AppTable } from '../gateway/app-table.ts'
import { appTableOf, type Gateway } from '../gateway/gateway.ts'
import { MountedApp } from '../gateway/mounted-app.ts'
import { replaceApps } from '../gateway/reload.ts'

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

/**
 * Watches what a gateway serves and reloads exactly what a save changed: an app whose import graph
 * holds a changed file is rebuilt alone (`replaceApps`: new pool prewarmed, table swapped, old pool
 * drained; other apps keep their workers); a change to the config file or its imports reloads
 * everything (`gateway.reload()`, which keeps the last good config when the new one fails). An app that
 * fails to load is replaced by an error page (ErrorPageRuntime) until a save makes it load again.
 * Changes are handled one at a time, in order; the graphs are scanned again after each.
 */
export function watchGateway (gateway: Gateway, configFile: string | undefined, out: DevOutput, debounceMs = 50): DevWatcher {
  const table = appTableOf(gateway)
  let graphs = new Map<string, Set<string>>()
  let configGraph = new Set<string>()
  let queue = Promise.resolve()
  let closed = false

  const rescan = (): void => {
    // cold and cgi apps start a fresh process per request: nothing to reload, nothing to watch.
    graphs = new Map(table.config.apps.filter(app => app.mode === 'warm' || app.mode === 'inline').map(app => [app.name, collectGraph(app.entry)]))
    configGraph = configFile === undefined ? new Set() : collectGraph(configFile)
    watcher.update([...configGraph, ...[...graphs.values()].flatMap(graph => [...graph])])
  }

  const onChange = (files: Set<string>, at: number): void => {
    queue = queue.then(async () => {
      if (closed) return
      if ([...files].some(file => configGraph.has(file))) await reloadConfig(gateway, out, at)
      else {
        const names = [...graphs].filter(([, graph]) => [...files].some(file => graph.has(file))).map(([name]) => name)
        for (const name of names) await reloadApp(table, name, graphs.get(name) as Set<string>, out, at)
      }
      if (!closed) rescan()
    }).catch((error: unknown) => out.error(`warmgate dev: ${(error as Error)?.stack ?? String(error)}`))
  }

  const watcher: FileWatcher = createFileWatcher(onChange, debounceMs)
  rescan()
  return {
    close () {
      closed = true
      watcher.close()
    },
  }
}

async function reloadConfig (gateway: Gateway, out: DevOutput, at: number): Promise<void> {
  try {
    await gateway.reload()
    out.info(`↻ config reloaded in ${Math.round(performance.now() - at)} ms`)
    out.reloaded()
  } catch (error) {
    const cause = (error as Error).cause
    const why = cause instanceof Error ? cause.message : (error as Error).message
    out.error(`✖ config reload failed, still serving the last good config:\n  ${why.split('\n').join('\n  ')}`)
  }
}

async function reloadApp (table: AppTable, name: string, graph: Set<string>, out: DevOutput, at: number): Promise<void> {
  let servedAt = 0
  try {
    await replaceApps(table, table.config, new Set([name]), () => { servedAt = performance.now() })
    out.info(`↻ ${name} reloaded in ${Math.round(servedAt - at)} ms`)
    collectGarbage?.()
  } catch (error) {
    const failure = describeLoadFailure(error, graph)
    const where = formatPlace(failure)
    out.error(`✖ ${name} failed to load${where === undefined ? '' : ` at ${where}`}: ${failure.message}\n  ${failure.stack.split('\n').join('\n  ')}`)
    await mountErrorPage(table, name, failure)
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
