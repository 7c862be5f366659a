import { expect } from 'vitest'
import type { GatewayConfig } from '../../../src/index.ts'
import type { Reflection } from '../../fixtures/handlers/reflect.ts'
import type { BehaviourCase } from '../behaviour.case.ts'
import { accessLines, handler, openGateway, UUID_RE } from '../support.ts'

const CONFIG: GatewayConfig = {
  apps: {
    reflect: { route: '/reflect', entry: handler('reflect.ts'), workers: { min: 1, max: 1 } },
    failing: { route: '/failing', entry: handler('failing.ts'), workers: { min: 1, max: 1 } },
  },
}

export const requestIdCases: BehaviourCase[] = [
  {
    name: 'a valid incoming x-request-id is echoed and is the ctx.requestId the handler sees',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      for (const id of ['abc-123', 'Trace.ID:with_parts-9', 'x'.repeat(128)]) {
        const res = await h.send('/reflect/id', { headers: { 'x-request-id': id } })
        expect(res.requestId).toBe(id)
        expect(res.json<Reflection>().requestId).toBe(id)
      }
      const viaFetch = await h.fetch('/reflect/id', { headers: { 'x-request-id': 'from-fetch-1' } })
      expect(viaFetch.headers.get('x-request-id')).toBe('from-fetch-1')
      expect((await viaFetch.json() as Reflection).requestId).toBe('from-fetch-1')
    },
  },
  {
    name: 'a missing or invalid x-request-id (too long, spaces, repeated) is replaced by a generated one',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const invalid: Array<Record<string, string | string[]>> = [
        {},
        { 'x-request-id': 'x'.repeat(129) },
        { 'x-request-id': 'has spaces in it' },
        { 'x-request-id': 'semi;colon' },
        { 'x-request-id': ['first', 'second'] },
      ]
      const generated = new Set<string>()
      for (const headers of invalid) {
        const res = await h.send('/reflect/id', { headers })
        const label = JSON.stringify(headers)
        expect(res.requestId, label).toMatch(UUID_RE)
        expect(res.json<Reflection>().requestId, label).toBe(res.requestId)
        generated.add(res.requestId)
      }
      expect(generated.size).toBe(invalid.length)
      const viaFetch = await h.fetch('/reflect/id', { headers: { 'x-request-id': 'has spaces' } })
      expect(viaFetch.headers.get('x-request-id')).toMatch(UUID_RE)
      expect((await viaFetch.json() as Reflection).requestId).toBe(viaFetch.headers.get('x-request-id'))
    },
  },
  {
    name: 'each request writes exactly one access log line with reqId, method, path, status, ms, app and mode',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const answered = [
        { res: await h.send('/reflect/log', { headers: { 'x-request-id': 'log-get' } }), method: 'GET', path: '/reflect/log', status: 200, app: 'reflect' },
        { res: await h.send('/reflect/log/post', { method: 'POST', body: 'x' }), method: 'POST', path: '/reflect/log/post', status: 200, app: 'reflect' },
        { res: await h.send('/failing/throw'), method: 'GET', path: '/failing/throw', status: 500, app: 'failing' },
      ]
      for (const { res, method, path, status, app } of answered) {
        const lines = accessLines(h.lines, res.requestId)
        expect(lines, `${method} ${path}`).toHaveLength(1)
        expect(lines[0]).toMatchObject({ reqId: res.requestId, method, path, status, app, mode: ctx.mode })
        expect(typeof lines[0].ms).toBe('number')
        expect(lines[0].ms as number).toBeGreaterThanOrEqual(0)
      }
      // No app answers a 404, so its line has no app; it is still exactly one line.
      const missing = await h.send('/nowhere')
      const lines = accessLines(h.lines, missing.requestId)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({ reqId: missing.requestId, method: 'GET', path: '/nowhere', status: 404 })
    },
  },
]
