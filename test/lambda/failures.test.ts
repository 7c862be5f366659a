import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGateway, type GatewayConfig, type Mode } from '../../src/index.ts'
import { codesOf, FIXTURES, memoryLogger, startGateway, within, type Started } from '../helpers/gateway.ts'
import { eventually, send } from '../runtime/support.ts'

// What goes wrong, in every mode: a streamed handler failing before or after its first write, a forced
// `kind: 'lambda'` on a module without a `handler`, and a Lambda app reached through gateway.fetch.

const lambda = (file: string): string => `${FIXTURES}lambda/${file}`
const one = { min: 1, max: 1 }
const CONFIG: GatewayConfig = {
  apps: {
    stream: { route: '/stream', entry: lambda('stream.ts'), workers: one, timeout: '10s' },
    api: { route: '/api', entry: lambda('api.ts'), workers: one },
  },
}

describe.each(['warm', 'inline', 'cold'] as const satisfies readonly Mode[])('%s mode: Lambda failures', (mode) => {
  let started: Started
  let agent: Agent

  beforeAll(async () => {
    started = await within(30_000, `starting a ${mode} gateway`, startGateway(CONFIG, { mode }))
    agent = new Agent()
  })
  afterAll(async () => {
    await within(5000, 'closing the agent', agent?.close())
    await within(10_000, 'closing the gateway', started?.gateway.close())
  })

  it('a streamified handler that throws before its first write is a 502 with WG_ERR_LAMBDA_THREW', async () => {
    const res = await send(agent, started.url, '/stream/?fail=before', { ms: 10_000 })
    expect(res.status).toBe(502)
    expect(codesOf(started.lines, res.requestId)).toContain('WG_ERR_LAMBDA_THREW')
  })

  it('a streamified handler that throws after its first write cuts the body short and the failure is logged with the request id', async () => {
    const res = await within(10_000, 'response head', request(`${started.url}/stream/?fail=after`, { dispatcher: agent }))
    expect(res.statusCode).toBe(207)
    const reqId = String(res.headers['x-request-id'])
    let received = ''
    const outcome = await within(10_000, 'reading the cut body', (async () => {
      try {
        for await (const chunk of res.body) received += (chunk as Buffer).toString()
        return 'ended'
      } catch {
        return 'failed'
      }
    })())
    expect(received).toBe('first;')
    await eventually(5000, 'a log line for the cut body', () => started.lines.some(line => line.reqId === reqId && (line.level as number) >= 50) ? true : undefined)
    // A chunked body that stops without its last chunk: undici reports the connection closing early.
    // In cold mode the runner's non-zero exit after its stdout ended says the same.
    expect(outcome).toBe('failed')
  })

  it('gateway.fetch reaches a Lambda app; with no socket, sourceIp is 127.0.0.1', async () => {
    const res = await within(10_000, 'gateway.fetch /api/event', started.gateway.fetch(new Request('http://local/api/event?x=1')))
    expect(res.status).toBe(200)
    const { event } = await res.json() as { event: { rawQueryString: string, requestContext: { http: { sourceIp: string }, requestId: string } } }
    expect(event.requestContext.http.sourceIp).toBe('127.0.0.1')
    expect(event.rawQueryString).toBe('x=1')
    expect(event.requestContext.requestId).toBe(res.headers.get('x-request-id'))
  })

  it("kind: 'lambda' on a module without a handler export fails at start-up with WG_ERR_HANDLER_INVALID", async () => {
    const { logger } = memoryLogger()
    const config: GatewayConfig = { apps: { bad: { route: '/bad', entry: `${FIXTURES}handlers/hello-ts.ts`, kind: 'lambda', workers: one } } }
    const failure = await within(30_000, 'createGateway with a bad Lambda app', createGateway(config, { mode, logger }).then(
      async (gateway) => { await gateway.close(); return undefined },
      (error: unknown) => error,
    ))
    expect(failure).toMatchObject({ code: 'WG_ERR_HANDLER_INVALID' })
  })
})
