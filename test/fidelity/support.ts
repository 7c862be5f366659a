import { createHash } from 'node:crypto'
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Gateway } from '../../src/index.ts'
import { within } from '../helpers/gateway.ts'
import { prng } from '../fixtures/prng.ts'

export { prng }

/**
 * Body sizes around every buffer and threshold the gateway has: 0 and 1, each power of two from 8 KiB
 * to 4 MiB and one either side (64 KiB is where a body starts to stream, 64 KiB is also the stream
 * window and the credit step; 16 KiB is Node's stream highWaterMark; 1 MiB and more cross several
 * windows), and odd sizes between.
 */
export const SIZES: readonly number[] = (() => {
  const sizes = [0, 1, 2, 1000, 12_345, 100_000, 777_777, 3_000_001]
  for (let power = 8 * 1024; power <= 4 * 1024 * 1024; power *= 2) sizes.push(power - 1, power, power + 1)
  return sizes.sort((a, b) => a - b)
})()

export type Framing = 'length' | 'chunked'

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')


/** `size` pseudo-random bytes from `seed` (fast: 4 bytes a step). */
export function bytesOf (size: number, seed: number): Buffer {
  const random = prng(seed)
  const out = Buffer.allocUnsafe(size)
  let i = 0
  for (; i + 4 <= size; i += 4) out.writeUInt32LE((random() * 4294967296) >>> 0, i)
  for (; i < size; i++) out[i] = (random() * 256) >>> 0
  return out
}

/** Cuts `body` into 1 to `most` pieces at random places (some may be a single byte). */
export function split (body: Buffer, random: () => number, most = 6): Buffer[] {
  if (body.byteLength === 0) return []
  const count = 1 + Math.floor(random() * most)
  const cuts = new Set<number>()
  for (let i = 1; i < count; i++) cuts.add(1 + Math.floor(random() * Math.max(1, body.byteLength - 1)))
  const points = [0, ...[...cuts].filter(cut => cut < body.byteLength).sort((a, b) => a - b), body.byteLength]
  const pieces: Buffer[] = []
  for (let i = 1; i < points.length; i++) pieces.push(body.subarray(points[i - 1], points[i]))
  return pieces
}

export interface Echo {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface PostOptions {
  framing: Framing
  /** Where the body is cut for writing (chunked: each piece goes out as it is written). Default one piece. */
  pieces?: Buffer[]
  /** Pause between pieces (not after the last), so that they arrive as separate reads. Default 0 (none). */
  pauseMs?: number
  headers?: Record<string, string>
  agent?: Agent
  ms?: number
}

/** One POST with node:http: `Content-Length` or `Transfer-Encoding: chunked`, written piece by piece. */
export function post (url: string, body: Buffer, options: PostOptions): Promise<Echo> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', ...options.headers }
  if (options.framing === 'length') headers['content-length'] = String(body.byteLength)
  else headers['transfer-encoding'] = 'chunked'
  const label = `POST ${new URL(url).pathname} (${body.byteLength} bytes, ${options.framing})`
  return within(options.ms ?? 30_000, label, new Promise<Echo>((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers, agent: options.agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.once('error', reject)
    })
    req.once('error', reject)
    void (async () => {
      const pieces = options.pieces ?? [body]
      for (const [index, piece] of pieces.entries()) {
        if (index > 0 && options.pauseMs !== undefined && options.pauseMs > 0) await sleep(options.pauseMs)
        if (!req.write(piece)) await new Promise(resolve => req.once('drain', resolve))
      }
      req.end()
    })().catch(reject)
  }))
}

