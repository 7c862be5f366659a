import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { FIXTURES, ROOT, within } from '../helpers/gateway.ts'

// The real `warmgate` command, spawned as a child process (no shell) with the pinned Node 24.
const NODE = join(ROOT, 'node_modules', '.bin', 'node')
const MAIN = join(ROOT, 'src', 'cli', 'main.ts')
const DIR = join(FIXTURES, 'cli')
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

/** Spawning node is slow on a busy machine: generous, but bounded (and below the test timeouts set below). */
const START_MS = 20_000
const EXIT_MS = 15_000
const STACK_LINE = /^\s+at /m

interface Exit { code: number | null, signal: NodeJS.Signals | null }

interface Cli {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<Exit>
  /** Resolves with the match once stdout matches `re`; rejects if the process exits first. */
  waitForStdout: (re: RegExp) => Promise<RegExpMatchArray>
}

const running = new Set<Cli>()
const agents = new Set<Agent>()

afterEach(async () => {
  await Promise.all([...agents].map(async agent => within(5000, 'closing the undici agent', agent.close())))
  agents.clear()
  for (const cli of running) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
    await within(EXIT_MS, `child ${cli.child.pid} exiting after SIGKILL`, cli.exited)
  }
  running.clear()
})

function spawnCli (args: string[], cwd: string = DIR): Cli {
  const child = spawn(NODE, [MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  // 'close' (not 'exit'): every byte of stdout and stderr has been read by then.
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  const waitForStdout = (re: RegExp): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
    const check = (): void => {
      const match = re.exec(out)
      if (match === null) return
      child.stdout?.off('data', check)
      resolve(match)
    }
    child.stdout?.on('data', check)
    check()
    void exited.then((exit) => reject(new Error(`warmgate exited (${JSON.stringify(exit)}) before printing ${re}; stderr:\n${err}`)), reject)
  })
  const cli: Cli = { child, stdout: () => out, stderr: () => err, exited, waitForStdout }
  running.add(cli)
  return cli
}

/** Runs a command that is expected to end by itself, and returns how it ended. */
async function run (args: string[], cwd?: string): Promise<Exit & { stdout: string, stderr: string }> {
  const cli = spawnCli(args, cwd)
  // A command that should have failed but started serving would never exit: say so at once.
  const served = cli.waitForStdout(/listening on/).then((): never => { throw new Error(`warmgate ${JSON.stringify(args)} started serving instead of exiting:\n${cli.stdout()}`) })
  served.catch(() => {})
  const exit = await within(START_MS, `warmgate ${args.join(' ')} exiting by itself`, Promise.race([cli.exited, served]))
  return { ...exit, stdout: cli.stdout(), stderr: cli.stderr() }
}

/** Starts `warmgate start …` and waits for the listening line; returns the URL. */
async function start (args: string[], cwd?: string): Promise<{ cli: Cli, url: string }> {
  const cli = spawnCli(['start', ...args], cwd)
  const [, url] = await within(START_MS, `warmgate start ${args.join(' ')} printing its URL`, cli.waitForStdout(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/))
  // The route table is written in the same write as the URL.
  await within(5000, 'the route table', cli.waitForStdout(/ROUTE.*\n(?:.*\n)+/))
  return { cli, url }
}

async function get (url: string): Promise<{ status: number, body: string }> {
  const agent = new Agent()
  agents.add(agent)
  const res = await within(10_000, `GET ${url}`, request(url, { dispatcher: agent }))
  return { status: res.statusCode, body: await within(10_000, `body of ${url}`, res.body.text()) }
}

/** A row of the printed route table: route, app, mode, workers, entry, separated by spaces. */
function routeRow (route: string, app: string, mode: string, workers: string, entry: string): RegExp {
  const cell = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  return new RegExp(`^\\s+${[route, app, mode, workers, entry].map(cell).join('\\s+')}\\s*$`, 'm')
}

const jsonLines = (text: string): Array<Record<string, unknown>> =>
  text.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as Record<string, unknown>)

