// Which apps a bench run measures, where each is requested, and the checked options (the API boundary:
// `bench()` validates here once, like the CLI validates its flags; everything after trusts the result).
import { readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { AppKind } from '../config/define.ts'
import { findConfigFile, loadConfigFile } from '../config/load.ts'
import type { ResolvedBenchRequest } from '../config/resolve.ts'
import { benchHeaderProblem, benchMethodProblem, benchPathProblem } from '../config/schema.ts'
import { GatewayError } from '../errors.ts'
import { pickLoadGenerator, type LoadGenerator, type LoadRequest } from './load.ts'
import type { BenchMode, BenchOptions } from './types.ts'
import { DEFAULT_SHIPPED, SHIPPED_WORKLOADS } from './workloads.ts'

export const BENCH_MODES: readonly BenchMode[] = ['inline', 'warm', 'cold']
export const LIMITS = { rounds: [1, 20], durationMs: [1000, 600_000], connections: [1, 10_000] } as const

export interface BenchTarget {
  name: string
  kind: AppKind
  route: string
  /** What is requested: the route and, under it, the path asked for (options, else the app's `bench.path`). */
  path: string
  /** Method, headers and body: the options', else the app's `bench`, else GET (POST with a body). */
  request: LoadRequest
  /** The config file the child gateway reads the app from; undefined for the shipped workloads. */
  configFile: string | undefined
}

export interface CheckedOptions {
  rounds: number
  durationMs: number
  connections: number
  modes: BenchMode[]
  targets: BenchTarget[]
  loadGenerator: LoadGenerator
}

/** The request options of bench(), checked, names lower-cased and methods upper-cased. */
interface RequestOptions {
  path: string | undefined
  method: string | undefined
  body: Uint8Array | undefined
  headers: Record<string, string>
}

/** A value in a message: a string quoted (JSON-escaped when it holds a control character), else its kind. */
function shown (value: unknown): string {
  if (typeof value === 'string') return /^[\x20-\x7e]*$/.test(value) ? `'${value}'` : JSON.stringify(value)
  if (value === null || Array.isArray(value)) return value === null ? 'null' : 'an array'
  return typeof value === 'object' ? 'an object' : String(value)
}

function requestOptions (options: BenchOptions): RequestOptions {
  const pathProblem = options.path === undefined ? undefined : benchPathProblem(options.path)
  if (pathProblem !== undefined) throw invalid(`bench: path: expected ${pathProblem}, got ${shown(options.path)}`)
  const methodProblem = options.method === undefined ? undefined : benchMethodProblem(options.method)
  if (methodProblem !== undefined) throw invalid(`bench: method: expected ${methodProblem}, got ${shown(options.method)}`)
  const body = options.body
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) throw invalid(`bench: body: expected a string or a Uint8Array, got ${shown(body)}`)
  const headers: Record<string, string> = {}
  if (options.headers !== undefined) {
    if (typeof options.headers !== 'object' || options.headers === null || Array.isArray(options.headers)) throw invalid(`bench: headers: expected an object of header names and string values, got ${shown(options.headers)}`)
    for (const [name, value] of Object.entries(options.headers)) {
      const problem = benchHeaderProblem(name, value)
      if (problem !== undefined) throw invalid(`bench: headers${problem.got === name ? '' : `.${name}`}: expected ${problem.expected}, got ${shown(problem.got)}`)
      headers[name.toLowerCase()] = value
    }
  }
  return {
    path: options.path,
    method: options.method?.toUpperCase(),
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
    headers,
  }
}

/** `path` under `route`: `/api` + `/users/1` is `/api/users/1`, `/api` + `?x=1` is `/api?x=1`, `/` + `/a` is `/a`. */
function pathUnder (route: string, path: string): string {
  return route === '/' && path.startsWith('/') ? path : route + path
}

