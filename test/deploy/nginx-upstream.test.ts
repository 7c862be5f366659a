import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cli, getOnce, killCli, loadLoop, startCli, until } from '../helpers/cli.ts'
import { FIXTURES, ROOT, within } from '../helpers/gateway.ts'

// deploy/nginx/warmgate-upstream.conf, run for real: a real nginx (our own process, temp prefix, daemon
// off) in front of three `warmgate start` processes on loopback, under a GET load loop that counts every
// failed request (the loop itself never retries; nginx's proxy_next_upstream does, as configured).

const NGINX = '/usr/sbin/nginx'
const SHIPPED = join(ROOT, 'deploy', 'nginx', 'warmgate-upstream.conf')
const CWD = join(FIXTURES, 'cli')
const INSTANCE_ARGS = ['--config', 'processes.config.ts', '--log-level', 'warn']

function hasNginx (): boolean {
  try {
    accessSync(NGINX, constants.X_OK)
    return true
  } catch {
    return false
  }
}

if (!hasNginx()) console.log(`skipping the nginx upstream tests: ${NGINX} is not installed (apt-get install nginx-light; .ci/run installs it)`)

/** A port nothing listens on right now (bound to 0, read, released). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

/**
 * The shipped file with its three upstream `server` addresses and its `listen` port replaced. Throws if
 * the file no longer has that shape, so the test cannot silently run something else than what ships.
 */
function renderUpstream (text: string, instancePorts: number[], listenPort: number): string {
  let next = 0
  const upstream = /upstream warmgate \{[^}]*\}/.exec(text)
  if (upstream === null) throw new Error(`${SHIPPED}: no 'upstream warmgate { ... }' block`)
  const block = upstream[0].replace(/^(\s*server\s+)\S+?:\d+/gm, (_, head: string) => `${head}127.0.0.1:${instancePorts[next++]}`)
  if (next !== instancePorts.length) throw new Error(`${SHIPPED}: expected ${instancePorts.length} upstream servers, found ${next}`)
  const rendered = text.replace(upstream[0], block)
  if (!/^\s*listen 80;$/m.test(rendered)) throw new Error(`${SHIPPED}: no 'listen 80;' line`)
  return rendered.replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${listenPort};`)
}

describe.skipIf(!hasNginx())('deploy/nginx/warmgate-upstream.conf with three warmgate instances', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wg-nginx-upstream-'))
  const instances: Cli[] = []
  const ports: number[] = []
  let nginx: ChildProcess | undefined
  let nginxExited: Promise<unknown> | undefined
  let url = ''

  /**
   * Starts instance `index` again on its port, and waits until nginx routes requests to it: a marked-down
   * instance is tried again after fail_timeout (2 s). A rolling restart that takes the next instance down
   * before that could leave nginx with no live upstream at all (README: Running in production).
   */
  async function restartInstance (index: number): Promise<void> {
    instances[index] = await startCli([...INSTANCE_ARGS, '--port', String(ports[index])], CWD, 60_000)
    const pid = String(instances[index].child.pid)
    expect((await getOnce(`${instances[index].url}/pid`)).body).toBe(pid)
    await until(15_000, `nginx routing to restarted instance ${index} (pid ${pid})`, async () => (await getOnce(`${url}/pid`)).body === pid)
  }

  beforeAll(async () => {
    const first = await Promise.all([0, 1, 2].map(async () => startCli([...INSTANCE_ARGS, '--port', '0'], CWD, 60_000)))
    instances.push(...first)
    ports.push(...first.map(cli => Number(new URL(cli.url).port)))
    const listen = await freePort()
    url = `http://127.0.0.1:${listen}`
    for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub))
    writeFileSync(join(dir, 'warmgate-upstream.conf'), renderUpstream(readFileSync(SHIPPED, 'utf8'), ports, listen))
    const q = (name: string): string => JSON.stringify(join(dir, name))
    writeFileSync(join(dir, 'nginx.conf'), [
      'daemon off;',
      'worker_processes 1;',
      `pid ${q('nginx.pid')};`,
      `error_log ${q('error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(sub => `  ${sub}_temp_path ${q(sub)};`),
      `  include ${q('warmgate-upstream.conf')};`,
      '}',
      '',
    ].join('\n'))
    const args = ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')]
    const check = spawnSync(NGINX, ['-t', '-q', ...args], { encoding: 'utf8', timeout: 10_000 })
    expect(check.status, `nginx -t: ${check.stderr}`).toBe(0)
    nginx = spawn(NGINX, args, { stdio: 'ignore' })
    nginxExited = new Promise(resolve => nginx?.once('exit', resolve))
    await until(10_000, 'nginx answering through the upstream', async () => (await getOnce(`${url}/pid`).catch(() => ({ status: 0 }))).status === 200)
  }, 90_000)

  afterAll(async () => {
    if (nginx !== undefined && nginx.exitCode === null) nginx.kill('SIGTERM')
    if (nginxExited !== undefined) await within(10_000, 'nginx exiting after SIGTERM', nginxExited)
    for (const cli of instances) await killCli(cli)
    rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it('spreads requests over the three instances', async () => {
    const seen = new Set<string>()
    for (let i = 0; i < 30; i++) seen.add((await getOnce(`${url}/pid`)).body)
    expect([...seen].sort()).toEqual(instances.map(cli => String(cli.child.pid)).sort())
  })

  it('SIGKILL of one instance under GET load: no failed request', async () => {
    const load = loadLoop(`${url}/pid`)
    await until(10_000, 'traffic flowing before the kill', () => load.done() >= 100)
    const victim = instances[0]
    victim.child.kill('SIGKILL')
    await within(10_000, 'the killed instance exiting', victim.exited)
    const after = load.done()
    await until(15_000, 'traffic after the kill', () => load.done() >= after + 300)
    const result = await load.stop()
    console.log(`nginx, SIGKILL of 1 of 3 instances: ${result.ok} ok, ${result.failed} failed`)
    expect(result.failures).toEqual([])
    expect(result.bodies.has(String(victim.child.pid))).toBe(true)
    // Back for the next test, on the same port.
    await restartInstance(0)
  }, 60_000)

  it('rolling restart of all three (SIGTERM, wait for exit, start again on the same port) under GET load: no failed request', async () => {
    const before = instances.map(cli => cli.child.pid)
    const load = loadLoop(`${url}/pid`)
    await until(10_000, 'traffic flowing before the restart', () => load.done() >= 100)
    for (let index = 0; index < 3; index++) {
      instances[index].child.kill('SIGTERM')
      expect(await within(20_000, `instance ${index} exiting after SIGTERM`, instances[index].exited)).toEqual({ code: 0, signal: null })
      await restartInstance(index)
    }
    const after = load.done()
    await until(15_000, 'traffic after the restart', () => load.done() >= after + 100)
    const result = await load.stop()
    console.log(`nginx, rolling restart of 3 instances: ${result.ok} ok, ${result.failed} failed`)
    expect(result.failures).toEqual([])
    const restarted = instances.map(cli => String(cli.child.pid))
    expect(restarted.some(pid => before.includes(Number(pid)))).toBe(false)
    const seen = new Set<string>()
    for (let i = 0; i < 30; i++) seen.add((await getOnce(`${url}/pid`)).body)
    expect([...seen].sort()).toEqual([...restarted].sort())
  }, 90_000)
})
