// The requests of bench/soak.ts: what each kind sends, what it must get back, and the tally of outcomes.
// An outcome is `ok`, `expected` (an error the request asked for: a 500 from a throw, a 504 from a
// timeout, a 502 from the garbage script, our own abort) or `unexpected` (anything else).
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Pool } from 'undici'

export type Mode = 'warm' | 'inline' | 'cold' | 'cgi'
export type Action = 'hello' | 'echo' | 'throw' | 'garbage' | 'timeout' | 'abort-body' | 'abort-response'
export type Outcome = { result: 'ok' } | { result: 'expected' | 'unexpected', what: string, detail?: string }
export interface Kind { name: string, action: Action, mode: Mode, weight: number }

const kind = (action: Action, mode: Mode, weight = 1): Kind => ({ name: `${action} ${mode}`, action, mode, weight })

// Weights per 1000 picks. A loop is closed (one request at a time), so a kind's share of the time is its
// weight times its latency: cold (~80 ms, a node process each) gets ~0.3% of picks, cgi (a sh each) ~10%.
export const MIX: Kind[] = [
  kind('hello', 'warm', 150), kind('hello', 'inline', 150), kind('hello', 'cgi', 40), kind('hello', 'cold', 1),
  kind('echo', 'warm', 150), kind('echo', 'inline', 150), kind('echo', 'cgi', 40), kind('echo', 'cold', 1),
  kind('throw', 'warm', 10), kind('throw', 'inline', 10), kind('throw', 'cold', 0.3),
  kind('garbage', 'cgi', 10),
  kind('abort-body', 'warm', 8), kind('abort-body', 'inline', 8), kind('abort-body', 'cgi', 4), kind('abort-body', 'cold', 0.3),
  kind('abort-response', 'warm', 8), kind('abort-response', 'inline', 8), kind('abort-response', 'cgi', 4), kind('abort-response', 'cold', 0.3),
]
/** A timeout holds its connection for the app's 2 s: these run one at a time on a lane of their own. */
export const SLOW_LANE: Kind[] = (['warm', 'inline', 'cgi', 'cold'] as const).map(mode => kind('timeout', mode))
/** One of each kind that answers at once: the check before the soak that the setup works. */
export const PREFLIGHT: Kind[] = MIX.filter(k => k.action !== 'abort-body' && k.action !== 'abort-response')

const HANDLER_PATH: Record<Action, string> = { hello: 'hello', echo: 'echo', throw: 'throw', garbage: '', timeout: 'sleep', 'abort-body': 'echo', 'abort-response': 'big' }
const SCRIPT: Record<Action, string> = { hello: 'hello.sh', echo: 'echo.sh', throw: '', garbage: 'garbage.sh', timeout: 'sleep.sh', 'abort-body': 'echo.sh', 'abort-response': 'big.sh' }
const EXPECTED_STATUS: Partial<Record<Action, [number, string]>> = {
  throw: [500, '500 from a throw'], garbage: [502, '502 from the garbage script'], timeout: [504, '504 from a timeout'],
}
const ABORTED: Outcome = { result: 'expected', what: 'aborted by us' }
const OK: Outcome = { result: 'ok' }

// Around 64 KiB ±1: the gateway buffers a body up to 64 KiB and streams a larger one (README, Streaming).
const SIZES = [0, 1, 65535, 65536, 65537, 100_000, 1 << 20, 4 << 20]
const SIZE_WEIGHTS = [3, 3, 2, 2, 2, 2, 1, 1]
// Bodies are cut from this at a random offset: random bytes without paying randomBytes(4 MiB) each time.
const NOISE = randomBytes(8 << 20)

export function pick<T> (items: readonly T[], weights: readonly number[]): T {
  let r = Math.random() * weights.reduce((a, b) => a + b, 0)
  for (let i = 0; i < items.length; i++) if ((r -= weights[i]) < 0) return items[i]
  return items[items.length - 1]
}

function randomBody (size: number): Buffer {
  const body = Buffer.allocUnsafe(size)
  const at = randomInt(0, NOISE.length - size + 1)
  NOISE.copy(body, 0, at, at + size)
  randomBytes(Math.min(size, 16)).copy(body) // two bodies differ even when their offsets are the same
  return body
}

/** The body in random-sized pieces: a stream without a Content-Length, undici sends it chunked. */
async function * pieces (body: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < body.length;) {
    const n = randomInt(1, 256 * 1024)
    yield body.subarray(at, at + n)
    at += n
  }
}

function unexpected (what: string, detail: string): Outcome {
  return { result: 'unexpected', what, detail }
}

