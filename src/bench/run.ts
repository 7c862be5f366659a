// `bench()`: starts the gateway once per app, mode and round in a child process, drives load at it from
// another, and reads the gateway's CPU and memory from /proc. Rounds are interleaved (round 1: every app
// in inline, warm, cold; then round 2 …) so that a noisy stretch on the machine touches every mode alike.
// A run that fails (the gateway does not start, the first request is not answered 2xx or 3xx, the load fails
// or nothing under load succeeds) is recorded with its reason and the bench goes on with the next run.
import { request, type OutgoingHttpHeaders } from 'node:http'
import { availableParallelism, cpus, loadavg, platform, totalmem } from 'node:os'
import { GatewayError } from '../errors.ts'
import { stopAll } from './children.ts'
import { startGatewayChild, type GatewayChild } from './gateway-child.ts'
import { runLoad, type LoadGenerator, type LoadReport, type LoadRequest, type LoadSettings } from './load.ts'
import { readMachineBusy, readTree, sampleTreeRss } from './proc.ts'
import { checkOptions, type BenchTarget } from './select.ts'
import { addRatios, summarizeMode, type RunSample } from './summarize.ts'
import type { AppResult, BenchMode, BenchOptions, BenchResult, RunFailure } from './types.ts'

/** Defaults sized so that hello and cpu × 3 modes × 3 rounds finish in under 3 minutes (~2.5 min here). */
export const BENCH_DEFAULTS = { rounds: 3, durationMs: 5000, connections: 32 }
/** Before each measured run, load that is not counted: JIT, pools and connections settle. */
export const WARMUP_MS = 1000
const PROGRESS_EVERY_MS = 500
const FIRST_REQUEST_TIMEOUT_MS = 30_000
const MB = 1024 * 1024

/** Cold mode and cgi apps start a process per request (~100× slower): one connection per CPU, the same duration. */
export function coldLoad (durationMs: number): LoadSettings {
  return { connections: availableParallelism(), durationMs, timeoutMs: 10_000 }
}

/** A run that measured nothing, and why (the message): bench() records it and goes on with the next run. */
class RunFailed extends GatewayError {
  readonly stage: RunFailure['stage']
  constructor (stage: RunFailure['stage'], reason: string, cause?: unknown) {
    super('WG_ERR_BENCH_FAILED', reason, cause === undefined ? undefined : { cause })
    this.stage = stage
  }
}

/** A failure's reason without the "bench: " its error message starts with. */
function reasonOf (error: unknown): string {
  const message = error instanceof Error ? (error instanceof GatewayError ? error.message : `${error.name}: ${error.message}`) : String(error)
  return message.replace(/^bench: /, '').trim()
}

/** An answer's body as a short line for a failure's reason. */
function excerpt (body: string): string {
  const line = body.replace(/\s+/g, ' ').trim()
  if (line === '') return ''
  return `: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`
}

/**
 * Times one request on a new connection; fails (RunFailed) unless the answer is 2xx or 3xx, which the load
 * generators count as successes too. `label` names it in the reason: `POST /api/users`.
 */
function firstRequest (url: string, spec: LoadRequest, label: string): Promise<number> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { ...spec.headers }
    if (spec.body !== undefined) headers['content-length'] = spec.body.byteLength
    const req = request(url, { agent: false, method: spec.method, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { if (body.length < 500) body += chunk })
      res.once('end', () => {
        const ms = performance.now() - started
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 400) resolve(ms)
        else reject(new RunFailed('first-request', `${label} answered ${status}${excerpt(body)}`))
      })
      res.once('error', (error) => reject(new RunFailed('first-request', `${label}: the answer failed: ${error.message}`, error)))
    })
    req.setTimeout(FIRST_REQUEST_TIMEOUT_MS, () => req.destroy(new RunFailed('first-request', `${label} got no answer within ${FIRST_REQUEST_TIMEOUT_MS} ms`)))
    req.once('error', (error) => reject(error instanceof RunFailed ? error : new RunFailed('first-request', `${label} failed: ${error.message}`, error)))
    req.end(spec.body)
  })
}

/** Why a measured load is no figure at all: no request under it succeeded (2xx or 3xx); else undefined. */
function loadFailure (report: LoadReport, label: string): string | undefined {
  if (report.requests - report.errors.non2xx > 0) return undefined
  const errors = Object.entries(report.errors).filter(([, n]) => n > 0).map(([kind, n]) => `${n} ${kind}`).join(', ')
  return report.requests === 0
    ? `no ${label} was answered under load${errors === '' ? '' : ` (${errors})`}`
    : `none of the ${report.requests} answers to ${label} under load was 2xx or 3xx (${errors})`
}

