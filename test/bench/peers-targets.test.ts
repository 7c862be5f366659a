import { describe, expect, it } from 'vitest'
import { perRoundRatios, ratioCell, workloadTable, WORKLOADS, type PeerName, type RunResult } from '../../bench/lib/peers-report.ts'
import { judgeTargets, targetLines, type Target } from '../../bench/lib/peers-targets.ts'

const MB = 1024 * 1024

function run (round: number, peer: PeerName, figures: Partial<RunResult>, workload: RunResult['workload'] = 'hello'): RunResult {
  return {
    round, workload, peer, rps: 1000, p50Ms: 1, p99Ms: 4, maxMs: 9, requests: 3000, mbPerS: 0.2,
    errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0, total: 0 },
    serverCores: 1, cpuUsPerReq: 50, peakRssBytes: 100 * MB, wrkCores: 0.1, otherCores: 0, logLines: [],
    ...figures,
  }
}

describe('bench:peers ratios and targets', () => {
  it('takes a ratio within each round of any metric, and skips a round where either run failed', () => {
    const runs = [
      run(1, 'warmgate inline', { rps: 900, cpuUsPerReq: 60 }), run(1, 'srvx', { rps: 1000, cpuUsPerReq: 50 }),
      run(2, 'warmgate inline', { rps: 800, cpuUsPerReq: 40 }), run(2, 'srvx', { rps: 1000, cpuUsPerReq: 50, otherCores: 0.5 }),
      run(3, 'warmgate inline', { rps: 700 }), run(3, 'srvx', { failed: 'did not start' }),
    ]
    expect(perRoundRatios(runs, 'hello', 'warmgate inline', 'srvx')).toEqual({ values: [0.9, 0.8], disturbed: [false, true] })
    expect(perRoundRatios(runs, 'hello', 'warmgate inline', 'srvx', 'cpuUsPerReq').values).toEqual([1.2, 0.8])
    expect(ratioCell(perRoundRatios(runs, 'hello', 'warmgate inline', 'srvx'))).toBe('0.85 (0.90 0.80*)')
    expect(ratioCell({ values: [], disturbed: [] })).toBe('-')
  })

  it('judges each target on the median of the per-round ratios, in its direction, and n/a without a pair', () => {
    const targets: Target[] = [
      { workload: 'hello', peer: 'warmgate inline', reference: 'srvx', metric: 'rps', op: '>=', factor: 0.9 },
      { workload: 'hello', peer: 'warmgate --processes 2', reference: 'watt 2 workers', metric: 'peakRssBytes', op: '<=', factor: 1 },
      { workload: 'cpu', peer: 'warmgate warm 2', reference: 'watt 2 workers', metric: 'p99Ms', op: '<=', factor: 0.6 },
    ]
    const runs = [
      run(1, 'warmgate inline', { rps: 950 }), run(1, 'srvx', { rps: 1000 }),
      run(2, 'warmgate inline', { rps: 850 }), run(2, 'srvx', { rps: 1000 }),
      run(3, 'warmgate inline', { rps: 910 }), run(3, 'srvx', { rps: 1000 }),
      run(1, 'warmgate --processes 2', { peakRssBytes: 300 * MB }), run(1, 'watt 2 workers', { peakRssBytes: 250 * MB }),
    ]
    const [inline, rss, cpu] = judgeTargets(runs, targets)
    expect(inline).toMatchObject({ pass: true, perRound: [0.95, 0.85, 0.91] })
    expect(inline.value).toBeCloseTo(0.91)
    expect(rss).toMatchObject({ value: 1.2, pass: false })
    expect(cpu).toMatchObject({ value: undefined, pass: undefined })
    expect(targetLines([inline, rss, cpu])).toEqual([
      '  PASS  hello: warmgate inline req/s >= 0.9 x srvx                    measured 0.91 (0.95 0.85 0.91)',
      '  MISS  hello: warmgate --processes 2 peak RSS <= 1 x watt 2 workers  measured 1.20 (1.20)',
      '  n/a   cpu: warmgate warm 2 p99 <= 0.6 x watt 2 workers              no round has both runs',
    ])
  })

  it('shows ratios to inline and to bare node:http, CPU per request and peak RSS, and says why a peer has no figures', () => {
    const hello = WORKLOADS.find(w => w.name === 'hello')
    if (hello === undefined) throw new Error('no hello workload')
    const runs = [
      run(1, 'warmgate inline', { rps: 1000, cpuUsPerReq: 40, peakRssBytes: 120 * MB }),
      run(1, 'bare node:http', { rps: 2000 }),
      run(1, 'watt 2 workers', { rps: 3000, peakRssBytes: 400 * MB }),
    ]
    const text = workloadTable(hello, runs, [{ peer: 'srvx', reason: 'could not install srvx' }])
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/x inline req\/s \(per round\)\s+x bare req\/s \(per round\).*CPU µs\/req\s+peak RSS MB/)
    expect(lines.find(l => l.startsWith('warmgate inline'))).toMatch(/\s1\.00\s+0\.50 \(0\.50\)\s.*\s40\s+120\s+0$/)
    expect(lines.find(l => l.startsWith('watt 2 workers'))).toMatch(/\s3\.00 \(3\.00\)\s+1\.50 \(1\.50\)\s.*\s400\s+0$/)
    expect(lines.find(l => l.startsWith('srvx '))).toMatch(/^srvx\s+skipped/)
    expect(lines.find(l => l.startsWith('fastify native'))).toMatch(/not run/)
    expect(text).toContain('  srvx: skipped: could not install srvx')
  })
})
