import { describe, expect, it } from 'vitest'
import { addRatios, summarizeMode, type RunSample } from '../../src/bench/summarize.ts'
import type { BenchMode } from '../../src/bench/types.ts'

// Pure arithmetic over made-up runs: what the ratios to inline are when rounds disagree.

function run (mode: BenchMode, round: number, requests: number, p99Ms: number): RunSample {
  return {
    app: 'hello',
    mode,
    round,
    connections: 32,
    durationMs: 1000,
    load: { requests, durationMs: 1000, p50Ms: 1, p90Ms: 2, p99Ms, maxMs: 10, errors: { non2xx: 0, timeouts: 0, resets: 0, other: 0 }, cpuSeconds: 0 },
    peakRssMb: 100,
    idleRssMb: 90,
    workers: 2,
    cpuMsPerRequest: 0.05,
    firstRequestMs: 5,
    otherCores: 0,
  }
}

describe('addRatios', () => {
  // Round 2 is slow for both modes (the machine was busy then); warm is 2x inline in every round.
  const runs = [
    run('inline', 1, 10_000, 4), run('warm', 1, 20_000, 2),
    run('inline', 2, 4_000, 20), run('warm', 2, 8_000, 10),
    run('inline', 3, 11_000, 5), run('warm', 3, 22_000, 2.5),
  ]
  const modes = (['inline', 'warm'] as const).map(mode => summarizeMode(runs.filter(r => r.mode === mode)))

  it('takes the median of the per-round ratios, so a round slow for both modes does not skew them', () => {
    addRatios(modes, runs)
    expect(modes[0].vsInline).toEqual({ requestsPerSecond: 1, p99: 1 })
    expect(modes[1].vsInline).toEqual({ requestsPerSecond: 2, p99: 0.5 })
  })

  it('falls back to the ratio of the medians without per-round runs', () => {
    addRatios(modes)
    // Medians: inline 10,000 req/s, p99 5; warm 20,000 req/s, p99 2.5.
    expect(modes[1].vsInline).toEqual({ requestsPerSecond: 2, p99: 0.5 })
    // A pairing that differs from the medians: warm's p99 of round 2 is paired with inline's of round 2.
    const skewed = [run('inline', 1, 10_000, 4), run('warm', 1, 10_000, 8), run('inline', 2, 10_000, 8), run('warm', 2, 10_000, 4), run('inline', 3, 10_000, 6), run('warm', 3, 10_000, 3)]
    const pair = (['inline', 'warm'] as const).map(mode => summarizeMode(skewed.filter(r => r.mode === mode)))
    addRatios(pair, skewed)
    // Per round: 2, 0.5, 0.5 -> median 0.5. The ratio of the medians (4 / 6) would say 0.67.
    expect(pair[1].vsInline?.p99).toBe(0.5)
  })
})
