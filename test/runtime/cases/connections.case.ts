import { expect } from 'vitest'
import type { GatewayConfig } from '../../../src/index.ts'
import type { Reflection } from '../../fixtures/handlers/reflect.ts'
import { TEXT } from '../../fixtures/handlers/responses.ts'
import type { BehaviourCase } from '../behaviour.case.ts'
import { handler, openGateway } from '../support.ts'

const CONFIG: GatewayConfig = {
  apps: {
    reflect: { route: '/reflect', entry: handler('reflect.ts'), workers: { min: 1, max: 2 } },
    responses: { route: '/responses', entry: handler('responses.ts'), workers: { min: 1, max: 1 } },
    failing: { route: '/failing', entry: handler('failing.ts'), workers: { min: 1, max: 1 } },
  },
}

const CONCURRENT = 200
// Each cold request is a Node start-up (~60 ms of CPU): 200 of them are seconds of both cores, which
// says nothing more about mix-ups than 64 do.
const COLD_CONCURRENT = 64
const concurrency = (mode: string): number => mode === 'cold' ? COLD_CONCURRENT : CONCURRENT

export const connectionCases: BehaviourCase[] = [
  {
    name: 'sequential requests of every kind reuse one keep-alive connection',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG, { connections: 1 })
      let connects = 0
      let disconnects = 0
      h.agent.on('connect', () => { connects++ })
      h.agent.on('disconnect', () => { disconnects++ })
      // Each kind of answer frames its end differently; a framing slip breaks the next request on the socket.
      // (No HEAD here: undici closes the connection after every HEAD by design. The HEAD case checks its
      // framing on a raw socket instead.)
      const steps: Array<{ path: string, method?: string, body?: string, status: number }> = [
        { path: '/reflect/1', status: 200 },
        { path: '/reflect/2', method: 'POST', body: 'a body', status: 200 },
        { path: '/responses/no-content', status: 204 },
        { path: '/responses/not-modified', status: 304 },
        { path: '/nowhere', status: 404 },
        { path: '/failing/throw', status: 500 },
        { path: '/failing/non-response', status: 500 },
        { path: '/responses/text', status: 200 },
        { path: '/reflect/3', method: 'PUT', body: 'last', status: 200 },
      ]
      const ids = new Set<string>()
      for (const step of steps) {
        const res = await h.send(step.path, { method: step.method, body: step.body })
        expect(res.status, `${step.method ?? 'GET'} ${step.path}`).toBe(step.status)
        ids.add(res.requestId)
      }
      expect((await h.send('/responses/text')).text()).toBe(TEXT)
      expect(ids.size).toBe(steps.length)
      expect({ connects, disconnects }).toEqual({ connects: 1, disconnects: 0 })
    },
  },
  {
    name: `${CONCURRENT} (cold: ${COLD_CONCURRENT}) concurrent HTTP requests each get their own answer`,
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const replies = await Promise.all(Array.from({ length: concurrency(ctx.mode) }, async (_, i) => {
        const res = await h.send(`/reflect/concurrent/${i}?i=${i}`, {
          method: 'POST',
          headers: { 'x-request-id': `concurrent-${i}` },
          body: `payload ${i} ${'x'.repeat(i)}`,
          ms: 20_000,
        })
        return { i, res }
      }))
      for (const { i, res } of replies) {
        expect(res.status, `request ${i}`).toBe(200)
        const seen = res.json<Reflection>()
        expect(seen.url, `request ${i}`).toBe(`${h.url}/reflect/concurrent/${i}?i=${i}`)
        expect(seen.requestId, `request ${i}`).toBe(`concurrent-${i}`)
        expect(res.requestId, `request ${i}`).toBe(`concurrent-${i}`)
        expect(Buffer.from(seen.bodyBase64, 'base64').toString(), `request ${i}`).toBe(`payload ${i} ${'x'.repeat(i)}`)
      }
    },
  },
  {
    name: `${CONCURRENT} (cold: ${COLD_CONCURRENT}) concurrent gateway.fetch calls each get their own answer`,
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const bodies = await Promise.all(Array.from({ length: concurrency(ctx.mode) }, async (_, i) => {
        // As for HTTP above: 200 cold starts take seconds on two cores.
        const res = await h.fetch(`/reflect/concurrent/${i}?raw`, { method: 'POST', body: `payload ${i}`, ms: 20_000 })
        return { i, status: res.status, body: await res.text() }
      }))
      for (const { i, status, body } of bodies) expect({ status, body }, `request ${i}`).toEqual({ status: 200, body: `payload ${i}` })
    },
  },
]
