import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { BenchResult } from '../../src/index.ts'
import { childrenOf, descendantsOf } from '../bench/support.ts'
import { FLAG_BODY } from '../fixtures/bench/echo.ts'
import { FIXTURES, ROOT, within } from '../helpers/gateway.ts'

// `warmgate bench`, the real command in a child process. Its cwd is an empty temp directory: no
// gateway.config.ts there, so it measures the shipped workloads.
const NODE = join(ROOT, 'node_modules', '.bin', 'node')
const MAIN = join(ROOT, 'src', 'cli', 'main.ts')
const DIR = mkdtempSync(join(tmpdir(), 'warmgate-bench-cli-'))
const STACK_LINE = /^\s+at /m

interface Ran { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

const started = new Set<ChildProcess>()
afterEach(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  started.clear()
})
afterAll(() => rmSync(DIR, { recursive: true, force: true }))

function spawnBench (args: string[]): { child: ChildProcess, done: Promise<Ran>, stdout: () => string } {
  const child = spawn(NODE, [MAIN, 'bench', ...args], { cwd: DIR, stdio: ['ignore', 'pipe', 'pipe'] })
  started.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const done = new Promise<Ran>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, done, stdout: () => stdout }
}

async function run (args: string[], ms = 15_000): Promise<Ran> {
  return within(ms, `warmgate bench ${args.join(' ')} exiting`, spawnBench(args).done)
}

