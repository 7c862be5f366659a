import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeParams } from '../../src/fastcgi/params.ts'
import {
  encodeBeginRequest, encodeEndRequest, encodeRecord, encodeUnknownType, ProtocolStatus, RecordType, Role,
} from '../../src/fastcgi/records.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { cgiParams, FcgiPeer, requestRecords } from './support.ts'

// The management side of the responder, byte for byte (FastCGI Specification 1.0 §4, §5): GET_VALUES,
// UNKNOWN_TYPE, roles, multiplexing, keep-conn, overload.

let started: Started
let address: string

beforeAll(async () => {
  started = await startGateway({
    server: { fastcgi: { listen: '127.0.0.1:0', maxConnections: 3 } },
    apps: {
      reflect: { route: '/reflect', entry: `${FIXTURES}handlers/reflect.ts`, mode: 'inline' },
      // One slot, no queue: a second request while one runs is refused at once.
      slow: { route: '/slow', entry: `${FIXTURES}handlers/slow.ts`, workers: { min: 1, max: 1 }, concurrency: 1, maxQueue: 0 },
    },
  })
  address = started.gateway.fastcgiStats()?.address as string
})

afterAll(async () => {
  await within(15_000, 'gateway close', started.gateway.close())
})

async function peer (onTestFinished: (fn: () => void) => void): Promise<FcgiPeer> {
  const p = await FcgiPeer.connect(address)
  onTestFinished(() => p.close())
  return p
}

