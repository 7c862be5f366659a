// bench/cgi.ts's results and report: the shape of a run, the tables, the per-round ratios and the targets.
import type { Leftover } from './proc-tree.ts'
import { median, spread, table } from './stats.ts'
import type { WrkReport } from './wrk.ts'

/** Runs of each start-up floor per round. */
export const FLOOR_RUNS = 20
/** Cores used by anything else on the machine above which a run is flagged as disturbed (never dropped). */
export const OTHER_LOAD_LIMIT = 0.15

export type ScenarioName = 'floor' | 'cold' | 'cgi'
export type ServerName = 'gateway' | 'lighttpd'
export const SCENARIOS: ScenarioName[] = ['floor', 'cold', 'cgi']

export interface Options { rounds: number, durationS: number, warmupS: number, connections: number, seq: number, only: Set<ScenarioName>, json?: string, settleS: number, logLevel: string }

export interface FloorResult { round: number, nodeMs: number[], fetchMs: number[], trueMs: number[] }

export interface RunResult {
  round: number
  scenario: 'cold' | 'cgi'
  server: ServerName
  connections: number
  /** Set when the run failed: the row is an error, its numbers are not used. */
  error?: string
  rps: number
  p50Ms: number
  p99Ms: number
  requests: number
  errors: { connect: number, read: number, write: number, timeout: number, status: number, total: number, rate: number }
  peakRssMb: number
  /** CPU of the server's whole process tree (itself, any helper, every CGI process), per wall second. */
  serverCores: number
  cpuMsPerRequest: number
  maxChildren: number
  otherCores: number
  /** Cold scenario: sequential latencies, and the `node -e 0` and fetch-API floor runs paired with each. */
  seq?: { latencyMs: number[], floorMs: number[], fetchFloorMs: number[] }
  leftovers: Leftover[]
  logLines: string[]
  wrk?: WrkReport
}

