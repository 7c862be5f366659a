import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkAndResolve, findConfigFile, loadConfigFile } from '../../src/config/load.ts'
import { ERROR_CODES, GatewayError } from '../../src/errors.ts'
import { defineConfig } from '../../src/index.ts'
import { FIXTURES } from '../helpers/gateway.ts'

const DIR = join(FIXTURES, 'config')
/** The front-door limits every resolved server block has when the config sets none (test/config/resolve.test.ts). */
/** server.admin, adminPrefix, serverTiming unset (config/ops.ts). */
const OPS = { admin: undefined, adminPrefix: '/__warmgate', serverTiming: undefined }
const LIMITS = { headersTimeoutMs: 20_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5000, maxHeaderSize: 16 * 1024 }
const fixture = (name: string): string => join(DIR, name)

/** Runs `fn` and returns what it threw (failing when it does not throw). */
async function thrown (fn: () => unknown): Promise<GatewayError & { errors?: string[] }> {
  try {
    await fn()
  } catch (error) {
    return error as GatewayError & { errors?: string[] }
  }
  throw new Error('expected a throw, got none')
}

describe('checkAndResolve', () => {
  it('resolves the defaults of a minimal config', () => {
    const config = checkAndResolve({ apps: { hello: { route: '/hello', entry: './hello.ts' } } }, { baseDir: '/srv/site' })
    expect(config.server).toEqual({ host: '127.0.0.1', port: 8080, bodyLimit: 1024 * 1024, ...LIMITS, ops: OPS, shutdownTimeoutMs: 10_000, startupTimeoutMs: 30_000, processes: 1 })
    expect(config.apps).toHaveLength(1)
    const [hello] = config.apps
    expect(hello).toMatchObject({ name: 'hello', route: '/hello', entry: '/srv/site/hello.ts', mode: 'warm', timeoutMs: 30_000, bodyLimit: 1024 * 1024, env: {} })
    expect(hello.workers.min).toBe(1)
    expect(hello.workers.max).toBeGreaterThanOrEqual(hello.workers.min)
    expect(hello.workers.max).toBe(Math.max(1, availableParallelism()))
    expect(config.configFile).toBeUndefined()
  })

  it('resolves a cgi app: its directory as entry, mode cgi whatever --mode says, and the process defaults', () => {
    const config = checkAndResolve({ apps: {
      legacy: { route: '/cgi-bin/', cgi: './cgi-bin', passEnv: ['TZ'] },
      hello: { route: '/hello', entry: './hello.ts' },
    } }, { baseDir: '/srv/site', mode: 'cold' })
    const [legacy, hello] = config.apps
    expect(legacy).toMatchObject({ route: '/cgi-bin', entry: '/srv/site/cgi-bin', mode: 'cgi', passEnv: ['TZ'], passAuthorization: false, concurrency: 32, maxQueue: 256 })
    expect(hello.mode).toBe('cold')
  })

  it('freezes the result at every level', () => {
    const config = checkAndResolve({ apps: { hello: { route: '/hello', entry: './hello.ts', env: { A: 'b' } } } }, { baseDir: '/srv' })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.server)).toBe(true)
    expect(Object.isFrozen(config.apps)).toBe(true)
    expect(Object.isFrozen(config.apps[0])).toBe(true)
    expect(Object.isFrozen(config.apps[0].workers)).toBe(true)
    expect(Object.isFrozen(config.apps[0].env)).toBe(true)
  })

  it('does not share the env object it was given', () => {
    const env = { A: 'b' }
    const config = checkAndResolve({ apps: { hello: { route: '/hello', entry: './hello.ts', env } } }, { baseDir: '/srv' })
    env.A = 'changed'
    expect(config.apps[0].env).toEqual({ A: 'b' })
  })

  it('accepts a plain object as well as defineConfig', () => {
    const plain = { apps: { hello: { route: '/hello', entry: './hello.ts' } } }
    expect(checkAndResolve(plain, { baseDir: '/srv' })).toEqual(checkAndResolve(defineConfig(plain), { baseDir: '/srv' }))
  })

  it('applies the defaults block to apps that set nothing, and app keys over it', () => {
    const config = checkAndResolve({
      server: { host: '::1', port: 0, bodyLimit: '16mb', shutdownTimeout: '3s' },
      defaults: { mode: 'inline', timeout: '2m', workers: { min: 2, max: 3 } },
      apps: {
        inherits: { route: '/inherits', entry: 'a.ts' },
        own: { route: '/own/', entry: 'b.ts', mode: 'warm', timeout: '250ms', workers: { max: 5 }, bodyLimit: '512kb' },
      },
    }, { baseDir: '/srv' })
    expect(config.server).toEqual({ host: '::1', port: 0, bodyLimit: 16 * 1024 * 1024, ...LIMITS, ops: OPS, shutdownTimeoutMs: 3000, startupTimeoutMs: 30_000, processes: 1 })
    const [inherits, own] = config.apps
    expect(inherits).toMatchObject({ mode: 'inline', timeoutMs: 120_000, workers: { min: 2, max: 3 }, bodyLimit: 16 * 1024 * 1024 })
    expect(own).toMatchObject({ route: '/own', mode: 'warm', timeoutMs: 250, workers: { min: 2, max: 5 }, bodyLimit: 512 * 1024 })
  })

  it('gives server.shutdownTimeout a default of 10 s, and takes 0 as given', () => {
    expect(checkAndResolve({ apps: { a: { route: '/a', entry: 'a.ts' } } }, { baseDir: '/srv' }).server.shutdownTimeoutMs).toBe(10_000)
    expect(checkAndResolve({ server: { shutdownTimeout: 0 }, apps: { a: { route: '/a', entry: 'a.ts' } } }, { baseDir: '/srv' }).server.shutdownTimeoutMs).toBe(0)
  })

  it('gives server.startupTimeout a default of 30 s, takes 0 as given, and refuses a negative one naming the key', () => {
    const app = { a: { route: '/a', entry: 'a.ts' } }
    expect(checkAndResolve({ apps: app }, { baseDir: '/srv' }).server.startupTimeoutMs).toBe(30_000)
    expect(checkAndResolve({ server: { startupTimeout: 0 }, apps: app }, { baseDir: '/srv' }).server.startupTimeoutMs).toBe(0)
    expect(checkAndResolve({ server: { startupTimeout: '2s' }, apps: app }, { baseDir: '/srv' }).server.startupTimeoutMs).toBe(2000)
    expect(() => checkAndResolve({ server: { startupTimeout: -1 }, apps: app }, { baseDir: '/srv' })).toThrow(/server\.startupTimeout/)
  })

  it('overrides every app mode with the mode option (--mode)', () => {
    const config = checkAndResolve({
      defaults: { mode: 'warm' },
      apps: { a: { route: '/a', entry: 'a.ts', mode: 'warm' }, b: { route: '/b', entry: 'b.ts' } },
    }, { baseDir: '/srv', mode: 'inline' })
    expect(config.apps.map(app => app.mode)).toEqual(['inline', 'inline'])
  })

  it('throws WG_ERR_CONFIG_INVALID with every error in .errors', async () => {
    const error = await thrown(() => checkAndResolve({
      server: { port: 'eighty' },
      apps: { hello: { route: 'hello', entry: './hello.ts', workers: { max: -1 } } },
    }, { baseDir: '/srv' }))
    expect(error).toBeInstanceOf(GatewayError)
    expect(error.code).toBe('WG_ERR_CONFIG_INVALID')
    expect(error.statusCode).toBe(ERROR_CODES.WG_ERR_CONFIG_INVALID.statusCode)
    expect(error.errors).toBeInstanceOf(Array)
    expect(error.errors).toContain('apps.hello.workers.max: expected a positive integer, got -1')
    expect(error.errors?.map(line => line.split(':')[0])).toEqual(['server.port', 'apps.hello.route', 'apps.hello.workers.max'])
    for (const line of error.errors ?? []) expect(error.message).toContain(line)
  })

  it('rejects a config that is not an object', async () => {
    for (const raw of [null, 42, 'gateway.config.ts', [{ apps: {} }]]) {
      const error = await thrown(() => checkAndResolve(raw, { baseDir: '/srv' }))
      expect(error.code).toBe('WG_ERR_CONFIG_INVALID')
      expect(error.errors).toHaveLength(1)
    }
  })

  it('rejects empty apps', async () => {
    const error = await thrown(() => checkAndResolve({ apps: {} }, { baseDir: '/srv' }))
    expect(error.code).toBe('WG_ERR_CONFIG_INVALID')
    expect(error.errors?.[0]).toMatch(/^apps: /)
  })
})

