import { describe, expect, it } from 'vitest'
import { formatListenAddress, parseListenAddress } from '../../src/config/listen-address.ts'
import { resolveConfig } from '../../src/config/resolve.ts'
import { validateConfig } from '../../src/config/schema.ts'

const apps = { hello: { route: '/hello', entry: './hello.ts' } }

describe('server.fastcgi.listen', () => {
  it.each([
    ['127.0.0.1:9000', { kind: 'tcp', host: '127.0.0.1', port: 9000 }],
    ['[::1]:9000', { kind: 'tcp', host: '::1', port: 9000 }],
    ['localhost:0', { kind: 'tcp', host: 'localhost', port: 0 }],
    ['unix:/run/warmgate.sock', { kind: 'unix', path: '/run/warmgate.sock' }],
  ])('parses %s', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected)
    expect(formatListenAddress(parseListenAddress(text)!)).toBe(text)
  })

  it.each(['9000', '127.0.0.1', '127.0.0.1:70000', 'unix:relative.sock', `unix:/${'x'.repeat(120)}`, 'http://127.0.0.1:9000', '::1:9000', 42])('refuses %s', (text) => {
    expect(parseListenAddress(text)).toBeUndefined()
  })

  it('names the key path and the value of every problem', () => {
    expect(validateConfig({ server: { fastcgi: { listen: '9000', maxConnections: 0, backlog: 1 } }, apps })).toEqual([
      'server.fastcgi.backlog: unknown key (expected one of listen, maxConnections)',
      "server.fastcgi.listen: expected an address: 'host:port' (e.g. '127.0.0.1:9000', '[::1]:9000') or 'unix:/absolute/path.sock', got \"9000\"",
      'server.fastcgi.maxConnections: expected an integer from 1 to 100000, got 0',
    ])
    expect(validateConfig({ server: { fastcgi: 'unix:/x.sock' }, apps })).toEqual([
      "server.fastcgi: expected an object ({ listen: '127.0.0.1:9000' }), got \"unix:/x.sock\"",
    ])
  })

  it('resolves to a frozen address with the default connection cap, and to nothing when unset', () => {
    const resolved = resolveConfig({ server: { fastcgi: { listen: 'unix:/tmp/wg.sock' } }, apps }, { baseDir: '/' })
    expect(resolved.server.fastcgi).toEqual({ listen: { kind: 'unix', path: '/tmp/wg.sock' }, maxConnections: 1024 })
    expect(Object.isFrozen(resolved.server.fastcgi)).toBe(true)
    expect(resolveConfig({ apps }, { baseDir: '/' }).server.fastcgi).toBeUndefined()
  })
})
