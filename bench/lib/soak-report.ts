// bench/soak.ts's readings of the gateway process and its report: samples from /proc, the "flat" verdict,
// the printed tables and the JSON.
import { readdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { processTree } from './proc-tree.ts'
import { clkTck, readMemory } from './proc.ts'
import { table } from './stats.ts'
import type { Tally } from './soak-traffic.ts'

/** A child older than this is no request's: each lives at most the app's 2 s timeout and the 2 s kill grace. */
const OLD_S = 10

export interface Sample {
  t: number
  rssMb: number
  fds: number
  threads: number
  /** Live descendants of the gateway: the spawn helper and whatever cold/cgi processes run then. */
  procs: number
  /** Descendants (zombies too) older than OLD_S: the spawn helper, and anything leaked. */
  oldProcs: number
  zombies: number
  requests: number
  unexpected: number
  reloads: number
  /** Not judged, to tell where RSS goes: the main isolate's V8 heap used, and its external memory (buffers). */
  heapMb: number
  externalMb: number
}

type Reading = Omit<Sample, 't' | 'requests' | 'unexpected' | 'reloads' | 'heapMb' | 'externalMb'>

function readOnce (pid: number): Reading | undefined {
  let status: string
  let fds: number
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
    fds = readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return undefined
  }
  const memory = readMemory(pid)
  if (/^State:\s+Z/m.test(status) || memory === undefined) return undefined
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
  const below = processTree(pid).filter(p => p.pid !== pid)
  return {
    rssMb: memory.rss / 2 ** 20,
    fds,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN),
    procs: below.filter(p => p.state !== 'Z').length,
    oldProcs: below.filter(p => uptimeS - Number(p.startTime) / clkTck() > OLD_S).length,
    zombies: below.filter(p => p.state === 'Z').length,
  }
}

/**
 * One sample of the gateway process, or undefined once it is gone (or a zombie). The counts are the least
 * of 5 readings 50 ms apart: a leaked fd, thread or process is in every reading, while what a request in
 * flight holds (a socket being replaced after an abort, a CGI child's pipes) comes and goes.
 */
export async function sampleGateway (pid: number, t: number, counts: Pick<Sample, 'requests' | 'unexpected' | 'reloads' | 'heapMb' | 'externalMb'>): Promise<Sample | undefined> {
  const readings: Reading[] = []
  for (let i = 0; i < 5; i++) {
    if (i > 0) await sleep(50)
    const reading = readOnce(pid)
    if (reading === undefined) return undefined
    readings.push(reading)
  }
  const least = (key: keyof Reading): number => Math.min(...readings.map(r => r[key]))
  return { t, ...counts, rssMb: readings[0].rssMb, fds: least('fds'), threads: least('threads'), procs: least('procs'), oldProcs: least('oldProcs'), zombies: least('zombies') }
}

export function sampleLine (s: Sample): string {
  return `sample t=${s.t}s rss=${s.rssMb.toFixed(1)}MB heap=${s.heapMb.toFixed(1)}MB external=${s.externalMb.toFixed(1)}MB fds=${s.fds} threads=${s.threads} procs=${s.procs} old-procs=${s.oldProcs} zombies=${s.zombies} requests=${s.requests} unexpected=${s.unexpected} reloads=${s.reloads}`
}

const JUDGED = [
  { key: 'rssMb', name: 'RSS (MB)', slack: 0 },
  { key: 'fds', name: 'open fds', slack: 2 },
  { key: 'threads', name: 'threads', slack: 2 },
  // `procs` is what runs at that instant (up to one per connection): judged on the long-lived ones.
  { key: 'oldProcs', name: `processes older than ${OLD_S} s`, slack: 2 },
] as const

export interface Verdict { flat: boolean, skipped: number, lines: string[] }

/** The warm-up not judged (pools growing, caches filling, V8 sizing its heaps), at most a fifth of a short run. */
const WARMUP_S = 120
/** Readings compared as the medians of a window this long: RSS swings by 10-15% from one sample to the next
 * with the bodies in flight, which a single sample would read as growth. */
const WINDOW_S = 120

/**
 * Flat when, after the warm-up, the median of each judged reading over the last window is within 10% of
 * its median over the first window (plus `slack` for counts, which wobble by one or two). A leak climbs
 * from window to window; noise does not. The maximum and the least-squares trend are shown, not judged.
 */
