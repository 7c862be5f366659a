// The targets bench:peers judges, each on the median over rounds of a ratio taken within one round (both
// runs of a ratio are minutes apart at most, so they share the machine's state), against the fastest fetch
// servers (srvx), bare node:http and Platformatic Watt.
import { fmt, perRoundRatios, type Metric, type PeerName, type RunResult, type WorkloadName } from './peers-report.ts'
import { spread } from './stats.ts'

export interface Target {
  workload: WorkloadName
  peer: PeerName
  reference: PeerName
  metric: Metric
  /** '>=': the peer's metric must be at least `factor` x the reference's; '<=': at most. */
  op: '>=' | '<='
  factor: number
}

export interface TargetResult extends Target {
  /** Undefined when no round has both runs. */
  value: number | undefined
  perRound: number[]
  pass: boolean | undefined
}

export const TARGETS: readonly Target[] = [
  { workload: 'hello', peer: 'warmgate inline', reference: 'srvx', metric: 'rps', op: '>=', factor: 0.9 },
  { workload: 'hello', peer: 'warmgate inline', reference: 'srvx', metric: 'cpuUsPerReq', op: '<=', factor: 1.15 },
  { workload: 'hello', peer: 'warmgate warm 2', reference: 'bare node:http', metric: 'rps', op: '>=', factor: 0.8 },
  { workload: 'hello', peer: 'warmgate warm 2', reference: 'warmgate inline', metric: 'rps', op: '>=', factor: 1.2 },
  { workload: 'hello', peer: 'warmgate warm 2', reference: 'bare node:http', metric: 'p99Ms', op: '<=', factor: 2 },
  { workload: 'hello', peer: 'warmgate --processes 2', reference: 'watt 2 workers', metric: 'rps', op: '>=', factor: 1 },
  { workload: 'hello', peer: 'warmgate --processes 2', reference: 'watt 2 workers', metric: 'peakRssBytes', op: '<=', factor: 1 },
  { workload: 'cpu', peer: 'warmgate warm 2', reference: 'warmgate inline', metric: 'rps', op: '>=', factor: 1.8 },
  { workload: 'cpu', peer: 'warmgate warm 2', reference: 'watt 2 workers', metric: 'p99Ms', op: '<=', factor: 0.6 },
]

const METRIC_LABEL: Record<Metric, string> = { rps: 'req/s', p99Ms: 'p99', cpuUsPerReq: 'CPU/req', peakRssBytes: 'peak RSS' }

export function judgeTargets (runs: RunResult[], targets: readonly Target[] = TARGETS): TargetResult[] {
  return targets.map(target => {
    const { values } = perRoundRatios(runs, target.workload, target.peer, target.reference, target.metric)
    if (values.length === 0) return { ...target, value: undefined, perRound: [], pass: undefined }
    const value = spread(values).median
    return { ...target, value, perRound: values, pass: target.op === '>=' ? value >= target.factor : value <= target.factor }
  })
}

/** `hello: warmgate inline req/s >= 0.9 x srvx` */
export function targetLabel (t: Target): string {
  return `${t.workload}: ${t.peer} ${METRIC_LABEL[t.metric]} ${t.op} ${t.factor} x ${t.reference}`
}

/** One line per target: PASS/MISS (n/a without a pair of runs), the rule, the median and the per-round ratios. */
export function targetLines (results: readonly TargetResult[]): string[] {
  const width = Math.max(...results.map(r => targetLabel(r).length))
  return results.map(r => r.value === undefined
    ? `  n/a   ${targetLabel(r).padEnd(width)}  no round has both runs`
    : `  ${r.pass === true ? 'PASS' : 'MISS'}  ${targetLabel(r).padEnd(width)}  measured ${fmt(r.value, 2)} (${r.perRound.map(v => fmt(v, 2)).join(' ')})`)
}
