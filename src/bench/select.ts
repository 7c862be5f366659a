// Which apps a bench run measures, where each is requested, and the checked options (the API boundary:
// `bench()` validates here once, like the CLI validates its flags; everything after trusts the result).
import { readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { AppKind } from '../config/define.ts'
import { findConfigFile, loadConfigFile } from '../config/load.ts'
import { GatewayError } from '../errors.ts'
import type { BenchMode, BenchOptions } from './types.ts'
import { DEFAULT_SHIPPED, SHIPPED_WORKLOADS } from './workloads.ts'

export const BENCH_MODES: readonly BenchMode[] = ['inline', 'warm', 'cold']
export const LIMITS = { rounds: [1, 20], durationMs: [1000, 600_000], connections: [1, 10_000] } as const

export interface BenchTarget {
  name: string
  kind: AppKind
  route: string
  path: string
  /** The config file the child gateway reads the app from; undefined for the shipped workloads. */
  configFile: string | undefined
}

export interface CheckedOptions {
  rounds: number
  durationMs: number
  connections: number
  modes: BenchMode[]
  targets: BenchTarget[]
}

function invalid (message: string): GatewayError {
  return new GatewayError('WG_ERR_BENCH_OPTIONS', message)
}

function integer (name: keyof typeof LIMITS, value: number | undefined, fallback: number): number {
  const [min, max] = LIMITS[name]
  const n = value ?? fallback
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(`bench: ${name}: expected an integer from ${min} to ${max}, got ${String(value)}`)
  return n
}

/** A CGI app is requested at one of its scripts: the first executable named hello*, else the first executable. */
function cgiScript (dir: string): string | undefined {
  const executables = readdirSync(dir).sort().filter(name => {
    try {
      const stat = statSync(join(dir, name))
      return stat.isFile() && (stat.mode & 0o111) !== 0
    } catch {
      return false
    }
  })
  return executables.find(name => name.startsWith('hello')) ?? executables[0]
}

function pick (available: string[], wanted: string[] | undefined, fallback: string[], where: string): string[] {
  const names = wanted ?? fallback
  if (names.length === 0) throw invalid('bench: apps: expected at least one app name')
  const unknown = names.filter(name => !available.includes(name))
  if (unknown.length > 0) throw invalid(`bench: unknown app ${unknown.map(n => `'${n}'`).join(', ')} in ${where} (apps: ${available.join(', ')})`)
  return [...new Set(names)]
}

async function targetsOf (options: BenchOptions): Promise<BenchTarget[]> {
  const cwd = options.cwd ?? process.cwd()
  const configFile = options.config === undefined ? findConfigFile(cwd) : resolve(cwd, options.config)
  if (configFile === undefined) {
    const names = pick(Object.keys(SHIPPED_WORKLOADS), options.apps, DEFAULT_SHIPPED, 'the shipped workloads (no config file)')
    return names.map(name => ({ name, kind: 'warm', route: SHIPPED_WORKLOADS[name].route, path: SHIPPED_WORKLOADS[name].route, configFile: undefined }))
  }
  const config = await loadConfigFile(configFile)
  const apps = config.apps
  // A fastcgi app runs in no mode of ours (its backend does the work): `npm run bench:php` measures it.
  const measurable = apps.filter(app => app.mode !== 'fastcgi').map(app => app.name)
  for (const name of options.apps ?? []) {
    if (apps.some(app => app.name === name && app.mode === 'fastcgi')) throw invalid(`bench: app '${name}' is a fastcgi app, which warmgate bench does not measure (see npm run bench:php)`)
  }
  const names = pick(apps.map(app => app.name), options.apps, measurable, configFile)
  return names.map(name => {
    const app = apps.find(a => a.name === name) as (typeof apps)[number]
    let path = app.route
    if (app.mode === 'cgi') {
      const script = cgiScript(app.entry)
      if (script === undefined) throw invalid(`bench: app '${name}': no executable script in ${app.entry} to request`)
      path = `${app.route === '/' ? '' : app.route}/${script}`
    }
    return { name, kind: app.mode, route: app.route, path, configFile }
  })
}

/** Validates every option (WG_ERR_BENCH_OPTIONS naming the bad one) and finds the apps to measure. */
export async function checkOptions (options: BenchOptions, defaults: { rounds: number, durationMs: number, connections: number }): Promise<CheckedOptions> {
  if (options.loadGenerator !== undefined && options.loadGenerator !== 'wrk' && options.loadGenerator !== 'node') throw invalid(`bench: loadGenerator: expected 'wrk' or 'node', got '${String(options.loadGenerator)}'`)
  const modes = options.modes ?? [...BENCH_MODES]
  if (modes.length === 0) throw invalid('bench: modes: expected at least one of inline, warm, cold')
  for (const mode of modes) if (!BENCH_MODES.includes(mode)) throw invalid(`bench: modes: expected inline, warm or cold, got '${String(mode)}'`)
  return {
    rounds: integer('rounds', options.rounds, defaults.rounds),
    // wrk counts whole seconds: a run is what it measures, so the duration is rounded the same way.
    durationMs: Math.round(integer('durationMs', options.durationMs === undefined ? undefined : Math.round(options.durationMs), defaults.durationMs) / 1000) * 1000,
    connections: integer('connections', options.connections, defaults.connections),
    // Always in the order inline, warm, cold: inline is the reference every ratio is taken against.
    modes: BENCH_MODES.filter(mode => modes.includes(mode)),
    targets: await targetsOf(options),
  }
}