export function verdict (samples: readonly Sample[]): Verdict {
  const end = samples.length === 0 ? 0 : samples[samples.length - 1].t
  const warmup = Math.min(WARMUP_S, end / 5)
  const after = samples.filter(s => s.t >= warmup)
  const skipped = samples.length - after.length
  const window = Math.min(WINDOW_S, (end - warmup) / 3)
  const first = after.filter(s => s.t < warmup + window)
  const last = after.filter(s => s.t > end - window)
  if (first.length < 2 || last.length < 2) return { flat: false, skipped, lines: [`too few samples after the warm-up (${after.length}): run longer or sample more often`] }
  const lines: string[] = []
  let flat = true
  for (const { key, name, slack } of JUDGED) {
    const base = median(first.map(s => s[key]))
    const now = median(last.map(s => s[key]))
    const limit = base * 1.1 + slack
    const top = after.reduce((a, b) => (b[key] > a[key] ? b : a))
    const pct = (v: number): string => `${v >= base ? '+' : ''}${(100 * (v - base) / (base || 1)).toFixed(1)}%`
    const fmt = (v: number): string => (key === 'rssMb' || !Number.isInteger(v) ? v.toFixed(1) : String(v))
    const ok = now <= limit
    if (!ok) flat = false
    const slope = perMinute(after.map(s => s.t), after.map(s => s[key]))
    lines.push(`${ok ? 'flat ' : 'GREW '} ${name}: median ${fmt(base)} over t=${Math.round(warmup)}-${Math.round(warmup + window)}s, median ${fmt(now)} over the last ${Math.round(window)} s (${pct(now)}); limit ${fmt(limit)}; max ${fmt(top[key])} at t=${top.t}s; trend ${slope >= 0 ? '+' : ''}${slope.toFixed(2)}/min`)
  }
  return { flat, skipped, lines }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Least-squares slope of y over t (seconds), per minute. */
function perMinute (t: number[], y: number[]): number {
  const mt = t.reduce((a, b) => a + b, 0) / t.length
  const my = y.reduce((a, b) => a + b, 0) / y.length
  let num = 0
  let den = 0
  for (let i = 0; i < t.length; i++) {
    num += (t[i] - mt) * (y[i] - my)
    den += (t[i] - mt) ** 2
  }
  return den === 0 ? 0 : 60 * num / den
}

export interface Reload { t: number, ms: number, ok: boolean, error?: string }

export interface SoakReport {
  options: Record<string, number>
  durationS: number
  tally: Tally
  reloads: Reload[]
  samples: Sample[]
  verdict: Verdict
  metrics: string[]
  gatewayStderr: string[]
  shutdown: string
  leftovers: string[]
}

export function printReport (r: SoakReport): void {
  const out = (s = ''): void => { process.stdout.write(`${s}\n`) }
  const t = r.tally
  const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0)
  out(`\n=== bench:soak report: ${r.durationS.toFixed(0)} s, ${Object.entries(r.options).map(([k, v]) => `--${k} ${v}`).join(' ')}`)
  out(`requests: ${t.total} (${(t.total / r.durationS).toFixed(0)}/s): ok ${t.total - sum(t.expected) - sum(t.unexpected)}, expected errors ${sum(t.expected)}, UNEXPECTED ${sum(t.unexpected)}`)
  out('\nby kind:')
  const kinds = [...t.byKind].sort((a, b) => a[0].localeCompare(b[0]))
  out(table([['kind', '', 'requests', 'ok', 'expected', 'unexpected'], ...kinds.map(([name, c]) => [name, '', String(c.requests), String(c.ok), String(c.expected), String(c.unexpected)])]))
  out('\nerrors by kind:')
  for (const [what, n] of t.expected) out(`  expected    ${String(n).padStart(8)}  ${what}`)
  for (const [what, n] of t.unexpected) out(`  UNEXPECTED  ${String(n).padStart(8)}  ${what}`)
  if (t.details.length > 0) out(`\nfirst ${t.details.length} unexpected:\n  ${t.details.join('\n  ')}`)
  const failed = r.reloads.filter(x => !x.ok)
  out(`\nreloads: ${r.reloads.length} (SIGHUP to "warmgate: reloaded"), ms: ${r.reloads.map(x => x.ok ? String(x.ms) : `FAILED(${x.error})`).join(', ') || 'none'}${failed.length > 0 ? `; ${failed.length} FAILED` : ''}`)
  out(`gateway's own error counters (/__warmgate/metrics):${r.metrics.length === 0 ? ' none' : `\n  ${r.metrics.join('\n  ')}`}`)
  if (r.gatewayStderr.length > 0) out(`gateway stderr (last ${r.gatewayStderr.length} lines):\n  ${r.gatewayStderr.join('\n  ')}`)
  out('\nsamples:')
  out(table([
    ['t s', 'rss MB', 'heap MB', 'ext MB', 'fds', 'threads', 'procs', 'old procs', 'zombies', 'requests', 'unexpected', 'reloads'],
    ...r.samples.map(s => [String(s.t), s.rssMb.toFixed(1), s.heapMb.toFixed(1), s.externalMb.toFixed(1), String(s.fds), String(s.threads), String(s.procs), String(s.oldProcs), String(s.zombies), String(s.requests), String(s.unexpected), String(s.reloads)]),
  ]).split('\n').map(line => `  ${line}`).join('\n'))
  out(`\nverdict (warm-up: first ${r.verdict.skipped} samples not judged; medians of the first and last windows compared): ${r.verdict.flat ? 'FLAT' : 'NOT FLAT'}`)
  for (const line of r.verdict.lines) out(`  ${line}`)
  out(`shutdown: ${r.shutdown}; processes left behind: ${r.leftovers.length === 0 ? 'none' : `\n  ${r.leftovers.join('\n  ')}`}`)
}

/** The report as plain data for bench/results/soak.json. */
export function reportJson (r: SoakReport): string {
  const t = r.tally
  return JSON.stringify({
    ...r,
    tally: undefined,
    requests: { total: t.total, byKind: Object.fromEntries(t.byKind), expected: Object.fromEntries(t.expected), unexpected: Object.fromEntries(t.unexpected), unexpectedDetails: t.details },
  }, null, 2) + '\n'
}
