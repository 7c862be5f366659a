import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AppKind } from '../config/define.ts'
import type { RuntimeStats } from '../runtime/runtime.ts'

/** Why a warm worker left its pool (`warmgate_workers_replaced_total{reason}`). */
export type ReplaceReason = 'crash' | 'oom' | 'timeout' | 'recycle' | 'idle'

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
 * One gateway's metrics (README "Health and metrics"), in a registry of its own so that two gateways in
 * one process (tests, embedders) do not add into each other. Events are counted as they happen; gauges
 * (in flight, queued, workers) are read from the runtimes at scrape time.
 */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly #requests = new Counter({ name: 'warmgate_requests_total', help: 'Requests answered, by app, mode and status class (1xx-5xx); app "" when no route matched.', labelNames: ['app', 'mode', 'status'] as const, registers: [this.registry] })
  readonly #queue = new Histogram({ name: 'warmgate_queue_seconds', help: "Time a request waited for a slot (the app's concurrency) before it ran.", labelNames: ['app', 'mode'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry] })
  readonly #handler = new Histogram({ name: 'warmgate_handler_seconds', help: 'Time from a request leaving the queue to its response head (a streamed body is not included).', labelNames: ['app', 'mode'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry] })
  readonly #errors = new Counter({ name: 'warmgate_errors_total', help: 'Requests answered with a gateway error, by code (README "Error codes").', labelNames: ['app', 'code'] as const, registers: [this.registry] })
  readonly #backend = new Counter({ name: 'warmgate_backend_errors_total', help: 'CGI process and FastCGI backend failures (spawn, bad output, unreachable), by code.', labelNames: ['app', 'code'] as const, registers: [this.registry] })
  readonly #started = new Counter({ name: 'warmgate_workers_started_total', help: 'Warm worker threads that loaded their handler and took requests.', labelNames: ['app'] as const, registers: [this.registry] })
  readonly #replaced = new Counter({ name: 'warmgate_workers_replaced_total', help: 'Warm worker threads taken out of their pool, by reason: crash, oom, timeout (hung handler), recycle (maxRequests/maxHeapMb), idle.', labelNames: ['app', 'reason'] as const, registers: [this.registry] })
  readonly #spawns = new Counter({ name: 'warmgate_process_spawns_total', help: 'Processes started for cold-mode and cgi requests.', labelNames: ['app', 'mode'] as const, registers: [this.registry] })
  readonly #processSeconds = new Histogram({ name: 'warmgate_process_seconds', help: 'Life of a cold-mode or cgi process, from spawn to exit.', labelNames: ['app', 'mode'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry] })

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

  /** One answered request; `app` undefined when no route matched. */
  request (app: { name: string, mode: AppKind } | undefined, status: number): void {
    this.#requests.inc({ app: app?.name ?? '', mode: app?.mode ?? '', status: `${Math.floor(status / 100)}xx` })
  }

  timing (app: string, mode: AppKind, queueSeconds: number, handlerSeconds: number): void {
    this.#queue.observe({ app, mode }, queueSeconds)
    this.#handler.observe({ app, mode }, handlerSeconds)
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

  processSpawned (app: string, mode: AppKind): void {
    this.#spawns.inc({ app, mode })
  }

  processExited (app: string, mode: AppKind, seconds: number): void {
    this.#processSeconds.observe({ app, mode }, seconds)
  }

  /** The Prometheus text exposition (format 0.0.4): this gateway's metrics, then the process's. */
  async exposition (): Promise<{ contentType: string, text: string }> {
    const merged = Registry.merge([this.registry, processMetrics()])
    return { contentType: merged.contentType, text: await merged.metrics() }
  }
}
