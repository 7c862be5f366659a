import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GatewayConfig, Mode } from '../../src/index.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { send } from '../runtime/support.ts'

// Lambda response streaming, module state across invocations, and `kind`, in every mode.

const lambda = (file: string): string => `${FIXTURES}lambda/${file}`
const one = { min: 1, max: 1 }

const CONFIG: GatewayConfig = {
  apps: {
    stream: { route: '/stream', entry: lambda('stream.ts'), workers: one, timeout: '10s' },
    counter: { route: '/counter', entry: lambda('counter.ts'), workers: one },
    forced: { route: '/forced', entry: lambda('both.ts'), workers: one, kind: 'lambda' },
    detected: { route: '/detected', entry: lambda('both.ts'), workers: one },
  },
}

const COUNTS: Record<Mode, string[]> = { warm: ['1', '2', '3'], inline: ['1', '2', '3'], cold: ['1', '1', '1'] }

describe.each(['warm', 'inline', 'cold'] as const satisfies readonly Mode[])('%s mode: Lambda streaming and state', (mode) => {
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

  it('a streamified handler: the first chunk reaches the client while the handler still waits on a gate the test holds', async () => {
    // The gate: a server of the test's own that holds the handler's request until the test releases it.
    const held: ServerResponse[] = []
    let hit: () => void = () => {}
    const gateHit = new Promise<void>(resolve => { hit = resolve })
    const gate = createServer((_req, res) => { held.push(res); hit() })
    gate.listen(0, '127.0.0.1')
    await within(5000, 'gate listening', once(gate, 'listening'))
    try {
      const gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}/`
      const res = await within(10_000, 'response head of /stream/', request(`${started.url}/stream/?gate=${encodeURIComponent(gateUrl)}`, { dispatcher: agent }))
      expect(res.statusCode).toBe(207)
      expect(res.headers['x-streamed']).toBe('yes')
      expect(res.headers['content-type']).toBe('text/plain')
      expect(res.headers['set-cookie']).toBe('streamed=1')
      const chunks = res.body[Symbol.asyncIterator]()
      const first = await within(10_000, 'first chunk while the handler waits', chunks.next())
      expect(Buffer.from(first.value as Buffer).toString()).toBe('first;')
      // The handler is still running: it is waiting on the gate, which nothing has answered.
      await within(10_000, 'the handler reaching the gate', gateHit)
      expect(held).toHaveLength(1)
      held[0].end('go')
      let rest = ''
      await within(10_000, 'the rest of the body after the gate opened', (async () => {
        for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) rest += Buffer.from(next.value as Buffer).toString()
      })())
      expect(rest).toBe('second;end')
    } finally {
      for (const res of held) res.destroy()
      gate.closeAllConnections()
      await within(5000, 'closing the gate', new Promise(resolve => gate.close(resolve)))
    }
  })

  it(`module-level state ${mode === 'cold' ? 'starts fresh for every request (1,1,1)' : 'persists between requests (1,2,3)'}`, async () => {
    const counts: string[] = []
    for (let i = 0; i < 3; i++) counts.push((await send(agent, started.url, '/counter/', { ms: 10_000 })).body.toString())
    expect(counts).toEqual(COUNTS[mode])
  })

  it("kind: 'lambda' calls the named handler of a module that also has a default export; without it, the default export", async () => {
    expect((await send(agent, started.url, '/forced/', { ms: 10_000 })).body.toString()).toBe('lambda side')
    expect((await send(agent, started.url, '/detected/', { ms: 10_000 })).body.toString()).toBe('fetch side')
  })
})
