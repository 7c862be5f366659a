import { expect } from 'vitest'
import type { GatewayConfig } from '../../../src/index.ts'
import { SECRET } from '../../fixtures/handlers/failing.ts'
import type { Reflection } from '../../fixtures/handlers/reflect.ts'
import { within } from '../../helpers/gateway.ts'
import type { BehaviourCase } from '../behaviour.case.ts'
import { eventually, handler, openGateway, type Harness } from '../support.ts'

const one = { min: 1, max: 1 }

const FAILING: GatewayConfig = { apps: { failing: { route: '/failing', entry: handler('failing.ts'), workers: one } } }

/** Error-level lines logged for one request id, besides its access line (a 500's is at error level too). */
function errorLines (h: Harness, reqId: string): Array<Record<string, unknown>> {
  return h.lines.filter(line => line.reqId === reqId && (line.level as number) >= 50 && line.msg !== 'request')
}

async function expectGeneric500 (h: Harness, mode: string, path: string, code: string): Promise<void> {
  const res = await h.send(path)
  expect(res.status, path).toBe(500)
  expect(res.text(), path).not.toContain(SECRET)
  expect(res.text(), path).not.toMatch(/\bat .*\.ts:\d+/) // no stack frames
  expect(res.body.byteLength, path).toBeLessThan(200)
  const logged = errorLines(h, res.requestId)
  expect(logged.map(line => line.code), path).toEqual([code])
  expect(logged[0], path).toMatchObject({ app: 'failing', mode })
  const viaFetch = await h.fetch(path)
  expect(viaFetch.status, `gateway.fetch ${path}`).toBe(500)
  expect(await viaFetch.text(), `gateway.fetch ${path}`).not.toContain(SECRET)
}

