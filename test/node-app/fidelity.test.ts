import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { describe, expect, it, type TestContext } from 'vitest'
import type { Mode } from '../../src/index.ts'
import { FIXTURES } from '../helpers/gateway.ts'
import { openAgent, openGateway, send, type CaseContext, type Reply, type SendOptions } from '../runtime/support.ts'

// The same Express, Koa and Fastify apps, listening themselves and run by the gateway in each mode,
// must give the same answers: status, headers (but the hop's own) and body bytes.
const MODES = ['warm', 'inline', 'cold'] as const satisfies readonly Mode[]

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

async function listenItself (t: TestContext, name: string): Promise<string> {
  // A fresh instance each time (a closed Fastify cannot listen again), apart from the gateway's.
  const app = (await import(`${FIXTURES}node-apps/${name}.ts?listen=${++instances}`)).default as { listen: (...args: unknown[]) => unknown, close?: () => Promise<void> }
  let server: Server
  if (name === 'fastify') {
    await (app.listen as (options: object) => Promise<string>)({ port: 0, host: '127.0.0.1' })
    server = (app as unknown as { server: Server }).server
    t.onTestFinished(async () => { await app.close?.() })
  } else {
    server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) as Server })
    t.onTestFinished(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }))
  }
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function context (mode: Mode, t: TestContext): CaseContext {
  return { mode, defer: (fn) => t.onTestFinished(async () => { await fn() }) }
}

describe.each(MODES)('%s mode', (mode) => {
  for (const [name, exchanges] of Object.entries(APPS)) {
    it(`a ${name} app answers exactly as it does listening itself`, async (t) => {
      const ctx = context(mode, t)
      const direct = await listenItself(t, name)
      const h = await openGateway(ctx, { apps: { app: { route: '/n', entry: `${FIXTURES}node-apps/${name}.ts`, workers: { min: 1, max: 1 } } } })
      const agent = openAgent(ctx)
      for (const { path, options } of exchanges) {
        const label = `${options?.method ?? 'GET'} ${path}`
        const there = await send(agent, direct, path, options)
        const expected = comparable(there)
        const actual = comparable(await h.send(path, { ...options, ms: mode === 'cold' ? 15_000 : 5000 }), there.headers['transfer-encoding'] === 'chunked')
        expect(actual, label).toEqual(expected)
      }
    }, 60_000)
  }
})
