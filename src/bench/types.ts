import type { AppKind } from '../config/define.ts'

// The contract of `warmgate bench` (issue 5): what `bench()` takes and returns, what `--json` writes and
// what the HTML report draws. Plain data only, so that it serializes as it is.

export type BenchMode = 'inline' | 'warm' | 'cold'

export interface BenchOptions {
  /** Config file; default: gateway.config.ts in `cwd` if it exists, else the shipped workloads. */
  config?: string
  /** Apps to measure (names in the config); default: every handler app of the config. */
  apps?: string[]
  /** Modes to compare; default all three. cgi apps run only as `cgi`. */
  modes?: BenchMode[]
  /** Measured milliseconds per run, after a 1 s warm-up that is not counted (default 5000: see README). */
  durationMs?: number
  /** Connections for inline and warm (default 32). */
  connections?: number
  /** Interleaved rounds (default 3). */
  rounds?: number
  /** Called with a progress line while it runs (the CLI prints it in place). */
  onProgress?: (progress: BenchProgress) => void
  /** Directory relative paths are taken from (default process.cwd()). */
  cwd?: string
  /** Default: 'wrk' when it is on PATH, else 'node' (src/bench/load-generator.ts, node:http in a child process). */
  loadGenerator?: 'wrk' | 'node'
  /** Aborting it stops every child process; bench() then rejects with WG_ERR_BENCH_FAILED. */
  signal?: AbortSignal
}

export interface BenchProgress {
  app: string
  mode: BenchMode | 'cgi'
  round: number
  rounds: number
  /** This run's number (1-based) among every run of the bench: apps × modes × rounds. */
  run: number
  runs: number
  /** Since this run's load started; durationMs is its whole length, the 1 s warm-up included. */
  elapsedMs: number
  durationMs: number
  /** Requests per second over the last progress interval. */
  currentRps: number
}

/** One figure over rounds: the median, with the min and the max. */
export interface Spread {
  median: number
  min: number
  max: number
}

export interface ModeResult {
  mode: BenchMode | 'cgi'
  /** Load used for this mode (cold gets its own, stated in the output). */
  connections: number
  durationMs: number
  requestsPerSecond: Spread
  latencyMs: { p50: Spread, p90: Spread, p99: Spread, max: Spread }
  /** Summed over rounds. */
  errors: { non2xx: number, timeouts: number, resets: number, other: number }
  /** The gateway process tree's peak resident memory (MB). */
  peakRssMb: Spread
  /** Warm: peak RSS growth per worker thread over the idle gateway (MB); undefined for other modes. */
  perWorkerMb?: Spread
  /** Gateway CPU time (all its threads and children) per request (ms). */
  cpuMsPerRequest: Spread
  /** Latency of the very first request after the gateway reported ready (ms): the cold-start cost. */
  firstRequestMs: Spread
  /**
   * CPU cores busy with anything but the gateway and the load generator during the measured runs: other
   * work on the machine. Above ~0.15 the figures of that run are disturbed (they are kept, never dropped).
   */
  otherCores?: Spread
  /** Req/s and p99 over inline's, each the median of the per-round ratios (summarize.ts addRatios); undefined when inline was not run. */
  vsInline?: { requestsPerSecond: number, p99: number }
}

export interface AppResult {
  app: string
  kind: AppKind
  route: string
  /** The path requested (route plus the workload's query, if any). */
  path: string
  modes: ModeResult[]
}

export interface BenchResult {
  /** ISO time the run started. */
  startedAt: string
  machine: { node: string, platform: string, cpus: number, cpuModel: string, memoryGb: number, loadavg: number[] }
  /** loadGenerator: 'wrk' (on PATH) or 'node' (src/bench/load-generator.ts). */
  options: { rounds: number, durationMs: number, connections: number, cold: { connections: number, durationMs: number }, loadGenerator: string }
  apps: AppResult[]
  /** Wall time of the whole run (ms). */
  tookMs: number
}
