// nginx in front of warmgate, two ways, in the same run:
//   FastCGI     nginx `fastcgi_pass` (fastcgi_keep_conn on, upstream keepalive) → warmgate's FastCGI responder
//   HTTP proxy  nginx `proxy_pass` (HTTP/1.1, upstream keepalive)                → warmgate's HTTP listener
// Both go to ONE gateway process (the hello app, warm, 1 worker), so the only difference is the wire
// between nginx and the gateway. Same load settings for both, interleaved rounds (FastCGI first in odd
// rounds, HTTP first in even ones); the ratio FastCGI / HTTP is taken within each round, and the median
// reported. Target: FastCGI ≥ 0.9 × HTTP proxy.
//
//   npm run bench:fastcgi -- [--rounds 3] [--duration 7] [--warmup 1] [--connections 16] [--cpu-prof]
//
// wrk when it is on PATH, else the Node load generator (src/bench/load.ts). Only 127.0.0.1; nginx runs in
// the foreground from a generated config in a temp dir (removed at the end); every child is stopped by pid.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { pickLoadGenerator, runLoad, type LoadReport } from '../src/bench/load.ts'
import { BenchFailure, intOption, runBench } from './lib/args.ts'
import { stopChild, track } from './lib/children.ts'
import { startServerProcess } from './lib/gateway-process.ts'
import { freePort } from './lib/lighttpd.ts'
import { ensureNginx } from './lib/nginx.ts'
import { median, table } from './lib/stats.ts'

const SERVE = fileURLToPath(new URL('./lib/serve.ts', import.meta.url))
const TARGET = 0.9
const EXPECTED_BODY = 'Hello, world!'

const PARAMS = [
  'QUERY_STRING $query_string', 'REQUEST_METHOD $request_method', 'CONTENT_TYPE $content_type',
  'CONTENT_LENGTH $content_length', 'SCRIPT_NAME $fastcgi_script_name', 'REQUEST_URI $request_uri',
  'DOCUMENT_URI $document_uri', 'SERVER_PROTOCOL $server_protocol', 'REQUEST_SCHEME $scheme',
  'GATEWAY_INTERFACE CGI/1.1', 'REMOTE_ADDR $remote_addr', 'REMOTE_PORT $remote_port',
  'SERVER_ADDR $server_addr', 'SERVER_PORT $server_port', 'SERVER_NAME $server_name',
].map(line => `fastcgi_param ${line};`).join(' ')

interface Options { rounds: number, durationS: number, warmupS: number, connections: number, cpuProf: boolean }

function parseOptions (): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '7' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '16' },
      'cpu-prof': { type: 'boolean', default: false },
    },
    strict: true,
  })
  return {
    rounds: intOption('rounds', values.rounds, 1, 10),
    durationS: intOption('duration', values.duration, 1, 30),
    warmupS: intOption('warmup', values.warmup, 0, 10),
    connections: intOption('connections', values.connections, 1, 256),
    cpuProf: values['cpu-prof'],
  }
}

