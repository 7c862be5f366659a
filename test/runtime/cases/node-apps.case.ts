import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { expect } from 'vitest'
import { FIXTURES } from '../../helpers/gateway.ts'
import type { BehaviourCase } from '../behaviour.case.ts'
import { eventually, openAgent, openGateway, send, type CaseContext, type Harness, type Reply, type SendOptions } from '../support.ts'

// Node-style apps (docs/node-apps.md) in the shared suite: the same Express, Koa and Fastify apps,
// listening themselves and run by the gateway in the mode under test, must give the same answers:
// status, headers (but the hop's own) and body bytes. Then what only a socket would show: timeouts and
// client aborts as req/res events, and errors that escape the framework.
interface Exchange { path: string, options?: SendOptions }

const json = (value: unknown): SendOptions => ({ method: 'POST', body: JSON.stringify(value), headers: { 'content-type': 'application/json' } })
const COMMON: Exchange[] = [
  { path: '/n/hello' },
  { path: '/n/hello', options: { method: 'HEAD' } },
  { path: '/n/users/42?q=search&tag=a&tag=b' },
  { path: '/n/json', options: json({ nested: { list: [1, 2, 3] }, text: 'ünïcødé ✓' }) },
  { path: '/n/cookies', options: { headers: { cookie: ['a=1', 'b=2'] } } },
  { path: '/n/redirect' },
  { path: '/n/status/201' },
  { path: '/n/status/204' },
  { path: '/n/status/404' },
  { path: '/n/status/418' },
  { path: '/n/repeat' },
  { path: '/n/throw' },
  { path: '/n/missing/route' },
]

const APPS: Record<string, Exchange[]> = {
  express: [
    ...COMMON,
    { path: '/n/form', options: { method: 'POST', body: 'a=1&b=two+words&c=%E2%9C%93', headers: { 'content-type': 'application/x-www-form-urlencoded' } } },
    { path: '/n/file' },
    { path: '/n/file', options: { method: 'HEAD' } },
    { path: '/n/file', options: { headers: { range: 'bytes=2-7' } } },
    { path: '/n/big-file' },
    { path: '/n/hello', options: { headers: { 'if-none-match': '"12-wrong"' } } },
    { path: '/n/reject' },
    { path: '/n/text-stream' },
    { path: '/n/hello', options: { method: 'OPTIONS' } },
    { path: '/n/users/7', options: { method: 'DELETE' } },
  ],
  koa: [
    ...COMMON,
    { path: '/n/form', options: { method: 'POST', body: 'a=1&b=two+words', headers: { 'content-type': 'application/x-www-form-urlencoded' } } },
    { path: '/n/stream' },
    { path: '/n/hello', options: { method: 'PUT' } },
  ],
  fastify: [
    ...COMMON,
    { path: '/n/late' },
    { path: '/n/stream' },
    { path: '/n/json', options: { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } } },
  ],
}

/** Fields that belong to the hop, not the app: each server writes its own. */
const HOP = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'x-request-id'])

/**
 * A body the app ends within a few microtask turns is sent with a Content-Length where the app's own
 * server sent it chunked (docs/node-apps.md): framing is the hop's, so the length is left out then.
 */
function comparable (reply: Reply, chunkedThere = false): { status: number, headers: Record<string, unknown>, body: string } {
  const headers: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(reply.headers)) if (!HOP.has(name) && !(chunkedThere && name === 'content-length')) headers[name] = value
  return { status: reply.status, headers, body: reply.body.toString('latin1') }
}

let instances = 0

async function listenItself (ctx: CaseContext, name: string): Promise<string> {
  // A fresh instance each time (a closed Fastify cannot listen again), apart from the gateway's.
  const app = (await import(`${FIXTURES}node-apps/${name}.ts?listen=${++instances}`)).default as { listen: (...args: unknown[]) => unknown, close?: () => Promise<void> }
  let server: Server
  if (name === 'fastify') {
    await (app.listen as (options: object) => Promise<string>)({ port: 0, host: '127.0.0.1' })
    server = (app as unknown as { server: Server }).server
    ctx.defer(async () => { await app.close?.() })
  } else {
    server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) as Server })
    ctx.defer(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }))
  }
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const EXPRESS = `${FIXTURES}node-apps/express.ts`

async function events (h: Harness, key: string): Promise<Record<string, unknown>> {
  return (await h.send(`/n/events/${key}`)).json<Record<string, unknown>>()
}

export const nodeAppCases: BehaviourCase[] = [
  ...Object.entries(APPS).map(([name, exchanges]): BehaviourCase => ({
    name: `a ${name} app answers exactly as it does listening itself (routing, params, query, JSON and form bodies, cookies, redirects, files, errors, HEAD, repeated headers, statuses)`,
    async run (ctx) {
      const direct = await listenItself(ctx, name)
      const h = await openGateway(ctx, { apps: { app: { route: '/n', entry: `${FIXTURES}node-apps/${name}.ts`, workers: { min: 1, max: 1 } } } })
      const agent = openAgent(ctx)
      for (const { path, options } of exchanges) {
        const label = `${options?.method ?? 'GET'} ${path}`
        const there = await send(agent, direct, path, options)
        const expected = comparable(there)
        const actual = comparable(await h.send(path, { ...options, ms: ctx.mode === 'cold' ? 15_000 : 5000 }), there.headers['transfer-encoding'] === 'chunked')
        expect(actual, label).toEqual(expected)
      }
    },
  })),
  {
    name: "an Express app's timeout answers 504, and the app sees req 'aborted' and 'close' and res 'close'",
    skip: { cold: 'the fixture reports what it saw from module state, and a cold process lives for one request' },
    async run (ctx) {
      const h = await openGateway(ctx, { apps: { express: { route: '/n', entry: EXPRESS, timeout: '300ms', workers: { min: 1, max: 1 } } } })
      const key = `timeout-${ctx.mode}-${process.pid}`
      expect((await h.send(`/n/hang?key=${key}`)).status).toBe(504)
      await eventually(3000, 'the app to see the abort', async () => {
        const e = await events(h, key)
        return e.aborted === true && e.reqClose === true && e.resClose === true ? e : undefined
      })
    },
  },
  ...([['/n/timer-throw', 'a throw from a timer'], ['/n/forgotten', 'a rejection nobody handles']] as const).map(([path, what]): BehaviourCase => ({
    name: `${what} in an Express app answers 500 with the request id, logged with it, and the app keeps serving`,
    skip: { inline: "vitest's own uncaught-error listener would fail the run; test/node-app/behaviour.test.ts checks inline through warmgate start" },
    async run (ctx) {
      const h = await openGateway(ctx, { apps: { express: { route: '/n', entry: EXPRESS, timeout: '10s', workers: { min: 1, max: 1 } } } })
      const res = await h.send(path, { ms: 15_000 })
      expect(res.status).toBe(500)
      expect(res.text()).toContain(res.requestId)
      await eventually(5000, 'the failure logged with the request id', () => h.lines.some(line => line.reqId === res.requestId && line.level === 50) ? true : undefined)
      expect((await h.send('/n/hello', { ms: 15_000 })).text()).toBe('hello from express')
    },
  })),
]