describe('warmgate (no command)', () => {
  it('--version prints the package.json version and exits 0', async () => {
    const result = await run(['--version'])
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(VERSION)
  })

  it.each([
    ['--help', ['--help']],
    ['-h', ['-h']],
    ['no arguments', []],
  ])('%s prints the usage and exits 0', async (_label, args) => {
    const result = await run(args)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/Usage:/)
    expect(result.stdout).toContain('warmgate start')
    expect(result.stderr).toBe('')
  })

  it('exits 1 on an unknown command, naming it on stderr', async () => {
    const result = await run(['frobnicate'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("'frobnicate'")
    expect(result.stderr).not.toMatch(STACK_LINE)
    expect(result.stdout).toBe('')
  })
})

describe('warmgate start: arguments', () => {
  it.each([
    ['start --help', ['start', '--help']],
    ['start -h', ['start', '-h']],
    ['help start', ['help', 'start']],
  ])('%s prints the start options and exits 0', async (_label, args) => {
    const result = await run(args)
    expect(result.code).toBe(0)
    for (const option of ['--config', '--port', '--host', '--mode', '--log-level']) expect(result.stdout).toContain(option)
  })

  it.each([
    ['an unknown option', ['--bogus'], '--bogus'],
    ['an unexpected argument', ['extra'], 'extra'],
    ['--port abc', ['--port', 'abc'], 'abc'],
    ['--port 70000', ['--port', '70000'], '70000'],
    ['an empty --port', ['--port', ''], '--port'],
    ['--mode bogus', ['--mode', 'bogus'], 'bogus'],
    ['--log-level loud', ['--log-level', 'loud'], 'loud'],
    ['--port without a value', ['--port'], '--port'],
  ])('exits 1 on %s, saying what is wrong on stderr', async (_label, args, named) => {
    const result = await run(['start', ...args])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^warmgate: /)
    expect(result.stderr).toContain(named)
    expect(result.stderr).not.toMatch(STACK_LINE)
    expect(result.stdout).toBe('')
  })
})

