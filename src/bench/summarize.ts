// Turns the runs of one app and mode (one per round) into the figures of the result: medians over rounds
// with min and max, errors summed, and the ratios to inline.
import type { LoadReport } from './load.ts'
import type { BenchMode, ModeResult, Spread } from './types.ts'

/** What one run (one app, one mode, one round) measured. */
export interface RunSample {
  app: string
  mode: BenchMode | 'cgi'
  round: number
  connections: number
  durationMs: number
  load: LoadReport
  /** Peak resident memory of the gateway's process tree during the measured load (MB). */
  peakRssMb: number
  /** The same tree after start-up (warm: its workers started), before the first request (MB). */
  idleRssMb: number
  /** Live workers (warm) at the end of the run. */
  workers: number
  /** CPU time of the gateway's tree over the measured load / requests answered (ms). */
  cpuMsPerRequest: number
  firstRequestMs: number
  /** Cores busy outside the gateway and the load generator during the measured load. */
  otherCores: number
}

export function spread (values: readonly number[]): Spread {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN }
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { median, min: sorted[0], max: sorted[sorted.length - 1] }
}

export function rpsOf (load: LoadReport): number {
  return load.durationMs > 0 ? load.requests / (load.durationMs / 1000) : 0
}

export function summarizeMode (runs: RunSample[]): ModeResult {
  const first = runs[0]
  const errors = { non2xx: 0, timeouts: 0, resets: 0, other: 0 }
  for (const run of runs) {
    errors.non2xx += run.load.errors.non2xx
    errors.timeouts += run.load.errors.timeouts
    errors.resets += run.load.errors.resets
    errors.other += run.load.errors.other
  }
  const result: ModeResult = {
    mode: first.mode,
    connections: first.connections,
    durationMs: first.durationMs,
    requestsPerSecond: spread(runs.map(r => rpsOf(r.load))),
    latencyMs: {
      p50: spread(runs.map(r => r.load.p50Ms)),
      p90: spread(runs.map(r => r.load.p90Ms)),
      p99: spread(runs.map(r => r.load.p99Ms)),
      max: spread(runs.map(r => r.load.maxMs)),
    },
    errors,
    peakRssMb: spread(runs.map(r => r.peakRssMb)),
    cpuMsPerRequest: spread(runs.map(r => r.cpuMsPerRequest)),
    firstRequestMs: spread(runs.map(r => r.firstRequestMs)),
    otherCores: spread(runs.map(r => r.otherCores)),
  }
  // Warm: what the load added to the idle gateway (whose workers were already started), per worker. It is
  // the growth under load (worker heaps, the main thread's buffers), not the fixed cost of a thread at rest.
  if (first.mode === 'warm') result.perWorkerMb = spread(runs.map(r => r.workers > 0 ? Math.max(0, r.peakRssMb - r.idleRssMb) / r.workers : Number.NaN))
  return result
}

/**
 * Adds vsInline to every mode of an app when inline ran. The rounds are interleaved (every mode once per
 * round), so a mode is compared with inline round by round and the median of those ratios is kept: a
 * round that the machine made slow for both cancels out, where a ratio of two medians would pair figures
 * from different moments (bench:cgi and bench:peers take their ratios the same way). Without per-round
 * runs (or with no round in common) it falls back to the ratio of the medians.
 */
export function addRatios (modes: ModeResult[], runs: readonly RunSample[] = []): void {
  const inline = modes.find(m => m.mode === 'inline')
  if (inline === undefined) return
  const inlineRuns = new Map(runs.filter(r => r.mode === 'inline').map(r => [r.round, r]))
  for (const mode of modes) {
    const rps: number[] = []
    const p99: number[] = []
    for (const run of runs) {
      const base = run.mode === mode.mode ? inlineRuns.get(run.round) : undefined
      if (base === undefined) continue
      rps.push(rpsOf(run.load) / rpsOf(base.load))
      p99.push(run.load.p99Ms / base.load.p99Ms)
    }
    mode.vsInline = {
      requestsPerSecond: rps.length > 0 ? spread(rps).median : mode.requestsPerSecond.median / inline.requestsPerSecond.median,
      p99: p99.length > 0 ? spread(p99).median : mode.latencyMs.p99.median / inline.latencyMs.p99.median,
    }
  }
}
