// Micro-benchmark: what warm mode's main ⇄ worker hop costs for one small HTTP request, over two transports.
//
//   node bench/hop.ts [--rounds 3] [--duration 3] [--warmup 0.5] [--concurrency 1,16,64] [--json]
//
// postmessage: the protocol as it is (src/protocol/messages.ts): flat arrays, one MessagePort.postMessage per
//   event-loop turn each way with that turn's messages (structured clone), response bodies transferred.
// sab-ring: the same messages in a SharedArrayBuffer ring per direction: numbers, UTF-16 lengths, body bytes,
//   then all the strings as one UTF-8 run from one TextEncoder.encodeInto (a view per string cost ~1 µs more
//   a request), decoded once (latin1 when the writer saw only ASCII, else TextDecoder) and sliced. Published
//   once per turn like the Outbox, so only the transport differs. Readers sleep in Atomics.waitAsync, never
//   Atomics.wait (both event loops stay free); a writer notifies only while the reader's flag says it sleeps.
//   Ring full: messages queue in order and the writer waitAsyncs for room. A body over 16 KiB, or a record that
//   could exceed half the ring, goes by postMessage (transferred) and leaves a marker in its place in the
//   ring, where the reader hands it on. Nothing is dropped, split or reordered.
//
// A case: a fresh worker answering each request at once; C requests in flight (a new one per response) for
// --warmup then --duration s; CPU from process.threadCpuUsage() in each thread over the measured part. Rounds
// alternate which transport goes first. Every response (seq outstanding, status, headers, body bytes) and
// every request (in the worker) is checked. A self-test first echoes bursts of big bodies and big or non-ASCII
// headers through 8 KiB rings (full, wrap, fallback, both ways). Exit 1 on any wrong or missing response.
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { isMainThread, MessageChannel, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads'

const REQUEST = 1
const RESPONSE = 11 // as in src/protocol/messages.ts
const PORTED = 99 // ring record: this direction's next message came by postMessage
type Req = [typeof REQUEST, number, string, string, string, string[], Uint8Array | null, string]
type Res = [typeof RESPONSE, number, number, string, string[], Uint8Array | null]
type Msg = Req | Res
type Transport = 'postmessage' | 'sab-ring'
type OnBatch = (batch: Msg[]) => void
interface Link { send (message: Msg): void, stats: Record<string, number> }

const BODY_MAX = 16 * 1024
const RING_BYTES = 256 * 1024
const URL_ = 'http://127.0.0.1:8080/hello'
const REMOTE = '127.0.0.1'
const HEADERS = [
  'host', '127.0.0.1:8080', 'user-agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'accept-encoding', 'gzip, deflate, br, zstd',
  'accept-language', 'en-US,en;q=0.5', 'connection', 'keep-alive', 'cookie', 'session=5f2b8c1e9a7d4e3f8b6a2c1d0e9f8a7b; theme=dark; lang=en-US',
  'x-request-id', '0d9c6f1e-3b7a-4e52-9c1d-7a8b6e5f4d3c', 'upgrade-insecure-requests', '1', 'sec-fetch-mode', 'navigate',
]
const RES_HEADERS = ['content-type', 'text/plain; charset=utf-8']
const HELLO = new TextEncoder().encode('Hello, world!')
// 36-char ids the worker can check: IDS[seq & 1023].
const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0')
const IDS = Array.from({ length: 1024 }, (_, i) => `${hex(i, 8)}-a1b2-4c3d-8e4f-${hex(Math.imul(i, 2654435761) >>> 0, 12)}`)

const bodyOf = (m: Msg): Uint8Array | null => m[0] === REQUEST ? m[6] : m[5]
const sameStrings = (a: string[], b: string[]): boolean => a.length === b.length && a.every((s, i) => s === b[i])
const sameBytes = (a: Uint8Array | null, b: Uint8Array | null): boolean =>
  a === null || b === null ? a === b : a.byteLength === b.byteLength && a.every((x, i) => x === b[i])

/** postmessage: warm mode's Outbox in a few lines (setImmediate: all the reads of one poll phase in one batch). */
function createPortLink (port: MessagePort, onBatch: OnBatch): Link {
  let queue: Msg[] = []
  let transfer: ArrayBuffer[] = []
  const flush = (): void => {
    port.postMessage(queue, transfer)
    queue = []
    transfer = []
  }
  port.on('message', onBatch)
  return {
    stats: {},
    send (message) {
      if (queue.push(message) === 1) setImmediate(flush)
      const body = bodyOf(message)
      if (body !== null && body.byteLength > 0) transfer.push(body.buffer as ArrayBuffer)
    },
  }
}

// Ring: 4 Int32 control words, then the data (a power of two). HEAD and TAIL are free-running int32 byte
// counters (offset = counter & mask), so full and empty differ without a spare slot. Records are 4-aligned:
// [u32 length][u8 tag][u32 seq][u32 status][u32 body length or NONE][u32 count][u32 UTF-16 length × count]
// [body][u32 UTF-8 length × 2 + all-ASCII bit][UTF-8]. A length of NONE pads to the end of the data (wrap).
const [HEAD, TAIL, READER_SLEEPS, WRITER_SLEEPS] = [0, 1, 2, 3]
const CTL_BYTES = 16
const NONE = 0xffffffff
type WaitResult = { async: false, value: 'not-equal' | 'timed-out' } | { async: true, value: Promise<'ok' | 'timed-out'> }
// ES2024: not in the repo's tsconfig lib. No timeout: each one costs a platform delayed task (measured at C=1:
// main ~45 µs CPU a round trip with 1 s timeouts, ~27 without); a lost wake-up shows as missing responses.
const waitAsync = (Atomics as unknown as { waitAsync (a: Int32Array, i: number, v: number): WaitResult }).waitAsync
const encoder = new TextEncoder()
const decoder = new TextDecoder()

interface Ring { ctl: Int32Array, bytes: Uint8Array, view: DataView, raw: Buffer & { latin1Slice (start: number, end: number): string }, size: number }
const openRing = (sab: SharedArrayBuffer): Ring => ({
  ctl: new Int32Array(sab, 0, CTL_BYTES / 4),
  bytes: new Uint8Array(sab, CTL_BYTES),
  view: new DataView(sab, CTL_BYTES),
  raw: Buffer.from(sab, CTL_BYTES) as Ring['raw'],
  size: sab.byteLength - CTL_BYTES,
})

/** A message ready to write; need is its worst case (UTF-8 takes at most 3 bytes a UTF-16 unit). */
interface Out { tag: number, seq: number, status: number, strings: string[], text: string, body: Uint8Array | null, need: number }
const MARKER: Out = { tag: PORTED, seq: 0, status: 0, strings: [], text: '', body: null, need: 32 }
function toOut (m: Msg): Out {
  const strings = m[0] === REQUEST ? [m[2], m[3], m[4], m[7], ...m[5]] : [m[3], ...m[4]]
  const text = strings.join('')
  const body = bodyOf(m)
  return { tag: m[0], seq: m[1], status: m[0] === RESPONSE ? m[2] : 0, strings, text, body, need: 32 + 4 * strings.length + 3 * text.length + (body?.byteLength ?? 0) }
}

function encode ({ bytes, view }: Ring, out: Out, at: number): number {
  bytes[at + 4] = out.tag
  view.setUint32(at + 5, out.seq, true)
  view.setUint32(at + 9, out.status, true)
  view.setUint32(at + 13, out.body === null ? NONE : out.body.byteLength, true)
  view.setUint32(at + 17, out.strings.length, true)
  let p = at + 21
  for (const s of out.strings) {
    view.setUint32(p, s.length, true)
    p += 4
  }
  if (out.body !== null) bytes.set(out.body, p)
  p += out.body?.byteLength ?? 0
  // need made room for all of it; bytes === units only when every unit is ASCII.
  const { written } = encoder.encodeInto(out.text, bytes.subarray(p + 4))
  view.setUint32(p, written * 2 + (written === out.text.length ? 1 : 0), true)
  const length = (p + 4 + written - at + 3) & ~3
  view.setUint32(at, length, true)
  return length
}

function decode ({ bytes, view, raw }: Ring, at: number): Msg {
  const count = view.getUint32(at + 17, true)
  const bodyLength = view.getUint32(at + 13, true)
  let p = at + 21 + 4 * count
  const body = bodyLength === NONE ? null : bytes.slice(p, p + bodyLength) // a copy owning an unshared buffer
  if (body !== null) p += bodyLength
  const word = view.getUint32(p, true)
  const text = (word & 1) === 1 ? raw.latin1Slice(p + 4, p + 4 + (word >>> 1)) : decoder.decode(bytes.subarray(p + 4, p + 4 + (word >>> 1)))
  const head: string[] = []
  for (let i = 0, from = 0; i < count; i++) head.push(text.slice(from, from += view.getUint32(at + 21 + 4 * i, true)))
  const tag = bytes[at + 4]
  const seq = view.getUint32(at + 5, true)
  if (tag === REQUEST) return [REQUEST, seq, head[0], head[1], head[2], head.splice(4), body, head[3]]
  if (tag === RESPONSE) return [RESPONSE, seq, view.getUint32(at + 9, true), head[0], head.splice(1), body]
  throw new Error(`ring corrupt: tag ${tag} at ${at}`)
}

/**
 * The writing end. Each side sleeps behind a flag it alone raises and lowers: the sleeper raises it, then
 * looks at the other side's counter once more (waitAsync compares it), and the other side stores its counter,
 * then notifies if it sees the flag. Seq-cst atomics: one of the two sees the other, so no wake-up is lost.
 * (A notifier that lowered the flag itself could do it just before a fresh sleep and lose that one.)
 */
function createRingWriter (ring: Ring, port: MessagePort, stats: Record<string, number>): (message: Msg) => void {
  const { ctl, view, size } = ring
  const pending: Out[] = [] // waiting for room, in order
  let tail = 0 // written; published at the end of the turn
  let headSeen = 0
  let scheduled = false
  let waiting = false

  /** need ≤ size/2 always fits an empty ring: one side of the offset has ≥ size/2. */
  const write = (out: Out): boolean => {
    headSeen = Atomics.load(ctl, HEAD)
    const free = size - ((tail - headSeen) | 0)
    const at = tail & (size - 1)
    const toEnd = size - at
    if (out.need <= Math.min(free, toEnd)) {
      tail = (tail + encode(ring, out, at)) | 0
    } else if (free > toEnd && out.need <= free - toEnd) {
      view.setUint32(at, NONE, true)
      tail = (tail + toEnd + encode(ring, out, 0)) | 0
    } else {
      return false
    }
    return true
  }
  const writePending = (): void => {
    while (pending.length > 0 && write(pending[0])) pending.shift()
  }
  const flush = (): void => {
    scheduled = false
    writePending()
    const full = pending.length > 0 && !waiting
    if (full) {
      Atomics.store(ctl, WRITER_SLEEPS, 1)
      writePending() // after the flag: sees any HEAD the reader stored before it could see the flag
    }
    Atomics.store(ctl, TAIL, tail)
    if (Atomics.load(ctl, READER_SLEEPS) === 1) Atomics.notify(ctl, TAIL)
    if (!full) return
    if (pending.length === 0) return void Atomics.store(ctl, WRITER_SLEEPS, 0)
    stats.full++
    waiting = true
    const r = waitAsync(ctl, HEAD, headSeen)
    if (r.async) void r.value.then(woken)
    else setImmediate(woken)
  }
  const woken = (): void => {
    Atomics.store(ctl, WRITER_SLEEPS, 0)
    waiting = false
    flush()
  }

  return (message) => {
    let out = toOut(message)
    if ((out.body !== null && out.body.byteLength > BODY_MAX) || out.need > size / 2) {
      port.postMessage(message, out.body !== null && out.body.byteLength > 0 ? [out.body.buffer as ArrayBuffer] : [])
      stats.ported++
      out = MARKER
    }
    if (pending.length > 0 || !write(out)) pending.push(out)
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
}

/** The reading end: drains what is published, frees it, hands it on, then sleeps (see createRingWriter). */
function startRingReader (ring: Ring, port: MessagePort, onBatch: OnBatch): void {
  const { ctl, bytes, view, size } = ring
  const ported: Msg[] = [] // came by postMessage; each is handed on when its marker is read
  let head = 0
  let stalled = false // at a marker whose message has not come yet

  const drain = (): void => {
    Atomics.store(ctl, READER_SLEEPS, 0)
    const tail = Atomics.load(ctl, TAIL)
    const batch: Msg[] = []
    // Bounded: every record moves head on by ≥ 4 bytes toward tail; a length that would not is refused.
    while (head !== tail) {
      const at = head & (size - 1)
      const length = view.getUint32(at, true)
      if (length === NONE) {
        head = (head + size - at) | 0
        continue
      }
      if (length < 8 || (length & 3) !== 0 || length > size - at) throw new Error(`ring corrupt: length ${length} at ${at}`)
      const message = bytes[at + 4] === PORTED ? ported.shift() : decode(ring, at)
      if (message === undefined) {
        stalled = true // the port's 'message' resumes
        break
      }
      batch.push(message)
      head = (head + length) | 0
    }
    Atomics.store(ctl, HEAD, head)
    if (Atomics.load(ctl, WRITER_SLEEPS) === 1) Atomics.notify(ctl, HEAD)
    if (batch.length > 0) onBatch(batch)
    if (stalled) return
    Atomics.store(ctl, READER_SLEEPS, 1)
    // Against the TAIL read before the flag went up: 'not-equal' if the writer published since.
    const r = waitAsync(ctl, TAIL, tail)
    if (r.async) void r.value.then(drain)
    else setImmediate(drain)
  }
  port.on('message', (message: Msg) => {
    ported.push(message)
    if (stalled) {
      stalled = false
      drain()
    }
  })
  setImmediate(drain)
}

/** One thread's end of a link: sends through `out`, hands what arrives through `into` to onBatch. */
function createLink (transport: Transport, port: MessagePort, onBatch: OnBatch, out?: SharedArrayBuffer, into?: SharedArrayBuffer): Link {
  if (transport === 'postmessage') return createPortLink(port, onBatch)
  const stats = { ported: 0, full: 0 }
  startRingReader(openRing(into as SharedArrayBuffer), port, onBatch)
  return { stats, send: createRingWriter(openRing(out as SharedArrayBuffer), port, stats) }
}

interface WorkerInput { transport: Transport, toWorker?: SharedArrayBuffer, toMain?: SharedArrayBuffer, port: MessagePort, echo: boolean }

/** The worker: answers each request at once, as a trivial fetch handler would; echo mode sends it back. */
function serve (): void {
  const input = workerData as WorkerInput
  const control = parentPort as MessagePort
  let bad = 0
  const answer = (m: Req): Res => {
    if (input.echo) return [RESPONSE, m[1], 200, m[4], m[5], m[6]]
    const ok = m[2] === IDS[m[1] & 1023] && m[3] === 'GET' && m[4] === URL_ && m[7] === REMOTE && m[6] === null && sameStrings(m[5], HEADERS)
    if (!ok) bad++
    // Fresh arrays, as a handler makes: structured clone writes an array it has seen in the batch as a back-reference.
    return [RESPONSE, m[1], ok ? 200 : 500, '', ['content-type', 'text/plain; charset=utf-8'], HELLO.slice()]
  }
  const onBatch: OnBatch = (batch) => {
    for (const m of batch) {
      if (m[0] === REQUEST) link.send(answer(m))
      else bad++
    }
  }
  const link = createLink(input.transport, input.port, onBatch, input.toMain, input.toWorker)
  let cpu = process.threadCpuUsage()
  control.on('message', (what: 'mark' | 'end') => {
    const used = process.threadCpuUsage(cpu)
    if (what === 'mark') cpu = process.threadCpuUsage()
    else control.postMessage({ cpuUs: used.user + used.system, bad, ...link.stats })
  })
  control.postMessage('ready')
}

/** A worker for one case; data goes on its own port as in warm mode, control on parentPort. */
async function start (transport: Transport, ringBytes: number, echo: boolean, onBatch: OnBatch) {
  const { port1, port2 } = new MessageChannel()
  const ring = (): SharedArrayBuffer | undefined => transport === 'sab-ring' ? new SharedArrayBuffer(CTL_BYTES + ringBytes) : undefined
  const input: WorkerInput = { transport, toWorker: ring(), toMain: ring(), port: port2, echo }
  const worker = new Worker(new URL(import.meta.url), { workerData: input, transferList: [port2] })
  // Rejects on the worker's 'error' as well.
  const reply = async (): Promise<Record<string, number>> => (await once(worker, 'message', { signal: AbortSignal.timeout(5000) }))[0]
  const link = createLink(transport, port1, onBatch, input.toWorker, input.toMain)
  await reply()
  const post = (what: 'mark' | 'end'): void => worker.postMessage(what)
  const end = async (): Promise<Record<string, number>> => {
    const stats = reply()
    post('end')
    return await stats.finally(() => port1.close()).finally(() => worker.terminate())
  }
  return { link, post, end }
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
/** Polls a condition every ms up to a bound; false when it did not come true in time. */
async function until (ok: () => boolean, ms: number): Promise<boolean> {
  for (const end = performance.now() + ms; !ok(); await sleep(1)) if (performance.now() > end) return false
  return true
}

/** Echoed bursts through 8 KiB rings; a problem, or null when every echo came back exact and in order. */
async function selfTest (transport: Transport): Promise<string | null> {
  const sent: Req[] = []
  let got = 0
  let bad = 0
  const w = await start(transport, 8192, true, (batch) => {
    for (const m of batch) {
      const e = sent[got++]
      if (e === undefined || m[0] !== RESPONSE || m[1] !== e[1] || m[3] !== e[4] || !sameStrings(m[4], e[5]) || !sameBytes(m[5], e[6])) bad++
    }
  })
  // null, small, empty, 1000 B (in the ring), 16 KiB (over half the ring), 16 KiB + 1 (over BODY_MAX).
  const sizes = [-1, 13, 0, 1000, BODY_MAX, BODY_MAX + 1, -1, -1]
  for (let burst = 0; burst < 3; burst++) {
    for (let i = 0; i < 150; i++) {
      const seq = sent.length + 1
      const body = sizes[i % 8] < 0 ? null : Uint8Array.from({ length: sizes[i % 8] }, (_, j) => (seq * 31 + j) & 255)
      const extra = i % 8 === 6 ? ['x-note', 'café ✓ 日本 🎉'] : i % 8 === 7 ? ['x-big', 'x'.repeat(3000)] : []
      const message: Req = [REQUEST, seq, IDS[seq & 1023], 'POST', `${URL_}?n=${seq}`, [...HEADERS, ...extra], body, REMOTE]
      sent.push([...message.slice(0, 6), body?.slice() ?? null, REMOTE] as Req) // body is transferred by the send
      w.link.send(message)
    }
    if (!await until(() => got >= sent.length, 10_000)) break
  }
  const worker = await w.end()
  const s = w.link.stats
  process.stderr.write(`self-test ${transport}: ${got}/${sent.length} back, ${bad} wrong; main ${JSON.stringify(s)}; worker ${JSON.stringify(worker)}\n`)
  if (bad > 0 || got !== sent.length || worker.bad > 0) return `self-test ${transport}: ${bad + worker.bad} wrong, ${sent.length - got} missing`
  if (transport === 'sab-ring' && !(s.full > 0 && s.ported > 0 && worker.full > 0 && worker.ported > 0)) return 'self-test sab-ring: a full or fallback path went unused'
  return null
}

interface Sample { transport: Transport, c: number, round: number, trips: number, rtps: number, mainUs: number, workerUs: number, processUs: number, bad: number, stats: unknown }

/** One case: C requests in flight, a new one sent for each response. */
async function runCase (transport: Transport, c: number, round: number, warmupMs: number, durationMs: number): Promise<Sample> {
  const outstanding = new Set<number>()
  let seq = 0
  let trips = 0
  let bad = 0
  let stopping = false
  const sendOne = (): void => {
    outstanding.add(++seq)
    // A fresh headers array per request, as the HTTP parser makes (see answer()).
    w.link.send([REQUEST, seq, IDS[seq & 1023], 'GET', URL_, HEADERS.slice(), null, REMOTE])
  }
  const w = await start(transport, RING_BYTES, false, (batch) => {
    for (const m of batch) {
      trips++
      if (m[0] !== RESPONSE || !outstanding.delete(m[1]) || m[2] !== 200 || m[3] !== '' || !sameStrings(m[4], RES_HEADERS) || !sameBytes(m[5], HELLO)) bad++
      if (!stopping) sendOne()
    }
  })
  for (let i = 0; i < c; i++) sendOne()
  await sleep(warmupMs)
  w.post('mark')
  const t0 = performance.now()
  const main0 = process.threadCpuUsage()
  const process0 = process.cpuUsage()
  const trips0 = trips
  await sleep(durationMs)
  stopping = true
  if (!await until(() => outstanding.size === 0, 2000)) bad += outstanding.size
  const seconds = (performance.now() - t0) / 1000
  const main = process.threadCpuUsage(main0)
  const all = process.cpuUsage(process0)
  const worker = await w.end()
  const n = trips - trips0
  return {
    transport, c, round, trips: n, rtps: n / seconds, mainUs: (main.user + main.system) / n, workerUs: worker.cpuUs / n,
    processUs: (all.user + all.system) / n, bad: bad + worker.bad, stats: { main: w.link.stats, worker },
  }
}

const TRANSPORTS: Transport[] = ['postmessage', 'sab-ring']
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function parseOptions (): { rounds: number, durationMs: number, warmupMs: number, concurrency: number[], json: boolean } {
  const text = (fallback: string): { type: 'string', default: string } => ({ type: 'string', default: fallback })
  const { values } = parseArgs({
    options: { rounds: text('3'), duration: text('3'), warmup: text('0.5'), concurrency: text('1,16,64'), json: { type: 'boolean', default: false } },
  })
  const number = (name: string, raw: string, min: number, max: number, integer = false): number => {
    const n = Number(raw)
    if (n >= min && n <= max && (!integer || Number.isInteger(n))) return n
    process.stderr.write(`--${name}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got '${raw}'\n`)
    return process.exit(1)
  }
  return {
    rounds: number('rounds', values.rounds, 1, 100, true),
    durationMs: number('duration', values.duration, 0.1, 600) * 1000,
    warmupMs: number('warmup', values.warmup, 0, 60) * 1000,
    concurrency: values.concurrency.split(',').map(c => number('concurrency', c, 1, 4096, true)),
    json: values.json,
  }
}

/** Medians over rounds; a ratio is the median of the per-round ratios sab-ring/postmessage at the same C. */
function summarize (samples: Sample[], concurrency: number[], rounds: number): string {
  const rows = ['| C | transport | round trips/s (min–max) | main µs/rt | worker µs/rt |', '|--:|---|--:|--:|--:|']
  const count = (n: number): string => Math.round(n).toLocaleString('en-US')
  const speed: number[] = []
  const cpu: number[] = []
  for (const c of concurrency) {
    const [pm, sab] = TRANSPORTS.map(t => samples.filter(s => s.c === c && s.transport === t).sort((a, b) => a.round - b.round))
    for (const list of [pm, sab]) {
      const rtps = list.map(s => s.rtps)
      rows.push(`| ${c} | ${list[0].transport} | ${count(median(rtps))} (${count(Math.min(...rtps))}–${count(Math.max(...rtps))}) | ${median(list.map(s => s.mainUs)).toFixed(2)} | ${median(list.map(s => s.workerUs)).toFixed(2)} |`)
    }
    const ratio = (value: (s: Sample) => number): number => median(pm.map((s, i) => value(sab[i]) / value(s)))
    speed.push(ratio(s => s.rtps))
    cpu.push(ratio(s => s.mainUs + s.workerUs))
    rows.push(`| ${c} | sab/pm | ${speed[speed.length - 1].toFixed(2)}x | ${ratio(s => s.mainUs).toFixed(2)}x | ${ratio(s => s.workerUs).toFixed(2)}x |`)
  }
  const range = (list: number[]): string => `${Math.min(...list).toFixed(2)}x–${Math.max(...list).toFixed(2)}x`
  const at = (word: string, keep: (r: number) => boolean): string[] => {
    const cs = concurrency.filter((_, i) => keep(speed[i]))
    return cs.length === 0 ? [] : [`${word} ${cs.length === concurrency.length ? 'at every C' : `at C=${cs.join(',')}`}`]
  }
  const outcome = [...at('faster', r => r > 1.05), ...at('slower', r => r < 0.95), ...at('within 5%', r => r >= 0.95 && r <= 1.05)].join(', ')
  const bad = samples.reduce((n, s) => n + s.bad, 0)
  return `${rows.join('\n')}\n\nverdict: sab-ring is ${outcome}: ${range(speed)} the round trips/s of postmessage, ` +
    `${range(cpu)} its main+worker CPU per round trip (median of ${rounds} rounds); ${bad} wrong or missing responses\n`
}

async function main (): Promise<number> {
  const o = parseOptions()
  const problems: string[] = []
  for (const transport of TRANSPORTS) {
    const problem = await selfTest(transport)
    if (problem !== null) problems.push(problem)
  }
  const samples: Sample[] = []
  for (let round = 1; round <= o.rounds; round++) {
    for (const c of o.concurrency) {
      // Alternating the order, so neither transport always gets the warmer (or busier) machine.
      for (const transport of round % 2 === 1 ? TRANSPORTS : [...TRANSPORTS].reverse()) {
        const s = await runCase(transport, c, round, o.warmupMs, o.durationMs)
        samples.push(s)
        process.stderr.write(`round ${round} C=${c} ${transport}: ${Math.round(s.rtps)} rt/s, µs/rt main ${s.mainUs.toFixed(2)} worker ${s.workerUs.toFixed(2)} process ${s.processUs.toFixed(2)}\n`)
        if (s.bad > 0) problems.push(`round ${round} C=${c} ${transport}: ${s.bad} wrong or missing responses`)
      }
    }
  }
  const report = summarize(samples, o.concurrency, o.rounds)
  process.stdout.write(o.json ? JSON.stringify({ node: process.version, options: o, samples, report, problems }, null, 2) + '\n' : report)
  for (const problem of problems) process.stderr.write(`FAIL ${problem}\n`)
  return problems.length > 0 ? 1 : 0
}

if (!isMainThread) {
  serve()
} else {
  main().then(code => process.exit(code), (error: unknown) => {
    const usage = (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true
    process.stderr.write(`hop failed: ${error instanceof Error ? (usage ? error.message : error.stack) : String(error)}\n`)
    process.exit(1)
  })
}
