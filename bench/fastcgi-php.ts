// warmgate → php-fpm vs nginx → php-fpm (target ≥ 0.6×, docs/benchmarking.md), in one run.
//
//   npm run bench:php -- [--rounds 2] [--duration 5] [--warmup 1] [--connections 4] [--children 4]
//
// One php-fpm (pm = static, --children workers, unix socket in a temp dir) runs bench/apps/php/hello.php
// for both front ends, one at a time, in alternating order each round:
//   warmgate  the CLI (`warmgate start`) with a fastcgi app on `/`, maxConnections = children
//   nginx     one worker, `fastcgi_pass` to an upstream with `keepalive` = children and
//             `fastcgi_keep_conn on`, nginx's own fastcgi_params and `fastcgi_split_path_info`
//   ceiling   the same warmgate process answering apps/hello.ts inline (no backend at all): what the
//             gateway's HTTP side alone allows, to tell its cost from the FastCGI client's
// The same load (wrk when present, else the Node generator; --connections ≤ children, since php-fpm gives
// a kept connection a whole child) against GET /hello.php. The ratio is taken within a round; the median
// is reported, with each side's CPU per request (front end and php-fpm measured apart).
// Only 127.0.0.1 and a unix socket; every child is ours, in the foreground, stopped by pid.
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, globSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { pickLoadGenerator, runLoad, type LoadReport } from '../src/bench/load.ts'
import { BenchFailure, intOption, runBench } from './lib/args.ts'
import { stopChild, track } from './lib/children.ts'
import { startCliGateway } from './lib/cli-gateway.ts'
import { nodeBinary } from './lib/gateway-process.ts'
import { freePort } from './lib/lighttpd.ts'
import { ensureNginx } from './lib/nginx.ts'
import { readTreeCpu } from './lib/proc-tree.ts'

const HELLO = fileURLToPath(new URL('./apps/php/hello.php', import.meta.url))
const HELLO_TS = fileURLToPath(new URL('../apps/hello.ts', import.meta.url))
const BODY = 'Hello from PHP\n'
const TARGET = 0.6

interface Front { url: string, pid: number, stop: () => Promise<void> }
type FrontName = 'warmgate' | 'nginx' | 'ceiling'
interface Run { front: FrontName, round: number, report: LoadReport, rps: number, frontCpuUs: number, fpmCpuUs: number }

function options (): { rounds: number, durationS: number, warmupS: number, connections: number, children: number } {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '2' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '4' },
      children: { type: 'string', default: '4' },
    },
    strict: true,
  })
  const children = intOption('children', values.children, 1, 64)
  const connections = intOption('connections', values.connections, 1, children)
  return { rounds: intOption('rounds', values.rounds, 1, 10), durationS: intOption('duration', values.duration, 1, 20), warmupS: intOption('warmup', values.warmup, 0, 5), connections, children }
}

function phpFpmBinary (): string {
  const found = [...globSync('/usr/sbin/php-fpm*'), ...globSync('/usr/bin/php-fpm*')].sort().at(-1)
  if (found === undefined) throw new BenchFailure('php-fpm is not installed (/usr/sbin/php-fpm*): apt-get install -y php-fpm, then run the bench again')
  return found
}

