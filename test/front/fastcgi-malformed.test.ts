import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeParams } from '../../src/fastcgi/params.ts'
import { encodeBeginRequest, encodeRecord, RecordType, Role } from '../../src/fastcgi/records.ts'
import { createGateway } from '../../src/index.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { cgiParams, FcgiPeer, requestRecords } from './support.ts'

// Malformed input closes that connection, logs one line naming the peer, and never affects the others:
// a request in flight on another connection completes. Also: the unix socket and close().

let started: Started
let address: string
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wg-fcgi-'))
  started = await startGateway({
    server: { fastcgi: { listen: '127.0.0.1:0' }, maxHeaderSize: '2kb' },
    apps: {
      reflect: { route: '/reflect', entry: `${FIXTURES}handlers/reflect.ts`, mode: 'inline' },
      slow: { route: '/slow', entry: `${FIXTURES}handlers/slow.ts`, mode: 'inline' },
    },
  })
  address = started.gateway.fastcgiStats()?.address as string
})

afterAll(async () => {
  await within(15_000, 'gateway close', started.gateway.close())
  rmSync(dir, { recursive: true, force: true })
})

const params = encodeParams(Object.entries(cgiParams('GET', '/reflect/x')))
const longParams = encodeParams([['HTTP_X_HUGE', 'h'.repeat(12 * 1024)]])

const CASES: Array<{ name: string, bytes: () => Uint8Array[], end?: boolean }> = [
  { name: 'a record with version 2', bytes: () => [Uint8Array.of(2, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0)] },
  { name: 'a record cut off at end of stream', bytes: () => [encodeBeginRequest(1, Role.RESPONDER, false).subarray(0, 11)], end: true },
  { name: 'a BEGIN_REQUEST body of the wrong length', bytes: () => [encodeRecord(RecordType.BEGIN_REQUEST, 1, new Uint8Array(5))] },
  { name: 'STDIN before the end of PARAMS', bytes: () => [encodeBeginRequest(1, Role.RESPONDER, false), encodeRecord(RecordType.PARAMS, 1, params), encodeRecord(RecordType.STDIN, 1, Uint8Array.of(1))] },
  { name: 'PARAMS for a request id that is not active', bytes: () => [encodeRecord(RecordType.PARAMS, 9, params)] },
  { name: 'a name-value length that runs past the PARAMS stream', bytes: () => [encodeBeginRequest(1, Role.RESPONDER, false), encodeRecord(RecordType.PARAMS, 1, Uint8Array.of(0x80, 0, 0x10, 0, 1, 65)), encodeRecord(RecordType.PARAMS, 1)] },
  { name: 'an absurd 2^31 - 1 byte name length', bytes: () => [encodeBeginRequest(1, Role.RESPONDER, false), encodeRecord(RecordType.PARAMS, 1, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 65, 66)), encodeRecord(RecordType.PARAMS, 1)] },
  { name: 'PARAMS larger than server.maxHeaderSize + 8 KiB', bytes: () => [encodeBeginRequest(1, Role.RESPONDER, false), encodeRecord(RecordType.PARAMS, 1, longParams)] },
  { name: 'a record type only an application sends (STDOUT)', bytes: () => [encodeRecord(RecordType.STDOUT, 1, Uint8Array.of(1))] },
  { name: 'STDIN longer than CONTENT_LENGTH', bytes: () => requestRecords(1, cgiParams('POST', '/reflect/x', { CONTENT_LENGTH: '2' }), { body: Uint8Array.of(1, 2, 3) }) },
]

