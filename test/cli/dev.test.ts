import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runInNewContext } from 'node:vm'
import { Agent, request } from 'undici'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { killCli, startCli } from '../helpers/cli.ts'
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

async function get (url: string, accept?: string): Promise<{ status: number, body: string, type: string }> {
  const res = await within(10_000, `GET ${url}`, request(url, { dispatcher: agent, headers: accept === undefined ? {} : { accept } }))
  return { status: res.statusCode, body: await within(10_000, `body of ${url}`, res.body.text()), type: String(res.headers['content-type']) }
}

/** What a browser sends for a page. */
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

/** How often `text` occurs in `within`. */
function count (text: string, within: string): number {
  return within.split(text).length - 1
}

/**
 * Runs a dev page's inline script as a browser would, against the real server: `fetch` resolves the
 * page's relative URL against `base`, `location.reload()` resolves `reloaded`. `polled` resolves when a
 * poll's answer was handled without a reload (the script then schedules its next poll).
 */
function runPageScript (html: string, base: string): { polled: Promise<void>, reloaded: Promise<void>, stop: () => void } {
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)
  if (script === null) throw new Error(`no script in the page:\n${html}`)
  const timers = new Set<NodeJS.Timeout>()
  let stopped = false
  let onPolled!: () => void
  let onReload!: () => void
  const polled = new Promise<void>((resolve) => { onPolled = resolve })
  const reloaded = new Promise<void>((resolve) => { onReload = resolve })
  let fetched = 0
  runInNewContext(script[1], {
    fetch: async (path: string, init: RequestInit) => {
      fetched++
      return fetch(new URL(path, base), init)
    },
    location: { reload: onReload },
    document: { hidden: false, addEventListener: () => {} },
    setTimeout: (fn: () => void, ms: number) => {
      if (fetched > 0) onPolled()
      if (stopped) return
      const timer = setTimeout(() => { timers.delete(timer); fn() }, ms)
      timers.add(timer)
    },
  })
  return { polled, reloaded, stop: () => { stopped = true; for (const timer of timers) clearTimeout(timer) } }
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

  it.each(['warm', 'inline', 'cold'])('answers a handler that throws at run time with the styled error page, user frames first and internal ones dimmed, or JSON (%s)', async (mode) => {
    const { dir, write } = project()
    write('gateway.config.mjs', `export default { apps: {\n  hello: { route: '/hello', entry: './hello.ts', workers: { min: 1, max: 1 } },\n  other: { route: '/other', entry: './other.ts', mode: '${mode}' },\n} }\n`)
    write('other.ts', "export default () => {\n  return JSON.parse('{not json')\n}\n")
    const { url } = await dev(dir)
    const html = await get(`${url}/other`, BROWSER)
    expect(html.status).toBe(500)
    expect(html.type).toBe('text/html; charset=utf-8')
    expect(html.body).toMatch(/^<!doctype html>/)
    expect(html.body).toContain('<title>other failed on GET /other</title>')
    expect(html.body).toMatch(/<pre class="message">SyntaxError: [^<]*JSON[^<]*<\/pre>/)
    expect(html.body).toContain(`at <code>${join(dir, 'other.ts')}:2:15</code>`)
    expect(html.body).toContain('<mark>2 │   return JSON.parse(&#39;{not json&#39;)</mark>')
    const stack = html.body.slice(html.body.indexOf('<pre class="stack">'))
    // A file URL from a worker thread (with the reload query), a path from the cold runner.
    const user = stack.search(/<span class="user">at default \((?:file:\/\/)?\/\S*other\.ts[^)]*:2:15\)<\/span>/)
    expect(user).toBeGreaterThan(-1)
    // V8's JSON.parse frame is first in the stack as thrown: it comes after the user's, dimmed; so does warmgate's own code.
    expect(stack.indexOf('<span class="internal">at JSON.parse (&#60;anonymous&#62;)</span>')).toBeGreaterThan(user)
    expect(stack).toMatch(new RegExp(`<span class="internal">at [^<]*${join(ROOT, 'src').replaceAll('/', '\\/')}\\/`))
    if (mode !== 'cold') expect(stack).toMatch(/<span class="internal">at [^<]*node:internal\//)
    expect(stack).not.toMatch(/<span class="user">at [^<]*(node:|node_modules|\/src\/)/)

    const json = await get(`${url}/other`, 'application/json')
    expect(json.status).toBe(500)
    expect(json.type).toBe('application/json; charset=utf-8')
    const body = JSON.parse(json.body) as { error: string, message: string, file: string, line: number, frames: Array<{ file: string, internal: boolean }> }
    expect(body).toMatchObject({ error: 'WG_ERR_HANDLER_THREW', app: 'other', file: join(dir, 'other.ts'), line: 2 })
    expect(body.message).toMatch(/JSON/)
    expect(body.frames[0]).toMatchObject({ file: join(dir, 'other.ts'), internal: false })
    expect((await get(`${url}/hello`)).status).toBe(200)
  }, 40_000)

  it('reloads an error page in the browser once a save fixes the handler: its script polls the dev version endpoint', async () => {
    const { dir, write } = project()
    write('other.ts', "export default () => {\n  throw new Error('boom from other')\n}\n")
    const { cli, url } = await dev(dir)
    const page = await get(`${url}/other`, BROWSER)
    expect(page.status).toBe(500)
    expect(page.body).toContain('const url = "/__warmgate/dev/version"')
    const before = JSON.parse((await get(`${url}/__warmgate/dev/version`)).body) as { instance: string, version: number }
    const browser = runPageScript(page.body, url)
    let reloaded = false
    void browser.reloaded.then(() => { reloaded = true })
    try {
      // A poll before the save finds the same version: the page stays.
      await within(10_000, 'the first poll', browser.polled)
      expect(reloaded).toBe(false)
      const mark = cli.out().length
      write('other.ts', handler('', "'fixed'"))
      await within(10_000, 'other reloading', cli.waitFor(/↻ other reloaded/, mark))
      await within(10_000, 'the page reloading itself', browser.reloaded)
    } finally {
      browser.stop()
    }
    const after = JSON.parse((await get(`${url}/__warmgate/dev/version`)).body) as { instance: string, version: number }
    expect(after.instance).toBe(before.instance)
    expect(after.version).toBeGreaterThan(before.version)
    expect((await get(`${url}/other`)).body.split(' ')[0]).toBe('fixed')
  }, 40_000)

  it.each([
    ['a syntax error', 'warm', "export default () => new Response('x'\n  const = 3\n", /hello\.ts:2/],
    ['a throw at import', 'inline', "const a = 1\nif (a === 1) throw new Error('boom at import')\nexport default () => new Response('x')\n", /hello\.ts:2:\d+: .*boom at import/],
    ['a throw at import', 'cold', "const a = 1\nif (a === 1) throw new Error('boom at import')\nexport default () => new Response('x')\n", /hello\.ts:2:\d+: .*boom at import/],
  ])('starts with a handler broken by %s (%s): the error page for it, the other apps serve, and a save recovers it', async (_label, mode, source, printed) => {
    const { dir, write } = project()
    write('gateway.config.mjs', `export default { apps: {\n  hello: { route: '/hello', entry: './hello.ts', mode: '${mode}' },\n  other: { route: '/other', entry: './other.ts', workers: { min: 1, max: 1 } },\n} }\n`)
    write('hello.ts', source)
    const { cli, url } = await dev(dir)
    expect(cli.out()).toMatch(new RegExp(`✖ hello failed to load at \\S*${printed.source}`))
    const html = await get(`${url}/hello`, BROWSER)
    expect(html.status).toBe(500)
    expect(html.body).toContain('<title>hello failed to load</title>')
    expect(html.body).toMatch(/hello\.ts:2/)
    const json = JSON.parse((await get(`${url}/hello`, 'application/json')).body) as { error: string, file: string, line: number }
    expect(json).toMatchObject({ error: 'WG_ERR_HANDLER_LOAD', file: join(dir, 'hello.ts'), line: 2 })
    expect((await get(`${url}/other`)).status).toBe(200)

    const mark = cli.out().length
    write('hello.ts', handler('', "'fixed'"))
    await within(10_000, 'the recovery', cli.waitFor(/↻ hello reloaded/, mark))
    const fixed = await get(`${url}/hello`)
    expect(fixed.status).toBe(200)
    expect(fixed.body.split(' ')[0]).toBe('fixed')
    expect(cli.child.exitCode).toBe(null)
  }, 40_000)

  it('prints a config error once per save of the config file', async () => {
    const { dir, write } = project()
    const { cli, url } = await dev(dir)
    let mark = cli.out().length
    write('gateway.config.mjs', "export default { apps: { hello: { route: 'no-slash', entry: './hello.ts' } } }\n")
    await within(10_000, 'the config error', cli.waitFor(/✖ config reload failed/, mark))
    // A second, different error: the first one's lines are all out by the time this one is handled.
    let next = cli.out().length
    write('gateway.config.mjs', "export default { apps: { hello: { route: '/hello', entry: './hello.ts', workers: { min: -1 } } } }\n")
    await within(10_000, 'the second config error', cli.waitFor(/✖ config reload failed/, next))
    expect(count('"no-slash"', cli.out().slice(mark, next))).toBe(1)
    expect(count('✖ config reload failed', cli.out().slice(mark, next))).toBe(1)
    mark = next
    next = cli.out().length
    write('gateway.config.mjs', "export default { apps: { hello: { route: '/hello', entry: './hello.ts' } } }\n")
    await within(10_000, 'the fixed config', cli.waitFor(/↻ config reloaded/, next))
    expect(count('apps.hello.workers.min', cli.out().slice(mark, next))).toBe(1)
    expect(count('✖ config reload failed', cli.out().slice(mark, next))).toBe(1)
    expect(cli.out().slice(next)).not.toMatch(/✖/)
    expect((await get(`${url}/hello`)).status).toBe(200)
  }, 40_000)

  it('answers GET / with the route list when no app is routed at / (HTML, or JSON), and leaves an app at / alone', async () => {
    const { dir, write } = project()
    const { cli, url } = await dev(dir)
    const html = await get(`${url}/`, BROWSER)
    expect(html.status).toBe(404)
    expect(html.type).toBe('text/html; charset=utf-8')
    expect(html.body).toMatch(/^<!doctype html>/)
    expect(html.body).toContain('<tr><td><a href="/hello"><code>/hello</code></a></td><td>hello</td><td>warm</td>')
    expect(html.body).toContain('<tr><td><a href="/other"><code>/other</code></a></td><td>other</td><td>warm</td>')
    expect(html.body).toContain('other.ts</code>')
    expect(html.body).toContain('const url = "/__warmgate/dev/version"')
    const json = await get(`${url}/`, 'application/json')
    expect(json.status).toBe(404)
    expect(JSON.parse(json.body)).toEqual({
      error: 'WG_ERR_NOT_FOUND',
      message: 'no app is routed at /',
      routes: [
        { route: '/hello', app: 'hello', mode: 'warm', entry: join(dir, 'hello.ts'), loadError: null },
        { route: '/other', app: 'other', mode: 'warm', entry: join(dir, 'other.ts'), loadError: null },
      ],
    })
    // Any other path that no app serves keeps the plain 404.
    expect((await get(`${url}/nope`)).body).toMatch(/^404 Not Found \(request /)

    const mark = cli.out().length
    write('gateway.config.mjs', "export default { apps: { root: { route: '/', entry: './other.ts', workers: { min: 1, max: 1 } } } }\n")
    await within(10_000, 'the config reload', cli.waitFor(/↻ config reloaded/, mark))
    const root = await get(`${url}/`, BROWSER)
    expect(root.status).toBe(200)
    expect(root.body.split(' ')[0]).toBe('other')
  }, 40_000)

  it('leaves warmgate start as it was: generic 500 and 404 bodies, no version endpoint', async () => {
    const { dir, write } = project()
    write('other.ts', "export default () => { throw new Error('boom from other') }\n")
    const cli = await startCli(['--port', '0'], dir)
    try {
      const thrown = await get(`${cli.url}/other`, BROWSER)
      expect(thrown.status).toBe(500)
      expect(thrown.type).toBe('text/plain; charset=utf-8')
      expect(thrown.body).toMatch(/^500 Internal Server Error \(request [\w-]+\)\n$/)
      expect((await get(`${cli.url}/`, BROWSER)).body).toMatch(/^404 Not Found \(request [\w-]+\)\n$/)
      expect((await get(`${cli.url}/__warmgate/dev/version`)).status).toBe(404)
    } finally {
      await killCli(cli)
    }
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
