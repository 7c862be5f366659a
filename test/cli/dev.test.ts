import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ROOT, within } from '../helpers/gateway.ts'

// The real `warmgate dev` (spawned without a shell, with the pinned Node 24) in a temp project: saves
// reload exactly the apps they touch, load failures get an error page, and no request fails.

const NODE = join(ROOT, 'node_modules', '.bin', 'node')
const MAIN = join(ROOT, 'src', 'cli', 'main.ts')
const DIR = mkdtempSync(join(tmpdir(), 'wg-dev-'))
afterAll(() => rmSync(DIR, { recursive: true, force: true }))

interface Cli { child: ChildProcess, out: () => string, exited: Promise<unknown>, waitFor: (re: RegExp, from?: number) => Promise<RegExpMatchArray> }
const running = new Set<Cli>()
const agent = new Agent()
afterAll(async () => { await within(5000, 'closing the undici agent', agent.close()) })
afterEach(async () => {
  for (const cli of running) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
    await within(10_000, `child ${cli.child.pid} exiting`, cli.exited)
  }
  running.clear()
})

/** hello (imports ./lib/message.ts) and other, both warm, one worker each; bodies name the worker. */
function project (): { dir: string, write: (file: string, text: string) => void } {
  const dir = mkdtempSync(join(DIR, 'project-'))
  mkdirSync(join(dir, 'lib'))
  const write = (file: string, text: string): void => writeFileSync(join(dir, file), text)
  write('lib/message.ts', "export const message = 'old'\n")
  write('hello.ts', handler("import { message } from './lib/message.ts'\n", 'message'))
  write('other.ts', handler('', "'other'"))
  write('gateway.config.mjs', "export default { apps: {\n  hello: { route: '/hello', entry: './hello.ts', workers: { min: 1, max: 1 } },\n  other: { route: '/other', entry: './other.ts', workers: { min: 1, max: 1 } },\n} }\n")
  return { dir, write }
}

function handler (imports: string, body: string): string {
  return `${imports}import { threadId } from 'node:worker_threads'\nconst instance = Math.random().toString(36).slice(2)\nexport default () => new Response(${body} + ' ' + threadId + ' ' + instance)\n`
}

async function dev (cwd: string): Promise<{ cli: Cli, url: string }> {
  const child = spawn(NODE, [MAIN, 'dev', '--port', '0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  const exited = new Promise(resolve => child.once('close', resolve))
  const waitFor = (re: RegExp, from = 0): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
    const check = (): void => {
      const match = re.exec(text.slice(from))
      if (match === null) return
      child.stdout?.off('data', check)
      child.stderr?.off('data', check)
      resolve(match)
    }
    child.stdout?.on('data', check)
    child.stderr?.on('data', check)
    check()
    void exited.then(() => reject(new Error(`warmgate dev exited before printing ${re}:\n${text}`)))
  })
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
  const cli: Cli = { child, out: () => text, exited, waitFor }
  running.add(cli)
  const [, url] = await within(20_000, 'warmgate dev printing its URL', waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))
  return { cli, url }
}

async function get (url: string, accept?: string): Promise<{ status: number, body: string }> {
  const res = await within(10_000, `GET ${url}`, request(url, { dispatcher: agent, headers: accept === undefined ? {} : { accept } }))
  return { status: res.statusCode, body: await within(10_000, `body of ${url}`, res.body.text()) }
}