/** nginx with one server per path to the gateway; worker_processes 1, like the gateway's one worker. */
async function startFrontNginx (binary: string, prefix: string, ports: { fastcgi: number, http: number, viaFastcgi: number, viaHttp: number }): Promise<() => Promise<void>> {
  mkdirSync(prefix, { recursive: true })
  const p = (name: string): string => JSON.stringify(join(prefix, name))
  const conf = join(prefix, 'nginx.conf')
  writeFileSync(conf, [
    'daemon off;', process.getuid?.() === 0 ? 'user root;' : '', 'worker_processes 1;',
    `pid ${p('nginx.pid')};`, `error_log ${p('error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(name => `  ${name}_temp_path ${p(name)};`),
    '  keepalive_requests 1000000;',
    `  upstream wg_fastcgi { server 127.0.0.1:${ports.fastcgi}; keepalive 32; }`,
    `  upstream wg_http { server 127.0.0.1:${ports.http}; keepalive 32; }`,
    `  server { listen 127.0.0.1:${ports.viaFastcgi}; location / { ${PARAMS} fastcgi_keep_conn on; fastcgi_pass wg_fastcgi; } }`,
    `  server { listen 127.0.0.1:${ports.viaHttp}; location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://wg_http; } }`,
    '}', '',
  ].join('\n'))
  const child = track(spawn(binary, ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf], { stdio: 'ignore' }))
  const stop = async (): Promise<void> => stopChild(child, 5000)
  const deadline = performance.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited during start-up:\n${readFileSync(join(prefix, 'error.log'), 'utf8')}`)
    try {
      const res = await fetch(`http://127.0.0.1:${ports.viaHttp}/hello`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      return stop
    } catch {}
    if (performance.now() > deadline) {
      await stop()
      throw new Error('nginx did not answer within 10 s')
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

async function check (url: string, label: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  const body = await res.text()
  if (res.status !== 200 || body !== EXPECTED_BODY) throw new BenchFailure(`${label}: GET ${url} answered ${res.status} ${JSON.stringify(body.slice(0, 200))}`)
}

async function main (): Promise<number> {
  const options = parseOptions()
  const out = (line = ''): void => { process.stdout.write(`${line}\n`) }
  const nginx = ensureNginx(out)
  const generator = pickLoadGenerator()
  const dir = mkdtempSync(join(tmpdir(), 'wg-bench-fastcgi-'))
  try {
    const ports = { fastcgi: await freePort(), http: 0, viaFastcgi: await freePort(), viaHttp: await freePort() }
    const profDir = options.cpuProf ? join(process.cwd(), 'bench-profiles', `fastcgi-${Date.now()}`) : undefined
    const gateway = await startServerProcess(SERVE, ['--app', 'hello', '--mode', 'warm', '--min', '1', '--max', '1', '--log-level', 'warn', '--fastcgi', `127.0.0.1:${ports.fastcgi}`], profDir)
    ports.http = Number(new URL(gateway.url).port)
    const stopNginx = await startFrontNginx(nginx.binary, join(dir, 'nginx'), ports)
    const paths = { FastCGI: `http://127.0.0.1:${ports.viaFastcgi}/hello`, 'HTTP proxy': `http://127.0.0.1:${ports.viaHttp}/hello` }
    try {
      for (const [label, url] of Object.entries(paths)) await check(url, label)
      out(`nginx → warmgate (hello, warm, 1 worker), ${nginx.version}, ${generator === 'wrk' ? 'wrk' : 'node load generator'}: ` +
        `${options.connections} connections, ${options.warmupS} s warm-up + ${options.durationS} s per run, ${options.rounds} rounds`)
      const results: Array<{ round: number, path: string, report: LoadReport }> = []
      for (let round = 1; round <= options.rounds; round++) {
        const order = round % 2 === 1 ? ['FastCGI', 'HTTP proxy'] : ['HTTP proxy', 'FastCGI']
        for (const path of order) {
          const url = paths[path as keyof typeof paths]
          const settings = { connections: options.connections, timeoutMs: 5000 }
          if (options.warmupS > 0) await runLoad(generator, url, { ...settings, durationMs: options.warmupS * 1000 })
          const report = await runLoad(generator, url, { ...settings, durationMs: options.durationS * 1000 })
          results.push({ round, path, report })
          const rps = report.requests / (report.durationMs / 1000)
          const errors = Object.values(report.errors).reduce((a, b) => a + b, 0)
          out(`  round ${round} ${path.padEnd(10)} ${rps.toFixed(0).padStart(7)} req/s  p50 ${report.p50Ms.toFixed(2)} ms  p99 ${report.p99Ms.toFixed(2)} ms  errors ${errors}`)
        }
      }
      const rpsOf = (round: number, path: string): number => {
        const r = results.find(x => x.round === round && x.path === path)?.report as LoadReport
        return r.requests / (r.durationMs / 1000)
      }
      const ratios = Array.from({ length: options.rounds }, (_, i) => rpsOf(i + 1, 'FastCGI') / rpsOf(i + 1, 'HTTP proxy'))
      const rows = [['path', '', 'req/s (median)', 'p50 ms', 'p99 ms', 'errors']]
      for (const path of Object.keys(paths)) {
        const mine = results.filter(r => r.path === path)
        rows.push([path, '', median(mine.map(r => r.report.requests / (r.report.durationMs / 1000))).toFixed(0),
          median(mine.map(r => r.report.p50Ms)).toFixed(2), median(mine.map(r => r.report.p99Ms)).toFixed(2),
          String(mine.reduce((sum, r) => sum + Object.values(r.report.errors).reduce((a, b) => a + b, 0), 0))])
      }
      out()
      out(table(rows))
      const ratio = median(ratios)
      out()
      out(`FastCGI / HTTP proxy, per round: ${ratios.map(r => r.toFixed(3)).join(', ')}; median ${ratio.toFixed(3)}`)
      out(`Target FastCGI ≥ ${TARGET} × HTTP proxy: ${ratio >= TARGET ? 'met' : 'MISSED'}`)
      if (profDir !== undefined) out(`CPU profile of the gateway process in ${profDir} (written when it exits)`)
      const errors = results.reduce((sum, r) => sum + Object.values(r.report.errors).reduce((a, b) => a + b, 0), 0)
      return errors === 0 ? 0 : 1
    } finally {
      await stopNginx()
      await gateway.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await runBench('bench:fastcgi', main)
