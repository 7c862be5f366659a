import type { Registry } from 'prom-client'

/**
 * A counter and a histogram for the metrics counted on every request, read by prom-client's Registry
 * like its own (the same `get()` shape, so the exposition is the same text). Why not prom-client's: its
 * `observe(labels, value)` and `inc(labels)` build and hash a label key on every call, and a request
 * made three of them. Measured on an inline hello world under wrk -c50: 50.7 µs of gateway CPU a
 * request with them, 42 µs without (~20% more requests a second). Here a caller looks its series up
 * once (`series()`), and counting is a few additions on numbers it holds.
 */
interface SampleValue {
  labels: Record<string, string | number>
  sharedLabels?: Record<string, string>
  value: number
  metricName?: string
}

interface MetricData {
  name: string
  help: string
  type: 'counter' | 'histogram'
  values: SampleValue[]
  aggregator: 'sum'
}

interface Options {
  name: string
  help: string
  labelNames: readonly string[]
  registers: Registry[]
}

abstract class FastMetric<S> {
  readonly name: string
  readonly help: string
  readonly aggregator = 'sum' as const
  readonly labelNames: readonly string[]
  /** Series by their label values (joined), in the order they were first asked for. */
  readonly #series = new Map<string, { labels: Record<string, string>, series: S }>()

  constructor (options: Options) {
    this.name = options.name
    this.help = options.help
    this.labelNames = options.labelNames
    // The Registry takes any object with a name and get(): prom-client's own metrics are such objects.
    for (const registry of options.registers) registry.registerMetric(this as never)
  }

  /** The series for these label values (one per label name, in `labelNames` order): look it up once, then count on it. */
  series (...values: string[]): S {
    const key = values.join('\u0000')
    let entry = this.#series.get(key)
    if (entry === undefined) {
      const labels: Record<string, string> = {}
      this.labelNames.forEach((name, i) => { labels[name] = values[i] })
      entry = { labels, series: this.create() }
      this.#series.set(key, entry)
    }
    return entry.series
  }

  protected abstract create (): S

  protected entries (): Iterable<{ labels: Record<string, string>, series: S }> {
    return this.#series.values()
  }
}

export class CounterSeries {
  value = 0
  inc (): void { this.value++ }
}

export class FastCounter extends FastMetric<CounterSeries> {
  readonly type = 'counter' as const

  protected create (): CounterSeries { return new CounterSeries() }

  async get (): Promise<MetricData> {
    const values: SampleValue[] = []
    // As prom-client's: a series shows once it has been counted.
    for (const { labels, series } of this.entries()) if (series.value > 0) values.push({ labels, value: series.value })
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}

export class HistogramSeries {
  readonly #bounds: readonly number[]
  /** Observations per bucket (not cumulative), then above the last bound. */
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor (bounds: readonly number[]) {
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length)
  }

  observe (value: number): void {
    if (!Number.isFinite(value)) return
    this.sum += value
    this.count++
    const bounds = this.#bounds
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.counts[i]++
        return
      }
    }
  }
}

export class FastHistogram extends FastMetric<HistogramSeries> {
  readonly type = 'histogram' as const
  readonly buckets: readonly number[]

  constructor (options: Options & { buckets: readonly number[] }) {
    super(options)
    this.buckets = [...options.buckets].sort((a, b) => a - b)
  }

  protected create (): HistogramSeries { return new HistogramSeries(this.buckets) }

  /** prom-client's shape (histogram.js getForPromString): cumulative `_bucket` lines with `le` first, then `+Inf`, `_sum`, `_count`. */
  async get (): Promise<MetricData> {
    const values: SampleValue[] = []
    const bucket = `${this.name}_bucket`
    for (const { labels, series } of this.entries()) {
      if (series.count === 0) continue
      let cumulative = 0
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i]
        values.push({ labels: { le: bound }, sharedLabels: labels, value: cumulative, metricName: bucket })
      })
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: labels, value: series.count, metricName: bucket },
        { labels: {}, sharedLabels: labels, value: series.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: labels, value: series.count, metricName: `${this.name}_count` },
      )
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}
