import { createServer } from 'node:http'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import { describe, expect, it } from 'vitest'
import { createGateway } from '../../src/index.ts'
import { detectNodeApp } from '../../src/node-app/detect.ts'
import { FIXTURES, within } from '../helpers/gateway.ts'
import { openGateway } from '../runtime/support.ts'

describe('which default exports are Node-style apps (docs/node-apps.md)', () => {
  it('detects an Express app, a Koa app, a Fastify instance and an unstarted node:http Server', () => {
    expect(detectNodeApp(express(), false)?.what).toBe('an Express app')
    expect(detectNodeApp(new Koa(), false)?.what).toBe('a Koa app')
    expect(detectNodeApp(Fastify(), false)?.what).toBe('a Fastify app')
    expect(detectNodeApp(createServer(() => {}), false)?.what).toBe('a node:http Server')
  })

  it('takes a plain function for a Node listener only when its parameters are named (req, res…)', () => {
    expect(detectNodeApp(function (req: unknown, res: unknown) { return [req, res] }, false)?.what).toBe('a (req, res) function')
    expect(detectNodeApp((req: unknown, res: unknown, next: unknown) => [req, res, next], false)?.what).toBe('a (req, res) function')
    expect(detectNodeApp(async (req: unknown, res: unknown) => [req, res], false)?.what).toBe('a (req, res) function')
    // A fetch handler: never a Node app unless forced.
    expect(detectNodeApp((request: Request) => new Response(request.url), false)).toBeUndefined()
    expect(detectNodeApp((request: unknown, env: unknown) => [request, env], false)).toBeUndefined()
    expect(detectNodeApp((requester: unknown, resolver: unknown) => [requester, resolver], false)).toBeUndefined()
    expect(detectNodeApp((request: unknown, response: unknown) => [request, response], true)?.what).toBe('a (req, res) function')
  })

  it('leaves a fetch object (Hono-like, even with a handle), a server without request listeners, and other values alone; takes a Connect-style { handle }', () => {
    expect(detectNodeApp({ fetch: () => new Response('x') }, false)).toBeUndefined()
    expect(detectNodeApp(createServer(), false)).toBeUndefined()
    for (const value of [null, undefined, 42, 'app', [], {}]) expect(detectNodeApp(value, false)).toBeUndefined()
    expect(detectNodeApp({ handle: () => {}, fetch: () => new Response('x') }, false)).toBeUndefined()
    expect(detectNodeApp({ handle: () => {} }, false)?.what).toBe('an object with handle(req, res)')
  })
})

describe('node apps that are not the frameworks', () => {
  it('serves a node:http Server the module never started, a bare (req, res) listener, and a forced kind', async (t) => {
    const h = await openGateway({ mode: 'warm', defer: (fn) => t.onTestFinished(async () => { await fn() }) }, {
      apps: {
        server: { route: '/server', entry: `${FIXTURES}node-apps/node-server.ts` },
        bare: { route: '/bare', entry: `${FIXTURES}node-apps/req-res.ts` },
        forced: { route: '/forced', entry: `${FIXTURES}node-apps/forced.ts`, kind: 'node' },
      },
    })
    expect((await h.send('/server/x?y=1')).text()).toBe('plain node:http GET /server/x?y=1')
    expect((await h.send('/bare/z', { method: 'DELETE' })).text()).toBe('bare listener DELETE /bare/z')
    expect((await h.send('/forced/f')).text()).toBe('forced node app /forced/f')
  })

  it('answers gateway.fetch through an Express app too', async (t) => {
    const h = await openGateway({ mode: 'inline', defer: (fn) => t.onTestFinished(async () => { await fn() }) }, {
      apps: { express: { route: '/n', entry: `${FIXTURES}node-apps/express.ts` } },
    })
    const res = await h.fetch('/n/users/5?a=1')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ id: '5', query: { a: '1' } })
    // A web Request's body has no Content-Length of its own: the app gets one, or its body parser would skip it.
    const posted = await h.fetch('/n/json', { method: 'POST', body: JSON.stringify({ via: 'fetch' }), headers: { 'content-type': 'application/json' } })
    expect([posted.status, await posted.json()]).toEqual([201, { received: { via: 'fetch' } }])
  })

  it('refuses at start-up a server that already listens, and kind: node on a module that is not one, saying why', async () => {
    const start = (entry: string, kind?: 'node'): Promise<unknown> => within(15_000, 'createGateway', createGateway({ apps: { app: { route: '/a', entry, mode: 'inline', kind } } }, { logLevel: 'silent' }).then(async (gw) => { await gw.close(); return gw }))
    await expect(start(`${FIXTURES}node-apps/listening.ts`)).rejects.toThrow(/already listening: export the server without calling listen\(\)/)
    await expect(start(`${FIXTURES}handlers/object-export.ts`, 'node')).rejects.toThrow(/kind: 'node'.*not one/)
  })
})

describe.each(['warm', 'inline'] as const)('%s mode: what req.socket and req.httpVersion report', (mode) => {
  it("the client's address, port and HTTP version, as on a socket", async (t) => {
    const h = await openGateway({ mode, defer: (fn) => t.onTestFinished(async () => { await fn() }) }, {
      apps: { express: { route: '/n', entry: `${FIXTURES}node-apps/express.ts` } },
    })
    const seen = (await h.send('/n/socket')).json<Record<string, unknown>>()
    expect(seen).toMatchObject({ remoteAddress: '127.0.0.1', ip: '127.0.0.1', protocol: 'http', secure: false, family: 'IPv4' })
    expect(seen.remotePort).toBeGreaterThan(0)
    const { rawExchange } = await import('../runtime/support.ts')
    const reply = await rawExchange(h.url, 'GET /n/headers HTTP/1.0\r\nHost: local\r\n\r\n')
    expect(reply).toContain('"httpVersion":"1.0"')
  })
})