/** The same POST through `gateway.fetch`: a byte body, or (chunked) a stream of the pieces with no length. */
export async function postViaFetch (gateway: Gateway, path: string, body: Buffer, options: PostOptions): Promise<Echo> {
  const pieces = options.pieces ?? [body]
  const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...options.headers } }
  if (options.framing === 'length') init.body = body
  else {
    let next = 0
    init.body = new ReadableStream<Uint8Array>({
      async pull (controller) {
        if (next === pieces.length) return controller.close()
        if (next > 0 && options.pauseMs !== undefined && options.pauseMs > 0) await sleep(options.pauseMs)
        controller.enqueue(new Uint8Array(pieces[next++]))
      },
    })
    init.duplex = 'half'
  }
  const label = `gateway.fetch POST ${path} (${body.byteLength} bytes, ${options.framing})`
  return within(options.ms ?? 30_000, label, (async () => {
    const res = await gateway.fetch(new Request(`http://local${path}`, init))
    const headers: IncomingHttpHeaders = {}
    res.headers.forEach((value, name) => { headers[name] = value })
    return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()) }
  })())
}

/** Keep-alive agents for a suite, all destroyed by `destroy()` when it ends. */
export function agents (): { keepAlive: (sockets: number) => Agent, destroy: () => void } {
  const made: Agent[] = []
  return {
    keepAlive (sockets) {
      const agent = new Agent({ keepAlive: true, maxSockets: sockets })
      made.push(agent)
      return agent
    },
    destroy () { for (const agent of made.splice(0)) agent.destroy() },
  }
}

/** How one seeded exchange sends its body: chunked bodies go out in several writes with pauses between them, so that they arrive as separate reads. */
export function seededOptions (body: Buffer, framing: Framing, agent: Agent, seed: number): PostOptions {
  if (framing === 'length') return { framing, agent }
  const random = prng(seed)
  return { framing, agent, pieces: split(body, random), pauseMs: 1 + Math.floor(random() * 3) }
}

/** `checkEcho`'s finding, named by the exchange's size, framing and seed so that it can be replayed. */
export function echoProblem (body: Buffer, framing: Framing, seed: number, res: Echo, reportsHash = true): string | undefined {
  const problem = checkEcho({ reportsHash }, body, res)
  return problem === undefined ? undefined : `${body.byteLength} bytes, ${framing}, seed ${seed}: ${problem}`
}

/** Runs `task` over `items` with at most `width` at once; resolves when all are done, rejects on the first failure. */
export async function inParallel<T> (items: readonly T[], width: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      await task(items[index], index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane))
}

/** What went wrong with one exchange, or undefined when the echo is exact. */
export function checkEcho (door: { reportsHash: boolean }, sent: Buffer, res: Echo): string | undefined {
  if (res.status !== 200) return `status ${res.status}: ${res.body.subarray(0, 200).toString()}`
  if (door.reportsHash) {
    if (res.headers['x-received-length'] !== String(sent.byteLength)) return `the handler received ${String(res.headers['x-received-length'])} bytes`
    if (res.headers['x-received-sha256'] !== sha256(sent)) return 'the handler received other bytes (hash differs)'
  }
  if (!res.body.equals(sent)) return `the echo differs: ${describeMismatch(sent, res.body)}`
  return undefined
}

/** What a mismatch looks like in a failure message: sizes, hashes and where the bytes first differ. */
export function describeMismatch (sent: Buffer, got: Buffer): string {
  let at = 0
  while (at < sent.length && at < got.length && sent[at] === got[at]) at++
  return `sent ${sent.length} bytes (${sha256(sent).slice(0, 12)}), got ${got.length} (${sha256(got).slice(0, 12)}), first difference at byte ${at}`
}

/** One GET with node:http, read to the end; the raw header lines are kept (repeats stay separate). */
export function get (url: string, options: { agent?: Agent, headers?: Record<string, string | string[]>, ms?: number } = {}): Promise<Echo & { rawHeaders: string[] }> {
  return within(options.ms ?? 30_000, `GET ${new URL(url).pathname}${new URL(url).search}`, new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: options.agent, headers: options.headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }))
      res.once('error', reject)
    })
    req.once('error', reject)
    req.end()
  }))
}
