import { Agent } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Mode } from '../../src/index.ts'
import { LATIN1 } from '../fixtures/handlers/header-echo.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { get } from './support.ts'

// Headers both ways, as sent: repeated, many, long (near server.maxHeaderSize), and latin1 values, in
// every mode and through gateway.fetch.

const ENTRY = `${FIXTURES}handlers/header-echo.ts`
const MODES: Mode[] = ['warm', 'inline', 'cold']
const MAX_HEADER_SIZE = 16 * 1024

describe.each(MODES)('%s mode: headers reach both ends as sent', (mode) => {
  let started: Started
  const agent = new Agent({ keepAlive: true, maxSockets: 2 })

  beforeAll(async () => {
    started = await within(30_000, 'starting the gateway', startGateway({
      server: { maxHeaderSize: MAX_HEADER_SIZE },
      apps: { h: { route: '/h', entry: ENTRY, mode, workers: { min: 1, max: 1 } } },
    }))
  })

  afterAll(async () => {
    agent.destroy()
    await within(20_000, 'closing the gateway', started?.gateway.close())
  })

  const seen = (body: Buffer): Map<string, string> => new Map(JSON.parse(body.toString('utf8')) as Array<[string, string]>)

  it('passes repeated, many and latin1 request headers to the handler', async () => {
    const headers: Record<string, string | string[]> = { 'x-multi': ['first', 'second', 'third'], 'x-latin1': LATIN1, 'x-empty': '' }
    for (let i = 0; i < 100; i++) headers[`x-h-${i}`] = `value-${i}`
    const res = await get(`${started.url}/h/x`, { agent, headers })
    expect(res.status).toBe(200)
    const got = seen(res.body)
    expect(got.get('x-multi')).toBe('first, second, third')
    expect(got.get('x-latin1')).toBe(LATIN1)
    expect(got.get('x-empty')).toBe('')
    for (let i = 0; i < 100; i++) expect(got.get(`x-h-${i}`)).toBe(`value-${i}`)
  })

  it('passes a request head just under server.maxHeaderSize, and refuses one just over it with 431', async () => {
    // The rest of the head (request line, Host, Connection) takes well under 200 bytes.
    const long = 'v'.repeat(MAX_HEADER_SIZE - 300)
    const res = await get(`${started.url}/h/x`, { agent, headers: { 'x-long': long } })
    expect(res.status).toBe(200)
    expect(seen(res.body).get('x-long')).toBe(long)
    const over = await get(`${started.url}/h/x`, { headers: { 'x-long': 'v'.repeat(MAX_HEADER_SIZE + 10) } })
    expect(over.status).toBe(431)
  })

  it('sends repeated, many, long and latin1 response headers as the handler set them', async () => {
    const res = await get(`${started.url}/h/x?repeat=50&many=200&long=12000&latin1`, { agent })
    expect(res.status).toBe(200)
    const raw = res.rawHeaders
    const values = (name: string): string[] => {
      const out: string[] = []
      for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) out.push(raw[i + 1])
      return out
    }
    expect(values('set-cookie')).toEqual(['a=1; Path=/', 'b=2, with comma; HttpOnly', 'c=3'])
    expect(values('x-repeat').join(', ')).toBe(Array.from({ length: 50 }, (_, i) => `value ${i}`).join(', '))
    for (let i = 0; i < 200; i++) expect(values(`x-many-${i}`)).toEqual([`v${i}`])
    expect(values('x-long')).toEqual(['L'.repeat(12000)])
    expect(values('x-latin1')).toEqual([LATIN1])
  })

  it('gives gateway.fetch the same response headers', async () => {
    const res = await within(10_000, 'gateway.fetch', started.gateway.fetch(new Request('http://local/h/x?repeat=3&many=20&long=12000&latin1', { headers: { 'x-latin1': LATIN1 } })))
    expect(res.status).toBe(200)
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2, with comma; HttpOnly', 'c=3'])
    expect(res.headers.get('x-repeat')).toBe('value 0, value 1, value 2')
    expect(res.headers.get('x-many-19')).toBe('v19')
    expect(res.headers.get('x-long')).toBe('L'.repeat(12000))
    expect(res.headers.get('x-latin1')).toBe(LATIN1)
    expect(seen(Buffer.from(await res.arrayBuffer())).get('x-latin1')).toBe(LATIN1)
  })
})
