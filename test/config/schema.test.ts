import { describe, expect, it } from 'vitest'
import { normalizeRoute, validateConfig } from '../../src/config/schema.ts'

const app = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ route: '/hello', entry: './hello.ts', ...extra })

/** The one error about `path` (the message starts with `path:`); fails when there is none or several. */
function errorAt (errors: string[], path: string): string {
  const found = errors.filter(error => error.startsWith(`${path}: `))
  expect(found, `one error at ${path} in ${JSON.stringify(errors)}`).toHaveLength(1)
  return found[0]
}

describe('validateConfig', () => {
  it('accepts a minimal config', () => {
    expect(validateConfig({ apps: { hello: app() } })).toEqual([])
  })

  it('accepts a config that sets every key', () => {
    expect(validateConfig({
      server: { host: '127.0.0.1', port: 0, bodyLimit: '16mb', headersTimeout: '10s', requestTimeout: '30s', keepAliveTimeout: 4000, maxHeaderSize: '32kb' },
      defaults: { mode: 'inline', timeout: '30s', workers: { min: 0, max: 4 } },
      apps: {
        hello: app({ mode: 'warm', timeout: 250, workers: { min: 2, max: 2 }, env: { GREETING: 'hi' }, bodyLimit: 1024 }),
        root: { route: '/', entry: './root.ts' },
      },
    })).toEqual([])
  })

  it('names the key path, the expectation and the value in each message', () => {
    const errors = validateConfig({ apps: { hello: app({ workers: { max: -1 } }) } })
    expect(errors).toEqual(['apps.hello.workers.max: expected a positive integer, got -1'])
  })

  it('reports every problem at once', () => {
    const errors = validateConfig({
      server: { port: 70_000, host: '' },
      defaults: { mode: 'fast' },
      apps: {
        hello: app({ route: 'hello', workers: { min: -1, max: 0 } }),
        other: app({ route: '/other', entry: 42, timeout: 'soon' }),
      },
    })
    const paths = errors.map(error => error.slice(0, error.indexOf(':')))
    expect(paths).toEqual(expect.arrayContaining([
      'server.port', 'server.host', 'defaults.mode', 'apps.hello.route', 'apps.hello.workers.min',
      'apps.hello.workers.max', 'apps.other.entry', 'apps.other.timeout',
    ]))
    expect(errors).toHaveLength(8)
  })

  it('reports unknown keys at every level, with the keys it expected', () => {
    const errors = validateConfig({
      serve: {},
      server: { hots: '127.0.0.1' },
      defaults: { timeOut: '1s', workers: { minimum: 1 } },
      apps: { hello: app({ rout: '/x', workers: { maxx: 2 } }) },
    })
    for (const path of ['serve', 'server.hots', 'defaults.timeOut', 'defaults.workers.minimum', 'apps.hello.rout', 'apps.hello.workers.maxx']) {
      expect(errorAt(errors, path)).toMatch(/unknown key \(expected one of .+\)/)
    }
    expect(errorAt(errors, 'server.hots')).toContain('host')
    expect(errors).toHaveLength(6)
  })

  it.each([
    ['a number', 42, /got 42$/],
    ['null', null, /got null$/],
    ['an array', [], /got an array$/],
    ['a string', 'apps', /got "apps"$/],
    ['undefined', undefined, /got nothing$/],
  ])('rejects a config that is %s', (_label, raw, got) => {
    const errors = validateConfig(raw)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^config: expected an object/)
    expect(errors[0]).toMatch(got)
  })

  it('rejects a config without apps, and an apps key that is not an object', () => {
    expect(errorAt(validateConfig({}), 'apps')).toMatch(/expected .*, got nothing$/)
    expect(errorAt(validateConfig({ apps: [] }), 'apps')).toMatch(/got an array$/)
  })

  it('rejects empty apps', () => {
    expect(errorAt(validateConfig({ apps: {} }), 'apps')).toMatch(/expected at least one app/)
  })

  it('rejects an app that is not an object', () => {
    expect(errorAt(validateConfig({ apps: { hello: './hello.ts' } }), 'apps.hello')).toMatch(/expected .*route.*entry.*, got "\.\/hello\.ts"$/)
  })

  it('rejects an unknown mode, in an app and in the defaults', () => {
    const errors = validateConfig({ defaults: { mode: 'hot' }, apps: { hello: app({ mode: 'bogus' }) } })
    expect(errorAt(errors, 'apps.hello.mode')).toMatch(/expected one of warm, inline, cold, got "bogus"$/)
    expect(errorAt(errors, 'defaults.mode')).toMatch(/got "hot"$/)
  })

  it.each([
    ['no leading slash', 'hello'],
    ['a space', '/hel lo'],
    ['a query', '/hello?x=1'],
    ['a fragment', '/hello#top'],
    ['the empty string', ''],
  ])('rejects a route with %s', (_label, route) => {
    const errors = validateConfig({ apps: { hello: app({ route }) } })
    expect(errorAt(errors, 'apps.hello.route')).toMatch(/expected a path starting with '\/'/)
    expect(errorAt(errors, 'apps.hello.route')).toContain(`got ${JSON.stringify(route)}`)
  })

  it('rejects a route that is not a string', () => {
    expect(errorAt(validateConfig({ apps: { hello: app({ route: 7 }) } }), 'apps.hello.route')).toMatch(/got 7$/)
  })

  it('rejects two apps on the same route, naming the other app', () => {
    const errors = validateConfig({ apps: { a: app({ route: '/a' }), b: app({ route: '/a' }) } })
    expect(errors).toHaveLength(1)
    expect(errorAt(errors, 'apps.b.route')).toMatch(/'\/a'.*app 'a'/)
  })

  it('treats /a and /a/ as the same route', () => {
    const errors = validateConfig({ apps: { a: app({ route: '/a' }), b: app({ route: '/a/' }) } })
    expect(errorAt(errors, 'apps.b.route')).toMatch(/'\/a\/'.*app 'a'/)
  })

  it('rejects min > max, in the app and when it comes from the defaults', () => {
    const own = validateConfig({ apps: { hello: app({ workers: { min: 3, max: 2 } }) } })
    expect(errorAt(own, 'apps.hello.workers')).toMatch(/expected min <= max, got min 3 and max 2$/)
    const mixed = validateConfig({ defaults: { workers: { min: 4 } }, apps: { hello: app({ workers: { max: 2 } }) } })
    expect(errorAt(mixed, 'apps.hello.workers')).toMatch(/min 4 and max 2$/)
  })

  it.each([
    ['min', { min: 1.5 }, /expected a non-negative integer, got 1\.5$/],
    ['min', { min: '1' }, /got "1"$/],
    ['max', { max: 0 }, /expected a positive integer, got 0$/],
    ['max', { max: Number.NaN }, /got NaN$/],
  ])('rejects workers.%s in %j', (key, workers, message) => {
    expect(errorAt(validateConfig({ apps: { hello: app({ workers }) } }), `apps.hello.workers.${key}`)).toMatch(message)
  })

  it('rejects workers that are not an object', () => {
    expect(errorAt(validateConfig({ apps: { hello: app({ workers: 4 }) } }), 'apps.hello.workers')).toMatch(/got 4$/)
  })

  it('rejects env values that are not strings, naming each key', () => {
    const errors = validateConfig({ apps: { hello: app({ env: { PORT: 8080, DEBUG: true, OK: 'yes' } }) } })
    expect(errorAt(errors, 'apps.hello.env.PORT')).toMatch(/expected a string, got 8080$/)
    expect(errorAt(errors, 'apps.hello.env.DEBUG')).toMatch(/expected a string, got true$/)
    expect(errors).toHaveLength(2)
  })

  it('rejects env that is not an object', () => {
    expect(errorAt(validateConfig({ apps: { hello: app({ env: ['A=1'] }) } }), 'apps.hello.env')).toMatch(/got an array$/)
  })

  it.each([
    ['server.bodyLimit', { server: { bodyLimit: '1 parsec' }, apps: { hello: app() } }, /expected a size .*, got "1 parsec"$/],
    ['server.bodyLimit', { server: { bodyLimit: -1 }, apps: { hello: app() } }, /got -1$/],
    ['apps.hello.bodyLimit', { apps: { hello: app({ bodyLimit: '1tb' }) } }, /got "1tb"$/],
    ['apps.hello.timeout', { apps: { hello: app({ timeout: '30 parsecs' }) } }, /expected a positive duration .*, got "30 parsecs"$/],
    ['apps.hello.timeout', { apps: { hello: app({ timeout: 0 }) } }, /got 0$/],
    ['apps.hello.timeout', { apps: { hello: app({ timeout: '0s' }) } }, /got "0s"$/],
    ['defaults.timeout', { defaults: { timeout: -5 }, apps: { hello: app() } }, /got -5$/],
    ['server.shutdownTimeout', { server: { shutdownTimeout: 'soon' }, apps: { hello: app() } }, /expected a duration .*, got "soon"$/],
    ['server.shutdownTimeout', { server: { shutdownTimeout: -1 }, apps: { hello: app() } }, /got -1$/],
    ['server.shutdownTimeout', { server: { shutdownTimeout: '600h' }, apps: { hello: app() } }, /got "600h"$/],
  ])('rejects a bad size or duration at %s (%#)', (path, config, message) => {
    expect(errorAt(validateConfig(config), path)).toMatch(message)
  })

  // setTimeout cannot wait longer than 2^31 - 1 ms: Node warns and fires after 1 ms, so every request
  // would time out at once. A timeout that cannot be honoured is a config error.
  it('rejects a timeout longer than a timer can wait (2^31 - 1 ms, about 24.8 days)', () => {
    expect(validateConfig({ apps: { hello: app({ timeout: '596h' }) } })).toEqual([])
    expect(validateConfig({ apps: { hello: app({ timeout: 2 ** 31 - 1 }) } })).toEqual([])
    expect(errorAt(validateConfig({ apps: { hello: app({ timeout: '600h' }) } }), 'apps.hello.timeout')).toMatch(/got "600h"$/)
    expect(errorAt(validateConfig({ apps: { hello: app({ timeout: 2 ** 31 }) } }), 'apps.hello.timeout')).toMatch(/got 2147483648$/)
    expect(errorAt(validateConfig({ defaults: { timeout: '1000h' }, apps: { hello: app() } }), 'defaults.timeout')).toMatch(/got "1000h"$/)
  })

  it.each([
    ['server.headersTimeout', { headersTimeout: 'soon' }, /expected a positive duration .*, got "soon"$/],
    ['server.headersTimeout', { headersTimeout: 0 }, /got 0$/],
    ['server.requestTimeout', { requestTimeout: '0s' }, /got "0s"$/],
    ['server.requestTimeout', { requestTimeout: '600h' }, /got "600h"$/],
    ['server.keepAliveTimeout', { keepAliveTimeout: -1 }, /got -1$/],
    ['server.keepAliveTimeout', { keepAliveTimeout: true }, /got true$/],
    ['server.maxHeaderSize', { maxHeaderSize: '16 kilobytes' }, /expected a size from 1kb to 1mb .*, got "16 kilobytes"$/],
    ['server.maxHeaderSize', { maxHeaderSize: 512 }, /got 512$/],
    ['server.maxHeaderSize', { maxHeaderSize: '2mb' }, /got "2mb"$/],
    ['server.headersTimeout', { headersTimeout: '30s', requestTimeout: '10s' }, /expected at most server.requestTimeout \(10000 ms\), got "30s"$/],
  ])('rejects a bad front-door limit at %s (%#)', (path, server, message) => {
    const errors = validateConfig({ server, apps: { hello: app() } })
    expect(errorAt(errors, path)).toMatch(message)
    expect(errors).toHaveLength(1)
  })

  it('accepts the front-door limits at their bounds', () => {
    expect(validateConfig({ server: { headersTimeout: 1, requestTimeout: 1, keepAliveTimeout: '1ms', maxHeaderSize: '1kb' }, apps: { hello: app() } })).toEqual([])
    expect(validateConfig({ server: { headersTimeout: '20s', requestTimeout: '20s', maxHeaderSize: '1mb' }, apps: { hello: app() } })).toEqual([])
  })

  it.each([0, -1, 1.5, '2', 'all', 257, null])('rejects server.processes = %j (a positive integer up to 256, or auto)', (processes) => {
    expect(errorAt(validateConfig({ server: { processes }, apps: { hello: app() } }), 'server.processes')).toMatch(/expected an integer from 1 to 256 or 'auto', got /)
  })

  it.each([1, 4, 256, 'auto'])('accepts server.processes = %j', (processes) => {
    expect(validateConfig({ server: { processes }, apps: { hello: app() } })).toEqual([])
  })

  it('rejects a bad port and host', () => {
    const errors = validateConfig({ server: { port: -1, host: 42 }, apps: { hello: app() } })
    expect(errorAt(errors, 'server.port')).toMatch(/expected an integer from 0 to 65535, got -1$/)
    expect(errorAt(errors, 'server.host')).toMatch(/expected a non-empty string, got 42$/)
  })

  it('rejects a missing or empty entry', () => {
    expect(errorAt(validateConfig({ apps: { hello: { route: '/hello' } } }), 'apps.hello.entry')).toMatch(/got nothing$/)
    expect(errorAt(validateConfig({ apps: { hello: app({ entry: ' ' }) } }), 'apps.hello.entry')).toMatch(/got " "$/)
  })

  it('rejects server and defaults that are not objects', () => {
    const errors = validateConfig({ server: 'localhost', defaults: 1, apps: { hello: app() } })
    expect(errorAt(errors, 'server')).toMatch(/expected an object, got "localhost"$/)
    expect(errorAt(errors, 'defaults')).toMatch(/expected an object, got 1$/)
  })
})