export const fmt = (n: number, digits = 0): string => Number.isFinite(n) ? n.toFixed(digits) : '-'
const range = (values: number[], digits = 0): string => {
  const s = spread(values)
  return values.length === 0 ? '-' : `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
}

export interface Target { id: string, text: string, op: '>=' | '<=', bound: number }
export const TARGETS: Target[] = [
  { id: 'cold-latency', text: 'cold: sequential median latency <= 1.15 x node -e 0', op: '<=', bound: 1.15 },
  { id: 'cold-rps', text: 'cold: req/s >= 1.0 x lighttpd (same runner)', op: '>=', bound: 1.0 },
  { id: 'cgi-rps-c', text: 'cgi: req/s >= 0.9 x lighttpd', op: '>=', bound: 0.9 },
  { id: 'cgi-rps-16', text: 'cgi: req/s >= 0.9 x lighttpd', op: '>=', bound: 0.9 },
]

export function report (floors: FloorResult[], runs: RunResult[], options: Options, nodeLabel: string): { lines: string[], ratios: Record<string, number[]>, verdicts: Array<{ target: string, value: number, pass: boolean | undefined }> } {
  const lines: string[] = []
  if (floors.length > 0) {
    lines.push(`Start-up floor: wall time of spawning and waiting for the process from this bench, ${FLOOR_RUNS} runs per round (median per round):`)
    const rows = [['what', 'median ms (per round)', 'min ms']]
    rows.push([`node -e 0 (${nodeLabel})`, `${fmt(median(floors.map(f => median(f.nodeMs))), 1)} (${floors.map(f => fmt(median(f.nodeMs), 1)).join(' ')})`, fmt(Math.min(...floors.flatMap(f => f.nodeMs)), 1)])
    rows.push(['node -e \'new Response("")\' (fetch-API floor)', `${fmt(median(floors.map(f => median(f.fetchMs))), 1)} (${floors.map(f => fmt(median(f.fetchMs), 1)).join(' ')})`, fmt(Math.min(...floors.flatMap(f => f.fetchMs)), 1)])
    rows.push(['/bin/true', `${fmt(median(floors.map(f => median(f.trueMs))), 1)} (${floors.map(f => fmt(median(f.trueMs), 1)).join(' ')})`, fmt(Math.min(...floors.flatMap(f => f.trueMs)), 1)])
    lines.push(table(rows), '')
  }

  const keys = [...new Set(runs.map(r => `${r.scenario}|${r.connections}|${r.server}`))]
  if (keys.length > 0) {
    lines.push(`Load runs: medians over rounds, (min–max). wrk -t1, ${options.durationS} s. seq: median of the sequential series; seq/floor: over the`)
    lines.push('node -e 0 runs paired with it. srv cores: CPU of the server\'s whole process tree (spawn helper and every CGI process included) per')
    lines.push('wall second; CPU ms/req: the same per request. peak RSS: the server process alone (VmRSS every 100 ms). children: most live')
    lines.push('descendants seen at once (helper included). other cores: most CPU used by anything else during a run. left: processes found after stop.')
    const rows = [['scenario', 'server', 'conns', 'req/s med (min–max)', 'p50 ms', 'p99 ms med (min–max)', 'seq ms', 'seq/floor', 'peak RSS MB', 'srv cores', 'CPU ms/req', 'children', 'other cores', 'errors', 'left', 'failed']]
    for (const key of keys) {
      const rs = runs.filter(r => `${r.scenario}|${r.connections}|${r.server}` === key)
      const ok = rs.filter(r => r.error === undefined)
      const seq = ok.filter(r => r.seq !== undefined)
      rows.push([
        rs[0].scenario, rs[0].server === 'gateway' ? `warmgate ${rs[0].scenario === 'cold' ? 'cold' : 'cgi app'}` : 'lighttpd mod_cgi', String(rs[0].connections),
        range(ok.map(r => r.rps)), fmt(median(ok.map(r => r.p50Ms)), 1), range(ok.map(r => r.p99Ms), 1),
        seq.length === 0 ? '-' : fmt(median(seq.map(r => median(r.seq!.latencyMs))), 1),
        seq.length === 0 ? '-' : fmt(median(seq.map(r => median(r.seq!.latencyMs) / median(r.seq!.floorMs))), 2),
        fmt(median(ok.map(r => r.peakRssMb))), fmt(median(ok.map(r => r.serverCores)), 2), fmt(median(ok.map(r => r.cpuMsPerRequest)), 1),
        String(Math.max(0, ...ok.map(r => r.maxChildren))), fmt(Math.max(...ok.map(r => r.otherCores)), 2),
        String(rs.reduce((n, r) => n + r.errors.total, 0)), String(rs.reduce((n, r) => n + r.leftovers.length, 0)),
        `${rs.length - ok.length}/${rs.length}`,
      ])
    }
    lines.push(table(rows), '')
  }

  // Ratios within a round, then the median over rounds.
  const ratios: Record<string, number[]> = {}
  /** Per ratio, per value: whether other work on the machine disturbed one of its two runs. */
  const disturbed: Record<string, boolean[]> = {}
  const find = (round: number, scenario: string, connections: number, server: ServerName): RunResult | undefined =>
    runs.find(r => r.round === round && r.scenario === scenario && r.connections === connections && r.server === server && r.error === undefined)
  const connectionRows = [...new Set([options.connections, 16])]
  for (let round = 1; round <= options.rounds; round++) {
    const push = (id: string, value: number, ...from: Array<RunResult | undefined>): void => {
      if (!Number.isFinite(value)) return
      ;(ratios[id] ??= []).push(value)
      ;(disturbed[id] ??= []).push(from.some(r => (r?.otherCores ?? 0) > OTHER_LOAD_LIMIT))
    }
    const gwCold = find(round, 'cold', options.connections, 'gateway')
    const ltCold = find(round, 'cold', options.connections, 'lighttpd')
    if (gwCold?.seq !== undefined) push('cold-latency', median(gwCold.seq.latencyMs) / median(gwCold.seq.floorMs), gwCold)
    if (gwCold?.seq !== undefined) push('cold-latency-fetch', median(gwCold.seq.latencyMs) / median(gwCold.seq.fetchFloorMs), gwCold)
    if (ltCold?.seq !== undefined) push('lighttpd-cold-latency', median(ltCold.seq.latencyMs) / median(ltCold.seq.floorMs), ltCold)
    if (gwCold !== undefined && ltCold !== undefined) {
      push('cold-rps', gwCold.rps / ltCold.rps, gwCold, ltCold)
      push('cold-p99', gwCold.p99Ms / ltCold.p99Ms, gwCold, ltCold)
    }
    for (const [i, c] of connectionRows.entries()) {
      const gw = find(round, 'cgi', c, 'gateway')
      const lt = find(round, 'cgi', c, 'lighttpd')
      if (gw === undefined || lt === undefined) continue
      push(i === 0 ? 'cgi-rps-c' : 'cgi-rps-16', gw.rps / lt.rps, gw, lt)
      push(i === 0 ? 'cgi-p99-c' : 'cgi-p99-16', gw.p99Ms / lt.p99Ms, gw, lt)
    }
  }
  const cell = (id: string): string => ratios[id] === undefined ? '-' : `${fmt(median(ratios[id]), 2)} (${ratios[id].map((v, i) => fmt(v, 2) + (disturbed[id][i] ? '*' : '')).join(' ')})`
  const ratioRows = [['ratio', 'median (per round)']]
  const c = options.connections
  if (options.only.has('cold')) {
    ratioRows.push(['cold: warmgate sequential latency / paired node -e 0', cell('cold-latency')])
    ratioRows.push(['cold: warmgate sequential latency / paired fetch-API floor (reference)', cell('cold-latency-fetch')])
    ratioRows.push(['cold: lighttpd sequential latency / paired node -e 0 (reference)', cell('lighttpd-cold-latency')])
    ratioRows.push([`cold c=${c}: warmgate / lighttpd req/s`, cell('cold-rps')])
    ratioRows.push([`cold c=${c}: warmgate / lighttpd p99`, cell('cold-p99')])
  }
  if (options.only.has('cgi')) {
    ratioRows.push([`cgi c=${c}: warmgate / lighttpd req/s`, cell('cgi-rps-c')])
    ratioRows.push([`cgi c=${c}: warmgate / lighttpd p99`, cell('cgi-p99-c')])
    if (c !== 16) {
      ratioRows.push(['cgi c=16: warmgate / lighttpd req/s', cell('cgi-rps-16')])
      ratioRows.push(['cgi c=16: warmgate / lighttpd p99', cell('cgi-p99-16')])
    }
  }
  if (ratioRows.length > 1) {
    lines.push('Ratios taken within each round (values in round order), median over rounds:', table(ratioRows))
    lines.push(`  * other work on the machine used more than ${OTHER_LOAD_LIMIT} cores during a run behind that value (kept in the median all the same; the`)
    lines.push('    sequential series are before the wrk runs, and not load-bound, so a disturbed wrk run marks them too).', '')
  }

  const verdicts: Array<{ target: string, value: number, pass: boolean | undefined }> = []
  const wanted = TARGETS.filter(t => t.id.startsWith('cold') ? options.only.has('cold') : options.only.has('cgi') && !(t.id === 'cgi-rps-16' && c === 16))
  if (wanted.length > 0) lines.push('Targets, on the median of the per-round ratios:')
  for (const target of wanted) {
    const text = target.id === 'cgi-rps-c' ? target.text.replace('cgi:', `cgi c=${c}:`) : target.id === 'cgi-rps-16' ? target.text.replace('cgi:', 'cgi c=16:') : target.id === 'cold-rps' ? target.text.replace('cold:', `cold c=${c}:`) : target.text
    const values = ratios[target.id]
    const value = values === undefined ? Number.NaN : median(values)
    const pass = values === undefined ? undefined : target.op === '>=' ? value >= target.bound : value <= target.bound
    verdicts.push({ target: text, value, pass })
    lines.push(`  ${pass === undefined ? 'ERROR' : pass ? 'PASS ' : 'MISS '}  ${text.padEnd(58)} ${pass === undefined ? 'no complete round (see the errors below)' : `measured ${fmt(value, 2)}`}`)
  }
  const stopped = runs.filter(r => r.server === 'gateway')
  if (stopped.length > 0) {
    const left = stopped.reduce((n, r) => n + r.leftovers.length, 0)
    verdicts.push({ target: 'gateway: no process left once it has stopped', value: left, pass: left === 0 })
    lines.push(`  ${left === 0 ? 'PASS ' : 'MISS '}  ${'gateway: no process left once it has stopped'.padEnd(58)} ${left} left after ${stopped.length} gateway runs`)
  }
  return { lines, ratios, verdicts }
}