async function exchange (pool: Pool, k: Kind): Promise<Outcome> {
  const path = k.mode === 'cgi' ? `/cgi/${SCRIPT[k.action]}` : `/${k.mode}/${HANDLER_PATH[k.action]}`
  const expected = EXPECTED_STATUS[k.action]
  if (k.action === 'hello' || expected !== undefined) {
    const res = await pool.request({ path, method: 'GET' })
    const text = await res.body.text()
    if (expected !== undefined) return res.statusCode === expected[0] ? { result: 'expected', what: expected[1] } : unexpected(`status ${res.statusCode}`, `GET ${path}: ${text.slice(0, 200)}`)
    if (res.statusCode === 200 && text === 'hello\n') return OK
    return unexpected(res.statusCode === 200 ? 'wrong body' : `status ${res.statusCode}`, `GET ${path}: ${JSON.stringify(text.slice(0, 200))}`)
  }
  if (k.action === 'echo') {
    const size = pick(SIZES, SIZE_WEIGHTS)
    const chunked = Math.random() < 0.5
    const body = randomBody(size)
    const what = `POST ${path} ${size} B ${chunked ? 'chunked' : 'content-length'}`
    const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: chunked ? Readable.from(pieces(body), { objectMode: false }) : body })
    const got = Buffer.from(await res.body.arrayBuffer())
    if (res.statusCode !== 200) return unexpected(`status ${res.statusCode}`, `${what}: ${got.subarray(0, 200).toString()}`)
    if (!got.equals(body)) {
      let at = 0
      while (at < Math.min(got.length, body.length) && got[at] === body[at]) at++
      return unexpected('body mismatch', `${what}: got ${got.length} B back, first difference at byte ${at}`)
    }
    const sha = createHash('sha256').update(body).digest('hex')
    if (k.mode !== 'cgi' && res.headers['x-sha256'] !== sha) return unexpected('x-sha256 mismatch', `${what}: sent ${sha}, handler saw ${String(res.headers['x-sha256'])}`)
    return OK
  }
  // The aborts: once we have aborted, a rejection is ours; a response before it is not what we asked for.
  const ac = new AbortController()
  try {
    if (k.action === 'abort-body') {
      const size = 1 << 20
      const body = randomBody(size)
      const chunked = Math.random() < 0.5
      async function * half (): AsyncGenerator<Buffer> {
        yield body.subarray(0, size / 2)
        await sleep(randomInt(1, 20))
        ac.abort(new Error('soak: aborted mid-body on purpose'))
      }
      const headers = { 'content-type': 'application/octet-stream', ...(chunked ? {} : { 'content-length': String(size) }) }
      const res = await pool.request({ path, method: 'POST', headers, body: Readable.from(half(), { objectMode: false }), signal: ac.signal })
      return unexpected(`status ${res.statusCode} before our abort`, `POST ${path}: ${(await res.body.text()).slice(0, 200)}`)
    }
    const res = await pool.request({ path, method: 'GET', signal: ac.signal })
    if (res.statusCode !== 200) return unexpected(`status ${res.statusCode}`, `GET ${path}: ${(await res.body.text()).slice(0, 200)}`)
    for await (const chunk of res.body) {
      if ((chunk as Buffer).length === 0) continue
      ac.abort(new Error('soak: aborted mid-response on purpose'))
      break
    }
    return ac.signal.aborted ? ABORTED : unexpected('empty body', `GET ${path}`)
  } catch (error) {
    if (ac.signal.aborted) return ABORTED
    throw error
  }
}

/** One request of kind `k`; a rejection not caused by our abort is an unexpected connection error. */
export async function runKind (pool: Pool, k: Kind): Promise<Outcome> {
  try {
    return await exchange(pool, k)
  } catch (error) {
    const e = error as { code?: string, name?: string, message?: string }
    return unexpected(`connection error ${e.code ?? e.name ?? 'unknown'}`, `${k.name}: ${e.message ?? String(error)}`)
  }
}

interface KindCount { requests: number, ok: number, expected: number, unexpected: number }

/** Outcomes by kind and by error; the first 50 unexpected ones with their details. */
export class Tally {
  total = 0
  readonly byKind = new Map<string, KindCount>()
  readonly expected = new Map<string, number>()
  readonly unexpected = new Map<string, number>()
  readonly details: string[] = []
  /** Set on Ctrl-C: the gateway is being stopped under the loops, their errors are no finding. */
  quiet = false

  add (k: Kind, outcome: Outcome, context: () => string): void {
    this.total++
    let count = this.byKind.get(k.name)
    if (count === undefined) this.byKind.set(k.name, count = { requests: 0, ok: 0, expected: 0, unexpected: 0 })
    count.requests++
    count[outcome.result]++
    if (outcome.result === 'ok') return
    const map = outcome.result === 'expected' ? this.expected : this.unexpected
    map.set(outcome.what, (map.get(outcome.what) ?? 0) + 1)
    if (outcome.result === 'unexpected') {
      const line = `${context()} ${k.name}: ${outcome.what}${outcome.detail === undefined ? '' : ` (${outcome.detail})`}`
      if (this.details.length < 50) this.details.push(line)
      // Printed as it happens, so a long run shows a problem when it starts, not ten minutes later.
      if (this.details.length <= 10 && !this.quiet) process.stdout.write(`UNEXPECTED ${line}\n`)
    }
  }

  unexpectedCount (): number {
    return [...this.unexpected.values()].reduce((a, b) => a + b, 0)
  }
}

export interface LoopState { running: boolean, reloading: boolean, started: number }

/** Requests of `kinds` one after another until `state.running` goes false; returns after the last one ends. */
export async function trafficLoop (pool: Pool, kinds: readonly Kind[], state: LoopState, tally: Tally): Promise<void> {
  const weights = kinds.map(k => k.weight)
  while (state.running) {
    const k = pick(kinds, weights)
    const t0 = performance.now()
    const reloadingAtStart = state.reloading
    const outcome = await runKind(pool, k)
    tally.add(k, outcome, () => `t=${((t0 - state.started) / 1000).toFixed(1)}s ${(performance.now() - t0).toFixed(0)}ms${reloadingAtStart || state.reloading ? ' during a reload' : ''}`)
  }
}
