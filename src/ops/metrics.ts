import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { AppKind } from '../config/define.ts'
import type { RuntimeStats } from '../runtime/runtime.ts'
import { type CounterSeries, FastCounter, FastHistogram, type HistogramSeries } from './fast-metrics.ts'

/** Why a warm worker left its pool (`warmgate_workers_replaced_total{reason}`). */
export type ReplaceReason = 'crash' | 'oom' | 'timeout' | 'recycle' | 'idle'

/** An app as the per-request metrics know it: its resolved config (one object per app, kept for its life). */
export interface CountedApp {
  readonly name: string
  readonly mode: AppKind
}

interface AppSeries {
  name: string
  mode: string
  /** By status class (1 for 1xx … 5), made at its first request. */
  requests: CounterSeries[]
  queue: HistogramSeries
  handler: HistogramSeries
  spawns: CounterSeries
  processSeconds: HistogramSeries
}

/** What the metrics read from the apps being served at scrape time. */
export interface ServedApp {
  readonly name: string
  readonly mode: AppKind
  /** Requests routed to the app and not yet answered (waiting for a slot included). */
  readonly routed: number
  readonly stats: RuntimeStats
}

// Latency buckets in seconds: 0.5 ms (an inline hello world) to 30 s (a CGI script near its timeout).
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
// Codes that mean a CGI process or a FastCGI backend misbehaved or could not be reached.
const BACKEND_ERROR = /^WG_ERR_(CGI_|SPAWN|FASTCGI_|REDIRECT_LOOP)/

let processRegistry: Registry | undefined

/**
 * Node's standard process metrics (CPU, memory, GC, event-loop lag: `nodejs_eventloop_lag_*`), from
 * prom-client. Once per process, not per gateway: they describe the process, and each collection starts
 * an event-loop-delay monitor and a GC observer that nothing ever stops.
 */
function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 10 })
  }
  return processRegistry
}

