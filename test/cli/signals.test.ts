import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { FIXTURES, ROOT, within } from '../helpers/gateway.ts'

// Signals to the real `warmgate start` (spawned without a shell, with the pinned Node 24): SIGTERM lets
// a request in flight finish, SIGHUP reloads an edited config and never ends the process.

const NODE = join(ROOT, 'node_modules', '.bin', 'node')
const MAIN = join(ROOT, 'src', 'cli', 'main.ts')
const START_MS = 20_000
const EXIT_MS = 15_000
const DIR = mkdtempSync(join(tmpdir(), 'wg-signals-'))
afterAll(() => rmSync(DIR, { recursive: true, force: true }))

interface Cli {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** Resolves once stdout (or stderr) matches `re`; rejects if the process exits first. */
  waitFor: (re: RegExp, stream?: 'stdout' | 'stderr') => Promise<RegExpMatchArray>
}

const running = new Set<Cli>()
const agent = new Agent()
afterAll(async () => { await within(5000, 'closing the undici agent', agent.close()) })
afterEach(async () => {
  for (const cli of running) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
    await within(EXIT_MS, `child ${cli.child.pid} exiting after SIGKILL`, cli.exited)
  }
  running.clear()
})

async function start (args: string[], cwd: string): Promise<{ cli: Cli, url: string }> {
  const child = spawn(NODE, [MAIN, 'start', '--port', '0', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  const text = { stdout: '', stderr: '' }
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  const waitFor = (re: RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
    const check = (): void => {
      const match = re.exec(text[stream])
      if (match === null) return
      child[stream]?.off('data', check)
      resolve(match)
    }
    child[stream]?.on('data', check)
    check()
    void exited.then(exit => reject(new Error(`warmgate exited (${JSON.stringify(exit)}) before printing ${re}; stderr:\n${text.stderr}`)), reject)
  })
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { text.stdout += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { text.stderr += chunk })
  const cli: Cli = { child, stdout: () => text.stdout, stderr: () => text.stderr, exited, waitFor }
  running.add(cli)
  const [, url] = await within(START_MS, `warmgate start ${args.join(' ')} printing its URL`, waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/))
  return { cli, url }
}

async function get (url: string): Promise<{ status: number, body: string, connection: unknown }> {
  const res = await within(10_000, `GET ${url}`, request(url, { dispatcher: agent }))
  return { status: res.statusCode, body: await within(10_000, `body of ${url}`, res.body.text()), connection: res.headers.connection }
}

/** A project in a temp dir: `gateway.config.mjs` serving `hello.ts` at /hello, and a second handler not routed yet. */
function project (): { dir: string, config: (text: string) => void } {
  const dir = mkdtempSync(join(DIR, 'project-'))
  writeFileSync(join(dir, 'hello.ts'), "export default () => new Response('hello')\n")
  writeFileSync(join(dir, 'bye.ts'), "export default () => new Response('bye')\n")
  const config = (text: string): void => writeFileSync(join(dir, 'gateway.config.mjs'), text)
  config("export default { apps: { hello: { route: '/hello', entry: './hello.ts', workers: { min: 1, max: 2 } } } }\n")
  return { dir, config }
}

