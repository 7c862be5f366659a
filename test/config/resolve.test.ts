import { availableParallelism } from 'node:os'
import { describe, expect, it } from 'vitest'
import type { ServerConfig } from '../../src/config/define.ts'
import { DEFAULTS, resolveConfig } from '../../src/config/resolve.ts'

function server (config: ServerConfig): ReturnType<typeof resolveConfig>['server'] {
  return resolveConfig({ server: config, apps: { hello: { route: '/hello', entry: './hello.ts' } } }, { baseDir: '/srv' }).server
}

describe('resolveConfig: server limits', () => {
  it('applies the documented defaults', () => {
    expect(server({})).toMatchObject({ headersTimeoutMs: 20_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5000, maxHeaderSize: 16 * 1024, bodyLimit: 1024 * 1024 })
    expect(DEFAULTS).toMatchObject({ headersTimeoutMs: 20_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5000, maxHeaderSize: 16 * 1024 })
  })

  it('parses durations and sizes', () => {
    expect(server({ headersTimeout: '500ms', requestTimeout: '2s', keepAliveTimeout: 250, maxHeaderSize: '8kb' }))
      .toMatchObject({ headersTimeoutMs: 500, requestTimeoutMs: 2000, keepAliveTimeoutMs: 250, maxHeaderSize: 8192 })
  })

  // Node refuses a server whose headersTimeout exceeds its requestTimeout, so a default gives way to a set value.
  it('keeps headersTimeout <= requestTimeout when only one of them is set', () => {
    expect(server({ requestTimeout: '5s' })).toMatchObject({ headersTimeoutMs: 5000, requestTimeoutMs: 5000 })
    expect(server({ headersTimeout: '90s' })).toMatchObject({ headersTimeoutMs: 90_000, requestTimeoutMs: 90_000 })
    expect(server({ headersTimeout: '1s' })).toMatchObject({ headersTimeoutMs: 1000, requestTimeoutMs: 60_000 })
  })

  it('runs one process by default, and one per core with processes: auto', () => {
    expect(server({}).processes).toBe(1)
    expect(server({ processes: 3 }).processes).toBe(3)
    expect(server({ processes: 'auto' }).processes).toBe(availableParallelism())
  })

  it('freezes the server block', () => {
    expect(Object.isFrozen(server({}))).toBe(true)
  })
})