async function startPhpFpm (dir: string, children: number): Promise<{ socket: string, pid: number, stop: () => Promise<void> }> {
  const socket = join(dir, 'php-fpm.sock')
  const config = join(dir, 'php-fpm.conf')
  writeFileSync(config, [
    '[global]', `pid = ${join(dir, 'php-fpm.pid')}`, `error_log = ${join(dir, 'php-fpm.log')}`, 'daemonize = no',
    '[www]', `listen = ${socket}`, 'pm = static', `pm.max_children = ${children}`, 'clear_env = yes', '',
  ].join('\n'))
  const args = ['-F', '-n', '-d', 'opcache.enable=1', '-y', config, '-p', dir]
  if (process.getuid?.() === 0) args.push('-R')
  const child = track(spawn(phpFpmBinary(), args, { stdio: 'ignore' }))
  const deadline = performance.now() + 10_000
  while (!existsSync(socket)) {
    if (child.exitCode !== null) throw new BenchFailure(`php-fpm exited with ${child.exitCode}; see ${join(dir, 'php-fpm.log')}`)
    if (performance.now() > deadline) throw new BenchFailure('php-fpm did not create its socket within 10 s')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return { socket, pid: child.pid as number, stop: async () => stopChild(child, 3000) }
}

async function startWarmgate (dir: string, socket: string, docroot: string, children: number): Promise<Front> {
  const config = join(dir, 'gateway.config.mjs')
  writeFileSync(config, `export default ${JSON.stringify({ apps: { php: { route: '/', fastcgi: `unix:${socket}`, root: docroot, maxConnections: children }, hello: { route: '/hello', entry: HELLO_TS, mode: 'inline' } } })}\n`)
  const server = await startCliGateway({ node: nodeBinary(), config, logLevel: 'warn', env: process.env })
  return { url: server.url, pid: server.pid, stop: server.stop }
}

function nginxConfig (prefix: string, docroot: string, socket: string, port: number, children: number): string {
  const p = (name: string): string => JSON.stringify(join(prefix, name))
  // nginx's own /etc/nginx/fastcgi_params, written out so the run does not depend on the system's copy.
  const params = ['QUERY_STRING $query_string', 'REQUEST_METHOD $request_method', 'CONTENT_TYPE $content_type', 'CONTENT_LENGTH $content_length',
    'SCRIPT_NAME $fastcgi_script_name', 'REQUEST_URI $request_uri', 'DOCUMENT_URI $document_uri', 'DOCUMENT_ROOT $document_root',
    'SERVER_PROTOCOL $server_protocol', 'REQUEST_SCHEME $scheme', 'HTTPS $https if_not_empty', 'GATEWAY_INTERFACE CGI/1.1',
    'SERVER_SOFTWARE nginx/$nginx_version', 'REMOTE_ADDR $remote_addr', 'REMOTE_PORT $remote_port', 'SERVER_ADDR $server_addr',
    'SERVER_PORT $server_port', 'SERVER_NAME $server_name', 'REDIRECT_STATUS 200',
    'SCRIPT_FILENAME $document_root$fastcgi_script_name', 'PATH_INFO $fastcgi_path_info']
  return [
    'daemon off;', 'worker_processes 1;',
    // As root nginx's worker would run as nobody, which cannot enter the 0700 temp dir holding the socket.
    ...(process.getuid?.() === 0 ? ['user root;'] : []), `pid ${p('nginx.pid')};`, `error_log ${p('error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {', '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(name => `  ${name}_temp_path ${p(name)};`),
    '  keepalive_requests 1000000;',
    `  upstream php { server unix:${socket}; keepalive ${children}; }`,
    '  server {', `    listen 127.0.0.1:${port};`, `    root ${JSON.stringify(docroot)};`,
    '    location ~ [^/]\\.php(/|$) {',
    '      fastcgi_split_path_info ^(.+?\\.php)(/.*)$;',
    ...params.map(param => `      fastcgi_param ${param};`),
    '      fastcgi_keep_conn on;', '      fastcgi_pass php;',
    '    }', '  }', '}', '',
  ].join('\n')
}

async function startNginxFront (dir: string, socket: string, docroot: string, children: number): Promise<Front> {
  const nginx = ensureNginx(line => process.stdout.write(`${line}\n`))
  const prefix = join(dir, `nginx-${Math.random().toString(36).slice(2)}`)
  mkdirSync(prefix, { recursive: true })
  const port = await freePort()
  const config = join(prefix, 'nginx.conf')
  writeFileSync(config, nginxConfig(prefix, docroot, socket, port, children))
  const base = ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', config]
  const test = spawnSync(nginx.binary, ['-t', '-q', ...base], { encoding: 'utf8', timeout: 10_000 })
  if (test.status !== 0) throw new BenchFailure(`nginx rejects the generated config: ${test.stderr}`)
  const child = track(spawn(nginx.binary, base, { stdio: 'ignore' }))
  const url = `http://127.0.0.1:${port}`
  const deadline = performance.now() + 10_000
  for (;;) {
    try {
      await (await fetch(`${url}/hello.php`, { signal: AbortSignal.timeout(1000) })).arrayBuffer()
      break
    } catch {}
    if (child.exitCode !== null || performance.now() > deadline) throw new BenchFailure(`nginx did not answer on ${url}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const stop = async (): Promise<void> => stopChild(child, 5000)
  try {
    await check(`${url}/hello.php`, 'nginx')
  } catch (error) {
    await stop()
    throw new BenchFailure(`${(error as Error).message}\n--- nginx error.log ---\n${readFileSync(join(prefix, 'error.log'), 'utf8').slice(-2000)}`)
  }
  return { url, pid: child.pid as number, stop }
}

async function check (url: string, name: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  if (res.status !== 200 || text !== BODY) throw new BenchFailure(`${name}: GET ${url} answered ${res.status} ${JSON.stringify(text.slice(0, 200))}, expected 200 ${JSON.stringify(BODY)}`)
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function main (): Promise<number> {
  const o = options()
  const generator = pickLoadGenerator()
  const dir = mkdtempSync(join(tmpdir(), 'wg-bench-php-'))
  const docroot = join(dir, 'www')
  mkdirSync(docroot)
  copyFileSync(HELLO, join(docroot, 'hello.php'))
  process.stdout.write(`bench:php  load: ${generator} -c${o.connections}, ${o.durationS}s (+${o.warmupS}s warm-up) × ${o.rounds} rounds; php-fpm pm=static ×${o.children}\n`)
  const fpm = await startPhpFpm(dir, o.children)
  const runs: Run[] = []
  try {
    for (let round = 1; round <= o.rounds; round++) {
      const order: FrontName[] = round % 2 === 1 ? ['warmgate', 'nginx', 'ceiling'] : ['ceiling', 'nginx', 'warmgate']
      for (const name of order) {
        const front = name === 'nginx' ? await startNginxFront(dir, fpm.socket, docroot, o.children) : await startWarmgate(dir, fpm.socket, docroot, o.children)
        try {
          const url = name === 'ceiling' ? `${front.url}/hello` : `${front.url}/hello.php`
          if (name === 'ceiling') {
            const res = await fetch(url)
            if (res.status !== 200) throw new BenchFailure(`ceiling: GET ${url} answered ${res.status}`)
            await res.arrayBuffer()
          } else await check(url, name)
          if (o.warmupS > 0) await runLoad(generator, url, { connections: o.connections, durationMs: o.warmupS * 1000, timeoutMs: 5000 })
          const cpu0 = [readTreeCpu(front.pid) ?? 0, readTreeCpu(fpm.pid) ?? 0]
          const report = await runLoad(generator, url, { connections: o.connections, durationMs: o.durationS * 1000, timeoutMs: 5000 })
          const cpu1 = [readTreeCpu(front.pid) ?? 0, readTreeCpu(fpm.pid) ?? 0]
          const errors = report.errors.non2xx + report.errors.timeouts + report.errors.resets + report.errors.other
          if (errors > 0) throw new BenchFailure(`${name}: ${errors} failed requests (${JSON.stringify(report.errors)})`)
          const perRequest = (seconds: number): number => seconds / Math.max(1, report.requests) * 1e6
          const run: Run = { front: name, round, report, rps: report.requests / (report.durationMs / 1000), frontCpuUs: perRequest(cpu1[0] - cpu0[0]), fpmCpuUs: perRequest(cpu1[1] - cpu0[1]) }
          runs.push(run)
          process.stdout.write(`  round ${round} ${name.padEnd(8)} ${run.rps.toFixed(0).padStart(7)} req/s  p50 ${report.p50Ms.toFixed(2)} ms  p99 ${report.p99Ms.toFixed(2)} ms  CPU/req: front ${run.frontCpuUs.toFixed(0)} µs, php-fpm ${run.fpmCpuUs.toFixed(0)} µs\n`)
        } finally {
          await front.stop()
        }
      }
    }
  } finally {
    await fpm.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  const ratios = Array.from({ length: o.rounds }, (_, i) => {
    const of = (name: string): number => runs.find(run => run.round === i + 1 && run.front === name)?.rps ?? Number.NaN
    return of('warmgate') / of('nginx')
  })
  const ratio = median(ratios)
  const side = (name: string): Run[] => runs.filter(run => run.front === name)
  for (const name of ['warmgate', 'nginx', 'ceiling']) {
    const r = side(name)
    process.stdout.write(`${name.padEnd(8)} median ${median(r.map(x => x.rps)).toFixed(0)} req/s, front CPU ${median(r.map(x => x.frontCpuUs)).toFixed(0)} µs/req, php-fpm CPU ${median(r.map(x => x.fpmCpuUs)).toFixed(0)} µs/req\n`)
  }
  const ceiling = median(side('ceiling').map(x => x.rps)) / median(side('nginx').map(x => x.rps))
  process.stdout.write(`ceiling (warmgate inline hello, no backend) / nginx → php-fpm: ${ceiling.toFixed(2)}×\n`)
  process.stdout.write(`warmgate / nginx: ${ratio.toFixed(2)}× (rounds: ${ratios.map(x => x.toFixed(2)).join(', ')}); target ≥ ${TARGET}× — ${ratio >= TARGET ? 'met' : 'MISSED'}\n`)
  return 0
}

void runBench('bench:php', main)
