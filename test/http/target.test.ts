import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { newRequestId, pickRequestId, requestTarget } from '../../src/http/target.ts'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const FALLBACK = '127.0.0.1:8080'

describe('pickRequestId', () => {
  it.each([
    ['abc-123', 'abc-123'],
    ['with every allowed punctuation', 'req_1.2:3-x'],
    ['of one character', 'A'],
    ['of 128 characters', 'x'.repeat(128)],
    ['that is a UUID', '3f1c2b8e-7d3a-4f6e-9b1a-0c2d4e6f8a0b'],
  ])('keeps a valid id: %s', (_label, id) => {
    expect(pickRequestId(id)).toBe(id)
  })

  it.each([
    ['that is empty', ''],
    ['with a space', 'a b'],
    ['with a slash', 'a/b'],
    ['with a newline', 'a\nb'],
    ['with a non-ASCII letter', 'réq'],
    ['129 characters long', 'x'.repeat(129)],
    ['sent twice (an array)', ['abc', 'def']],
    ['that is absent', undefined],
  ])('replaces an id %s with a UUID', (_label, incoming) => {
    expect(pickRequestId(incoming)).toMatch(UUID_RE)
  })

  it('generates a different id each time', () => {
    expect(pickRequestId(undefined)).not.toBe(pickRequestId(undefined))
  })

  it('generates UUID-shaped ids, 100,000 of them all different, with a prefix drawn per process', () => {
    const ids = new Set<string>()
    for (let i = 0; i < 100_000; i++) {
      const id = newRequestId()
      if (!UUID_RE.test(id)) expect(id).toMatch(UUID_RE)
      ids.add(id)
    }
    expect(ids.size).toBe(100_000)
    // Two processes draw their own prefixes: ids stay unique across the processes of `--processes N`.
    const module = fileURLToPath(new URL('../../src/http/target.ts', import.meta.url))
    const idOfNewProcess = (): string => {
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', `import { newRequestId } from ${JSON.stringify(module)}; process.stdout.write(newRequestId())`], { encoding: 'utf8', timeout: 20_000 })
      expect(child.status, child.stderr).toBe(0)
      return child.stdout
    }
    const [a, b] = [idOfNewProcess(), idOfNewProcess()]
    expect(a).toMatch(UUID_RE)
    expect(b).toMatch(UUID_RE)
    expect(a.slice(0, 24)).not.toBe(b.slice(0, 24))
    expect(a.slice(0, 24)).not.toBe(newRequestId().slice(0, 24))
  })
})

describe('requestTarget', () => {
  it('builds the URL of an origin-form target from the Host header', () => {
    expect(requestTarget('/hello/x', 'example.com', FALLBACK, false)).toEqual({ url: 'http://example.com/hello/x', pathname: '/hello/x' })
    expect(requestTarget('/hello', 'example.com:8443', FALLBACK, true)).toEqual({ url: 'https://example.com:8443/hello', pathname: '/hello' })
    expect(requestTarget('/', '[::1]:8080', FALLBACK, false)).toEqual({ url: 'http://[::1]:8080/', pathname: '/' })
  })

  it('uses the fallback host when there is no Host header, or an empty one', () => {
    expect(requestTarget('/hello', undefined, FALLBACK, false)).toEqual({ url: 'http://127.0.0.1:8080/hello', pathname: '/hello' })
    expect(requestTarget('/hello', '', FALLBACK, false)).toEqual({ url: 'http://127.0.0.1:8080/hello', pathname: '/hello' })
  })

  it.each([
    ['a path', 'evil.com/x'],
    ['a space', 'a b'],
    ['userinfo', 'user@host'],
    ['a query', 'evil.com?x'],
    ['a fragment', 'evil.com#x'],
    ['a backslash', 'evil.com\\x'],
    ['a port that is not a number', 'host:http'],
    // Past the character check, refused by the URL parser itself (a handler's Request could not be made).
    ['an IPv6 literal that is not one', '[1]'],
    ['a bad punycode label', 'xn--zz'],
    ['an IPv4 address out of range', '1.2.3.999'],
    ['a bad percent escape', 'a%zz'],
  ])('refuses a Host with %s', (_label, host) => {
    expect(requestTarget('/hello', host, FALLBACK, false)).toBeUndefined()
  })

  it.each([
    ['/hello/../admin', '/admin'],
    ['/hello/%2e%2e/admin', '/admin'],
    ['/hello/%2E%2E/admin', '/admin'],
    ['/hello/.%2e/admin', '/admin'],
    ['/hello/./x', '/hello/x'],
    ['/hello\\..\\admin', '/admin'],
    ['/a/b/../../..', '/'],
  ])('resolves dot segments before routing: %j → %j', (raw, pathname) => {
    const target = requestTarget(raw, 'example.com', FALLBACK, false)
    expect(target?.pathname).toBe(pathname)
    expect(target?.url).toBe(`http://example.com${pathname}`)
  })

  it('keeps the Host for a target starting with // (not an authority)', () => {
    const target = requestTarget('//evil.com/x', 'example.com', FALLBACK, false)
    expect(target).toBeDefined()
    expect(new URL(target?.url ?? '').host).toBe('example.com')
    expect(target?.pathname).toBe('//evil.com/x')
  })

  it('takes an absolute-form target as it is, with its own host', () => {
    expect(requestTarget('http://other.test:81/x?y=1', 'example.com', FALLBACK, false)).toEqual({ url: 'http://other.test:81/x?y=1', pathname: '/x' })
    expect(requestTarget('https://other.test/a/../b', undefined, FALLBACK, false)).toEqual({ url: 'https://other.test/b', pathname: '/b' })
  })

  it.each(['ftp://other.test/x', '*', 'hello', 'http://'])('refuses the target %j', (raw) => {
    expect(requestTarget(raw, 'example.com', FALLBACK, false)).toBeUndefined()
  })

  it('keeps the query verbatim in the fast path, and out of the pathname', () => {
    const raw = '/hello?q=a%2Fb&x=1|2&empty=&x=3&%41=%7e'
    expect(requestTarget(raw, 'example.com', FALLBACK, false)).toEqual({ url: `http://example.com${raw}`, pathname: '/hello' })
    expect(requestTarget('/hello?', 'example.com', FALLBACK, false)).toEqual({ url: 'http://example.com/hello?', pathname: '/hello' })
  })

  it('keeps the query when the path needs normalizing', () => {
    expect(requestTarget('/hello/../admin?next=/a&b=2', 'example.com', FALLBACK, false)).toEqual({ url: 'http://example.com/admin?next=/a&b=2', pathname: '/admin' })
  })

  // The pathname is documented as "the path as the handler will see it", and routing uses it: the two
  // must agree, or a request is routed to one app while its URL names another's path.
  it.each([
    '/hello',
    '/hello/x?y=1',
    '/hello/../admin?x=/./',
    '/admin#x',
    '/admin#/../hello',
    '/hello?x#frag',
    '/a/./b/%2e%2e/c',
  ])('routes %j on the same pathname the handler sees in its URL', (raw) => {
    const target = requestTarget(raw, 'example.com', FALLBACK, false)
    expect(target).toBeDefined()
    expect(target?.pathname).toBe(new URL(target?.url ?? '').pathname)
  })
})
