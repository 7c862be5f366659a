import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { within } from '../helpers/gateway.ts'
import { awaitGone, codesFor, expectInvariants, fetchText, type HostileGateway, LIMITS, pidsFromFile, poll, rawToClose, spawnHelpers, startHostileGateway, stopHostileGateway } from './support.ts'

// Group 2: CGI scripts (sh, perl, python3) that misbehave, against one real `warmgate start`. Each case
// says what the client gets and that the script, and whatever it started, is gone afterwards.

let gw: HostileGateway
beforeAll(async () => { gw = await startHostileGateway() }, 90_000)
afterAll(async () => { await stopHostileGateway(gw) }, 30_000)

/** Time a script left behind may take to go: SIGTERM, then SIGKILL 2 s later (cgi.md: Lifecycle), plus slack. */
const KILL_GRACE_MS = 2000 + 1500
const numbers = (value: unknown): number[] => String(value ?? '').trim().split(/\s+/).filter(Boolean).map(Number)

describe('cgi scripts that break the response rules get a 502 with the right code, never their output', () => {
  const cases: Array<[string, string, string]> = [
    ['writes nothing and exits', 'silent.sh', 'WG_ERR_CGI_EMPTY_OUTPUT'],
    ['writes a header line but never the blank line', 'no-blank.sh', 'WG_ERR_CGI_NO_HEADERS'],
    ['writes only lines that are not header fields', 'invalid-only.sh', 'WG_ERR_CGI_NO_HEADERS'],
    ['sends a Status that is not a 3-digit code (perl)', 'bad-status.pl', 'WG_ERR_CGI_BAD_STATUS'],
    ['sends 128 KiB of headers (perl)', 'huge-headers.pl', 'WG_ERR_CGI_HEADER_TOO_LARGE'],
  ]
  for (const [name, script, code] of cases) {
    it.concurrent(`answers 502 ${code} to a script that ${name}`, async () => {
      const reqId = `hostile-cgi-${script}`
      const res = await fetchText(gw, `/cgi/${script}`, { headers: { 'x-request-id': reqId } })
      expect(res.status).toBe(502)
      expect(res.body).toBe(`502 Bad Gateway (request ${reqId})\n`)
      expect(await codesFor(gw, reqId)).toContain(code)
    })
  }
})

describe('cgi scripts that misbehave over time are stopped, and nothing they started survives', () => {
  it.concurrent('kills a python script writing forever once the client stops reading and leaves', async () => {
    const res = await within(5000, 'the head of infinite.py', request(`${gw.url}/cgi/infinite.py`, { reset: true }))
    expect(res.statusCode).toBe(200)
    const pid = Number(res.headers['x-pid'])
    let read = 0
    for await (const chunk of res.body) {
      read += (chunk as Buffer).length
      if (read >= 1024 * 1024) break // leaving the loop destroys the body: the client is gone
    }
    expect(await awaitGone([pid], KILL_GRACE_MS)).toEqual([])
  })

  it.concurrent('cuts a script writing forever to a reading client off at the timeout, without a last chunk, and kills it', async () => {
    // On a raw socket: undici takes a close of a `Connection: close` response as its end, so only the bytes
    // say whether the body was cut (no `0\r\n\r\n`) or falsely completed.
    const { head, tail, ms } = await rawToClose(gw, `GET /cgi/infinite.py HTTP/1.1\r\nHost: x\r\n\r\n`, LIMITS.cgiTimeoutMs + 5000)
    expect(head).toMatch(/^HTTP\/1\.1 200 /)
    expect(head.toLowerCase()).toContain('transfer-encoding: chunked')
    expect(tail.endsWith('0\r\n\r\n'), `the body ends ${JSON.stringify(tail.slice(-16))}`).toBe(false)
    expect(ms).toBeGreaterThanOrEqual(LIMITS.cgiTimeoutMs - 100)
    expect(await awaitGone([Number(/x-pid: (\d+)/i.exec(head)?.[1])], KILL_GRACE_MS)).toEqual([])
  })

  it.concurrent('serves a script that exits before reading its request body, 5 times out of 5, without a reset', async () => {
    const body = Buffer.alloc(LIMITS.bodyLimit - 1024, 0x62)
    const answers = await Promise.all(Array.from({ length: 5 }, async () => fetchText(gw, '/cgi/exit-early.sh', { method: 'POST', body })))
    expect(answers.map(answer => [answer.status, answer.body])).toEqual(Array.from({ length: 5 }, () => [200, `left early, content_length=${body.length}\n`]))
  })

  it.concurrent('answers 504 WG_ERR_TIMEOUT to a perl script that polls its stdin forever, and kills it', async () => {
    const reqId = 'hostile-cgi-read-forever'
    const res = await fetchText(gw, '/cgi/read-forever.pl', { method: 'POST', body: 'some input', headers: { 'x-request-id': reqId } })
    expect(res.status).toBe(504)
    expect(await codesFor(gw, reqId)).toContain('WG_ERR_TIMEOUT')
    // No pid to look for: the invariants after the group find any survivor by its tag.
  })

  it.concurrent('reaps a bounded fork burst: five background children die with their script', async () => {
    const res = await fetchText(gw, '/cgi/fork-few.sh')
    expect([res.status, res.body]).toEqual([200, 'forked\n'])
    const children = numbers(res.headers['x-children'])
    expect(children).toHaveLength(5)
    expect(await awaitGone(children, KILL_GRACE_MS)).toEqual([])
  })

  it.concurrent('ends the response of a script whose background child holds stdout open, and kills that child', async () => {
    const started = performance.now()
    const res = await fetchText(gw, '/cgi/bg-holds-stdout.sh', { ms: 8000 })
    expect([res.status, res.body]).toEqual([200, 'held\n'])
    // The script exited at once; its child's 30 s sleep must not hold the response.
    expect(performance.now() - started).toBeLessThan(KILL_GRACE_MS + 1000)
    expect(await awaitGone(numbers(res.headers['x-child']), KILL_GRACE_MS)).toEqual([])
  })

  it.concurrent('does not let a double-forked setsid daemon outlive its request', async () => {
    const res = await fetchText(gw, '/cgi/daemon.sh?one')
    expect([res.status, res.body]).toEqual([200, 'daemonized\n'])
    const [daemon] = await pidsFromFile(gw, 'daemon.one')
    expect(daemon).toBeGreaterThan(0)
    expect(await awaitGone([daemon], KILL_GRACE_MS)).toEqual([])
  })

  it.concurrent('answers 504 to a script that ignores SIGTERM, and SIGKILLs it 2 s later', async () => {
    const reqId = 'hostile-cgi-ignore-term'
    const res = await fetchText(gw, '/cgi/ignore-term.sh?one', { headers: { 'x-request-id': reqId } })
    expect(res.status).toBe(504)
    expect(await codesFor(gw, reqId)).toContain('WG_ERR_TIMEOUT')
    const [pid] = await pidsFromFile(gw, 'ignore-term.one')
    expect(await awaitGone([pid], KILL_GRACE_MS)).toEqual([])
  })

  it.concurrent('serves a python script that writes 4 MiB to stderr, and logs at most 64 KiB of it', async () => {
    const reqId = 'hostile-cgi-stderr-heavy'
    const res = await fetchText(gw, '/cgi/stderr-heavy.py', { headers: { 'x-request-id': reqId } })
    expect([res.status, res.body]).toEqual([200, 'fine after stderr\n'])
    await poll(2000, () => gw.cli.stdout().includes(`"reqId":"${reqId}","method"`))
    const logged = gw.cli.stdout().split('\n').filter(line => line.includes(reqId)).join('\n').length
    // 64 KiB of stderr, escaped into JSON lines with their bindings: well under 1 MiB, far under 4 MiB.
    expect(logged).toBeLessThan(1024 * 1024)
  })
})

