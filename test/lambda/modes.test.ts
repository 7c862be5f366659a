import { Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GatewayConfig, Mode } from '../../src/index.ts'
import { APPS, codesOf, FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { send, type Reply, type SendOptions } from '../runtime/support.ts'
import { expectedEvent, shapeDifferences } from './support.ts'

// The same Lambda handler files (test/fixtures/lambda/) in every mode: events, results, errors, context.

const lambda = (file: string): string => `${FIXTURES}lambda/${file}`
const one = { min: 1, max: 1 }

const CONFIG: GatewayConfig = {
  apps: {
    v2: { route: '/v2', entry: lambda('api.ts'), workers: one, timeout: '10s', memoryMb: 64 },
    v1: { route: '/v1', entry: lambda('api.ts'), workers: one, timeout: '10s', lambda: { payload: '1.0' } },
    cb: { route: '/cb', entry: lambda('callback.ts'), workers: one },
    example: { route: '/example', entry: `${APPS}lambda.ts`, workers: one },
  },
}

// Names as a browser or curl writes them: payload 1.0 keeps that case (REST API), 2.0 lower-cases them.
const REQUEST_HEADERS = { 'User-Agent': 'warmgate-test', Cookie: 'c1=v1; c2=v2', 'X-Multi': ['one', 'two'] }

describe.each(['warm', 'inline', 'cold'] as const satisfies readonly Mode[])('%s mode: Lambda handlers', (mode) => {
  let started: Started
  let agent: Agent
  const get = (path: string, options?: SendOptions): Promise<Reply> => send(agent, started.url, path, { ms: 10_000, ...options })
  const host = (): string => new URL(started.url).host

  beforeAll(async () => {
    started = await within(30_000, `starting a ${mode} gateway`, startGateway(CONFIG, { mode }))
    agent = new Agent()
  })
  afterAll(async () => {
    await within(5000, 'closing the agent', agent?.close())
    await within(10_000, 'closing the gateway', started?.gateway.close())
  })

  it('a 2.0 handler reads path, query, cookies, headers and a JSON body; the event has the documented shape', async () => {
    const res = await get('/v2/event?name=a&name=b&x=1', {
      method: 'POST',
      headers: { ...REQUEST_HEADERS, 'content-type': 'application/json' },
      body: '{"hello":"world","n":1}',
    })
    expect(res.status).toBe(200)
    expect(res.headers['x-handler']).toBe('api')
    expect(res.headers['set-cookie']).toEqual(['session=abc; Path=/; HttpOnly', 'theme=dark'])
    const { event, json } = res.json<{ event: Record<string, unknown>, json: unknown }>()
    expect(json).toEqual({ hello: 'world', n: 1 })
    expect(shapeDifferences(event, expectedEvent('event-v2.json', { host: host(), requestId: res.requestId }))).toEqual([])
    expect(event.headers).not.toHaveProperty('cookie')
  })

  it('a 1.0 handler gets multi-value headers and query parameters, and its multiValueHeaders reach the client', async () => {
    const res = await get('/v1/event?name=a&name=b&x=1', { headers: REQUEST_HEADERS })
    expect(res.status).toBe(200)
    const { event } = res.json<{ event: Record<string, unknown> }>()
    // undici writes its own Host header in lower case; the other names keep the case the test sent.
    const expected = expectedEvent('event-v1.json', { host: host(), requestId: res.requestId }) as Record<string, Record<string, unknown>>
    for (const map of ['headers', 'multiValueHeaders']) {
      const { Host, ...rest } = expected[map]
      expected[map] = { host: Host, ...rest }
    }
    expect(shapeDifferences(event, expected)).toEqual([])

    const multi = await get('/v1/multi')
    expect(multi.status).toBe(201)
    expect(multi.headers['x-single']).toBe('one')
    // Through a web Response, repeats of a field other than Set-Cookie leave as one line joined by ", "
    // (RFC 9110 §5.3: the same field); multiValueHeaders wins over headers for a name in both.
    expect(multi.headers['x-many']).toBe('a, b')
    expect(multi.headers['x-both']).toBe('m1, m2')
    expect(multi.text()).toBe('created')
  })

  it.each(['v2', 'v1'])('binary bytes travel base64 both ways (%s)', async (app) => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const res = await get(`/${app}/binary`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/octet-stream')
    expect(res.body).toEqual(Buffer.from(bytes).reverse())
  })

  it('a callback-style handler answers through its callback; an error passed to it is a 502 logged with the request id', async () => {
    const ok = await get('/cb/')
    expect([ok.status, ok.text()]).toEqual([200, `callback ${ok.requestId}`])
    const failed = await get('/cb/?fail=1')
    expect(failed.status).toBe(502)
    expect(codesOf(started.lines, failed.requestId)).toContain('WG_ERR_LAMBDA_THREW')
  })

  it('a handler that throws is a 502 with WG_ERR_LAMBDA_THREW logged with the request id, and the app keeps serving', async () => {
    const res = await get('/v2/throws')
    expect(res.status).toBe(502)
    expect(res.text()).not.toContain('exploded')
    expect(codesOf(started.lines, res.requestId)).toContain('WG_ERR_LAMBDA_THREW')
    const line = started.lines.find(l => l.reqId === res.requestId && l.code === 'WG_ERR_LAMBDA_THREW')
    expect(JSON.stringify(line)).toContain('lambda handler exploded')
    expect((await get('/v2/string')).status).toBe(200)
  })

  it.each(['/v2/invalid', '/v2/body-object', '/v1/string'])('an invalid result (%s) is a 502 with WG_ERR_LAMBDA_RESULT logged', async (path) => {
    const res = await get(path)
    expect(res.status).toBe(502)
    expect(codesOf(started.lines, res.requestId)).toContain('WG_ERR_LAMBDA_RESULT')
  })

  it('2.0 shorthand: a returned string or object is a 200 application/json', async () => {
    const string = await get('/v2/string')
    expect([string.status, string.headers['content-type'], string.text()]).toEqual([200, 'application/json', 'plain string result'])
    const object = await get('/v2/object')
    expect([object.status, object.headers['content-type']]).toEqual([200, 'application/json'])
    expect(object.json()).toEqual({ message: 'hi', list: [1, 2] })
    const empty = await get('/v2/empty')
    expect([empty.status, empty.body.byteLength]).toEqual([204, 0])
  })

  it('the example app apps/lambda.ts answers as it would behind API Gateway', async () => {
    const res = await get('/example/hi?who=me')
    expect(res.status).toBe(200)
    expect(res.json()).toEqual({ method: 'GET', path: '/example/hi', query: { who: 'me' }, from: '127.0.0.1', requestId: res.requestId })
  })

  it('context: request id, app name, memory limit, Lambda fields, and getRemainingTimeInMillis() counting down from the timeout', async () => {
    const res = await get('/v2/context')
    const { fields, first, second } = res.json<{ fields: Record<string, unknown>, first: number, second: number }>()
    expect(fields).toEqual({
      functionName: 'v2',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:v2',
      memoryLimitInMB: '64',
      awsRequestId: res.requestId,
      logGroupName: '/aws/lambda/v2',
      logStreamName: expect.stringMatching(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/),
      callbackWaitsForEmptyEventLoop: true,
    })
    expect(first).toBeLessThanOrEqual(10_000)
    expect(first).toBeGreaterThan(8_000)
    // The handler slept 150 ms between the two reads.
    expect(first - second).toBeGreaterThanOrEqual(140)
    expect(first - second).toBeLessThan(2_000)
  })
})