/** The options' request fields over the app's `bench` config, field by field (headers name by name). */
function requestOf (defaultPath: string, route: string, own: RequestOptions, app: ResolvedBenchRequest | undefined): { path: string, request: LoadRequest } {
  const suffix = own.path ?? app?.path
  const body = own.body ?? (app?.body === undefined ? undefined : Buffer.from(app.body, 'utf8'))
  return {
    path: suffix === undefined ? defaultPath : pathUnder(route, suffix),
    request: {
      method: own.method ?? app?.method ?? (body === undefined ? 'GET' : 'POST'),
      headers: { ...app?.headers, ...own.headers },
      body,
    },
  }
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

async function targetsOf (options: BenchOptions, own: RequestOptions): Promise<BenchTarget[]> {
  const cwd = options.cwd ?? process.cwd()
  const configFile = options.config === undefined ? findConfigFile(cwd) : resolve(cwd, options.config)
  if (configFile === undefined) {
    const names = pick(Object.keys(SHIPPED_WORKLOADS), options.apps, DEFAULT_SHIPPED, 'the shipped workloads (no config file)')
    return names.map(name => {
      const route = SHIPPED_WORKLOADS[name].route
      return { name, kind: 'warm', route, ...requestOf(route, route, own, undefined), configFile: undefined }
    })
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
    // A cgi app's route runs no script: one of them is requested, unless a path says which.
    if (app.mode === 'cgi' && own.path === undefined && app.bench.path === undefined) {
      const script = cgiScript(app.entry)
      if (script === undefined) throw invalid(`bench: app '${name}': no executable script in ${app.entry} to request`)
      path = `${app.route === '/' ? '' : app.route}/${script}`
    }
    return { name, kind: app.mode, route: app.route, ...requestOf(path, app.route, own, app.bench), configFile }
  })
}

/**
 * wrk when it is on PATH, unless a HEAD is requested: wrk waits for the body a HEAD answer announces and
 * never sends (every request would time out), so the Node generator measures HEAD.
 */
function generatorFor (wanted: BenchOptions['loadGenerator'], targets: BenchTarget[]): LoadGenerator {
  const head = targets.find(target => target.request.method === 'HEAD')
  if (head === undefined) return wanted ?? pickLoadGenerator()
  if (wanted === 'wrk') throw invalid(`bench: loadGenerator: wrk cannot measure HEAD requests (app '${head.name}'; it waits for a body a HEAD answer never has): use 'node'`)
  return 'node'
}

/** Validates every option (WG_ERR_BENCH_OPTIONS naming the bad one) and finds the apps to measure. */
export async function checkOptions (options: BenchOptions, defaults: { rounds: number, durationMs: number, connections: number }): Promise<CheckedOptions> {
  if (options.loadGenerator !== undefined && options.loadGenerator !== 'wrk' && options.loadGenerator !== 'node') throw invalid(`bench: loadGenerator: expected 'wrk' or 'node', got '${String(options.loadGenerator)}'`)
  const modes = options.modes ?? [...BENCH_MODES]
  if (modes.length === 0) throw invalid('bench: modes: expected at least one of inline, warm, cold')
  for (const mode of modes) if (!BENCH_MODES.includes(mode)) throw invalid(`bench: modes: expected inline, warm or cold, got '${String(mode)}'`)
  const own = requestOptions(options)
  const rounds = integer('rounds', options.rounds, defaults.rounds)
  const durationMs = integer('durationMs', options.durationMs === undefined ? undefined : Math.round(options.durationMs), defaults.durationMs)
  const connections = integer('connections', options.connections, defaults.connections)
  const targets = await targetsOf(options, own)
  return {
    rounds,
    // wrk counts whole seconds: a run is what it measures, so the duration is rounded the same way.
    durationMs: Math.round(durationMs / 1000) * 1000,
    connections,
    // Always in the order inline, warm, cold: inline is the reference every ratio is taken against.
    modes: BENCH_MODES.filter(mode => modes.includes(mode)),
    targets,
    loadGenerator: generatorFor(options.loadGenerator, targets),
  }
}
