import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeParams } from '../../src/fastcgi/params.ts'
import { encodeBeginRequest, encodeRecord, RecordType, Role } from '../../src/fastcgi/records.ts'
import { cgiParams, FcgiPeer } from '../front/support.ts'
import { freePort } from '../front/web-servers.ts'
import { ROOT, within } from '../helpers/gateway.ts'

// warmgate as a user gets it: the repository packed (`npm pack`, which builds dist/), the tarball
// installed into a project outside the repository, and everything driven from there: the CLI (init,
// start in every mode, cgi and Lambda apps, the FastCGI responder, --processes, dev, bench), the API from
// .mjs and .ts, and a type check against the shipped declarations. It uses only the registry (or cache)
// that `npm install` already uses.

const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string, devDependencies: Record<string, string> }
const STEP_MS = 120_000
let work: string
let project: string
let env: NodeJS.ProcessEnv
let tarball: string

/** Runs npm (the one on PATH, as a user would) bounded, failing with its output. */
function npm (args: string[], cwd: string): string {
  const result = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: STEP_MS })
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

/** The installed `warmgate` bin, run with `node` first on PATH as the user's Node (>= 22.19). */
function warmgate (args: string[], cwd = project, extra: NodeJS.ProcessEnv = {}): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(join(project, 'node_modules', '.bin', 'warmgate'), args, { cwd, env: { ...env, ...extra }, encoding: 'utf8', timeout: STEP_MS })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

interface Running { child: ChildProcess, out: () => string, err: () => string, exited: Promise<number | null>, waitFor: (re: RegExp) => Promise<RegExpMatchArray> }

const running = new Set<Running>()

function launch (args: string[], extra: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(join(project, 'node_modules', '.bin', 'warmgate'), args, { cwd: project, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] })
  const text = { out: '', err: '' }
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { text.out += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { text.err += chunk })
  const exited = new Promise<number | null>(resolve => child.once('close', code => resolve(code)))
  const waitFor = (re: RegExp): Promise<RegExpMatchArray> => within(60_000, `warmgate ${args.join(' ')} printing ${re}`, new Promise((resolve, reject) => {
    const check = (): void => {
      const match = re.exec(text.out)
      if (match !== null) resolve(match)
    }
    child.stdout?.on('data', check)
    check()
    void exited.then(code => reject(new Error(`exited ${code} first; stdout:\n${text.out}\nstderr:\n${text.err}`)))
  }))
  const run: Running = { child, out: () => text.out, err: () => text.err, exited, waitFor }
  running.add(run)
  return run
}

async function stop (run: Running, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  run.child.kill(signal)
  const code = await within(30_000, 'warmgate to exit', run.exited)
  running.delete(run)
  return code
}

async function get (url: string, init?: RequestInit): Promise<{ status: number, text: string }> {
  const res = await within(20_000, `${init?.method ?? 'GET'} ${url}`, fetch(url, { ...init, signal: AbortSignal.timeout(20_000) }))
  return { status: res.status, text: await res.text() }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'wg-pack-'))
  // `node` on PATH is this test's Node (24): the system one may be older than warmgate needs.
  const bin = join(work, 'bin')
  mkdirSync(bin)
  symlinkSync(process.execPath, join(bin, 'node'))
  env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, XDG_CACHE_HOME: join(work, 'cache'), NODE_OPTIONS: '' }
  npm(['pack', '--pack-destination', work, '--loglevel=error'], ROOT)
  tarball = join(work, `warmgate-${PACKAGE.version}.tgz`)
  project = join(work, 'project')
  mkdirSync(project)
  // A TypeScript user's project: warmgate, and Node's types for their editor and tsc.
  npm(['install', tarball, `@types/node@${PACKAGE.devDependencies['@types/node']}`, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project)
}, 4 * STEP_MS)