describe('loadConfigFile', () => {
  it('loads a config that uses defineConfig from warmgate, with entries relative to the file', async () => {
    const config = await loadConfigFile(fixture('valid.config.ts'))
    expect(config.configFile).toBe(fixture('valid.config.ts'))
    expect(config.server).toEqual({ host: '127.0.0.1', port: 8080, bodyLimit: 1024 * 1024, ...LIMITS, ops: OPS, shutdownTimeoutMs: 10_000, startupTimeoutMs: 30_000, processes: 1 })
    expect(config.apps.map(app => [app.name, app.route, app.entry])).toEqual([
      ['hello', '/hello', join(DIR, 'handlers/hello.ts')],
      ['nested', '/api/v1', join(DIR, 'handlers/api.ts')],
    ])
    expect(config.apps[1].env).toEqual({ GREETING: 'hi' })
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('keeps absolute entries and resolves every key of a full config', async () => {
    const config = await loadConfigFile(fixture('custom.config.ts'))
    expect(config.server).toEqual({ host: '::1', port: 0, bodyLimit: 16 * 1024 * 1024, ...LIMITS, ops: OPS, shutdownTimeoutMs: 10_000, startupTimeoutMs: 30_000, processes: 1 })
    const [inherits, own] = config.apps
    expect(inherits).toMatchObject({ entry: join(DIR, 'handlers/hello.ts'), mode: 'inline', timeoutMs: 120_000, workers: { min: 2, max: 3 } })
    expect(own).toMatchObject({ route: '/', entry: '/abs/own.ts', mode: 'warm', timeoutMs: 250, workers: { min: 0, max: 1 }, bodyLimit: 512 * 1024 })
  })

  it('loads a plain object without defineConfig, from .ts and from .mjs', async () => {
    for (const [file, entry] of [['plain.config.ts', 'handlers/hello.ts'], ['plain.config.mjs', 'handlers/hello.mjs']]) {
      const config = await loadConfigFile(fixture(file))
      expect(config.apps.map(app => app.entry)).toEqual([join(DIR, entry)])
    }
  })

  it('applies the mode option to every app', async () => {
    const config = await loadConfigFile(fixture('custom.config.ts'), { mode: 'warm' })
    expect(config.apps.map(app => app.mode)).toEqual(['warm', 'warm'])
  })

  it('reports every error of an invalid file with WG_ERR_CONFIG_INVALID, naming the file', async () => {
    const error = await thrown(() => loadConfigFile(fixture('invalid.config.ts')))
    expect(error.code).toBe('WG_ERR_CONFIG_INVALID')
    expect(error.message).toContain(fixture('invalid.config.ts'))
    expect(error.errors?.map(line => line.split(':')[0]).sort()).toEqual([
      'apps.hello.route', 'apps.hello.workers.max', 'apps.other.colour', 'apps.other.mode', 'server.port',
    ])
  })

  it('throws WG_ERR_CONFIG_NOT_FOUND for a missing file', async () => {
    const error = await thrown(() => loadConfigFile(fixture('does-not-exist.config.ts')))
    expect(error).toBeInstanceOf(GatewayError)
    expect(error.code).toBe('WG_ERR_CONFIG_NOT_FOUND')
    expect(error.message).toContain('does-not-exist.config.ts')
  })

  it('throws WG_ERR_CONFIG_LOAD with the cause when the file throws on import', async () => {
    const error = await thrown(() => loadConfigFile(fixture('throws.config.ts')))
    expect(error).toBeInstanceOf(GatewayError)
    expect(error.code).toBe('WG_ERR_CONFIG_LOAD')
    expect(error.message).toContain('throws.config.ts')
    expect((error.cause as Error).message).toBe('config fixture exploded at import')
  })

  it.each(['no-default.config.ts', 'number-default.config.ts'])('throws WG_ERR_CONFIG_LOAD when %s exports no config object', async (file) => {
    const error = await thrown(() => loadConfigFile(fixture(file)))
    expect(error).toBeInstanceOf(GatewayError)
    expect(error.code).toBe('WG_ERR_CONFIG_LOAD')
    expect(error.message).toContain(file)
  })
})

describe('findConfigFile', () => {
  it('prefers gateway.config.ts in the given directory', () => {
    expect(findConfigFile(join(DIR, 'found'))).toBe(join(DIR, 'found', 'gateway.config.ts'))
  })

  it('returns undefined when the directory has none', () => {
    expect(findConfigFile(DIR)).toBeUndefined()
  })
})
