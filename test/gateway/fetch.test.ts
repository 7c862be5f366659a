import { afterEach, describe, expect, it } from 'vitest'
import { createGateway, type Gateway } from '../../src/index.ts'
import { APPS, memoryLogger, within } from '../helpers/gateway.ts'

// gateway.fetch() is a front door like the HTTP listener: same limits, same access line.
describe('gateway.fetch', () => {
  let gateway: Gateway | undefined
  afterEach(async () => { await within(10_000, 'closing the gateway', gateway?.close() ?? Promise.resolve()) })

  for (const mode of ['warm', 'inline'] as const) {
    it(`refuses a body above the app's bodyLimit with 413, and writes one access line per request (${mode})`, async () => {
      const { logger, lines } = memoryLogger()
      gateway = await createGateway({ apps: { echo: { route: '/echo', entry: `${APPS}echo.ts`, bodyLimit: '1kb', workers: { min: 1, max: 1 } } } }, { mode, logger })
      const small = await gateway.fetch(new Request('http://local/echo', { method: 'POST', body: new Uint8Array(1024) }))
      expect(small.status).toBe(200)
      await small.arrayBuffer()
      const large = await gateway.fetch(new Request('http://local/echo', { method: 'POST', body: new Uint8Array(1025), headers: { 'x-request-id': 'too-big-1' } }))
      expect(large.status).toBe(413)
      expect(large.headers.get('x-request-id')).toBe('too-big-1')
      await large.arrayBuffer()
      const missing = await gateway.fetch(new Request('http://local/nowhere'))
      expect(missing.status).toBe(404)
      await missing.arrayBuffer()
      const access = lines.filter(line => line.msg === 'request')
      expect(access.map(line => line.status)).toEqual([200, 413, 404])
      expect(access[1]).toMatchObject({ reqId: 'too-big-1', method: 'POST', path: '/echo', app: 'echo', mode })
      expect(typeof access[0].ms).toBe('number')
    })
  }
})