afterAll(async () => {
  for (const run of running) {
    run.child.kill('SIGKILL')
    await run.exited
  }
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

describe('the packed package, installed in a project outside the repository', () => {
  it('holds built JavaScript and declarations only: no sources, tests, benchmarks or example apps, nothing reaching outside it', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map(line => line.replace(/^package\//, ''))
    expect(files).toContain('dist/cli/main.js')
    expect(files).toContain('dist/index.d.ts')
    expect(files).toContain('dist/runtime/cold/cold.runner.cjs')
    expect(files).toContain('dist/spawn/spawn-helper.c')
    expect(files.filter(file => !/^(dist\/|docs\/[\w-]+\.md$|package\.json$|README\.md$|CHANGELOG\.md$|LICENSE$)/.test(file))).toEqual([])
    // Node does not strip types under node_modules: nothing that runs may be .ts.
    expect(files.filter(file => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([])
    const installed = join(project, 'node_modules', 'warmgate', 'dist')
    const offenders: string[] = []
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) walk(path)
        else if (entry.name.endsWith('.js') && /\.\.\/\.\.\/apps\/|node_modules\/\.cache|\.\.\/\.\.\/package\.json/.test(readFileSync(path, 'utf8'))) offenders.push(path)
      }
    }
    walk(installed)
    expect(offenders).toEqual([])
  })

  it('runs `warmgate --version` and `warmgate init`, which writes the starter project', () => {
    expect(warmgate(['--version']).stdout.trim()).toBe(PACKAGE.version)
    const init = warmgate(['init'])
    expect(init.status, init.stderr).toBe(0)
    for (const file of ['gateway.config.ts', 'apps/hello.ts', 'tsconfig.json']) expect(existsSync(join(project, file)), file).toBe(true)
    expect(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).type).toBe('module')
  })

  it('says which Node it needs when run by an older one', () => {
    const old = ['/usr/bin/node', '/usr/local/bin/node'].find(path => existsSync(path) && Number(execFileSync(path, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' })) < 22)
    if (old === undefined) return console.warn('[pack-install] no Node older than 22 on this machine: the version check is not exercised')
    const result = spawnSync(old, [join(project, 'node_modules', 'warmgate', 'dist', 'cli', 'main.js'), 'start'], { cwd: project, encoding: 'utf8', timeout: 20_000 })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/needs Node\.js 22\.19 or newer/)
  })

  it('serves the user\'s own .ts handler in warm, inline and cold mode, a cgi script and a Lambda handler, and stops quietly on Ctrl-C', async () => {
    mkdirSync(join(project, 'cgi-bin'), { recursive: true })
    writeFileSync(join(project, 'cgi-bin', 'hi.sh'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nhi from sh"\n')
    chmodSync(join(project, 'cgi-bin', 'hi.sh'), 0o755)
    writeFileSync(join(project, 'apps', 'lambda.ts'), 'export const handler = async (event: { rawPath: string }) => ({ statusCode: 200, body: `lambda ${event.rawPath}` })\n')
    writeFileSync(join(project, 'gateway.config.ts'), `import { defineConfig } from 'warmgate'
export default defineConfig({
  server: { host: '127.0.0.1', port: 8080 },
  apps: {
    hello: { route: '/hello', entry: './apps/hello.ts' },
    inline: { route: '/inline', entry: './apps/hello.ts', mode: 'inline' },
    cold: { route: '/cold', entry: './apps/hello.ts', mode: 'cold' },
    lambda: { route: '/lambda', entry: './apps/lambda.ts' },
    cgi: { route: '/cgi-bin', cgi: './cgi-bin' },
  },
})
`)
    const gateway = launch(['start', '--port', '0'])
    const [, url] = await gateway.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
    expect(await get(`${url}/hello?name=user`)).toMatchObject({ status: 200, text: expect.stringMatching(/^Hello, user! \(warm mode/) })
    expect(await get(`${url}/inline`)).toMatchObject({ status: 200, text: expect.stringMatching(/\(inline mode/) })
    expect(await get(`${url}/cold`)).toMatchObject({ status: 200, text: expect.stringMatching(/\(cold mode/) })
    expect(await get(`${url}/lambda/x`)).toEqual({ status: 200, text: 'lambda /lambda/x' })
    expect(await get(`${url}/cgi-bin/hi.sh`)).toEqual({ status: 200, text: 'hi from sh' })
    expect(gateway.out()).toMatch(/"status":200/)
    // The banner names the version a user is running.
    expect(gateway.out()).toContain(`warmgate ${PACKAGE.version} listening on ${url}`)
    expect(await stop(gateway)).toBe(0)
    expect(gateway.err()).toBe('')
  }, STEP_MS)

  it('answers FastCGI (--fastcgi) from the installed package', async () => {
    const port = await freePort()
    const gateway = launch(['start', '--port', '0', '--fastcgi', `127.0.0.1:${port}`])
    await gateway.waitFor(/FastCGI on 127\.0\.0\.1:\d+/)
    const peer = await FcgiPeer.connect(`127.0.0.1:${port}`)
    peer.send(
      encodeBeginRequest(1, Role.RESPONDER, false),
      encodeRecord(RecordType.PARAMS, 1, encodeParams(Object.entries(cgiParams('GET', '/hello?name=fcgi')))),
      encodeRecord(RecordType.PARAMS, 1, new Uint8Array(0)),
      encodeRecord(RecordType.STDIN, 1, new Uint8Array(0)),
    )
    const res = await peer.response(1, 'a FastCGI request to the installed gateway', 20_000)
    peer.close()
    expect(res.status).toBe(200)
    expect(res.body.toString()).toMatch(/^Hello, fcgi!/)
    expect(await stop(gateway, 'SIGTERM')).toBe(0)
  }, STEP_MS)

  it('falls back with one warn line when there is no C compiler for the spawn helper, and still serves cgi', async () => {
    const gateway = launch(['start', '--port', '0'], { WARMGATE_CC: '/nonexistent/cc', XDG_CACHE_HOME: join(work, 'cache-no-cc') })
    const [, url] = await gateway.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
    expect(await get(`${url}/cgi-bin/hi.sh`)).toEqual({ status: 200, text: 'hi from sh' })
    expect(gateway.out().split('\n').filter(line => line.includes('"level":40'))).toHaveLength(1)
    expect(await stop(gateway)).toBe(0)
  }, STEP_MS)

  it('runs --processes 2 on one port', async () => {
    const gateway = launch(['start', '--port', '0', '--processes', '2'])
    const [, url] = await gateway.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
    expect((await get(`${url}/hello`)).status).toBe(200)
    expect(await stop(gateway, 'SIGTERM')).toBe(0)
  }, STEP_MS)

  it('reloads an app on save under `warmgate dev`', async () => {
    const dev = launch(['dev', '--port', '0'])
    const [, url] = await dev.waitFor(/(http:\/\/127\.0\.0\.1:\d+)/)
    expect((await get(`${url}/hello`)).text).toMatch(/^Hello/)
    const source = readFileSync(join(project, 'apps', 'hello.ts'), 'utf8')
    writeFileSync(join(project, 'apps', 'hello.ts'), source.replace('Hello, ', 'Howdy, '))
    await dev.waitFor(/reloaded/)
    expect((await get(`${url}/hello`)).text).toMatch(/^Howdy, world!/)
    writeFileSync(join(project, 'apps', 'hello.ts'), source)
    expect(await stop(dev)).toBe(0)
  }, STEP_MS)

  it('benchmarks the workloads it ships when there is no config', () => {
    const empty = join(work, 'no-config')
    mkdirSync(empty)
    const result = warmgate(['bench', '--app', 'hello', '--modes', 'warm', '--duration', '1s', '--rounds', '1'], empty)
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/hello/)
    expect(result.stdout).toMatch(/warm/)
  }, STEP_MS)

  it('serves deploy/app laid out as the Docker image lays it out (the tarball installed beside it, production dependencies only)', async () => {
    const app = join(work, 'image-app')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), '{ "private": true, "type": "module" }\n')
    npm(['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball], app)
    cpSync(join(ROOT, 'deploy', 'app'), app, { recursive: true })
    const child = spawn(join(app, 'node_modules', '.bin', 'warmgate'), ['start', '--host', '127.0.0.1', '--port', '0'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    const exited = new Promise<number | null>(resolve => child.once('close', code => resolve(code)))
    try {
      let url: string | undefined
      for (let i = 0; url === undefined && i < 600; i++) {
        url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]
        if (url === undefined) await new Promise(resolve => setTimeout(resolve, 50))
      }
      expect(url, out).toBeDefined()
      expect(await get(`${url as string}/hello`)).toEqual({ status: 200, text: 'Hello from warmgate (warm mode)\n' })
      expect((await get(`${url as string}/__warmgate/health`)).status).toBe(200)
    } finally {
      child.kill('SIGTERM')
    }
    expect(await within(30_000, 'the image layout gateway to exit', exited)).toBe(0)
  }, STEP_MS)

  it('embeds with createGateway, defineConfig and bench from .mjs and from .ts, and a consumer type-checks against the shipped declarations', () => {
    writeFileSync(join(project, 'embed.mjs'), `import { bench, createGateway, defineConfig } from 'warmgate'
const gw = await createGateway(defineConfig({ apps: { hello: { route: '/hello', entry: './apps/hello.ts', mode: 'inline' } } }), { logger: false })
const res = await gw.fetch(new Request('http://local/hello?name=mjs'))
console.log(res.status, (await res.text()).split(' (')[0], typeof bench)
await gw.close()
`)
    writeFileSync(join(project, 'embed.ts'), `import { createGateway, defineConfig, type FetchHandler, type HandlerContext, type Gateway } from 'warmgate'
const handler: FetchHandler = (request: Request, _env, ctx: HandlerContext) => new Response(ctx.mode + ' ' + new URL(request.url).pathname)
void handler
const gw: Gateway = await createGateway(defineConfig({ apps: { hello: { route: '/hello', entry: './apps/hello.ts', mode: 'inline' } } }), { logger: false })
const res = await gw.fetch(new Request('http://local/hello?name=ts'))
console.log(res.status, (await res.text()).split(' (')[0])
await gw.close()
`)
    const node = (file: string): string => execFileSync(process.execPath, [file], { cwd: project, env, encoding: 'utf8', timeout: 30_000 }).trim()
    expect(node('embed.mjs')).toBe('200 Hello, mjs! function')
    expect(node('embed.ts')).toBe('200 Hello, ts!')
    writeFileSync(join(project, 'tsconfig.check.json'), JSON.stringify({ extends: './tsconfig.json', include: ['gateway.config.ts', 'apps', 'embed.ts'] }))
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.check.json'], { cwd: project, encoding: 'utf8', timeout: STEP_MS })
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0)
  }, STEP_MS)
})