export const handlerContractCases: BehaviourCase[] = [
  {
    name: 'a default-exported function is the handler',
    async run (ctx) {
      const h = await openGateway(ctx, { apps: { fn: { route: '/fn', entry: handler('hello-ts.ts'), workers: one } } })
      const res = await h.send('/fn')
      expect({ status: res.status, body: res.text() }).toEqual({ status: 200, body: 'hello from .ts' })
    },
  },
  {
    name: 'a default-exported object with fetch is the handler, called with its this binding',
    async run (ctx) {
      const h = await openGateway(ctx, { apps: { object: { route: '/object', entry: handler('object-export.ts'), workers: one } } })
      const res = await h.send('/object')
      expect({ status: res.status, body: res.text() }).toEqual({ status: 200, body: 'hello from an object' })
    },
  },
  {
    name: '.ts, .js and .mjs handler modules all load',
    async run (ctx) {
      const h = await openGateway(ctx, {
        apps: {
          ts: { route: '/ts', entry: handler('hello-ts.ts'), workers: one },
          js: { route: '/js', entry: handler('hello-js.js'), workers: one },
          mjs: { route: '/mjs', entry: handler('hello-mjs.mjs'), workers: one },
        },
      })
      for (const ext of ['ts', 'js', 'mjs']) {
        const res = await h.send(`/${ext}`)
        expect({ status: res.status, body: res.text() }).toEqual({ status: 200, body: `hello from .${ext}` })
      }
    },
  },
  {
    name: "env is the app's configured env, and each app gets its own",
    async run (ctx) {
      const h = await openGateway(ctx, {
        apps: {
          first: { route: '/first', entry: handler('reflect.ts'), workers: one, env: { GREETING: 'hi', EMPTY: '', 'WITH SPACE': 'a = b; c' } },
          second: { route: '/second', entry: handler('reflect.ts'), workers: one, env: { GREETING: 'other' } },
          none: { route: '/none', entry: handler('reflect.ts'), workers: one },
        },
      })
      expect((await h.send('/first')).json<Reflection>().env).toEqual({ GREETING: 'hi', EMPTY: '', 'WITH SPACE': 'a = b; c' })
      expect((await h.send('/second')).json<Reflection>().env).toEqual({ GREETING: 'other' })
      expect((await h.send('/none')).json<Reflection>().env).toEqual({})
    },
  },
  {
    name: 'ctx carries the requestId, the mode under test, an AbortSignal and waitUntil',
    async run (ctx) {
      const h = await openGateway(ctx, { apps: { reflect: { route: '/reflect', entry: handler('reflect.ts'), workers: one } } })
      const res = await h.send('/reflect/ctx', { headers: { 'x-request-id': 'ctx-check-1' } })
      const seen = res.json<Reflection>()
      expect(seen.requestId).toBe('ctx-check-1')
      expect(seen.mode).toBe(ctx.mode)
      expect(seen.ctx).toEqual({ signalIsAbortSignal: true, signalAborted: false, waitUntil: 'function' })
      const viaFetch = await h.fetch('/reflect/ctx')
      expect((await viaFetch.json() as Reflection).mode).toBe(ctx.mode)
    },
  },
  {
    name: 'a ctx.waitUntil promise keeps running after the response has been sent',
    skip: { cold: 'the fixture keeps state between requests, and a cold process lives for one request (cold-runtime.test.ts covers it with files)' },
    async run (ctx) {
      const h = await openGateway(ctx, { apps: { background: { route: '/background', entry: handler('background.ts'), workers: one } } })
      // The held work cannot finish before the release request, so an answer to `hold` means the
      // response did not wait for it.
      const held = await h.send('/background/hold?key=k1')
      expect({ status: held.status, body: held.text() }).toEqual({ status: 200, body: 'held' })
      const released = await h.send('/background/release?key=k1')
      expect(released.status).toBe(200)
      expect(released.json()).toEqual({ ran: true })
    },
  },
  {
    name: 'a rejected ctx.waitUntil promise is logged with the request id and is not fatal',
    async run (ctx) {
      const h = await openGateway(ctx, FAILING)
      const res = await h.send('/failing/reject-background')
      expect(res.status).toBe(200)
      const logged = await eventually(2000, 'the waitUntil rejection to be logged', () => {
        const lines = errorLines(h, res.requestId)
        return lines.length > 0 ? lines : undefined
      })
      expect(logged).toHaveLength(1)
      expect(logged[0]).toMatchObject({ app: 'failing', mode: ctx.mode })
      for (let i = 0; i < 3; i++) expect((await h.send('/failing/ok')).status).toBe(200)
      expect(h.lines.filter(line => /exited/.test(String(line.msg)))).toEqual([])
    },
  },
  {
    name: 'gateway.close() waits for pending ctx.waitUntil work and still logs its rejection',
    async run (ctx) {
      const h = await openGateway(ctx, FAILING)
      const res = await h.send('/failing/reject-background-later?ms=200', { headers: { 'x-request-id': 'late-background-1' } })
      expect(res.status).toBe(200)
      const started = performance.now()
      await within(5000, 'gateway.close() with pending waitUntil work', h.gateway.close())
      expect(performance.now() - started).toBeGreaterThanOrEqual(150)
      expect(errorLines(h, 'late-background-1')).toHaveLength(1)
    },
  },
  {
    name: 'a handler that throws or rejects gets a generic 500 without the error message, and the error is logged with the request id',
    async run (ctx) {
      const h = await openGateway(ctx, FAILING)
      await expectGeneric500(h, ctx.mode, '/failing/throw', 'WG_ERR_HANDLER_THREW')
      await expectGeneric500(h, ctx.mode, '/failing/reject', 'WG_ERR_HANDLER_THREW')
      expect((await h.send('/failing/ok')).status).toBe(200)
    },
  },
  {
    name: 'a handler that returns something other than a Response gets a 500',
    async run (ctx) {
      const h = await openGateway(ctx, FAILING)
      await expectGeneric500(h, ctx.mode, '/failing/non-response', 'WG_ERR_HANDLER_RESULT')
      expect((await h.send('/failing/ok')).status).toBe(200)
    },
  },
]
