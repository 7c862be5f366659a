import { describe, expect, it } from 'vitest'
import { splitFastCgiPath } from '../../src/runtime/fastcgi/fastcgi-script.ts'

// nginx's `fastcgi_split_path_info ^(.+?\.php)(/.*)$` + `fastcgi_index`, with every way out of the root refused.

describe('splitFastCgiPath', () => {
  // [path, frontController, SCRIPT_NAME, PATH_INFO, script under root]
  it.each([
    ['/php/a.php', undefined, '/php/a.php', '', 'a.php'],
    ['/php/a.php/x/y', undefined, '/php/a.php', '/x/y', 'a.php'],
    ['/php/a.php/', undefined, '/php/a.php', '/', 'a.php'],
    ['/php/a.php/x/', undefined, '/php/a.php', '/x/', 'a.php'],
    ['/php/sub/b.php/c.php/d', undefined, '/php/sub/b.php', '/c.php/d', 'sub/b.php'],
    ['/php/', undefined, '/php/index.php', '', 'index.php'],
    ['/php', undefined, '/php/index.php', '', 'index.php'],
    ['/php/sub/', undefined, '/php/sub/index.php', '', 'sub/index.php'],
    ['/php//sub//a.php', undefined, '/php/sub/a.php', '', 'sub/a.php'],
    ['/php/caf%C3%A9.php/%20x', undefined, '/php/caf\xc3\xa9.php', '/ x', 'caf\xc3\xa9.php'],
    // A front controller runs every path that names no script; one that does still runs that script.
    ['/php/users/5', 'index.php', '/php/index.php', '', 'index.php'],
    ['/php/users/', 'index.php', '/php/index.php', '', 'index.php'],
    ['/php/', 'index.php', '/php/index.php', '', 'index.php'],
    ['/php', 'index.php', '/php/index.php', '', 'index.php'],
    ['/php/css/app.css', 'index.php', '/php/index.php', '', 'index.php'],
    ['/php/a.php/x', 'index.php', '/php/a.php', '/x', 'a.php'],
  ])('%s (front controller %s) → SCRIPT_NAME %s, PATH_INFO %j', (path, frontController, scriptName, pathInfo, relative) => {
    expect(splitFastCgiPath('/php', path, 'index.php', frontController)).toEqual({ ok: true, script: { scriptName, pathInfo, relative } })
  })

  it('works on the root route and with another extension', () => {
    expect(splitFastCgiPath('/', '/app.fcgi/x', 'index.fcgi')).toEqual({ ok: true, script: { scriptName: '/app.fcgi', pathInfo: '/x', relative: 'app.fcgi' } })
    expect(splitFastCgiPath('/', '/', 'index.fcgi')).toEqual({ ok: true, script: { scriptName: '/index.fcgi', pathInfo: '', relative: 'index.fcgi' } })
  })

  it('answers 404 for a path with no script that does not end in /', () => {
    expect(splitFastCgiPath('/php', '/php/readme.txt', 'index.php')).toMatchObject({ ok: false, code: 'WG_ERR_SCRIPT_NOT_FOUND' })
    expect(splitFastCgiPath('/php', '/php/.php', 'index.php')).toMatchObject({ ok: false, code: 'WG_ERR_SCRIPT_NOT_FOUND' })
  })

  it.each([
    '/php/a.php/%0a', '/php/a.php/x%0dy', '/php/a.php%00.txt', '/php/a.php/%00', '/php/a.php/%7f', '/php/a.php/%09',
    '/php/../a.php', '/php/./a.php', '/php/%2e%2e/a.php', '/php/%2E./a.php', '/php/a%2fb.php', '/php/a%5cb.php',
    '/php/%252e%252e/a.php', '/php/a.php/%zz',
  ])('refuses %s with 400', (path) => {
    expect(splitFastCgiPath('/php', path, 'index.php')).toMatchObject({ ok: false, code: 'WG_ERR_BAD_REQUEST' })
  })

  describe('with a front controller', () => {
    it('may live in a subdirectory of root, and on the root route', () => {
      expect(splitFastCgiPath('/', '/blog/2024/hello', 'index.php', 'public/index.php')).toEqual({ ok: true, script: { scriptName: '/public/index.php', pathInfo: '', relative: 'public/index.php' } })
    })

    it.each(['/php/users/%0a', '/php/../etc/passwd', '/php/%2e%2e/x', '/php/a%2fb'])('still refuses %s with 400', (path) => {
      expect(splitFastCgiPath('/php', path, 'index.php', 'index.php')).toMatchObject({ ok: false, code: 'WG_ERR_BAD_REQUEST' })
    })
  })
})