describe('FastCGI responder: malformed input', () => {
  it.for(CASES)('closes the connection on $name, logs the peer, and another connection keeps working', async ({ name, bytes, end }, { onTestFinished }) => {
    // A request in flight on another connection while the bad one arrives.
    const good = await FcgiPeer.connect(address)
    onTestFinished(() => good.close())
    const key = `malformed-${CASES.findIndex(c => c.name === name)}`
    good.send(...requestRecords(1, cgiParams('GET', `/slow/wait?key=${key}&ms=300`)))
    await sleep(50)

    const bad = await FcgiPeer.connect(address)
    onTestFinished(() => bad.close())
    const before = started.lines.length
    bad.send(...bytes())
    if (end === true) bad.socket.end()
    await within(3000, `the gateway closes the connection after ${name}`, bad.closed)
    const logged = started.lines.slice(before).filter(line => line.code === 'WG_ERR_FASTCGI_MALFORMED')
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ level: 40, remoteAddress: '127.0.0.1' })
    expect(typeof logged[0].remotePort).toBe('number')

    const res = await good.response(1, 'the request on the other connection')
    expect(res.status).toBe(200)
    expect(res.body.toString()).toBe('slept')
  })

  it('cuts off a peer that floods GET_VALUES and never reads the answers, and only it', async ({ onTestFinished }) => {
    const flood = await FcgiPeer.connect(address)
    onTestFinished(() => flood.close())
    flood.socket.pause()
    const ask = encodeRecord(RecordType.GET_VALUES, 0, encodeParams([['FCGI_MAX_CONNS', ''], ['FCGI_MAX_REQS', ''], ['FCGI_MPXS_CONNS', '']]))
    const before = started.lines.length
    const batch = Buffer.concat(Array.from({ length: 10_000 }, () => ask))
    for (let i = 0; i < 40 && !flood.socket.destroyed; i++) {
      flood.socket.write(batch)
      await sleep(10)
    }
    await within(5000, 'the flooding connection is closed', flood.closed)
    expect(started.lines.slice(before).filter(line => line.code === 'WG_ERR_FASTCGI_MALFORMED')).toHaveLength(1)
    const good = await FcgiPeer.connect(address)
    onTestFinished(() => good.close())
    good.send(...requestRecords(1, cgiParams('GET', '/reflect/after-flood')))
    expect((await good.response(1, 'a request after the flood')).status).toBe(200)
  })

  it('listens on a unix socket, replaces a stale socket file, and close() lets the request in flight finish', async () => {
    const path = join(dir, 'wg.sock')
    // A socket file whose process was killed: nobody listens on it any more.
    const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
    await within(5000, 'the holder process listens', once(holder.stdout, 'data'))
    holder.kill('SIGKILL')
    await within(5000, 'the holder process exits', once(holder, 'exit'))
    expect(existsSync(path)).toBe(true)

    const gw = await createGateway({ apps: { slow: { route: '/slow', entry: `${FIXTURES}handlers/slow.ts`, mode: 'inline' } } }, { logger: false })
    try {
      const info = await gw.listen({ port: 0, fastcgi: `unix:${path}` })
      expect(info.fastcgi).toBe(`unix:${path}`)
      const p = await FcgiPeer.connect(`unix:${path}`)
      p.send(...requestRecords(1, cgiParams('GET', '/slow/wait?key=unix-close&ms=400')))
      await sleep(100)
      const closing = gw.close()
      const res = await p.response(1, 'the request in flight at close()', 5000)
      expect(res.status).toBe(200)
      expect(res.body.toString()).toBe('slept')
      await within(3000, 'the connection closes after its request', p.closed)
      await within(5000, 'close()', closing)
      expect(existsSync(path)).toBe(false)
    } finally {
      await gw.close()
    }
  })

  it('refuses to take over a unix socket another process listens on', async () => {
    const path = join(dir, 'busy.sock')
    const first = await createGateway({ apps: { slow: { route: '/slow', entry: `${FIXTURES}handlers/slow.ts`, mode: 'inline' } } }, { logger: false })
    const second = await createGateway({ apps: { slow: { route: '/slow', entry: `${FIXTURES}handlers/slow.ts`, mode: 'inline' } } }, { logger: false })
    try {
      await first.listen({ port: 0, fastcgi: `unix:${path}` })
      await expect(second.listen({ port: 0, fastcgi: `unix:${path}` })).rejects.toMatchObject({ code: 'WG_ERR_LISTEN' })
      await expect(second.listen({ port: 0, fastcgi: 'nowhere' })).rejects.toMatchObject({ code: 'WG_ERR_LISTEN' })
    } finally {
      await Promise.all([first.close(), second.close()])
    }
  })
})
