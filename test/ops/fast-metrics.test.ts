import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { FastCounter, FastHistogram } from '../../src/ops/fast-metrics.ts'

// The per-request metrics are counted by fast-metrics.ts instead of prom-client: the exposition a scrape
// gets must be the same text, line for line. Each case is fed to both and the registries' texts compared.
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const observations: Array<[string, string, number]> = [
  ['hello', 'inline', 0.0003], ['hello', 'inline', 0.0005], ['hello', 'inline', 0.0007], ['cpu', 'warm', 0.002],
  ['hello', 'inline', 12], ['cpu', 'warm', 31], ['cpu', 'warm', 0], ['legacy', 'cgi', 0.1], ['hello', 'inline', 1e-9],
]

describe('fast metrics', () => {
  it('expose a histogram exactly as prom-client does', async () => {
    const theirs = new Registry()
    const ours = new Registry()
    const histogram = new Histogram({ name: 'x_seconds', help: 'Some "help".', labelNames: ['app', 'mode'], buckets: BUCKETS, registers: [theirs] })
    const fast = new FastHistogram({ name: 'x_seconds', help: 'Some "help".', labelNames: ['app', 'mode'], buckets: BUCKETS, registers: [ours] })
    expect(await ours.metrics()).toBe(await theirs.metrics())
    for (const [app, mode, value] of observations) {
      histogram.observe({ app, mode }, value)
      fast.series(app, mode).observe(value)
    }
    const text = await ours.metrics()
    expect(text).toBe(await theirs.metrics())
    expect(text).toContain('x_seconds_bucket{le="0.0005",app="hello",mode="inline"} 3\n')
    expect(text).toContain('x_seconds_count{app="cpu",mode="warm"} 3\n')
  })

  it('expose a counter exactly as prom-client does, a series once counted', async () => {
    const theirs = new Registry()
    const ours = new Registry()
    const counter = new Counter({ name: 'x_total', help: 'Requests.', labelNames: ['app', 'mode', 'status'], registers: [theirs] })
    const fast = new FastCounter({ name: 'x_total', help: 'Requests.', labelNames: ['app', 'mode', 'status'], registers: [ours] })
    fast.series('unused', 'warm', '2xx')
    for (const [app, mode, status] of [['hello', 'inline', '2xx'], ['', '', '4xx'], ['hello', 'inline', '2xx'], ['a"b\\c', 'cgi', '5xx']]) {
      counter.inc({ app, mode, status })
      fast.series(app, mode, status).inc()
    }
    const text = await ours.metrics()
    expect(text).toBe(await theirs.metrics())
    expect(text).toContain('x_total{app="hello",mode="inline",status="2xx"} 2\n')
    expect(text).not.toContain('unused')
  })

  it('merge with other registries as prom-client metrics do', async () => {
    const ours = new Registry()
    const other = new Registry()
    new FastCounter({ name: 'a_total', help: 'A.', labelNames: ['app'], registers: [ours] }).series('x').inc()
    new Counter({ name: 'b_total', help: 'B.', registers: [other] }).inc()
    expect(await Registry.merge([ours, other]).metrics()).toBe('# HELP a_total A.\n# TYPE a_total counter\na_total{app="x"} 1\n\n# HELP b_total B.\n# TYPE b_total counter\nb_total 1\n')
  })
})
