import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Cli, getOnce, killCli, loadLoop, MAIN, NODE, startCli, until } from '../helpers/cli.ts'
import { freePort } from '../front/web-servers.ts'
import { FIXTURES, within } from '../helpers/gateway.ts'
import { allPids, cmdlineOf, procStat } from '../helpers/proc.ts'

// `warmgate start --processes N`: the real CLI, a supervisor and its gateway processes, driven over
// loopback. /pid answers with the pid of the process that served the request (an inline handler).

const CWD = join(FIXTURES, 'cli')
const ARGS = ['--config', 'processes.config.ts', '--port', '0', '--log-level', 'warn']
const EXIT_MS = 20_000
const running = new Set<Cli>()

afterEach(async () => {
  for (const cli of running) await killCli(cli)
  running.clear()
})

async function start (args: string[], env?: NodeJS.ProcessEnv): Promise<Cli> {
  const cli = await startCli(args, CWD, 60_000, env)
  running.add(cli)
  return cli
}

/** The gateway processes: children of the supervisor running supervised-child.ts. */
function childPids (cli: Cli): number[] {
  return allPids().filter(pid => procStat(pid)?.ppid === cli.child.pid && (cmdlineOf(pid) ?? '').includes('supervised-child.ts')).sort()
}

/** Pids seen over `n` requests, each on a fresh connection. */
async function pidsServing (url: string, n: number): Promise<Set<string>> {
  const seen = new Set<string>()
  for (let i = 0; i < n; i++) {
    const { status, body } = await getOnce(`${url}/pid`)
    expect(status).toBe(200)
    seen.add(body)
  }
  return seen
}

function gone (pids: number[]): boolean {
  return pids.every(pid => procStat(pid) === undefined || procStat(pid)?.state === 'Z')
}

