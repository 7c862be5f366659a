import { expect } from 'vitest'
import type { GatewayConfig } from '../../../src/index.ts'
import type { BehaviourCase } from '../behaviour.case.ts'
import { handler, openGateway, type Harness } from '../support.ts'

const WHOAMI = handler('whoami.ts')

function routes (table: Record<string, string>): GatewayConfig {
  return {
    apps: Object.fromEntries(Object.entries(table).map(([name, route]) => [name, { route, entry: WHOAMI, env: { NAME: name }, workers: { min: 1, max: 1 } }])),
  }
}

/** Which app answers `path`, through both front doors (HTTP and `gateway.fetch`), which must agree. */
async function answeredBy (h: Harness, path: string): Promise<string> {
  const viaHttp = await h.send(path)
  const viaFetch = await h.fetch(path)
  const fetchedBody = await viaFetch.text()
  const http = viaHttp.status === 404 ? '404' : viaHttp.json<{ app: string }>().app
  const socketless = viaFetch.status === 404 ? '404' : (JSON.parse(fetchedBody) as { app: string }).app
  expect(socketless, `gateway.fetch and HTTP disagree on ${path}`).toBe(http)
  return http
}

async function expectRouting (h: Harness, expected: Record<string, string>): Promise<void> {
  const actual: Record<string, string> = {}
  for (const path of Object.keys(expected)) actual[path] = await answeredBy(h, path)
  expect(actual).toEqual(expected)
}

export const routingCases: BehaviourCase[] = [
  {
    name: 'a prefix route matches the prefix, the prefix with a slash and paths below it, but not a longer word',
    async run (ctx) {
      const h = await openGateway(ctx, routes({ hello: '/hello' }))
      await expectRouting(h, {
        '/hello': 'hello',
        '/hello/': 'hello',
        '/hello/x': 'hello',
        '/hello/x/y?z=1': 'hello',
        '/hello?x=1': 'hello',
        '/helloworld': '404',
        '/hell': '404',
        '/': '404',
      })
    },
  },
  {
    name: 'the longest matching prefix wins',
    async run (ctx) {
      // Declared shortest first, so the order in the config cannot be what decides.
      const h = await openGateway(ctx, routes({ a: '/a', ab: '/a/b' }))
      await expectRouting(h, {
        '/a': 'a',
        '/a/': 'a',
        '/a/x': 'a',
        '/a/bc': 'a',
        '/a/b': 'ab',
        '/a/b/': 'ab',
        '/a/b/c': 'ab',
        '/ab': '404',
      })
    },
  },
  {
    name: 'the handler sees the full original URL, sub-path and query included',
    async run (ctx) {
      const h = await openGateway(ctx, routes({ hello: '/hello' }))
      const path = '/hello/x/y?z=1&flag&list=a&list=b'
      const viaHttp = await h.send(path)
      expect(viaHttp.json<{ url: string }>().url).toBe(`${h.url}${path}`)
      const viaFetch = await h.fetch(path)
      expect((await viaFetch.json() as { url: string }).url).toBe(`http://local${path}`)
    },
  },
  {
    name: 'a path no route matches gets a short 404 with an x-request-id',
    async run (ctx) {
      const h = await openGateway(ctx, routes({ hello: '/hello' }))
      const res = await h.send('/nowhere/at/all?x=1')
      expect(res.status).toBe(404)
      expect(res.requestId).not.toBe('undefined')
      expect(res.requestId.length).toBeGreaterThan(0)
      expect(res.body.byteLength).toBeGreaterThan(0)
      expect(res.body.byteLength).toBeLessThan(200)
      expect(res.headers['content-type']).toMatch(/^text\/plain/)
      const viaFetch = await h.fetch('/nowhere')
      expect(viaFetch.status).toBe(404)
      expect(viaFetch.headers.get('x-request-id')).toBeTruthy()
      expect((await viaFetch.arrayBuffer()).byteLength).toBeLessThan(200)
    },
  },
  {
    name: 'a root route catches every path no longer route matches',
    async run (ctx) {
      const h = await openGateway(ctx, routes({ root: '/', hello: '/hello' }))
      await expectRouting(h, {
        '/': 'root',
        '/?q=1': 'root',
        '/anything/deep/below': 'root',
        '/helloworld': 'root',
        '/hello': 'hello',
        '/hello/x': 'hello',
      })
    },
  },
]
