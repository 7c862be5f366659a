// Streaming benchmark: warm vs inline on streamed responses.
//
//   npm run bench:stream -- [--rounds 3] [--ttfb-requests 40] [--mb 100] [--cpu-prof]
//
// Each round starts a fresh gateway process per mode (bench/lib/serve.ts --app stream, 127.0.0.1, port 0)
// and measures, from this process over one keep-alive connection:
//   - TTFB: time from sending the request to the first body byte of /stream/ttfb (the handler sends a
//     first chunk at once and ends ~50 ms later), median over the requests of the round;
//   - throughput: one --mb MB body of /stream/bulk (64 KiB chunks, made as the gateway pulls), MB/s.
// Ratios warm/inline are taken within a round; the report shows their medians against the targets:
// TTFB warm <= 2 x inline, throughput warm >= 0.5 x inline. Bounded: at most 10 rounds, 1000 MB.
// Exit code: 0 with a report (targets missed or not), 1 when the bench itself failed.
import { parseArgs } from 'node:util'
import { Client } from 'undici'
import { BenchFailure, intOption, runBench } from './lib/args.ts'
import { startGateway } from './lib/gateway-process.ts'
import { median, table } from './lib/stats.ts'

const MODES = ['inline', 'warm'] as const
type Mode = typeof MODES[number]
const MB = 1024 * 1024
/** No single exchange may take longer than this (a stuck stream fails the bench instead of hanging it). */
const EXCHANGE_LIMIT_MS = 60_000

interface Round { ttfbMs: Record<Mode, number>, mbPerS: Record<Mode, number> }

function options (): { rounds: number, requests: number, mb: number, cpuProfDir?: string } {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      'ttfb-requests': { type: 'string', default: '40' },
      mb: { type: 'string', default: '100' },
      'cpu-prof': { type: 'boolean', default: false },
    },
    strict: true,
  })
  return {
    rounds: intOption('rounds', values.rounds, 1, 10),
    requests: intOption('ttfb-requests', values['ttfb-requests'], 5, 500),
    mb: intOption('mb', values.mb, 1, 1000),
    cpuProfDir: values['cpu-prof'] ? `${process.cwd()}/bench-profiles/stream-${Date.now()}` : undefined,
  }
}

function bounded<T> (label: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchFailure(`${label} took over ${EXCHANGE_LIMIT_MS} ms`)), EXCHANGE_LIMIT_MS)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

/** Median time to the first body byte, and checks that the whole body arrived. */
async function ttfb (client: Client, requests: number): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < requests; i++) {
    const started = performance.now()
    const res = await bounded('a TTFB request', client.request({ path: '/stream/ttfb', method: 'GET' }))
    let first: number | undefined
    let text = ''
    for await (const chunk of res.body) {
      first ??= performance.now() - started
      text += (chunk as Buffer).toString()
    }
    if (res.statusCode !== 200 || text !== 'first chunk\nlast chunk\n') throw new BenchFailure(`/stream/ttfb answered ${res.statusCode}: ${text.slice(0, 80)}`)
    times.push(first as number)
  }
  return median(times)
}

/** MB/s of one streamed body of `mb` MB, read to the end. */
async function throughput (client: Client, mb: number): Promise<number> {
  const started = performance.now()
  const res = await bounded('the bulk request', client.request({ path: `/stream/bulk?mb=${mb}`, method: 'GET' }))
  let bytes = 0
  await bounded('reading the bulk body', (async () => { for await (const chunk of res.body) bytes += (chunk as Buffer).byteLength })())
  const seconds = (performance.now() - started) / 1000
  if (res.statusCode !== 200 || bytes !== mb * MB) throw new BenchFailure(`/stream/bulk answered ${res.statusCode} with ${bytes} of ${mb * MB} bytes`)
  return mb / seconds
}

async function measure (mode: Mode, requests: number, mb: number, cpuProfDir: string | undefined): Promise<{ ttfbMs: number, mbPerS: number }> {
  const gateway = await startGateway({ app: 'stream', mode, workers: mode === 'warm' ? { min: 1, max: 1 } : undefined, logLevel: 'warn', cpuProfDir })
  const client = new Client(gateway.url)
  try {
    await ttfb(client, 3) // warm-up, not counted
    await throughput(client, Math.min(mb, 10))
    return { ttfbMs: await ttfb(client, requests), mbPerS: await throughput(client, mb) }
  } finally {
    await client.close()
    await gateway.stop()
  }
}

async function main (): Promise<number> {
  const { rounds, requests, mb, cpuProfDir } = options()
  const out = (line: string): void => { process.stdout.write(`${line}\n`) }
  out(`bench:stream: ${rounds} round(s), TTFB median of ${requests} requests, ${mb} MB bulk body, warm with 1 worker`)
  const results: Round[] = []
  for (let round = 1; round <= rounds; round++) {
    const r: Round = { ttfbMs: { inline: 0, warm: 0 }, mbPerS: { inline: 0, warm: 0 } }
    for (const mode of MODES) {
      const m = await measure(mode, requests, mb, cpuProfDir)
      r.ttfbMs[mode] = m.ttfbMs
      r.mbPerS[mode] = m.mbPerS
    }
    results.push(r)
    out(`  round ${round}: TTFB inline ${r.ttfbMs.inline.toFixed(2)} ms, warm ${r.ttfbMs.warm.toFixed(2)} ms; ${mb} MB inline ${r.mbPerS.inline.toFixed(0)} MB/s, warm ${r.mbPerS.warm.toFixed(0)} MB/s`)
  }
  const ttfbRatio = median(results.map(r => r.ttfbMs.warm / r.ttfbMs.inline))
  const throughputRatio = median(results.map(r => r.mbPerS.warm / r.mbPerS.inline))
  out('')
  out(table([
    ['metric', 'inline', 'warm', 'warm/inline', 'target', 'met'],
    ['TTFB ms (median)', median(results.map(r => r.ttfbMs.inline)).toFixed(2), median(results.map(r => r.ttfbMs.warm)).toFixed(2), ttfbRatio.toFixed(2), '<= 2.00', ttfbRatio <= 2 ? 'yes' : 'NO'],
    [`${mb} MB MB/s (median)`, median(results.map(r => r.mbPerS.inline)).toFixed(0), median(results.map(r => r.mbPerS.warm)).toFixed(0), throughputRatio.toFixed(2), '>= 0.50', throughputRatio >= 0.5 ? 'yes' : 'NO'],
  ]))
  if (cpuProfDir !== undefined) out(`\nCPU profiles (profiling slows the runs): ${cpuProfDir} (node bench/lib/profile-summary.ts ${cpuProfDir})`)
  return 0
}

await runBench('bench:stream', main)