describe('warmgate dev', () => {
  it('switches from the old body to the new one under load without a failed request, and prints the reload time', async () => {
    const { dir, write } = project()
    const { cli, url } = await dev(dir)
    const seen = new Set<string>()
    let failed = 0
    let total = 0
    let stop = false
    const loop = async (): Promise<void> => {
      while (!stop) {
        try {
          const res = await get(`${url}/hello`)
          total++
          if (res.status !== 200) failed++
          else seen.add(res.body.split(' ')[0])
        } catch { failed++ }
      }
    }
    const deadline = setTimeout(() => { stop = true }, 10_000)
    const loops = Promise.all([loop(), loop(), loop(), loop()])
    await new Promise(resolve => setTimeout(resolve, 300))
    const mark = cli.out().length
    write('hello.ts', handler('', "'new'"))
    const [, ms] = await within(10_000, 'the reload line', cli.waitFor(/↻ hello reloaded in (\d+) ms/, mark))
    await within(10_000, 'the new body', (async () => { while (!seen.has('new')) await new Promise(resolve => setTimeout(resolve, 20)) })())
    stop = true
    clearTimeout(deadline)
    await within(15_000, 'the load loops ending', loops)
    console.log(`dev reload under load: ${ms} ms, ${total} requests, ${failed} failed`)
    expect(failed).toBe(0)
    expect([...seen].sort()).toEqual(['new', 'old'])
    expect(Number(ms)).toBeLessThan(5000)
  }, 40_000)

  it('answers a module with a syntax error or a throw at import with a 500 page naming file and line, and recovers on the next save', async () => {
    const { dir, write } = project()
    const { cli, url } = await dev(dir)
    const pid = cli.child.pid
    let mark = cli.out().length
    write('hello.ts', "export default () => new Response('x'\n  const = 3\n")
    await within(10_000, 'the load failure line', cli.waitFor(/✖ hello failed to load at \S*hello\.ts:2/, mark))
    const html = await get(`${url}/hello`, 'text/html,application/xhtml+xml,*/*;q=0.8')
    expect(html.status).toBe(500)
    expect(html.body).toMatch(/<html|<!doctype html>/i)
    expect(html.body).toMatch(/hello\.ts:2/)
    const json = await get(`${url}/hello`, 'application/json')
    expect(json.status).toBe(500)
    const parsed = JSON.parse(json.body) as { file: string, line: number, message: string }
    expect(parsed.file).toBe(join(dir, 'hello.ts'))
    expect(parsed.line).toBe(2)
    expect((await get(`${url}/other`)).status).toBe(200)

    mark = cli.out().length
    write('hello.ts', "const a = 1\nif (a === 1) throw new Error('boom at import')\nexport default () => new Response('x')\n")
    await within(10_000, 'the throw-at-import line', cli.waitFor(/✖ hello failed to load at \S*hello\.ts:2:\d+: .*boom at import/, mark))
    const thrown = JSON.parse((await get(`${url}/hello`, 'application/json')).body) as { line: number, message: string }
    expect(thrown.line).toBe(2)
    expect(thrown.message).toContain('boom at import')

    mark = cli.out().length
    write('hello.ts', handler('', "'fixed'"))
    await within(10_000, 'the recovery', cli.waitFor(/↻ hello reloaded/, mark))
    const fixed = await get(`${url}/hello`)
    expect(fixed.status).toBe(200)
    expect(fixed.body.split(' ')[0]).toBe('fixed')
    expect(cli.child.pid).toBe(pid)
    expect(cli.child.exitCode).toBe(null)
  }, 40_000)

  it('reloads the app that imports an edited helper, and leaves the other app\'s worker alone', async () => {
    const { dir, write } = project()
    const { cli, url } = await dev(dir)
    const otherBefore = (await get(`${url}/other`)).body
    const helloBefore = (await get(`${url}/hello`)).body
    let mark = cli.out().length
    write('lib/message.ts', "export const message = 'helped'\n")
    await within(10_000, 'hello reloading', cli.waitFor(/↻ hello reloaded in \d+ ms/, mark))
    expect((await get(`${url}/hello`)).body.split(' ')[0]).toBe('helped')
    expect((await get(`${url}/other`)).body).toBe(otherBefore)
    expect(cli.out().slice(mark)).not.toMatch(/↻ other/)

    mark = cli.out().length
    write('other.ts', handler('', "'other2'"))
    await within(10_000, 'other reloading', cli.waitFor(/↻ other reloaded/, mark))
    expect((await get(`${url}/other`)).body.split(' ')[0]).toBe('other2')
    const helloAfter = (await get(`${url}/hello`)).body
    // Same module instance id: hello's worker was not restarted by other's reload.
    expect(helloAfter.split(' ').slice(1)).toEqual(((await get(`${url}/hello`)).body).split(' ').slice(1))
    expect(helloAfter.split(' ')[2]).not.toBe(helloBefore.split(' ')[2])
    expect(cli.out().slice(mark)).not.toMatch(/↻ hello/)
  }, 40_000)

  it('keeps the last good config serving and prints the errors when the config file is invalid', async () => {
    const { dir, write } = project()
    const { cli, url } = await dev(dir)
    const mark = cli.out().length
    write('gateway.config.mjs', "export default { apps: { hello: { route: 'no-slash', entry: './hello.ts', workers: { min: -1 } } } }\n")
    const [printed] = await within(10_000, 'the config error', cli.waitFor(/✖ config reload failed[^\n]*\n(?:\s+.*\n)+/, mark))
    expect(printed).toMatch(/apps\.hello\.route/)
    expect(printed).toMatch(/apps\.hello\.workers\.min/)
    expect((await get(`${url}/hello`)).status).toBe(200)
    expect((await get(`${url}/other`)).status).toBe(200)
  }, 40_000)

  it('shows a throwing handler\'s message and stack in the 500 body (dev only; start keeps it generic)', async () => {
    const { dir, write } = project()
    const { cli, url } = await dev(dir)
    const mark = cli.out().length
    write('other.ts', "export default () => { throw new Error('boom from other') }\n")
    await within(10_000, 'other reloading', cli.waitFor(/↻ other reloaded in \d+ ms/, mark))
    const res = await get(`${url}/other`)
    expect(res.status).toBe(500)
    expect(res.body).toContain('boom from other')
    expect(res.body).toMatch(/other\.ts:1/)
    expect((await get(`${url}/hello`)).status).toBe(200)
  }, 40_000)

  it('runs an inline app in a one-thread pool: shared module state, ctx.mode inline, and a save starts it afresh', async () => {
    const { dir, write } = project()
    const counter = (tag: string): string => "import { isMainThread } from 'node:worker_threads'\nlet count = 0\n" +
      `export default (request, env, ctx) => new Response('${tag} ' + (++count) + ' ' + ctx.mode + ' ' + (isMainThread ? 'main' : 'thread'))\n`
    write('counter.ts', counter('v1'))
    write('gateway.config.mjs', "export default { apps: {\n  counter: { route: '/counter', entry: './counter.ts', mode: 'inline' },\n  hello: { route: '/hello', entry: './hello.ts', workers: { min: 1, max: 1 } },\n} }\n")
    const { cli, url } = await dev(dir)
    // One module instance for every request, as inline promises; but not on the gateway's main thread.
    expect((await get(`${url}/counter`)).body).toBe('v1 1 inline thread')
    expect((await get(`${url}/counter`)).body).toBe('v1 2 inline thread')
    const mark = cli.out().length
    write('counter.ts', counter('v2'))
    await within(10_000, 'counter reloading', cli.waitFor(/↻ counter reloaded in \d+ ms/, mark))
    expect((await get(`${url}/counter`)).body).toBe('v2 1 inline thread')
    expect(cli.out()).toMatch(/\[counter inline\] GET \/counter 200/)
    // dev turns Server-Timing on (start leaves it off: test/ops/health-metrics.test.ts).
    const timed = await within(10_000, 'GET /counter', request(`${url}/counter`, { dispatcher: agent }))
    await timed.body.dump()
    expect(timed.headers['server-timing']).toMatch(/^queue;dur=[\d.]+, handler;dur=[\d.]+, mode;desc=inline$/)
  }, 40_000)

  it('serves cold and cgi apps fresh on every request without watching them', async () => {
    const { dir, write } = project()
    mkdirSync(join(dir, 'cgi-bin'))
    write('cgi-bin/now.sh', '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\ncat "$(dirname "$0")/../message.txt"\n')
    chmodSync(join(dir, 'cgi-bin/now.sh'), 0o755)
    write('message.txt', 'one')
    write('fresh.ts', "import { readFileSync } from 'node:fs'\nlet count = 0\nexport default () => new Response(readFileSync(new URL('./message.txt', import.meta.url), 'utf8') + ' ' + (++count))\n")
    write('gateway.config.mjs', "export default { apps: {\n  fresh: { route: '/fresh', entry: './fresh.ts', mode: 'cold' },\n  legacy: { route: '/cgi-bin', cgi: './cgi-bin' },\n} }\n")
    const { cli, url } = await dev(dir)
    expect((await get(`${url}/fresh`)).body).toBe('one 1')
    expect((await get(`${url}/fresh`)).body).toBe('one 1')
    expect((await get(`${url}/cgi-bin/now.sh`)).body).toBe('one')
    const mark = cli.out().length
    write('message.txt', 'two')
    write('fresh.ts', "let count = 10\nexport default () => new Response('edited ' + (++count))\n")
    expect((await get(`${url}/fresh`)).body).toBe('edited 11')
    expect((await get(`${url}/cgi-bin/now.sh`)).body).toBe('two')
    // Give a (wrong) watcher time to fire: nothing is reloaded, nothing fails.
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(cli.out().slice(mark)).not.toMatch(/↻|✖/)
  }, 40_000)
})
