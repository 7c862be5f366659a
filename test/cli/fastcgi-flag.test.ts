import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FIXTURES, ROOT, within } from '../helpers/gateway.ts'
import { cgiParams, FcgiPeer, requestRecords } from '../front/support.ts'

// `warmgate start --fastcgi ADDR` (and `dev`, which shares its options): the real command, spawned with
// the pinned Node 24, answering a FastCGI request on a unix socket; a bad address exits 1 with a message.
const NODE = join(ROOT, 'node_modules', '.bin', 'node')
const MAIN = join(ROOT, 'src', 'cli', 'main.ts')
const dir = mkdtempSync(join(tmpdir(), 'wg-cli-fcgi-'))

afterAll(() => rmSync(dir, { recursive: true, force: true }))

function spawnCli (args: string[]): { child: ReturnType<typeof spawn>, out: () => string, err: () => string } {
  const child = spawn(NODE, [MAIN, ...args], { cwd: join(FIXTURES, 'cli'), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  return { child, out: () => out, err: () => err }
}

describe('warmgate start --fastcgi', () => {
  it.for(['start', 'dev'])('%s serves FastCGI on the given unix socket and says so', async (command, { onTestFinished }) => {
    const path = join(dir, `${command}.sock`)
    const cli = spawnCli([command, '--port', '0', '--fastcgi', `unix:${path}`, '--log-level', 'warn'])
    const exited = once(cli.child, 'close')
    onTestFinished(async () => {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL')
      await within(10_000, 'warmgate exits', exited)
    })
    await within(20_000, 'the listening line', (async () => { while (!cli.out().includes('FastCGI on')) await new Promise(resolve => setTimeout(resolve, 50)) })())
    expect(cli.out()).toContain(`FastCGI on unix:${path}`)
    const peer = await FcgiPeer.connect(`unix:${path}`)
    onTestFinished(() => peer.close())
    peer.send(...requestRecords(1, cgiParams('GET', '/hello/x')))
    const res = await peer.response(1, 'GET /hello/x over FastCGI', 10_000)
    expect(res.status).toBe(200)
    expect(res.body.toString()).toMatch(/^hello from \/hello\/x/)
    cli.child.kill('SIGTERM')
    expect((await within(10_000, 'exit after SIGTERM', exited))[0]).toBe(0)
  })

  it('exits 1 naming --fastcgi when the address is not one', async () => {
    const cli = spawnCli(['start', '--port', '0', '--fastcgi', '9000'])
    const [code] = await within(20_000, 'warmgate exits', once(cli.child, 'close'))
    expect(code).toBe(1)
    expect(cli.err()).toMatch(/--fastcgi: expected an address/)
    expect(cli.out()).not.toContain('listening')
  })
})