describe('warmgate start --processes', () => {
  it('--processes 2 serves on one port from two processes, each answering over fresh connections', async () => {
    const cli = await start([...ARGS, '--processes', '2'])
    expect(cli.stdout()).toMatch(/2 processes \(pids \d+, \d+\), connections balanced by the kernel \(SO_REUSEPORT\)/)
    const children = childPids(cli)
    expect(children).toHaveLength(2)
    const seen = await pidsServing(cli.url, 60)
    expect([...seen].map(Number).sort()).toEqual(children)
    expect(await getOnce(`${cli.url}/hello`)).toEqual({ status: 200, body: 'hello from /hello (warm)' })
  })

  it('restarts a process killed with SIGKILL, and the port keeps answering', async () => {
    const cli = await start([...ARGS, '--processes', '2'])
    const [victim, survivor] = childPids(cli)
    const load = loadLoop(`${cli.url}/pid`)
    await until(10_000, 'traffic flowing before the kill', () => load.done() >= 50)
    const before = load.done()
    process.kill(victim, 'SIGKILL')
    await within(10_000, 'the supervisor reporting the death', cli.waitFor(new RegExp(`process ${victim} \\(#\\d\\) exited with signal SIGKILL; restarting in 100 ms`), 'stderr'))
    const [, replacement] = await within(30_000, 'the replacement being ready', cli.waitFor(/process (\d+) \(#\d\) ready/))
    await until(10_000, 'the replacement answering', () => load.done() >= before + 200)
    const result = await load.stop()
    // With SO_REUSEPORT each process has its own accept queue: connections the killed process had accepted,
    // or that the kernel had queued for it, are reset with it. Printed, and bounded: each of the 4 loops
    // has one request in flight at the kill (a second may race the teardown of the dead socket); the rest
    // must succeed.
    console.log(`SIGKILL of one of 2 processes under load: ${result.ok} ok, ${result.failed} failed ${JSON.stringify(result.failures)}`)
    expect(result.ok).toBeGreaterThan(200)
    expect(result.failed).toBeLessThanOrEqual(8)
    expect(result.bodies.has(String(survivor))).toBe(true)
    expect(childPids(cli)).toEqual([survivor, Number(replacement)].sort())
    expect(await pidsServing(cli.url, 40)).toContain(replacement)
  })

  it.each([
    ['SO_REUSEPORT', {}, 2],
    ['the node:cluster fallback', { WARMGATE_TEST_NO_REUSEPORT: '1' }, 0],
  ])('SIGHUP replaces every process one after another under load, with no failed request (%s)', async (balancer, env, handedOver) => {
    const cli = await start([...ARGS, '--processes', '2'], { ...process.env, ...env })
    const old = childPids(cli)
    const load = loadLoop(`${cli.url}/pid`)
    await until(10_000, 'traffic flowing before SIGHUP', () => load.done() >= 50)
    cli.child.kill('SIGHUP')
    const [, pids] = await within(60_000, 'the supervisor saying it reloaded', cli.waitFor(new RegExp(`reloaded: pids (\\d+, \\d+) \\(listening sockets handed over: ${handedOver}\\)\n`)))
    const fresh = pids.split(', ').map(Number).sort()
    const after = load.done()
    await until(10_000, 'traffic after the reload', () => load.done() >= after + 100)
    const result = await load.stop()
    console.log(`SIGHUP with 2 processes (${balancer}) under load: ${result.ok} ok, ${result.failed} failed ${JSON.stringify(result.failures)}`)
    expect(result.failures).toEqual([])
    expect(fresh.some(pid => old.includes(pid))).toBe(false)
    expect(childPids(cli)).toEqual(fresh)
    expect(gone(old)).toBe(true)
    expect([...await pidsServing(cli.url, 40)].map(Number).sort()).toEqual(fresh)
  })

  it('SIGTERM drains every process and exits 0 with none left running (server.processes from the config)', async () => {
    const cli = await start(['--config', 'two-processes.config.ts', '--port', '0', '--log-level', 'warn'])
    const children = childPids(cli)
    expect(children).toHaveLength(2)
    cli.child.kill('SIGTERM')
    expect(await within(EXIT_MS, 'the supervisor exiting after SIGTERM', cli.exited)).toEqual({ code: 0, signal: null })
    expect(cli.stdout()).toMatch(/SIGTERM, closing 2 processes/)
    expect(gone(children)).toBe(true)
  })

  it('the gateway processes exit when the supervisor is killed with SIGKILL', async () => {
    const cli = await start([...ARGS, '--processes', '2'])
    const children = childPids(cli)
    cli.child.kill('SIGKILL')
    await within(EXIT_MS, 'the supervisor dying', cli.exited)
    await until(EXIT_MS, `gateway processes ${children.join(', ')} exiting once the IPC channel closes`, () => gone(children))
  })

  it('falls back to node:cluster when listen with SO_REUSEPORT fails with ENOTSUP', async () => {
    const cli = await start([...ARGS, '--processes', '2'], { ...process.env, WARMGATE_TEST_NO_REUSEPORT: '1' })
    expect(cli.stdout()).toMatch(/SO_REUSEPORT is not available here \(listen: ENOTSUP\); falling back to node:cluster/)
    expect(cli.stdout()).toMatch(/2 processes \(pids \d+, \d+\), connections balanced by node:cluster/)
    const children = childPids(cli)
    expect(children).toHaveLength(2)
    expect([...await pidsServing(cli.url, 40)].map(Number).sort()).toEqual(children)
    cli.child.kill('SIGTERM')
    expect(await within(EXIT_MS, 'the cluster primary exiting after SIGTERM', cli.exited)).toEqual({ code: 0, signal: null })
    expect(gone(children)).toBe(true)
  })

  it('shares server.admin and a TCP FastCGI address between the processes, and refuses a FastCGI unix socket', async ({ onTestFinished }) => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-processes-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const [admin, fastcgi] = [await freePort(), await freePort()]
    const config = join(dir, 'gateway.config.mjs')
    writeFileSync(config, `export default ${JSON.stringify({
      server: { host: '127.0.0.1', shutdownTimeout: '3s', admin: `127.0.0.1:${admin}`, fastcgi: { listen: `127.0.0.1:${fastcgi}` } },
      apps: { pid: { route: '/pid', entry: join(CWD, 'pid.ts'), mode: 'inline' } },
    })}\n`)
    // Each process binds the admin and FastCGI ports too: without SO_REUSEPORT on them the second failed.
    const cli = await startCli(['--config', config, '--port', '0', '--log-level', 'warn', '--processes', '2'], dir, 60_000)
    running.add(cli)
    expect(childPids(cli)).toHaveLength(2)
    for (let i = 0; i < 10; i++) expect(await getOnce(`http://127.0.0.1:${admin}/__warmgate/ready`)).toEqual({ status: 200, body: '{"status":"ready"}' })

    const refused = spawnSync(NODE, [MAIN, 'start', '--config', config, '--port', '0', '--processes', '2', '--fastcgi', `unix:${join(dir, 'f.sock')}`], { encoding: 'utf8', timeout: 30_000 })
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/cannot share the FastCGI unix socket/)
  })

  it('without --processes (server.processes 1) runs no supervisor: the started process serves itself', async () => {
    const cli = await start(ARGS)
    expect(childPids(cli)).toEqual([])
    expect(await pidsServing(cli.url, 5)).toEqual(new Set([String(cli.child.pid)]))
  })

  it.each(['0', '1e2', 'two', '1.5', '257'])('rejects --processes %s with a message and exit code 1', async (value) => {
    const cli = startCli([...ARGS, '--processes', value], CWD)
    await expect(cli).rejects.toThrow(/--processes: expected an integer from 1 to 256 or 'auto', got/)
  })
})
