// `bench()`: starts the gateway once per app, mode and round in a child process, drives load at it from
// another, and reads the gateway's CPU and memory from /proc. Rounds are interleaved (round 1: every app
// in inline, warm, cold; then round 2 …) so that a noisy stretch on the machine touches every mode alike.
import { request } from 'node:http'
import { availableParallelism, cpus, loadavg, platform, totalmem } from 'node:os'
import { GatewayError } from '../errors.ts'
import { stopAll } from './children.ts'
import { startGatewayChild, type GatewayChild } from './gateway-child.ts'
import { pickLoadGenerator, runLoad, type LoadGenerator, type LoadReport, type LoadSettings } from './load.ts'
import { readMachineBusy, readTree, sampleTreeRss } from './proc.ts'
import { checkOptions, type BenchTarget } from './select.ts'
import { addRatios, summarizeMode, type RunSample } from './summarize.ts'
import type { AppResult, BenchMode, BenchOptions, BenchResult } from './types.ts'

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

/** Times one request on a new connection; fails unless the answer is 2xx. */
function firstRequest (url: string): Promise<number> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { if (body.length < 500) body += chunk })
      res.once('end', () => {
        const ms = performance.now() - started
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) resolve(ms)
        else reject(new GatewayError('WG_ERR_BENCH_FAILED', `bench: GET ${url} answered ${status}: ${body.slice(0, 300)}`))
      })
      res.once('error', reject)
    })
    req.setTimeout(FIRST_REQUEST_TIMEOUT_MS, () => req.destroy(new GatewayError('WG_ERR_BENCH_FAILED', `bench: GET ${url} got no answer within ${FIRST_REQUEST_TIMEOUT_MS} ms`)))
    req.once('error', reject)
    req.end()
  })
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

async function measureOnce (target: BenchTarget, mode: BenchMode | 'cgi', round: number, ctx: RunContext): Promise<RunSample> {
  const load = mode === 'cold' || mode === 'cgi' ? ctx.cold : ctx.load
  const gw = await startGatewayChild({ app: target.name, mode: mode === 'cgi' ? 'warm' : mode, config: target.configFile })
  const url = gw.url + target.path
  let stopProgress = (): void => {}
  try {
    const idleRss = readTree(gw.pid).rssBytes
    const firstRequestMs = await firstRequest(url)
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
    if (!Number.isFinite(cpuSeconds) && platform() === 'linux') throw new GatewayError('WG_ERR_BENCH_FAILED', `bench: the gateway for app '${target.name}' in mode ${mode} died during the run${gw.logLines.length > 0 ? `:\n  ${gw.logLines.join('\n  ')}` : ''}`)
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
  } finally {
    stopProgress()
    await gw.stop()
  }
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
 * and each mode's ratio to inline. Every child process is stopped before it resolves or rejects; abort
 * `options.signal` to stop early (it then rejects with WG_ERR_BENCH_FAILED). Linux only for CPU and memory.
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
    generator: options.loadGenerator ?? pickLoadGenerator(),
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
  try {
    for (let round = 1; round <= checked.rounds; round++) {
      for (const target of checked.targets) {
        for (const mode of modesOf(target)) {
          options.signal?.throwIfAborted()
          ctx.run++
          runs.push(await measureOnce(target, mode, round, ctx))
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
    const modes = [...new Set(ofApp.map(r => r.mode))].map(mode => summarizeMode(ofApp.filter(r => r.mode === mode)))
    addRatios(modes, ofApp)
    return { app: target.name, kind: target.kind, route: target.route, path: target.path, modes }
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
    tookMs: performance.now() - t0,
  }
}