describe('warmgate bench: flags', () => {
  it.each([
    ['a duration that is not one', ['--duration', 'soon'], /--duration: .*'soon'/],
    ['a duration under 1 s', ['--duration', '500ms'], /--duration: .*'500ms'/],
    ['a duration of part seconds', ['--duration', '1.5s'], /--duration: .*'1.5s'/],
    ['an unknown mode', ['--modes', 'inline,hot'], /--modes: .*inline, warm, cold.*'inline,hot'/],
    ['an empty mode list', ['--modes', ''], /--modes: /],
    ['0 connections', ['--connections', '0'], /--connections: expected an integer from 1 to 10000, got '0'/],
    ['connections that are not a number', ['--connections', 'lots'], /--connections: .*'lots'/],
    ['0 rounds', ['--rounds', '0'], /--rounds: expected an integer from 1 to 20, got '0'/],
    ['an unknown app', ['--app', 'hello,nope'], /unknown app 'nope'.*hello, cpu, io, big/],
    ['an empty app name', ['--app', 'hello,'], /--app: /],
    ['a report file that is not .html', ['--report', 'out.txt'], /--report: .*\.html/],
    ['a json file in a missing directory', ['--json', '/nonexistent-dir/x.json'], /--json: directory \/nonexistent-dir does not exist/],
    ['a missing config file', ['--config', 'nope.config.ts'], /--config: file not found: nope\.config\.ts/],
    ['an unknown flag', ['--turbo'], /--turbo/],
    ['a method that is no token', ['--method', 'G T'], /^warmgate: --method: expected an HTTP method token, got 'G T'$/m],
    ['a method Node does not parse', ['--method', 'FROB'], /--method: expected a method Node's HTTP server accepts.*'FROB'/],
    ['a path without a leading / or ?', ['--path', 'users/1'], /--path: expected a path under the app's route starting with '\/' or '\?'.*'users\/1'/],
    ['a path with a dot segment', ['--path', '/../admin'], /--path: .*'\/\.\.\/admin'/],
    ['a header without a colon', ['--header', 'content-type'], /--header: expected 'name: value'.*got 'content-type'/],
    ['a header name that is no token', ['--header', 'x y: 1'], /--header: expected a header name .*got 'x y'/],
    ['a Content-Length header', ['--header', 'Content-Length: 5'], /--header: expected no content-length header \(bench sets Content-Length from the body/],
    ['a body file that does not exist', ['--body', '@nope.json'], /--body: cannot read nope\.json: no such file/],
  ])('exits 1 on %s, with one clear message and no stack', async (_label, args, message) => {
    const result = await run(args)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(message)
    expect(result.stderr).toMatch(/^warmgate: /)
    expect(result.stderr).not.toMatch(STACK_LINE)
  })

  it('--help prints the bench options', async () => {
    const result = await run(['--help'])
    expect(result.code).toBe(0)
    for (const flag of ['--config', '--app', '--modes', '--duration', '--connections', '--rounds', '--json', '--report', '--path', '--method', '--body', '--header']) expect(result.stdout).toContain(flag)
    expect(result.stdout).toMatch(/Exit code: 0 when every run measured; 1 when any run failed/)
  })
})

describe('warmgate bench: a short run', () => {
  it('prints progress and the table, and --json writes the BenchResult', async () => {
    const json = join(DIR, 'result.json')
    const result = await run(['--app', 'hello', '--modes', 'inline', '--duration', '1s', '--rounds', '1', '--connections', '4', '--json', json], 30_000)
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/1 runs of about \d+ s each/)
    // Not a TTY: progress comes as plain lines.
    expect(result.stdout).toMatch(/^\[1\/1\] hello inline · round 1\/1 · [\d.]+\/2 s · [\d,]+ req\/s$/m)
    expect(result.stdout).toMatch(/^Machine: Node v\d+/m)
    expect(result.stdout).toMatch(/^Load: (wrk|node) in its own process; inline and warm 4 connections, cold and cgi \d+/m)
    expect(result.stdout).toMatch(/^hello \(GET \/hello\)$/m)
    expect(result.stdout).toMatch(/^\s+inline\s+[\d,]+\s/m)
    const written = JSON.parse(readFileSync(json, 'utf8')) as BenchResult
    expect(written.options).toMatchObject({ rounds: 1, durationMs: 1000, connections: 4 })
    expect(written.apps).toHaveLength(1)
    expect(written.apps[0].modes).toHaveLength(1)
    expect(written.apps[0].modes[0]).toMatchObject({ mode: 'inline', connections: 4, errors: { non2xx: 0, timeouts: 0, resets: 0, other: 0 }, vsInline: { requestsPerSecond: 1, p99: 1 } })
    expect(written.apps[0].modes[0].requestsPerSecond.median).toBeGreaterThan(0)
    expect(written.apps[0].modes[0].firstRequestMs.median).toBeGreaterThan(0)
    expect(childrenOf(process.pid).filter(p => !p.cmdline.includes('vitest'))).toEqual([])
  }, 35_000)

  it('sends --method, --path, --body @FILE and --header over the config\'s bench key; an app that answers 404 is reported FAILED, the others measured, both files written, exit 1', async () => {
    const json = join(DIR, 'request.json')
    const report = join(DIR, 'request.html')
    writeFileSync(join(DIR, 'body.json'), FLAG_BODY)
    const result = await run(['--config', join(FIXTURES, 'bench', 'request.config.ts'), '--modes', 'inline', '--duration', '1s', '--rounds', '1', '--connections', '4',
      '--path', '/flag', '--method', 'post', '--body', '@body.json', '--header', 'Content-Type: application/json', '--header', 'Authorization: Bearer s3cret', '--json', json, '--report', report], 30_000)
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('warmgate: bench: 1 of 2 runs failed (see FAILED above); exit code 1\n')
    // The failure is printed when it happens, and the whole report after it.
    expect(result.stdout).toMatch(/^\[2\/2\] hono inline · round 1\/1 · FAILED: POST \/hono\/flag answered 404: 404 Not Found$/m)
    expect(result.stdout).toContain(`\necho (POST /echo/flag, ${Buffer.byteLength(FLAG_BODY)}-byte body, content-type: application/json, authorization: (hidden))\n`)
    expect(result.stdout).toMatch(/^\s+inline\s+[\d,]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+0\s/m)
    expect(result.stdout).toMatch(/^ {2}FAILED inline, round 1 \(first request\): POST \/hono\/flag answered 404: 404 Not Found$/m)
    expect(result.stdout).toMatch(/^FAILED: 1 of 2 runs measured nothing/m)
    expect(result.stdout).toContain(`Result written to ${json}`)
    expect(result.stdout).toContain(`Report written to ${report}`)
    expect(result.stdout).not.toContain('s3cret')
    const written = JSON.parse(readFileSync(json, 'utf8')) as BenchResult
    expect(written.runs).toEqual({ total: 2, failed: 1 })
    const [echo, hono] = written.apps
    // echo answers 400 to any other method, body or Content-Type than the flags': no error, so they all arrived.
    expect(echo).toMatchObject({ app: 'echo', path: '/echo/flag', method: 'POST', bodyBytes: Buffer.byteLength(FLAG_BODY), headers: { 'content-type': 'application/json', authorization: '(hidden)' }, failures: [] })
    expect(echo.modes[0]).toMatchObject({ mode: 'inline', errors: { non2xx: 0, timeouts: 0, resets: 0, other: 0 } })
    expect(echo.modes[0].requestsPerSecond.median).toBeGreaterThan(0)
    expect(hono).toMatchObject({ app: 'hono', path: '/hono/flag', modes: [], failures: [{ mode: 'inline', round: 1, stage: 'first-request', reason: 'POST /hono/flag answered 404: 404 Not Found' }] })
    const html = readFileSync(report, 'utf8')
    expect(html).toContain('<strong>1 of 2 runs failed</strong>')
    expect(html).toContain('<li><strong>inline</strong>, round 1 (first request): <code>POST /hono/flag answered 404&#58; 404 Not Found</code></li>')
    expect(html).not.toContain('s3cret')
    expect(childrenOf(process.pid).filter(p => !p.cmdline.includes('vitest'))).toEqual([])
  }, 35_000)

  it('on SIGINT stops the gateway and the load generator, and exits 1', async () => {
    const cli = spawnBench(['--app', 'hello', '--modes', 'warm', '--duration', '10s', '--rounds', '1', '--connections', '4'])
    await within(20_000, 'the first progress line', new Promise<void>((resolve, reject) => {
      const check = (): void => { if (/\[1\/1\] hello warm/.test(cli.stdout())) resolve() }
      cli.child.stdout?.on('data', check)
      void cli.done.then(r => reject(new Error(`exited before any progress: ${r.stderr}`)))
    }))
    const below = descendantsOf(cli.child.pid as number)
    expect(below.some(p => p.cmdline.includes('src/bench/serve.ts'))).toBe(true)
    cli.child.kill('SIGINT')
    const result = await within(15_000, 'warmgate bench exiting after SIGINT', cli.done)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/SIGINT, stopping/)
    expect(result.stderr).toMatch(/interrupted/)
    expect(result.stderr).not.toMatch(STACK_LINE)
    const alive = below.filter(p => { try { process.kill(p.pid, 0); return true } catch { return false } })
    expect(alive).toEqual([])
  }, 40_000)
})
