// What bench/peers.ts needs besides the servers themselves: the peers' programs (found, installed with
// apt-get, or npm-installed into a scratch dir), their files in a temp dir, and the facts about the machine
// printed above the tables.
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bigBody } from '../../apps/big.ts'
import { nodeBinary } from './gateway-process.ts'
import { ensureLighttpd, type Lighttpd } from './lighttpd.ts'
import { ensureNginx, type Nginx } from './nginx.ts'
import { ensurePeerPackages, PEER_PACKAGES, type PeerPackages } from './peer-packages.ts'
import { SCRATCH_PEERS, type Skipped, type Workload } from './peers-report.ts'
import { wrkVersion } from './wrk.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const HELLO_CGI = join(ROOT, 'apps/cgi-bin/hello.sh')
const APP_ENTRIES = { hello: join(ROOT, 'apps/hello.ts'), cpu: join(ROOT, 'apps/cpu.ts'), io: join(ROOT, 'apps/io.ts'), big: join(ROOT, 'apps/big.ts') }

/** What the peers need besides themselves: found (or installed) once, before the first round. */
export interface Setup {
  dir: string
  cgiDocroot: string
  staticRoot: string
  lighttpd?: Lighttpd
  nginx?: Nginx
  /** srvx, @hono/node-server and Watt, from the scratch dir. */
  packages?: PeerPackages
  /** Per workload: the config file `warmgate start --processes 2` runs (that app alone, warm, 1 worker a process). */
  cliConfigs: Partial<Record<Workload['name'], string>>
  /** The same with the app inline: each process answers on its own event loop, as each Watt worker does. */
  cliInlineConfigs: Partial<Record<Workload['name'], string>>
  profRoot?: string
}

export function fastifyVersion (): string | undefined {
  try {
    return (JSON.parse(readFileSync(fileURLToPath(import.meta.resolve('fastify/package.json')), 'utf8')) as { version: string }).version
  } catch {
    return undefined
  }
}

/** Finds every peer's program (installing lighttpd/nginx when missing); what cannot be had is skipped. */
export function prepare (workloads: Workload[], options: { cpuProf: boolean }, out: (line: string) => void): { setup: Setup, skipped: Skipped[] } {
  const wanted = new Set(workloads.flatMap(w => w.peers))
  const skipped: Skipped[] = []
  const dir = mkdtempSync(join(tmpdir(), 'warmgate-peers-'))
  // nginx started as root serves from an unprivileged worker (www-data): it must be able to enter the dir.
  chmodSync(dir, 0o755)
  const setup: Setup = { dir, cgiDocroot: join(dir, 'cgi-docroot'), staticRoot: join(dir, 'static'), cliConfigs: {}, cliInlineConfigs: {} }
  if (options.cpuProf) setup.profRoot = join(ROOT, `bench/results/profiles/peers-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  if ((wanted.has('fastify') || wanted.has('fastify native')) && fastifyVersion() === undefined) {
    const reason = 'the fastify package is not installed (npm install: it is a devDependency)'
    skipped.push({ peer: 'fastify', reason }, { peer: 'fastify native', reason })
  }
  if (SCRATCH_PEERS.some(p => wanted.has(p))) {
    try {
      setup.packages = ensurePeerPackages(out)
    } catch (error) {
      for (const peer of SCRATCH_PEERS) if (wanted.has(peer)) skipped.push({ peer, reason: (error as Error).message })
    }
  }
  for (const w of workloads) {
    if (w.peers.includes('warmgate --processes 2 inline')) {
      const file = join(dir, `cli-${w.name}-inline.config.mjs`)
      writeFileSync(file, `export default { apps: { ${w.name}: { route: '/${w.name}', entry: ${JSON.stringify(APP_ENTRIES[w.name])}, mode: 'inline' } } }\n`)
      setup.cliInlineConfigs[w.name] = file
    }
    if (!w.peers.includes('warmgate --processes 2')) continue
    // The CLI as users start it, from a config: the workload's app alone, as serve.ts mounts it. One worker
    // thread per process, as in bench:processes: two processes then run two handler threads in all, as
    // Watt with 2 workers does (with 2 each, four threads and two main threads share the two cores).
    const file = join(dir, `cli-${w.name}.config.mjs`)
    writeFileSync(file, `export default { apps: { ${w.name}: { route: '/${w.name}', entry: ${JSON.stringify(APP_ENTRIES[w.name])}, mode: 'warm', workers: { min: 1, max: 1 } } } }\n`)
    setup.cliConfigs[w.name] = file
  }
  if (wanted.has('lighttpd mod_cgi')) {
    try {
      setup.lighttpd = ensureLighttpd(out)
      // The same script the gateway's cgi example runs, as a file of lighttpd's own docroot.
      mkdirSync(join(setup.cgiDocroot, 'cgi-bin'), { recursive: true })
      copyFileSync(HELLO_CGI, join(setup.cgiDocroot, 'cgi-bin/hello.sh'))
    } catch (error) {
      skipped.push({ peer: 'lighttpd mod_cgi', reason: (error as Error).message })
    }
  }
  if (wanted.has('nginx static')) {
    try {
      setup.nginx = ensureNginx(out)
      // Files named as the workloads' paths, with the bodies the handlers answer.
      mkdirSync(setup.staticRoot, { recursive: true })
      writeFileSync(join(setup.staticRoot, 'hello'), 'Hello, world!')
      writeFileSync(join(setup.staticRoot, 'big'), bigBody())
    } catch (error) {
      skipped.push({ peer: 'nginx static', reason: (error as Error).message })
    }
  }
  return { setup, skipped }
}

export function machineFacts (setup: Setup): Record<string, string> {
  let git = 'unknown'
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', timeout: 5000 }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8', timeout: 5000 }).trim() !== ''
    git = `${head}${dirty ? ' (src/ has uncommitted changes)' : ''}`
  } catch {}
  return {
    node: `${execFileSync(nodeBinary(), ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim()} (${nodeBinary()})`,
    cpus: `${cpus().length} (availableParallelism ${availableParallelism()}; ${cpus()[0]?.model ?? '?'})`,
    loadavg: loadavg().map(n => n.toFixed(2)).join(' '),
    kernel: release(),
    wrk: wrkVersion() ?? 'missing',
    fastify: fastifyVersion() ?? 'missing',
    lighttpd: setup.lighttpd === undefined ? 'missing' : `${setup.lighttpd.version}${setup.lighttpd.installed ? ' (installed by this run: apt-get install lighttpd)' : ''}`,
    nginx: setup.nginx === undefined ? 'missing' : `${setup.nginx.version}${setup.nginx.installed ? ' (installed by this run: apt-get install nginx-light)' : ''}`,
    npm: setup.packages === undefined
      ? 'missing'
      : `${Object.entries(PEER_PACKAGES).map(([name, version]) => `${name} ${version}`).join(', ')} in ${setup.packages.dir}${setup.packages.installed ? ' (installed by this run)' : ' (reused)'}`,
    git,
  }
}