describe('normalizeRoute', () => {
  it.each([
    ['/hello', '/hello'],
    ['/hello/', '/hello'],
    ['/hello//', '/hello'],
    ['/', '/'],
    ['//', '/'],
    ['/a/b/', '/a/b'],
  ])('normalizes %j to %j', (route, normalized) => {
    expect(normalizeRoute(route)).toBe(normalized)
  })
})

describe('validateConfig: cold and cgi keys', () => {
  const cgi = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ route: '/cgi-bin', cgi: './cgi-bin', ...extra })

  it('accepts a cgi app with every key it takes, and the process keys on a handler app', () => {
    expect(validateConfig({
      apps: {
        legacy: cgi({ timeout: '10s', passEnv: ['TZ', 'LANG'], passAuthorization: true, concurrency: 4, maxQueue: 0, env: { A: 'b' }, bodyLimit: '2mb' }),
        hello: app({ mode: 'cold', passEnv: ['TZ'], concurrency: 1, maxQueue: 8 }),
      },
    })).toEqual([])
  })

  it('wants exactly one of entry and cgi', () => {
    expect(errorAt(validateConfig({ apps: { both: cgi({ entry: './x.ts' }) } }), 'apps.both')).toContain('got both')
    expect(errorAt(validateConfig({ apps: { none: { route: '/x' } } }), 'apps.none.entry')).toContain('or `cgi`')
    expect(errorAt(validateConfig({ apps: { blank: cgi({ cgi: ' ' }) } }), 'apps.blank.cgi')).toContain('directory')
  })

  it('refuses mode and workers on a cgi app', () => {
    const errors = validateConfig({ apps: { legacy: cgi({ mode: 'warm', workers: { min: 1 } }) } })
    expect(errorAt(errors, 'apps.legacy.mode')).toContain('no mode for a cgi app')
    expect(errorAt(errors, 'apps.legacy.workers')).toContain('no workers for a cgi app')
  })

  it('checks passEnv, passAuthorization, concurrency and maxQueue', () => {
    const errors = validateConfig({ apps: { legacy: cgi({ passEnv: ['OK', 'NOT-A-NAME'], passAuthorization: 'yes', concurrency: 0, maxQueue: -1 }) } })
    expect(errorAt(errors, 'apps.legacy.passEnv')).toContain('environment variable names')
    expect(errorAt(errors, 'apps.legacy.passAuthorization')).toContain('true or false')
    expect(errorAt(errors, 'apps.legacy.concurrency')).toContain('from 1 to 100000')
    expect(errorAt(errors, 'apps.legacy.maxQueue')).toContain('from 0 to 100000')
  })
})

describe('did you mean', () => {
  it('suggests the known key a typo most likely meant, at every level, and nothing for a key far from all of them', () => {
    const errors = validateConfig({
      server: { prot: 8080, BodyLimit: '1mb' },
      apps: { a: { route: '/a', entyr: './a.ts', workers: { mni: 1 } } },
      unrelated: true,
    })
    expect(errors.find(e => e.startsWith('apps.a.entyr:'))).toMatch(/; did you mean 'entry'\?$/)
    expect(errors.find(e => e.startsWith('server.prot:'))).toMatch(/; did you mean 'port'\?$/)
    expect(errors.find(e => e.startsWith('server.BodyLimit:'))).toMatch(/; did you mean 'bodyLimit'\?$/)
    expect(errors.find(e => e.startsWith('apps.a.workers.mni:'))).toMatch(/; did you mean 'min'\?$/)
    expect(errors.find(e => e.startsWith('unrelated:'))).not.toMatch(/did you mean/)
  })
})
