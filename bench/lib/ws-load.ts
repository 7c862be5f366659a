// The WebSocket load of bench/node-apps.ts, in a process of its own: `--connections` clients, each sending a
// 32-byte text message and waiting for its echo before the next (a closed loop), for `--duration` seconds
// after a `--warmup`. Prints one JSON line: {"messages":N,"seconds":S,"p50Ms":…,"p99Ms":…,"errors":N}.
//   node bench/lib/ws-load.ts --url ws://127.0.0.1:PORT/path --connections 50 --duration 5 --warmup 1
import { parseArgs } from 'node:util'
import { WebSocket } from 'ws'

const { values } = parseArgs({ options: { url: { type: 'string' }, connections: { type: 'string', default: '50' }, duration: { type: 'string', default: '5' }, warmup: { type: 'string', default: '1' } }, strict: true })
const url = values.url ?? ''
const connections = Number(values.connections)
const durationMs = Number(values.duration) * 1000
const warmupMs = Number(values.warmup) * 1000
const MESSAGE = 'x'.repeat(32)

let measuring = false
let stopped = false
let messages = 0
let errors = 0
// Latencies in tenths of a millisecond, counted: a histogram, not an array that grows for the whole run.
const histogram = new Uint32Array(100_000)

function client (): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    let sentAt = 0
    const send = (): void => {
      if (stopped) { ws.close(); return }
      sentAt = performance.now()
      ws.send(MESSAGE)
    }
    ws.on('open', send)
    ws.on('message', () => {
      if (measuring) {
        messages++
        histogram[Math.min(histogram.length - 1, Math.round((performance.now() - sentAt) * 10))]++
      }
      send()
    })
    ws.on('error', () => { errors++ })
    ws.on('close', () => resolve())
  })
}

function percentile (p: number): number {
  const target = Math.ceil(messages * p)
  let seen = 0
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]
    if (seen >= target) return i / 10
  }
  return Number.NaN
}

const done = Promise.all(Array.from({ length: connections }, client))
setTimeout(() => { measuring = true }, warmupMs)
const started = performance.now() + warmupMs
setTimeout(() => { stopped = true }, warmupMs + durationMs)
// Bounded: a server that stops answering must not hold the bench.
setTimeout(() => process.exit(2), warmupMs + durationMs + 10_000).unref()
await done
process.stdout.write(JSON.stringify({ messages, seconds: (performance.now() - started) / 1000, p50Ms: percentile(0.5), p99Ms: percentile(0.99), errors }) + '\n')
