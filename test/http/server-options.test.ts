import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import { DEFAULTS, type ResolvedServer } from '../../src/config/resolve.ts'
import { serverOptions } from '../../src/http/server-options.ts'

const base: ResolvedServer = {
  host: '127.0.0.1',
  port: 0,
  bodyLimit: DEFAULTS.bodyLimit,
  headersTimeoutMs: DEFAULTS.headersTimeoutMs,
  requestTimeoutMs: DEFAULTS.requestTimeoutMs,
  keepAliveTimeoutMs: DEFAULTS.keepAliveTimeoutMs,
  ops: { admin: undefined, adminPrefix: '/__warmgate', serverTiming: undefined },
  processes: 1,
  shutdownTimeoutMs: DEFAULTS.shutdownTimeoutMs,
  startupTimeoutMs: DEFAULTS.startupTimeoutMs,
  maxHeaderSize: DEFAULTS.maxHeaderSize,
}

describe('serverOptions', () => {
  it('passes the limits through and never allows the lenient parser', () => {
    expect(serverOptions(base)).toMatchObject({
      headersTimeout: 20_000, requestTimeout: 60_000, keepAliveTimeout: 5000, maxHeaderSize: 16_384, insecureHTTPParser: false,
    })
  })

  it.each([
    [20_000, 60_000, 1000],
    [500, 10_000, 125],
    [100, 100, 50],
  ])('checks timeouts often enough to honour them: headers %i ms, request %i ms -> every %i ms', (headers, request, interval) => {
    expect(serverOptions({ ...base, headersTimeoutMs: headers, requestTimeoutMs: request }).connectionsCheckingInterval).toBe(interval)
  })

  it('gives options node:http accepts as they are', () => {
    const server = createServer(serverOptions({ ...base, headersTimeoutMs: 500, requestTimeoutMs: 1000, keepAliveTimeoutMs: 300 }))
    try {
      expect(server).toMatchObject({ headersTimeout: 500, requestTimeout: 1000, keepAliveTimeout: 300 })
    } finally {
      server.close()
    }
  })
})