interface RunContext {
  generator: LoadGenerator
  rounds: number
  /** Runs done so far, and in all. */
  run: number
  runs: number
  load: LoadSettings
  cold: LoadSettings
  signal: AbortSignal | undefined
  onProgress: BenchOptions['onProgress']
}

/** Calls onProgress every 500 ms with req/s from the gateway's own counter (wrk prints nothing until it ends). */
function followProgress (gw: GatewayChild, ctx: RunContext, app: string, mode: BenchMode | 'cgi', round: number, durationMs: number): () => void {
  const onProgress = ctx.onProgress
  if (onProgress === undefined) return () => {}
  const started = performance.now()
  let last = { at: started, completed: gw.completed }
  const report = (): void => {
    const now = performance.now()
    const currentRps = now === last.at ? 0 : Math.max(0, (gw.completed - last.completed) / ((now - last.at) / 1000))
    last = { at: now, completed: gw.completed }
    onProgress({ app, mode, round, rounds: ctx.rounds, run: ctx.run, runs: ctx.runs, elapsedMs: now - started, durationMs, currentRps })
  }
  // Once right away, so that the line (and the CLI's estimate) shows before the first load has run.
  report()
  const timer = setInterval(report, PROGRESS_EVERY_MS)
  return () => clearInterval(timer)
}

/** Runs one app in one mode for one round; a failure of its own rejects with RunFailed. */
async function measureOnce (target: BenchTarget, mode: BenchMode | 'cgi', round: number, ctx: RunContext): Promise<RunSample> {
  const load: LoadSettings = { ...(mode === 'cold' || mode === 'cgi' ? ctx.cold : ctx.load), request: target.request }
  let gw: GatewayChild
  try {
    gw = await startGatewayChild({ app: target.name, mode: mode === 'cgi' ? 'warm' : mode, config: target.configFile })
  } catch (error) {
    throw new RunFailed('start', reasonOf(error), error)
  }
  const url = gw.url + target.path
  const label = `${target.request.method} ${target.path}`
  let stopProgress = (): void => {}
  try {
    const idleRss = readTree(gw.pid).rssBytes
    const firstRequestMs = await firstRequest(url, target.request, label)
    stopProgress = followProgress(gw, ctx, target.name, mode, round, WARMUP_MS + load.durationMs)
    await runLoad(ctx.generator, url, { ...load, durationMs: WARMUP_MS }, ctx.signal)
    const before = readTree(gw.pid).cpuSeconds
    const machineBefore = readMachineBusy()
    const wallStart = performance.now()
    const rss = sampleTreeRss(gw.pid)
    let peakRss: number
    let report: LoadReport
    try {
      report = await runLoad(ctx.generator, url, load, ctx.signal)
    } finally {
      peakRss = rss.stop()
    }
    const cpuSeconds = readTree(gw.pid).cpuSeconds - before
    const wallSeconds = (performance.now() - wallStart) / 1000
    const otherSeconds = readMachineBusy() - machineBefore - cpuSeconds - report.cpuSeconds
    if (!Number.isFinite(cpuSeconds) && platform() === 'linux') throw new RunFailed('load', `the gateway for app '${target.name}' in mode ${mode} died during the run${gw.logLines.length > 0 ? `:\n  ${gw.logLines.join('\n  ')}` : ''}`)
    const failed = loadFailure(report, label)
    if (failed !== undefined) throw new RunFailed('load', failed)
    return {
      app: target.name,
      mode,
      round,
      connections: load.connections,
      durationMs: load.durationMs,
      load: report,
      peakRssMb: peakRss / MB,
      idleRssMb: idleRss / MB,
      workers: gw.workers,
      cpuMsPerRequest: report.requests > 0 ? cpuSeconds * 1000 / report.requests : Number.NaN,
      firstRequestMs,
      otherCores: Math.max(0, otherSeconds / wallSeconds),
    }
  } catch (error) {
    // The load generator failed (WG_ERR_BENCH_FAILED) or could not start (a system error's code): this run's
    // failure, not the bench's. Anything else is a bug, and an abort is the bench's: bench() rethrows those.
    const own = error instanceof GatewayError || typeof (error as { code?: unknown })?.code === 'string'
    throw own && !(error instanceof RunFailed) && ctx.signal?.aborted !== true ? new RunFailed('load', reasonOf(error), error) : error
  } finally {
    stopProgress()
    await gw.stop()
  }
}

/** Header names whose values are credentials: a result is shared and published, a token must not be. */
const SECRET_HEADER = /^(?:authorization|proxy-authorization|cookie)$|token|secret|passw|api-?key|session|auth/i

/** The headers as a result shows them: credentials' values hidden. */
function shownHeaders (headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, SECRET_HEADER.test(name) ? '(hidden)' : value]))
}