/**
 * One gateway's metrics (docs/operations.md), in a registry of its own so that two gateways in
 * one process (tests, embedders) do not add into each other. Events are counted as they happen; gauges
 * (in flight, queued, workers) are read from the runtimes at scrape time.
 */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly #requests = new FastCounter({ name: 'warmgate_requests_total', help: 'Requests answered, by app, mode and status class (1xx-5xx); app "" when no route matched.', labelNames: ['app', 'mode', 'status'], registers: [this.registry] })
  readonly #queue = new FastHistogram({ name: 'warmgate_queue_seconds', help: "Time a request waited for a slot (the app's concurrency) before it ran.", labelNames: ['app', 'mode'], buckets: LATENCY_BUCKETS, registers: [this.registry] })
  readonly #handler = new FastHistogram({ name: 'warmgate_handler_seconds', help: 'Time from a request leaving the queue to its response head (a streamed body is not included).', labelNames: ['app', 'mode'], buckets: LATENCY_BUCKETS, registers: [this.registry] })
  readonly #errors = new Counter({ name: 'warmgate_errors_total', help: 'Requests answered with a gateway error, by code (docs/errors.md).', labelNames: ['app', 'code'] as const, registers: [this.registry] })
  readonly #backend = new Counter({ name: 'warmgate_backend_errors_total', help: 'CGI process and FastCGI backend failures (spawn, bad output, unreachable), by code.', labelNames: ['app', 'code'] as const, registers: [this.registry] })
  readonly #started = new Counter({ name: 'warmgate_workers_started_total', help: 'Warm worker threads that loaded their handler and took requests.', labelNames: ['app'] as const, registers: [this.registry] })
  readonly #replaced = new Counter({ name: 'warmgate_workers_replaced_total', help: 'Warm worker threads taken out of their pool, by reason: crash, oom, timeout (hung handler), recycle (maxRequests/maxHeapMb), idle.', labelNames: ['app', 'reason'] as const, registers: [this.registry] })
  readonly #spawns = new FastCounter({ name: 'warmgate_process_spawns_total', help: 'Processes started for cold-mode and cgi requests.', labelNames: ['app', 'mode'], registers: [this.registry] })
  readonly #processSeconds = new FastHistogram({ name: 'warmgate_process_seconds', help: 'Life of a cold-mode or cgi process, from spawn to exit.', labelNames: ['app', 'mode'], buckets: LATENCY_BUCKETS, registers: [this.registry] })
  readonly #websocketMessages = new Counter({ name: 'warmgate_websocket_messages_total', help: 'WebSocket messages, by app and direction: in (from clients) or out (to clients).', labelNames: ['app', 'direction'] as const, registers: [this.registry] })
  readonly #websocketsOpen = new Gauge({ name: 'warmgate_websockets_open', help: 'WebSocket connections open now, by app.', labelNames: ['app'] as const, registers: [this.registry] })
  /** Each app's series of the per-request metrics, looked up once per app (fast-metrics.ts says why). */
  readonly #apps = new WeakMap<CountedApp, AppSeries>()
  readonly #unrouted: AppSeries = this.#seriesFor({ name: '', mode: '' })

  constructor (apps: () => readonly ServedApp[]) {
    const registers = [this.registry]
    /* eslint-disable no-new -- a gauge with collect() lives in its registry */
    new Gauge({
      name: 'warmgate_in_flight',
      help: 'Requests routed to the app and not yet answered, waiting ones included.',
      labelNames: ['app', 'mode'] as const,
      registers,
      collect () {
        this.reset()
        for (const app of apps()) this.set({ app: app.name, mode: app.mode }, app.routed)
      },
    })
    new Gauge({
      name: 'warmgate_queued',
      help: "Requests waiting for a slot (the app's concurrency is in use).",
      labelNames: ['app', 'mode'] as const,
      registers,
      collect () {
        this.reset()
        for (const app of apps()) this.set({ app: app.name, mode: app.mode }, app.stats.queued ?? 0)
      },
    })
    new Gauge({
      name: 'warmgate_workers',
      help: 'Warm worker threads by state: busy (running a request), idle (taking requests) or retiring (stopping, taking none); processes alive for cold and cgi apps are state "busy".',
      labelNames: ['app', 'mode', 'state'] as const,
      registers,
      collect () {
        this.reset()
        for (const app of apps()) {
          const busy = app.stats.busyWorkers ?? app.stats.workers
          this.set({ app: app.name, mode: app.mode, state: 'busy' }, busy)
          const retiring = app.stats.retiringWorkers ?? 0
          this.set({ app: app.name, mode: app.mode, state: 'idle' }, Math.max(0, app.stats.workers - busy - retiring))
          if (app.mode === 'warm') this.set({ app: app.name, mode: app.mode, state: 'retiring' }, retiring)
        }
      },
    })
    /* eslint-enable no-new */
  }

  /** One answered request; `app` (its resolved config) undefined when no route matched. */
  request (app: CountedApp | undefined, status: number): void {
    const series = app === undefined ? this.#unrouted : this.#of(app)
    const type = Math.floor(status / 100)
    const counter = series.requests[type] ??= this.#requests.series(series.name, series.mode, `${type}xx`)
    counter.inc()
  }

  timing (app: CountedApp, queueSeconds: number, handlerSeconds: number): void {
    const series = this.#of(app)
    series.queue.observe(queueSeconds)
    series.handler.observe(handlerSeconds)
  }

  error (app: string, code: string): void {
    this.#errors.inc({ app, code })
    if (BACKEND_ERROR.test(code)) this.#backend.inc({ app, code })
  }

  workerStarted (app: string): void {
    this.#started.inc({ app })
  }

  workerReplaced (app: string, reason: ReplaceReason): void {
    this.#replaced.inc({ app, reason })
  }

  /** A WebSocket connection opened (`+1`) or ended (`-1`). */
  websocketOpen (app: string, delta: 1 | -1): void {
    this.#websocketsOpen.inc({ app }, delta)
  }

  websocketMessage (app: string, direction: 'in' | 'out'): void {
    this.#websocketMessages.inc({ app, direction })
  }

  processSpawned (app: CountedApp): void {
    this.#of(app).spawns.inc()
  }

  processExited (app: CountedApp, seconds: number): void {
    this.#of(app).processSeconds.observe(seconds)
  }

  #of (app: CountedApp): AppSeries {
    let series = this.#apps.get(app)
    if (series === undefined) {
      series = this.#seriesFor(app)
      this.#apps.set(app, series)
    }
    return series
  }

  #seriesFor ({ name, mode }: { name: string, mode: string }): AppSeries {
    return {
      name,
      mode,
      requests: [],
      queue: this.#queue.series(name, mode),
      handler: this.#handler.series(name, mode),
      spawns: this.#spawns.series(name, mode),
      processSeconds: this.#processSeconds.series(name, mode),
    }
  }

  /** The Prometheus text exposition (format 0.0.4): this gateway's metrics, then the process's. */
  async exposition (): Promise<{ contentType: string, text: string }> {
    const merged = Registry.merge([this.registry, processMetrics()])
    return { contentType: merged.contentType, text: await merged.metrics() }
  }
}
