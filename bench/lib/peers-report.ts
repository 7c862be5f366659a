// What bench/peers.ts measures and how it reports it: the workloads, the peers, one table per workload and
// the target line ("inline >= 0.95 x Fastify hello world"); the other targets are in peers-targets.ts.
import type { WrkReport, WrkSettings } from './wrk.ts'
import { spread, table } from './stats.ts'

export type WorkloadName = 'hello' | 'cpu' | 'io' | 'big'
export type PeerName = 'warmgate inline' | 'warmgate warm 2' | 'warmgate --processes 2' | 'warmgate --processes 2 inline' | 'bare node:http' | 'fastify' | 'fastify native'
  | 'srvx' | 'hono node-server' | 'watt 1 worker' | 'watt 2 workers' | 'lighttpd mod_cgi' | 'nginx static'

/** Peers that need the scratch packages of peer-packages.ts. */
export const SCRATCH_PEERS: readonly PeerName[] = ['srvx', 'hono node-server', 'watt 1 worker', 'watt 2 workers']

export interface Workload {
  name: WorkloadName
  /** What the request asks for: the gateway's and node peers' path (lighttpd and nginx map it to theirs). */
  path: string
  /** A substring the body must contain, checked once per run before the load. */
  expect: string
  /** The exact body length, when it is part of the check (big). */
  bytes?: number
  wrk: WrkSettings
  /** In the order of round 1 (later rounds rotate it); the first is the reference every ratio is taken to. */
  peers: PeerName[]
}

export const REFERENCE: PeerName = 'warmgate inline'
/** The second reference every table shows a ratio to. */
export const BARE: PeerName = 'bare node:http'

export const WORKLOADS: Workload[] = [
  {
    name: 'hello',
    path: '/hello',
    expect: 'Hello, world!',
    wrk: { threads: 1, connections: 50, timeoutS: 2 },
    peers: ['warmgate inline', 'warmgate warm 2', 'warmgate --processes 2', 'warmgate --processes 2 inline', 'bare node:http', 'fastify', 'fastify native', 'srvx', 'hono node-server',
      'watt 1 worker', 'watt 2 workers', 'lighttpd mod_cgi', 'nginx static'],
  },
  {
    // ~1 ms of synchronous work here (the n bench:quick uses): enough that two workers should beat one thread.
    name: 'cpu',
    path: '/cpu?n=7000',
    expect: '7000 rounds',
    wrk: { threads: 1, connections: 8, timeoutS: 2 },
    peers: ['warmgate inline', 'warmgate warm 2', 'warmgate --processes 2', 'warmgate --processes 2 inline', 'bare node:http', 'fastify', 'srvx', 'hono node-server', 'watt 1 worker', 'watt 2 workers'],
  },
  {
    // 20 ms of waiting per request: at 50 connections no server can pass 50 / 0.020 = 2500 req/s.
    name: 'io',
    path: '/io',
    expect: 'waited 20 ms',
    wrk: { threads: 1, connections: 50, timeoutS: 2 },
    peers: ['warmgate inline', 'warmgate warm 2', 'bare node:http', 'fastify'],
  },
  {
    name: 'big',
    path: '/big',
    expect: '0123456789abcdef',
    bytes: 1024 * 1024,
    wrk: { threads: 1, connections: 8, timeoutS: 4 },
    peers: ['warmgate inline', 'warmgate warm 2', 'bare node:http', 'fastify', 'nginx static'],
  },
]

export interface RunResult {
  round: number
  workload: WorkloadName
  peer: PeerName
  /** Set when the peer failed to start, answer or hold the load: the run has no figures. */
  failed?: string
  rps: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  requests: number
  /** MB/s of response bytes (headers included), from wrk. */
  mbPerS: number
  errors: { connect: number, read: number, write: number, timeout: number, status: number, total: number }
  /** CPU time of the server's process tree (threads, workers, CGI children) / wall time. */
  serverCores: number | undefined
  /** CPU time of the server's process tree over the measured run / requests answered, µs. */
  cpuUsPerReq: number | undefined
  /** Largest sum of VmRSS over the server's process tree, sampled from start to the end of the measured run. */
  peakRssBytes: number | undefined
  wrkCores: number | undefined
  /** CPU the rest of the machine used during the run (not the server, not wrk): other people's load. */
  otherCores: number | undefined
  wrk?: WrkReport
  logLines: string[]
}

export interface Skipped { peer: PeerName, reason: string }

export interface Verdict { target: string, value: number, pass: boolean, perRound: number[] }

/** Cores used by anything else above which a run is flagged as disturbed (kept all the same). */
export const OTHER_LOAD_LIMIT = 0.15
const MB = 1024 * 1024

export const fmt = (n: number, digits = 0): string => Number.isFinite(n) ? n.toFixed(digits) : '-'

function range (values: number[], digits = 0): string {
  const s = spread(values)
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
}

/** What a ratio can be taken of. */
export type Metric = 'rps' | 'p99Ms' | 'cpuUsPerReq' | 'peakRssBytes'

