import { describe, expect, it } from 'vitest'
import { Router } from '../../src/gateway/router.ts'

describe('Router', () => {
  it('matches a route on the path itself, with a trailing slash, and below it', () => {
    const router = new Router([['/hello', 'hello']])
    expect(router.match('/hello')).toBe('hello')
    expect(router.match('/hello/')).toBe('hello')
    expect(router.match('/hello/x/y')).toBe('hello')
  })

  it('does not match a path that only starts with the same letters', () => {
    const router = new Router([['/hello', 'hello']])
    expect(router.match('/helloworld')).toBeUndefined()
    expect(router.match('/hello-x')).toBeUndefined()
    expect(router.match('/hell')).toBeUndefined()
    expect(router.match('/')).toBeUndefined()
    expect(router.match('/HELLO')).toBeUndefined()
  })

  it('picks the longest matching prefix, whatever the order of the table', () => {
    const routes: Array<[string, string]> = [['/api', 'api'], ['/api/v1', 'v1'], ['/api/v1/admin', 'admin']]
    for (const table of [routes, [...routes].reverse()]) {
      const router = new Router(table)
      expect(router.match('/api')).toBe('api')
      expect(router.match('/api/v2')).toBe('api')
      expect(router.match('/api/v1')).toBe('v1')
      expect(router.match('/api/v1/users')).toBe('v1')
      expect(router.match('/api/v1/admin/x')).toBe('admin')
      expect(router.match('/api/v1admin')).toBe('api')
    }
  })

  it('tells /hello from /helloworld when both are routes', () => {
    const router = new Router([['/hello', 'hello'], ['/helloworld', 'world']])
    expect(router.match('/hello/world')).toBe('hello')
    expect(router.match('/helloworld')).toBe('world')
    expect(router.match('/helloworld/x')).toBe('world')
    expect(router.match('/hellow')).toBeUndefined()
  })

  it('sends everything no other route takes to the root route', () => {
    const router = new Router([['/', 'root'], ['/hello', 'hello']])
    expect(router.match('/')).toBe('root')
    expect(router.match('/anything/else')).toBe('root')
    expect(router.match('/helloworld')).toBe('root')
    expect(router.match('/hello')).toBe('hello')
    expect(router.match('/hello/x')).toBe('hello')
  })

  it('matches nothing when the table is empty', () => {
    expect(new Router<string>([]).match('/')).toBeUndefined()
  })
})