describe('warmgate start: start-up failures', { timeout: 60_000 }, () => {
  it('lists every config error with its key path, without a stack trace, and exits 1', async () => {
    const result = await run(['start', '--config', 'several-errors.config.ts', '--port', '0'])
    expect(result.code).toBe(1)
    for (const path of ['server.port', 'apps.hello.route', 'apps.hello.workers.max', 'apps.other.mode']) {
      expect(result.stderr).toMatch(new RegExp(`^\\s*${path.replace(/\./g, '\\.')}: expected `, 'm'))
    }
    expect(result.stderr).toContain('several-errors.config.ts')
    expect(result.stderr).not.toMatch(STACK_LINE)
  })

  it('exits 1 naming a config file that does not exist', async () => {
    const result = await run(['start', '--config', 'nope.config.ts', '--port', '0'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('nope.config.ts')
    expect(result.stderr).not.toMatch(STACK_LINE)
  })

  it('exits 1 when the working directory has no config file', async () => {
    const result = await run(['start', '--port', '0'], join(FIXTURES, 'config'))
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('gateway.config.ts')
    expect(result.stderr).not.toMatch(STACK_LINE)
  })

  it('exits 1 naming an entry file that does not exist', async () => {
    const result = await run(['start', '--config', 'missing-entry.config.ts', '--port', '0'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('apps.ghost.entry')
    expect(result.stderr).toContain(join(DIR, 'does-not-exist.ts'))
    expect(result.stderr).not.toMatch(STACK_LINE)
  })

  it.each(['warm', 'inline', 'cold'])('exits 1 naming the file and the cause when a handler throws at import (--mode %s)', async (mode) => {
    const result = await run(['start', '--config', 'throws-at-import.config.ts', '--port', '0', '--mode', mode])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(join(DIR, 'throws-at-import.ts'))
    expect(result.stderr).toContain('fixture handler exploded at import')
    expect(result.stderr).not.toMatch(STACK_LINE)
    expect(result.stdout).not.toContain('listening')
  })
})

describe('warmgate start: serving', { timeout: 90_000 }, () => {
  it('--mode cold runs every handler app one process per request: the table says cold, and a GET answers', async () => {
    const { cli, url } = await start(['--port', '0', '--mode', 'cold'])
    expect(cli.stdout()).toMatch(routeRow('/hello', 'hello', 'cold', '-', 'hello.ts'))
    expect(cli.stdout()).toMatch(routeRow('/greet', 'greet', 'cold', '-', 'hello.ts'))
    const res = await get(`${url}/hello/x?y=1`)
    expect(res.status).toBe(200)
  })

  it('prints the URL and the route table, serves a real GET, logs it, and exits 0 on SIGINT', async () => {
    const { cli, url } = await start(['--port', '0'])
    expect(cli.stdout()).toMatch(/^\s+ROUTE\s+APP\s+MODE\s+WORKERS\s+ENTRY\s*$/m)
    expect(cli.stdout()).toMatch(routeRow('/hello', 'hello', 'warm', '1-2', 'hello.ts'))
    expect(cli.stdout()).toMatch(routeRow('/greet', 'greet', 'inline', '-', 'hello.ts'))

    const res = await get(`${url}/hello/x?y=1`)
    expect(res).toEqual({ status: 200, body: 'hello from /hello/x (warm)' })
    expect((await get(`${url}/greet`)).body).toBe('hello from /greet (inline)')
    expect((await get(`${url}/nowhere`)).status).toBe(404)

    cli.child.kill('SIGINT')
    expect(await within(EXIT_MS, 'warmgate exiting after SIGINT', cli.exited)).toEqual({ code: 0, signal: null })
    expect(cli.stdout()).toContain('SIGINT')
    const access = jsonLines(cli.stdout()).filter(line => line.msg === 'request')
    expect(access).toEqual(expect.arrayContaining([
      expect.objectContaining({ app: 'hello', mode: 'warm', method: 'GET', path: '/hello/x', status: 200 }),
      expect.objectContaining({ app: 'greet', mode: 'inline', path: '/greet', status: 200 }),
      expect.objectContaining({ path: '/nowhere', status: 404 }),
    ]))
    expect(cli.stderr()).toBe('')
  })

  it('exits 0 on SIGTERM', async () => {
    const { cli, url } = await start(['--port', '0', '--host', '127.0.0.1'])
    expect((await get(`${url}/hello`)).status).toBe(200)
    cli.child.kill('SIGTERM')
    expect(await within(EXIT_MS, 'warmgate exiting after SIGTERM', cli.exited)).toEqual({ code: 0, signal: null })
    expect(cli.stdout()).toContain('SIGTERM')
    expect(cli.stderr()).toBe('')
  })

  it('runs every app inline with --mode inline, and says so in the table', async () => {
    const { cli, url } = await start(['--port', '0', '--mode', 'inline'])
    expect(cli.stdout()).toMatch(routeRow('/hello', 'hello', 'inline', '-', 'hello.ts'))
    expect(cli.stdout()).toMatch(routeRow('/greet', 'greet', 'inline', '-', 'hello.ts'))
    expect(cli.stdout()).not.toMatch(/\swarm\s/)
    expect(await get(`${url}/hello`)).toEqual({ status: 200, body: 'hello from /hello (inline)' })
    cli.child.kill('SIGTERM')
    expect(await within(EXIT_MS, 'warmgate --mode inline exiting after SIGTERM', cli.exited)).toEqual({ code: 0, signal: null })
  })

  it('takes --config relative to the working directory, and entries relative to the config file', async () => {
    const { cli, url } = await start(['--config', 'test/fixtures/cli/gateway.config.ts', '--port', '0'], ROOT)
    expect(cli.stdout()).toMatch(routeRow('/hello', 'hello', 'warm', '1-2', 'test/fixtures/cli/hello.ts'))
    expect((await get(`${url}/hello`)).status).toBe(200)
    cli.child.kill('SIGINT')
    expect(await within(EXIT_MS, 'warmgate exiting after SIGINT', cli.exited)).toEqual({ code: 0, signal: null })
  })

  it('prints no JSON log lines with --log-level silent', async () => {
    const { cli, url } = await start(['--port', '0', '--log-level', 'silent'])
    expect((await get(`${url}/hello`)).status).toBe(200)
    expect((await get(`${url}/nowhere`)).status).toBe(404)
    cli.child.kill('SIGTERM')
    expect(await within(EXIT_MS, 'warmgate --log-level silent exiting after SIGTERM', cli.exited)).toEqual({ code: 0, signal: null })
    expect(jsonLines(cli.stdout())).toEqual([])
    expect(cli.stdout()).toContain('listening on')
  })

  it('lets a request in flight finish before exiting 0 on SIGTERM', async () => {
    const { cli, url } = await start(['--config', 'slow.config.ts', '--port', '0'])
    const pending = get(`${url}/slow?ms=1500`)
    pending.catch(() => {}) // awaited below; a rejection must not go unhandled meanwhile
    await within(10_000, 'the slow request reaching its handler', cli.waitForStdout(/slow: request started/))
    cli.child.kill('SIGTERM')
    expect(await pending).toEqual({ status: 200, body: 'slept 1500 ms' })
    expect(await within(EXIT_MS, 'warmgate exiting after SIGTERM with a request in flight', cli.exited)).toEqual({ code: 0, signal: null })
  })

  it('exits 1 at once on a second signal while draining (one that comes a second or more after the first)', async () => {
    const { cli, url } = await start(['--config', 'slow.config.ts', '--port', '0'])
    const pending = get(`${url}/slow?ms=60000`)
    pending.catch(() => {}) // the connection dies with the process
    await within(10_000, 'the slow request reaching its handler', cli.waitForStdout(/slow: request started/))
    cli.child.kill('SIGINT')
    await within(5000, 'warmgate saying it is closing', cli.waitForStdout(/SIGINT, closing/))
    // Within a second it would count as the same Ctrl-C delivered twice (src/cli/serve.ts SAME_SIGNAL_MS).
    await new Promise(resolve => setTimeout(resolve, 1100))
    cli.child.kill('SIGINT')
    expect(await within(EXIT_MS, 'warmgate exiting after a second SIGINT', cli.exited)).toEqual({ code: 1, signal: null })
    expect(cli.stderr()).toContain('again')
    await expect(pending).rejects.toThrow()
  })
})