/** peer / reference of one metric (req/s by default), within each round that has both (round order), for one workload. */
export function perRoundRatios (runs: RunResult[], workload: WorkloadName, peer: PeerName, reference: PeerName = REFERENCE, metric: Metric = 'rps'): { values: number[], disturbed: boolean[] } {
  const values: number[] = []
  const disturbed: boolean[] = []
  const rounds = [...new Set(runs.map(r => r.round))].sort((a, b) => a - b)
  for (const round of rounds) {
    const find = (name: PeerName): RunResult | undefined => runs.find(r => r.round === round && r.workload === workload && r.peer === name && r.failed === undefined)
    const ref = find(reference)
    const other = find(peer)
    const a = other?.[metric]
    const b = ref?.[metric]
    if (a === undefined || b === undefined || !Number.isFinite(a / b)) continue
    values.push(a / b)
    disturbed.push([ref, other].some(r => (r?.otherCores ?? 0) > OTHER_LOAD_LIMIT))
  }
  return { values, disturbed }
}

/** The median of per-round ratios and the ratios, in round order ('*': another load was above the limit). */
export function ratioCell (ratios: { values: number[], disturbed: boolean[] }): string {
  if (ratios.values.length === 0) return '-'
  return `${fmt(spread(ratios.values).median, 2)} (${ratios.values.map((v, i) => fmt(v, 2) + (ratios.disturbed[i] ? '*' : '')).join(' ')})`
}

/**
 * One table per workload: every peer that ran (or why not), req/s, latency, the ratios to warmgate inline and
 * to bare node:http, CPU per request and peak RSS of the whole process tree.
 */
export function workloadTable (workload: Workload, runs: RunResult[], skipped: Skipped[]): string {
  const rows: string[][] = [['peer', 'req/s med (min–max)', 'p50 ms', 'p99 ms med (min–max)', 'MB/s', 'x inline req/s (per round)', 'x bare req/s (per round)', 'server cores', 'CPU µs/req', 'peak RSS MB', 'errors']]
  const notes: string[] = []
  for (const peer of workload.peers) {
    const skip = skipped.find(s => s.peer === peer)
    if (skip !== undefined) {
      rows.push([peer, 'skipped'])
      notes.push(`  ${peer}: skipped: ${skip.reason}`)
      continue
    }
    const all = runs.filter(r => r.workload === workload.name && r.peer === peer)
    const ok = all.filter(r => r.failed === undefined)
    const failed = all.filter(r => r.failed !== undefined)
    for (const r of failed) notes.push(`  ${peer}: round ${r.round} FAILED: ${r.failed?.split('\n')[0].slice(0, 300) ?? ''}`)
    if (ok.length === 0) {
      rows.push([peer, failed.length === 0 ? 'not run' : 'FAILED'])
      continue
    }
    const toInline = peer === REFERENCE ? '1.00' : ratioCell(perRoundRatios(runs, workload.name, peer))
    const toBare = peer === BARE ? '1.00' : ratioCell(perRoundRatios(runs, workload.name, peer, BARE))
    rows.push([
      peer,
      range(ok.map(r => r.rps)),
      fmt(spread(ok.map(r => r.p50Ms)).median, 2),
      range(ok.map(r => r.p99Ms), 2),
      fmt(spread(ok.map(r => r.mbPerS)).median, 1),
      toInline,
      toBare,
      fmt(spread(ok.map(r => r.serverCores ?? Number.NaN)).median, 2),
      fmt(spread(ok.map(r => r.cpuUsPerReq ?? Number.NaN)).median),
      fmt(spread(ok.map(r => (r.peakRssBytes ?? Number.NaN) / MB)).median),
      `${ok.reduce((sum, r) => sum + r.errors.total, 0)}${failed.length > 0 ? ` (+${failed.length} failed run)` : ''}`,
    ])
  }
  // The skip/failure rows have two cells: pad them so the table lines up.
  const width = rows[0].length
  const text = table(rows.map(row => row.length === width ? row : [...row, ...Array<string>(width - row.length).fill('')]))
  return notes.length === 0 ? text : `${text}\n${notes.join('\n')}`
}

/** Issue 5: "inline >= 0.95 x Fastify hello world", on the median of the per-round ratios. */
export function targetVerdict (runs: RunResult[], against: PeerName): Verdict | undefined {
  const { values } = perRoundRatios(runs, 'hello', REFERENCE, against)
  if (values.length === 0) return undefined
  const value = spread(values).median
  return { target: `hello: warmgate inline >= 0.95 x ${against} req/s`, value, pass: value >= 0.95, perRound: values }
}

export function wrkSummary (w: WrkReport): Pick<RunResult, 'rps' | 'p50Ms' | 'p99Ms' | 'maxMs' | 'requests' | 'mbPerS' | 'errors'> {
  const seconds = w.duration_us / 1e6
  return {
    rps: w.requests / seconds,
    p50Ms: w.p50_us / 1000,
    p99Ms: w.p99_us / 1000,
    maxMs: w.lat_max_us / 1000,
    requests: w.requests,
    mbPerS: w.bytes / seconds / MB,
    errors: {
      connect: w.err_connect,
      read: w.err_read,
      write: w.err_write,
      timeout: w.err_timeout,
      status: w.err_status,
      total: w.err_connect + w.err_read + w.err_write + w.err_timeout + w.err_status,
    },
  }
}