describe('FastCGI responder: management records and connections', () => {
  it('reports its address from listen() and fastcgiStats()', () => {
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(address.endsWith(':0')).toBe(false)
  })

  it('answers GET_VALUES with MPXS_CONNS 0, MAX_CONNS and MAX_REQS, leaving unknown names out', async ({ onTestFinished }) => {
    const p = await peer(onTestFinished)
    const ask = encodeParams([['FCGI_MAX_CONNS', ''], ['FCGI_NO_SUCH_VALUE', ''], ['FCGI_MAX_REQS', ''], ['FCGI_MPXS_CONNS', '']])
    p.send(encodeRecord(RecordType.GET_VALUES, 0, ask))
    const [answer] = await p.until('GET_VALUES_RESULT', records => records.length >= 1)
    const expected = encodeRecord(RecordType.GET_VALUES_RESULT, 0, encodeParams([['FCGI_MAX_CONNS', '3'], ['FCGI_MAX_REQS', '3'], ['FCGI_MPXS_CONNS', '0']]))
    expect(Buffer.from(encodeRecord(answer.type, answer.requestId, answer.content))).toEqual(Buffer.from(expected))
  })

  it('answers an unknown record type with UNKNOWN_TYPE and keeps the connection', async ({ onTestFinished }) => {
    const p = await peer(onTestFinished)
    p.send(encodeRecord(42, 0, new Uint8Array([1, 2, 3])), encodeRecord(200, 7))
    await p.until('two UNKNOWN_TYPE records', records => records.length >= 2)
    expect(Buffer.from(encodeRecord(p.records[0].type, 0, p.records[0].content))).toEqual(Buffer.from(encodeUnknownType(42)))
    expect(p.records[1].content[0]).toBe(200)
    p.records.length = 0
    p.send(...requestRecords(1, cgiParams('GET', '/reflect/after')))
    const res = await p.response(1, 'request after UNKNOWN_TYPE')
    expect(res.status).toBe(200)
    expect(res.end).toEqual({ appStatus: 0, protocolStatus: ProtocolStatus.REQUEST_COMPLETE })
  })

  it('answers a role other than RESPONDER with END_REQUEST UNKNOWN_ROLE', async ({ onTestFinished }) => {
    const p = await peer(onTestFinished)
    p.send(encodeBeginRequest(1, Role.AUTHORIZER, false))
    const [end] = await p.until('END_REQUEST', records => records.length >= 1)
    expect(Buffer.from(encodeRecord(end.type, end.requestId, end.content))).toEqual(Buffer.from(encodeEndRequest(1, 0, ProtocolStatus.UNKNOWN_ROLE)))
    await within(3000, 'close after UNKNOWN_ROLE without KEEP_CONN', p.closed)
  })

  it('refuses a second concurrent request id with CANT_MPX_CONN, and the first one completes', async ({ onTestFinished }) => {
    const p = await peer(onTestFinished)
    p.send(...requestRecords(1, cgiParams('GET', '/slow/wait?key=mpx&ms=300')))
    await sleep(50)
    p.send(...requestRecords(2, cgiParams('GET', '/reflect/second')))
    const [refusal] = await p.until('END_REQUEST for id 2', records => records.some(r => r.requestId === 2))
    expect(Buffer.from(encodeRecord(refusal.type, refusal.requestId, refusal.content))).toEqual(Buffer.from(encodeEndRequest(2, 0, ProtocolStatus.CANT_MPX_CONN)))
    p.records.length = 0
    const first = await p.response(1, 'the first request')
    expect(first.status).toBe(200)
    expect(first.body.toString()).toBe('slept')
  })

  it('closes after END_REQUEST without FCGI_KEEP_CONN, and serves several requests on one connection with it', async ({ onTestFinished }) => {
    const before = started.gateway.fastcgiStats()!
    const once = await peer(onTestFinished)
    once.send(...requestRecords(1, cgiParams('GET', '/reflect/once')))
    expect((await once.response(1, 'without keep-conn')).status).toBe(200)
    await within(3000, 'the gateway closes a connection without FCGI_KEEP_CONN', once.closed)

    const kept = await peer(onTestFinished)
    for (let i = 1; i <= 3; i++) {
      kept.send(...requestRecords(1, cgiParams('GET', `/reflect/kept-${i}`), { keepConn: true }))
      const res = await kept.response(1, `keep-conn request ${i}`)
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body.toString()).url).toBe(`http://example.test/reflect/kept-${i}`)
    }
    await sleep(100)
    expect(kept.socket.destroyed).toBe(false)
    const after = started.gateway.fastcgiStats()!
    expect(after.accepted - before.accepted).toBe(2)
    expect(after.requests - before.requests).toBe(4)
  })

  it("answers OVERLOADED at once when the app's slots and queue are full", async ({ onTestFinished }) => {
    const busy = await peer(onTestFinished)
    busy.send(...requestRecords(1, cgiParams('GET', '/slow/wait?key=overload&ms=1500')))
    await sleep(150)
    const p = await peer(onTestFinished)
    const asked = performance.now()
    p.send(...requestRecords(1, cgiParams('GET', '/slow/wait?key=overload-2&ms=10')))
    const res = await p.response(1, 'the refused request', 3000)
    expect(performance.now() - asked).toBeLessThan(1000)
    expect(res.records.filter(r => r.type === RecordType.STDOUT)).toEqual([])
    expect(res.end).toEqual({ appStatus: 0, protocolStatus: ProtocolStatus.OVERLOADED })
    expect((await busy.response(1, 'the busy request', 5000)).status).toBe(200)
  })

  it('answers OVERLOADED on a connection over server.fastcgi.maxConnections, and closes it', async ({ onTestFinished }) => {
    const open = [await peer(onTestFinished), await peer(onTestFinished), await peer(onTestFinished)]
    const extra = await peer(onTestFinished)
    extra.send(...requestRecords(1, cgiParams('GET', '/reflect/too-many')))
    const res = await extra.response(1, 'the connection over the cap')
    expect(res.end.protocolStatus).toBe(ProtocolStatus.OVERLOADED)
    await within(3000, 'the connection over the cap is closed', extra.closed)
    expect(started.lines.some(line => String(line.msg).includes('maxConnections'))).toBe(true)
    // The ones under the cap still work.
    open[0].send(...requestRecords(1, cgiParams('GET', '/reflect/under-cap')))
    expect((await open[0].response(1, 'a connection under the cap')).status).toBe(200)
  })
})
