import type { AppKind } from '../config/define.ts'

// The contract of `warmgate bench` : what `bench()` takes and returns, what `--json` writes and
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
  /**
   * Default: 'wrk' when it is on PATH, else 'node' (src/bench/load-generator.ts, node:http in a child process);
   * 'node' when a HEAD is requested (wrk waits for the body a HEAD answer never has: 'wrk' is then refused).
   */
  loadGenerator?: 'wrk' | 'node'
  /** Aborting it stops every child process; bench() then rejects with WG_ERR_BENCH_FAILED. */
  signal?: AbortSignal
  /**
   * The request path under each app's route, query included: `'/users/1?x=2'` requests `/api/users/1?x=2` of
   * an app at `/api`; `'?n=1000'` adds a query to the route. Default: the app's `bench.path`, else the route
   * itself (a cgi app: one of its scripts).
   */
  path?: string
  /** HTTP method, sent upper-cased. Default: the app's `bench.method`, else GET, or POST when there is a body. */
  method?: string
  /** Request body (Content-Length is set from it). Default: the app's `bench.body`, else none. */
  body?: string | Uint8Array
  /**
   * Request headers, added to the app's `bench.headers` (a name set here replaces the app's). Not
   * Content-Length (set from the body), Transfer-Encoding, Connection, Keep-Alive, Upgrade, Expect, TE or Trailer.
   */
  headers?: Record<string, string>
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
  /** Set on the last progress call of a run that failed: why. The bench goes on with the next run. */
  failed?: string
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

/** A run (one app, one mode, one round) that measured nothing; the other runs went on. */
export interface RunFailure {
  mode: BenchMode | 'cgi'
  round: number
  /** Where it failed: the gateway's start, the first request (a 4xx/5xx answer, none, or an error), or the load. */
  stage: 'start' | 'first-request' | 'load'
  /** Why, for a person: `GET /hono answered 404: 404 Not Found`, or the gateway's own log lines. */
  reason: string
}

export interface AppResult {
  app: string
  kind: AppKind
  route: string
  /** The path requested: the route, or what `path` (or the app's `bench.path`) asked for under it. */
  path: string
  /** The method requested. */
  method: string
  /** The headers sent besides the load generator's own, names lower-cased; values of credentials (Authorization, Cookie, …) are replaced by `(hidden)`. */
  headers: Record<string, string>
  /** Size of the request body; undefined when none was sent. */
  bodyBytes?: number
  /** The modes measured: those with at least one round that did not fail. */
  modes: ModeResult[]
  /** The runs that failed, in the order they ran; empty when none did. */
  failures: RunFailure[]
}

export interface BenchResult {
  /** ISO time the run started. */
  startedAt: string
  machine: { node: string, platform: string, cpus: number, cpuModel: string, memoryGb: number, loadavg: number[] }
  /** loadGenerator: 'wrk' (on PATH) or 'node' (src/bench/load-generator.ts). */
  options: { rounds: number, durationMs: number, connections: number, cold: { connections: number, durationMs: number }, loadGenerator: string }
  apps: AppResult[]
  /** Runs in all (apps × modes × rounds) and how many of them failed (listed in each app's `failures`). */
  runs: { total: number, failed: number }
  /** Wall time of the whole run (ms). */
  tookMs: number
}