function machine (): BenchResult['machine'] {
  return {
    node: process.version,
    platform: `${platform()} ${process.arch}`,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / MB / 1024 * 10) / 10,
    loadavg: loadavg().map(n => Math.round(n * 100) / 100),
  }
}

/**
 * Measures the apps of a config (or the shipped workloads hello and cpu) in inline, warm and cold mode,
 * side by side: requests/s, latency percentiles, errors, memory, CPU per request, first-request latency,
 * and each mode's ratio to inline. A run that fails (its gateway does not start, its first request is not
 * answered 2xx or 3xx, its load fails or none of it succeeds) does not stop the others: it is listed in its
 * app's `failures` and counted in `runs.failed`. Every child process is stopped before it resolves or
 * rejects; abort `options.signal` to stop early (it then rejects with WG_ERR_BENCH_FAILED). Linux only for
 * CPU and memory.
 * @example
 * import { bench } from 'warmgate'
 * const result = await bench({ apps: ['hello'], modes: ['inline', 'warm'], durationMs: 2000, rounds: 1 })
 * console.log(result.apps[0].modes.map(m => `${m.mode}: ${m.requestsPerSecond.median} req/s`))
 */
export async function bench (options: BenchOptions = {}): Promise<BenchResult> {
  const startedAt = new Date()
  const t0 = performance.now()
  // Taken before the gateways and the load add to it: the load average says how busy the machine was.
  const atStart = machine()
  const checked = await checkOptions(options, BENCH_DEFAULTS)
  const modesOf = (target: BenchTarget): Array<BenchMode | 'cgi'> => target.kind === 'cgi' ? ['cgi'] : checked.modes
  const ctx: RunContext = {
    generator: checked.loadGenerator,
    rounds: checked.rounds,
    run: 0,
    runs: checked.rounds * checked.targets.reduce((sum, target) => sum + modesOf(target).length, 0),
    // A slow request is a latency to report, not an error: only one slower than 10 s counts as a timeout.
    load: { connections: checked.connections, durationMs: checked.durationMs, timeoutMs: 10_000 },
    cold: coldLoad(checked.durationMs),
    signal: options.signal,
    onProgress: options.onProgress,
  }
  const runs: RunSample[] = []
  const failures: Array<RunFailure & { app: string }> = []
  try {
    for (let round = 1; round <= checked.rounds; round++) {
      for (const target of checked.targets) {
        for (const mode of modesOf(target)) {
          options.signal?.throwIfAborted()
          ctx.run++
          try {
            runs.push(await measureOnce(target, mode, round, ctx))
          } catch (error) {
            // Only a run's own failure is kept and passed over: an abort, or a bug, ends the bench.
            if (!(error instanceof RunFailed) || options.signal?.aborted === true) throw error
            failures.push({ app: target.name, mode, round, stage: error.stage, reason: error.message })
            options.onProgress?.({ app: target.name, mode, round, rounds: ctx.rounds, run: ctx.run, runs: ctx.runs, elapsedMs: 0, durationMs: WARMUP_MS + (mode === 'cold' || mode === 'cgi' ? ctx.cold : ctx.load).durationMs, currentRps: 0, failed: error.message })
          }
        }
      }
    }
  } catch (error) {
    if (options.signal?.aborted === true) throw new GatewayError('WG_ERR_BENCH_FAILED', 'bench: interrupted', { cause: options.signal.reason })
    throw error
  } finally {
    await stopAll()
  }
  const apps: AppResult[] = checked.targets.map(target => {
    const ofApp = runs.filter(r => r.app === target.name)
    // In the order they ran (inline first), each with the rounds that did not fail.
    const modes = modesOf(target).filter(mode => ofApp.some(r => r.mode === mode)).map(mode => summarizeMode(ofApp.filter(r => r.mode === mode)))
    addRatios(modes, ofApp)
    const { method, headers, body } = target.request
    return {
      app: target.name,
      kind: target.kind,
      route: target.route,
      path: target.path,
      method,
      headers: shownHeaders(headers),
      ...(body === undefined ? {} : { bodyBytes: body.byteLength }),
      modes,
      failures: failures.filter(f => f.app === target.name).map(({ mode, round, stage, reason }) => ({ mode, round, stage, reason })),
    }
  })
  return {
    startedAt: startedAt.toISOString(),
    machine: atStart,
    options: {
      rounds: checked.rounds,
      durationMs: checked.durationMs,
      connections: checked.connections,
      cold: { connections: ctx.cold.connections, durationMs: ctx.cold.durationMs },
      loadGenerator: ctx.generator,
    },
    apps,
    runs: { total: ctx.runs, failed: failures.length },
    tookMs: performance.now() - t0,
  }
}
