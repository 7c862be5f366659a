// The load generator used when wrk is not on PATH, run as a child process of its own:
//   node src/bench/load-generator.ts URL CONNECTIONS DURATION_MS TIMEOUT_MS [-]
// CONNECTIONS loops, each sending one request at a time over its own keep-alive connection (as wrk does),
// until DURATION_MS has passed. Prints the line report.lua prints for wrk: "WRK_JSON {…}", latencies in µs.
// Sends GET URL, or with "-" the request read as JSON from stdin: {"method","headers","body": base64 or null}.
// node:http, not undici: undici is only a dev dependency, and this ships with the CLI.
import { Agent, request, type OutgoingHttpHeaders } from 'node:http'

const [url, connectionsArg, durationArg, timeoutArg, requestArg] = process.argv.slice(2)
const connections = Number(connectionsArg)
const durationMs = Number(durationArg)
const timeoutMs = Number(timeoutArg)
const target = new URL(url)

interface RequestSpec { method: string, headers: Record<string, string>, body: string | null }
let method = 'GET'
const headers: OutgoingHttpHeaders = {}
let body: Buffer | undefined
if (requestArg === '-') {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RequestSpec
  method = spec.method
  Object.assign(headers, spec.headers)
  if (spec.body !== null) {
    body = Buffer.from(spec.body, 'base64')
    headers['content-length'] = body.byteLength
  }
}
const agent = new Agent({ keepAlive: true, maxSockets: connections })

const latenciesUs: number[] = []
const errors = { connect: 0, read: 0, write: 0, status: 0, timeout: 0 }
const started = performance.now()
const deadline = started + durationMs

const TIMED_OUT = 'BENCH_TIMEOUT'

function classify (error: { code?: string }): void {
  const code = error.code ?? ''
  if (code === TIMED_OUT) errors.timeout++
  else if (code === 'ECONNREFUSED') errors.connect++
  else if (code === 'ECONNRESET' || code === 'EPIPE') errors.read++
  else errors.write++
}

/** One request, the answer's body read to the end; resolves with the status. */
function send (): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(target, { agent, method, headers }, (res) => {
      res.on('data', () => {})
      res.once('end', () => resolve(res.statusCode ?? 0))
      res.once('error', reject)
    })
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: TIMED_OUT })))
    req.once('error', reject)
    req.end(body)
  })
}

async function loop (): Promise<void> {
  while (performance.now() < deadline) {
    const t0 = performance.now()
    try {
      const status = await send()
      latenciesUs.push((performance.now() - t0) * 1000)
      if (status < 200 || status > 399) errors.status++
    } catch (error) {
      classify(error as { code?: string })
      // Do not spin on a refused connection.
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }
}

await Promise.all(Array.from({ length: connections }, loop))
const elapsedUs = (performance.now() - started) * 1000
agent.destroy()
latenciesUs.sort((a, b) => a - b)
const at = (q: number): number => latenciesUs.length === 0 ? 0 : Math.round(latenciesUs[Math.min(latenciesUs.length - 1, Math.floor(q * latenciesUs.length))])
process.stdout.write('WRK_JSON ' + JSON.stringify({
  duration_us: Math.round(elapsedUs),
  requests: latenciesUs.length,
  err_connect: errors.connect,
  err_read: errors.read,
  err_write: errors.write,
  err_status: errors.status,
  err_timeout: errors.timeout,
  lat_max_us: at(1),
  p50_us: at(0.5),
  p90_us: at(0.9),
  p99_us: at(0.99),
}) + '\n')