describe('a script that kills its parent, the spawn helper', () => {
  it('fails the requests that helper ran with 502, leaves none of its scripts alive, and a new helper serves', async () => {
    const [oldHelper] = spawnHelpers(gw).map(info => info.pid)
    expect(oldHelper).toBeGreaterThan(0)
    for (const name of readdirSync(gw.dir).filter(file => file.startsWith('sleep.'))) rmSync(join(gw.dir, name))
    const sleepers = Array.from({ length: 3 }, async () => fetchText(gw, '/cgi/sleep.sh?20', { ms: 15_000 }))
    let files: string[] = []
    await poll(5000, () => (files = readdirSync(gw.dir).filter(file => file.startsWith('sleep.'))).length === 3)
    expect(files).toHaveLength(3)
    const sleeperPids = (await Promise.all(files.map(async file => pidsFromFile(gw, file)))).flat()
    const killer = await fetchText(gw, '/cgi/kill-parent.sh', { headers: { 'x-request-id': 'hostile-cgi-kill-parent' } })
    expect(killer.status).toBe(502)
    expect((await Promise.all(sleepers)).map(res => res.status)).toEqual([502, 502, 502])
    expect(await awaitGone([oldHelper, ...sleeperPids], KILL_GRACE_MS)).toEqual([])
    const after = await fetchText(gw, '/cgi/ok.sh')
    expect(after.status).toBe(200)
    const helpers = spawnHelpers(gw).map(info => info.pid)
    expect(helpers).toHaveLength(1)
    expect(helpers[0]).not.toBe(oldHelper)
  })
})

describe('a script that closes stdout and sleeps', () => {
  it('answers every request at once, frees its slot, and kills each sleeper after a short grace', async () => {
    const pids: number[] = []
    // Two more than the app's concurrency, one after another: a slot held by a sleeper would make the
    // last ones wait for a slot until queueTimeout and get 503.
    for (let i = 0; i < LIMITS.cgiConcurrency + 2; i++) {
      const started = performance.now()
      const res = await fetchText(gw, '/cgi/close-stdout-sleep.sh')
      expect([res.status, res.body], `sleeper ${i}`).toEqual([200, 'bye\n'])
      expect(performance.now() - started, `sleeper ${i} answered without waiting for a slot`).toBeLessThan(1000)
      pids.push(Number(res.headers['x-pid']))
    }
    const ok = await fetchText(gw, '/cgi/ok.sh')
    expect(ok.status).toBe(200)
    expect(await awaitGone(pids, KILL_GRACE_MS)).toEqual([])
  })
})

describe('cgi scripts: afterwards', () => {
  it('leaves the gateway whole (same pid, health, no script or daemon left, fds, RSS)', async () => {
    await expectInvariants(gw, 'after the misbehaving cgi scripts')
  })
})
