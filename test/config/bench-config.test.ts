import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../../src/config/resolve.ts'
import { validateConfig } from '../../src/config/schema.ts'
import type { GatewayConfig } from '../../src/index.ts'

// `bench` (what `warmgate bench` requests of an app): validated with the key path, resolved (method
// upper-cased, header names lower-cased) for bench/select.ts, whose flags and options override it.

const app = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ route: '/api', entry: './api.ts', ...extra })

describe('validateConfig: bench', () => {
  it('accepts every key, on handler and cgi apps', () => {
    expect(validateConfig({
      apps: {
        api: app({ bench: { path: '/users/1?x=2', method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json', 'x-empty': '' } } }),
        query: app({ route: '/q', bench: { path: '?n=1000' } }),
        lower: app({ route: '/l', bench: { method: 'patch' } }),
        empty: app({ route: '/e', bench: {} }),
        scripts: { route: '/cgi', cgi: './cgi-bin', bench: { path: '/hello.sh' } },
      },
    })).toEqual([])
  })

  it.each([
    [{ method: 'G T' }, 'apps.api.bench.method: expected an HTTP method token, got "G T"'],
    [{ method: 42 }, 'apps.api.bench.method: expected an HTTP method token, got 42'],
    [{ method: 'connect' }, 'apps.api.bench.method: expected a method other than CONNECT (it opens a tunnel, not a request to measure), got "connect"'],
    [{ method: 'FROB' }, 'apps.api.bench.method: expected a method Node\'s HTTP server accepts, such as GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS, got "FROB"'],
    [{ path: 'users' }, 'apps.api.bench.path: expected a path under the app\'s route starting with \'/\' or \'?\' (visible ASCII, no \'#\', no \'.\', \'..\' or empty segments), got "users"'],
    [{ path: '/a b' }, /^apps\.api\.bench\.path: expected a path under the app's route .*, got "\/a b"$/],
    [{ path: '/a#top' }, /^apps\.api\.bench\.path: .*, got "\/a#top"$/],
    [{ path: '/../admin' }, /^apps\.api\.bench\.path: .*, got "\/\.\.\/admin"$/],
    [{ path: '//x' }, /^apps\.api\.bench\.path: .*, got "\/\/x"$/],
    [{ body: 42 }, 'apps.api.bench.body: expected a string (the request body), got 42'],
    [{ headers: ['content-type: x'] }, /^apps\.api\.bench\.headers: expected an object of header names and string values .*, got an array$/],
    [{ headers: { 'X Y': 'z' } }, /^apps\.api\.bench\.headers\.X Y: expected a header name \(a token: .*\), got "X Y"$/],
    [{ headers: { 'Content-Length': '5' } }, 'apps.api.bench.headers.Content-Length: expected no content-length header (bench sets Content-Length from the body and keeps its connections alive), got "5"'],
    [{ headers: { connection: 'close' } }, /^apps\.api\.bench\.headers\.connection: expected no connection header/],
    [{ headers: { 'x-a': 'a\r\nInjected: 1' } }, 'apps.api.bench.headers.x-a: expected a string of visible ASCII characters, spaces and tabs, got "a\\r\\nInjected: 1"'],
    [{ headers: { 'x-a': 1 } }, 'apps.api.bench.headers.x-a: expected a string of visible ASCII characters, spaces and tabs, got 1'],
    [{ verb: 'GET' }, 'apps.api.bench.verb: unknown key (expected one of path, method, body, headers)'],
  ])('rejects bench %j naming the key path', (bench, message) => {
    const errors = validateConfig({ apps: { api: app({ bench }) } })
    expect(errors).toHaveLength(1)
    if (typeof message === 'string') expect(errors[0]).toBe(message)
    else expect(errors[0]).toMatch(message)
  })

  it('rejects a bench that is not an object, and bench on a fastcgi app (bench does not measure it)', () => {
    expect(validateConfig({ apps: { api: app({ bench: 'GET /' }) } })).toEqual(['apps.api.bench: expected an object ({ path, method, body, headers }), got "GET /"'])
    const errors = validateConfig({ apps: { php: { route: '/php', fastcgi: '127.0.0.1:9000', root: '/srv', bench: { path: '/x' } } } })
    expect(errors).toEqual(['apps.php.bench: expected no bench options for a fastcgi app (warmgate bench does not measure it; npm run bench:php does), got {"path":"/x"}'])
  })

  it('reports every bad bench key at once, with the other keys\' errors', () => {
    const errors = validateConfig({ apps: { api: app({ timeout: 'soon', bench: { method: 'G T', path: 'x', body: 1 } }) } })
    expect(errors.map(error => error.slice(0, error.indexOf(':')))).toEqual(expect.arrayContaining(['apps.api.timeout', 'apps.api.bench.method', 'apps.api.bench.path', 'apps.api.bench.body']))
    expect(errors).toHaveLength(4)
  })
})

describe('resolveConfig: bench', () => {
  const resolve = (config: GatewayConfig) => resolveConfig(config, { baseDir: '/srv' }).apps

  it('leaves every field unset without a bench key (bench then requests GET of the route), frozen', () => {
    const [resolved] = resolve({ apps: { api: { route: '/api', entry: './api.ts' } } })
    expect(resolved.bench).toEqual({ path: undefined, method: undefined, body: undefined, headers: {} })
    expect(Object.isFrozen(resolved.bench)).toBe(true)
    expect(Object.isFrozen(resolved.bench.headers)).toBe(true)
  })

  it('keeps what the app sets, the method upper-cased and header names lower-cased', () => {
    const [resolved] = resolve({ apps: { api: { route: '/api', entry: './api.ts', bench: { path: '/users/1?x=2', method: 'post', body: '{}', headers: { 'Content-Type': 'application/json' } } } } })
    expect(resolved.bench).toEqual({ path: '/users/1?x=2', method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
  })
})
