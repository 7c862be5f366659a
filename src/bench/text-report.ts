// The text `warmgate bench` prints: the progress line and the result tables.
import type { AppResult, BenchProgress, BenchResult, ModeResult, RunFailure, Spread } from './types.ts'

/** Cores busy outside the gateway and the load generator above which a run is flagged (never dropped). */
const DISTURBED_CORES = 0.15

const num = (n: number, digits = 0): string => Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-'

/** Fewer digits for bigger numbers: 0.0123, 1.23, 12.3, 123. */
function ms (n: number): string {
  if (!Number.isFinite(n)) return '-'
  return num(n, n < 0.1 ? 3 : n < 10 ? 2 : n < 100 ? 1 : 0)
}

function range (s: Spread, digits = 0): string {
  if (s.min === s.max) return num(s.median, digits)
  return `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`
}

export function formatProgress (p: BenchProgress): string {
  const run = `[${p.run}/${p.runs}] ${p.app} ${p.mode} · round ${p.round}/${p.rounds}`
  if (p.failed !== undefined) return `${run} · FAILED: ${firstLine(p.failed)}`
  return `${run} · ${(p.elapsedMs / 1000).toFixed(1)}/${(p.durationMs / 1000).toFixed(0)} s · ${num(p.currentRps)} req/s`
}

function firstLine (text: string): string {
  const lines = text.split('\n')
  return lines.length > 1 ? `${lines[0]} …` : lines[0]
}

/** What is requested of an app: `GET /hello`, `POST /api/users, 57-byte body, content-type: application/json`. */
export function formatRequest (app: Pick<AppResult, 'path' | 'method' | 'headers' | 'bodyBytes'>): string {
  const parts = [`${app.method ?? 'GET'} ${app.path}`]
  if (typeof app.bodyBytes === 'number') parts.push(`${app.bodyBytes.toLocaleString('en-US')}-byte body`)
  for (const [name, value] of Object.entries(app.headers ?? {})) parts.push(`${name}: ${value}`)
  return parts.join(', ')
}

/** An app's failed runs grouped by mode, stage and reason, for one line each: `warm, rounds 1 and 2 (first request): GET /x answered 404`. */
export function groupFailures (failures: readonly RunFailure[]): Array<{ mode: string, rounds: number[], stage: string, reason: string }> {
  const groups: Array<{ mode: string, rounds: number[], stage: string, reason: string }> = []
  for (const f of failures) {
    const same = groups.find(g => g.mode === f.mode && g.stage === f.stage && g.reason === f.reason)
    if (same === undefined) groups.push({ mode: f.mode, rounds: [f.round], stage: f.stage, reason: f.reason })
    else same.rounds.push(f.round)
  }
  return groups
}

/** Where a run failed, in words. */
export function stageText (stage: string): string {
  return stage === 'first-request' ? 'first request' : stage === 'load' ? 'under load' : stage === 'start' ? 'start-up' : stage
}

export function roundsText (rounds: readonly number[]): string {
  if (rounds.length === 1) return `round ${rounds[0]}`
  return `rounds ${rounds.slice(0, -1).join(', ')} and ${rounds[rounds.length - 1]}`
}

function errorCount (m: ModeResult): string {
  const { non2xx, timeouts, resets, other } = m.errors
  const total = non2xx + timeouts + resets + other
  if (total === 0) return '0'
  const parts = Object.entries(m.errors).filter(([, n]) => n > 0).map(([kind, n]) => `${n} ${kind}`)
  return parts.join(', ')
}

function ratio (m: ModeResult): string {
  if (m.vsInline === undefined) return '-'
  const r = m.vsInline.requestsPerSecond
  return `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}× req/s, ${m.vsInline.p99.toFixed(2)}× p99`
}

function table (rows: string[][]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map(row => row[col].length)))
  return rows.map(row => '  ' + row.map((cell, col) => col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col])).join('  ').trimEnd()).join('\n')
}

export function formatResult (result: BenchResult): string {
  const { machine: m, options: o } = result
  const out: string[] = []
  out.push(`Machine: Node ${m.node}, ${m.platform}, ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GB, load average at start ${m.loadavg.join(' ')}`)
  out.push(`Load: ${o.loadGenerator} in its own process; inline and warm ${o.connections} connections, cold and cgi ${o.cold.connections} (one per CPU); ` +
    `${o.durationMs / 1000} s measured after 1 s of warm-up; ${o.rounds} round(s), interleaved; figures are medians (min–max over rounds); ratios to inline are taken round by round, their median shown.`)
  for (const app of result.apps) {
    out.push('')
    out.push(`${app.app} (${formatRequest(app)})`)
    const failures = app.failures ?? []
    for (const group of groupFailures(failures)) {
      out.push(`  FAILED ${group.mode}, ${roundsText(group.rounds)} (${stageText(group.stage)}): ${group.reason.split('\n').join('\n    ')}`)
    }
    if (app.modes.length === 0) {
      out.push('  no run of this app succeeded: nothing measured')
      continue
    }
    const rows = [['mode', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'peak RSS MB', 'per-worker MB', 'CPU ms/req', 'first req ms', 'vs inline']]
    for (const mode of app.modes) {
      rows.push([
        `${mode.mode}${mode.connections !== o.connections ? ` (c=${mode.connections})` : ''}`,
        range(mode.requestsPerSecond),
        ms(mode.latencyMs.p50.median),
        ms(mode.latencyMs.p90.median),
        ms(mode.latencyMs.p99.median),
        ms(mode.latencyMs.max.median),
        errorCount(mode),
        num(mode.peakRssMb.median),
        mode.perWorkerMb === undefined ? '-' : num(mode.perWorkerMb.median, 1),
        ms(mode.cpuMsPerRequest.median),
        ms(mode.firstRequestMs.median),
        ratio(mode),
      ])
    }
    out.push(table(rows))
  }
  const disturbed = result.apps.flatMap(app => app.modes.filter(m => (m.otherCores?.max ?? 0) > DISTURBED_CORES).map(m => `${app.app} ${m.mode} (up to ${m.otherCores?.max.toFixed(2)})`))
  if (disturbed.length > 0) {
    out.push('')
    out.push(`NOTE: other work on this machine used more than ${DISTURBED_CORES} cores during some runs, so their figures are disturbed: ${disturbed.join(', ')}.`)
  }
  const failed = result.runs?.failed ?? 0
  if (failed > 0) {
    out.push('')
    out.push(`FAILED: ${failed} of ${result.runs.total} runs measured nothing (listed under their app); the figures above are those of the other runs.`)
  }
  out.push('')
  out.push('peak RSS: the gateway process and every process below it, sampled every 100 ms. per-worker MB (warm): (peak RSS − RSS of the idle')
  out.push('gateway, workers started) / workers: what load adds per worker. CPU ms/req: CPU time of that process tree / requests answered.')
  out.push(`first req: the first request after the gateway reported ready, on a new connection. Took ${(result.tookMs / 1000).toFixed(0)} s.`)
  return out.join('\n')
}