describe('warmgate start: signals', () => {
  it.each([[[]], [['--processes', '2']]])('Ctrl-C to the whole process group (twice at once, as a terminal and npm deliver it) closes quietly and exits 0 (%j)', async (extra: string[]) => {
    const { dir, config } = project()
    mkdirSync(join(dir, 'cgi-bin'))
    writeFileSync(join(dir, 'cgi-bin', 'hi.sh'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nhi"\n', { mode: 0o755 })
    config("export default { apps: { hello: { route: '/hello', entry: './hello.ts' }, cgi: { route: '/cgi-bin', cgi: './cgi-bin' } } }\n")
    // Its own process group, as a shell gives a foreground job: the signal goes to the group, helper included.
    const child = spawn(NODE, [MAIN, 'start', '--port', '0', ...extra], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const text = { stdout: '', stderr: '' }
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { text.stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { text.stderr += chunk })
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('close', (code, signal) => resolve({ code, signal })))
    const cli: Cli = { child, stdout: () => text.stdout, stderr: () => text.stderr, exited, waitFor: async () => { throw new Error('unused') } }
    running.add(cli)
    let url: string | undefined
    for (let i = 0; url === undefined && i < 400; i++) {
      url = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(text.stdout)?.[1]
      if (url === undefined) await new Promise(resolve => setTimeout(resolve, 50))
    }
    expect(url, text.stderr).toBeDefined()
    expect((await get(`${url as string}/cgi-bin/hi.sh`)).body).toBe('hi')
    process.kill(-(child.pid as number), 'SIGINT')
    // The second delivery after the first was handled (two pending SIGINTs would merge into one).
    for (let i = 0; !/closing/.test(text.stdout) && i < 200; i++) await new Promise(resolve => setTimeout(resolve, 10))
    expect(text.stdout).toMatch(/closing/)
    try {
      process.kill(child.pid as number, 'SIGINT')
    } catch (error) {
      // Closed and gone already (nothing was in flight): the second delivery had nothing left to reach.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
    expect(await within(EXIT_MS, 'warmgate to exit after Ctrl-C', exited)).toEqual({ code: 0, signal: null })
    expect(text.stderr).toBe('')
    expect(text.stdout).not.toMatch(/spawn helper exited|"level":50/)
  })

  it('SIGTERM with a request in flight: the request completes 200 (Connection: close) and the process exits 0', async () => {
    const { cli, url } = await start(['--config', 'slow.config.ts'], join(FIXTURES, 'cli'))
    const pending = get(`${url}/slow?ms=1500`)
    pending.catch(() => {})
    await within(10_000, 'the slow request reaching its handler', cli.waitFor(/slow: request started/))
    cli.child.kill('SIGTERM')
    await within(5000, 'warmgate saying it is closing', cli.waitFor(/SIGTERM, closing \(in-flight requests get up to 10000 ms to finish\)/))
    expect(await within(10_000, 'the in-flight request', pending)).toEqual({ status: 200, body: 'slept 1500 ms', connection: 'close' })
    expect(await within(EXIT_MS, 'warmgate exiting after SIGTERM', cli.exited)).toEqual({ code: 0, signal: null })
  })

  it('SIGHUP after the config file gained a route: the new route answers, the process keeps running', async () => {
    const { dir, config } = project()
    const { cli, url } = await start(['--config', 'gateway.config.mjs'], dir)
    expect(await get(`${url}/bye`)).toMatchObject({ status: 404 })
    config("export default { apps: { hello: { route: '/hello', entry: './hello.ts', workers: { min: 1, max: 2 } }, bye: { route: '/bye', entry: './bye.ts', mode: 'inline' } } }\n")
    cli.child.kill('SIGHUP')
    await within(5000, 'warmgate saying it reloads', cli.waitFor(/warmgate: SIGHUP, reloading\n/))
    await within(20_000, 'warmgate saying it reloaded', cli.waitFor(/warmgate: reloaded\n(?:.*\n)*.*\/bye\s+bye\s+inline/))
    expect(await get(`${url}/bye`)).toMatchObject({ status: 200, body: 'bye' })
    expect(await get(`${url}/hello`)).toMatchObject({ status: 200, body: 'hello' })
    expect(cli.child.exitCode).toBeNull()
    cli.child.kill('SIGTERM')
    expect(await within(EXIT_MS, 'warmgate exiting after SIGTERM', cli.exited)).toEqual({ code: 0, signal: null })
  })

  // Here and not in test/gateway: vitest resolves the imports of the modules it runs itself, so Node's
  // module hooks (src/handler/fresh-imports.ts) only act in a real process.
  it("SIGHUP re-reads an inline handler's own relative imports, and not its other imports", async () => {
    const { dir, config } = project()
    writeFileSync(join(dir, 'message.ts'), "export const message: string = 'first'\n")
    writeFileSync(join(dir, 'hello.ts'), [
      "import { message } from './message.ts'",
      // Not relative (a package would be too, but none resolves from a temp dir): imported once.
      `import { GatewayError } from '${join(ROOT, 'src', 'errors.ts')}'`,
      '// One instance across reloads: the class is the same object every time.',
      'const scope = globalThis as { firstGatewayError?: unknown }',
      'scope.firstGatewayError ??= GatewayError',
      "export default () => new Response(`${message} ${scope.firstGatewayError === GatewayError ? 'same' : 'copied'}`)",
      '',
    ].join('\n'))
    config("export default { apps: { hello: { route: '/hello', entry: './hello.ts', mode: 'inline' } } }\n")
    const { cli, url } = await start(['--config', 'gateway.config.mjs'], dir)
    expect(await get(`${url}/hello`)).toMatchObject({ status: 200, body: 'first same' })
    for (const [n, message] of [[1, 'second'], [2, 'third']] as const) {
      writeFileSync(join(dir, 'message.ts'), `export const message: string = '${message}'\n`)
      cli.child.kill('SIGHUP')
      await within(20_000, `reload ${n}`, cli.waitFor(new RegExp(`(?:warmgate: reloaded\n[^]*){${n}}`)))
      expect(await get(`${url}/hello`)).toMatchObject({ status: 200, body: `${message} same` })
    }
  })

  it('SIGHUP with a broken config: says why, keeps serving the previous version and does not exit', async () => {
    const { dir, config } = project()
    const { cli, url } = await start(['--config', 'gateway.config.mjs'], dir)
    config("export default { apps: { hello: { route: 'hello', entry: './hello.ts' } } }\n")
    cli.child.kill('SIGHUP')
    await within(20_000, 'warmgate saying the reload failed', cli.waitFor(/warmgate: reload failed, still serving the previous version:\n[^]*apps\.hello\.route: expected a path/, 'stderr'))
    expect(await get(`${url}/hello`)).toMatchObject({ status: 200, body: 'hello' })
    expect(cli.child.exitCode).toBeNull()
    // A fixed config is picked up by the next SIGHUP.
    config("export default { apps: { hello: { route: '/hi', entry: './hello.ts', mode: 'inline' } } }\n")
    cli.child.kill('SIGHUP')
    await within(20_000, 'warmgate saying it reloaded', cli.waitFor(/warmgate: reloaded\n/))
    expect(await get(`${url}/hi`)).toMatchObject({ status: 200, body: 'hello' })
  })

  it('an inline handler that throws from a timer or leaves a rejection unhandled does not take the gateway down', async () => {
    const { dir, config } = project()
    writeFileSync(join(dir, 'stray.ts'), [
      'export default (request: Request) => {',
      "  if (request.url.endsWith('/throw')) setTimeout(() => { throw new Error('stray throw') }, 10)",
      "  if (request.url.endsWith('/reject')) void Promise.reject(new Error('stray rejection'))",
      "  return new Response('ok')",
      '}',
      '',
    ].join('\n'))
    config("export default { apps: { stray: { route: '/stray', entry: './stray.ts', mode: 'inline' } } }\n")
    const { cli, url } = await start(['--config', 'gateway.config.mjs', '--log-level', 'info'], dir)
    expect(await get(`${url}/stray/throw`)).toMatchObject({ status: 200, body: 'ok' })
    expect(await get(`${url}/stray/reject`)).toMatchObject({ status: 200, body: 'ok' })
    // One JSON line each (pino writes `err` before `msg`).
    await within(5000, 'the stray throw to be logged', cli.waitFor(/^.*stray throw.*uncaught exception in the gateway process.*$/m))
    await within(5000, 'the stray rejection to be logged', cli.waitFor(/^.*stray rejection.*unhandled rejection in the gateway process.*$/m))
    expect(await get(`${url}/stray/ok`)).toMatchObject({ status: 200, body: 'ok' })
    expect(cli.child.exitCode).toBeNull()
  })
})
