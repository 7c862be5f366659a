import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../../src/config/resolve.ts'
import { parseFastCgiAddress } from '../../src/config/schema-fastcgi.ts'
import { validateConfig } from '../../src/config/schema.ts'

// fastcgi apps in the config: validated once with key-path errors, resolved with defaults.

const php = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ route: '/php', fastcgi: 'unix:/run/php/php-fpm.sock', root: '/var/www/php', ...extra })

describe('validateConfig: fastcgi apps', () => {
  it('accepts the README example and every fastcgi key', () => {
    expect(validateConfig({ apps: { php: php({ index: 'index.php' }) } })).toEqual([])
    expect(validateConfig({
      apps: {
        php: php({ fastcgi: '127.0.0.1:9000', index: 'app.php', frontController: 'public/index.php', maxConnections: 8, connectTimeout: '1s', keepAliveTimeout: '30s', timeout: '10s', concurrency: 16, maxQueue: 10, queueTimeout: '2s', passEnv: ['TZ'], passAuthorization: true, env: { APP_ENV: 'prod' }, bodyLimit: '20mb' }),
        v6: { route: '/v6', fastcgi: '[::1]:9000', root: './www' },
      },
    })).toEqual([])
  })

  it('names the key path and the value of each bad fastcgi key', () => {
    const errors = validateConfig({ apps: { php: php({ fastcgi: 'localhost', root: '', index: 'index', maxConnections: 0, connectTimeout: 'soon', keepAliveTimeout: -1 }) } })
    expect(errors).toEqual([
      "apps.php.fastcgi: expected a backend address ('unix:/absolute/path.sock', '127.0.0.1:9000' or '[::1]:9000'), got \"localhost\"",
      'apps.php.root: expected the document root the backend sees (a directory path), got ""',
      "apps.php.index: expected a file name with an extension, such as 'index.php', got \"index\"",
      'apps.php.maxConnections: expected an integer from 1 to 10000, got 0',
      "apps.php.connectTimeout: expected a positive duration of at most 24 days (ms number, or '30s', '250ms'), got \"soon\"",
      "apps.php.keepAliveTimeout: expected a positive duration of at most 24 days (ms number, or '30s', '250ms'), got -1",
    ])
  })

  it('refuses a frontController that is no plain relative script path', () => {
    for (const bad of ['', 'index', '/index.php', '../index.php', 'public/../index.php', './index.php', 'a//index.php', 'index.php/', 'a\\b.php', 'a\nb.php', 7]) {
      expect(validateConfig({ apps: { php: php({ frontController: bad }) } }), JSON.stringify(bad)).toEqual([
        `apps.php.frontController: expected a script path under root with an extension, such as 'index.php' or 'public/index.php' (no '.' or '..' segments), got ${JSON.stringify(bad)}`,
      ])
    }
  })

  it('refuses a relative unix socket path, a port out of range, and a missing root', () => {
    expect(validateConfig({ apps: { php: php({ fastcgi: 'unix:run/php.sock' }) } })[0]).toMatch(/^apps\.php\.fastcgi: /)
    expect(validateConfig({ apps: { php: php({ fastcgi: '127.0.0.1:70000' }) } })[0]).toMatch(/^apps\.php\.fastcgi: /)
    expect(validateConfig({ apps: { php: { route: '/php', fastcgi: '127.0.0.1:9000' } } })).toEqual(['apps.php.root: expected the document root the backend sees (a directory path), got nothing'])
  })

  it('refuses entry, cgi, mode and workers next to fastcgi', () => {
    const errors = validateConfig({ apps: { php: php({ entry: './a.ts', mode: 'warm', workers: { max: 2 } }) } })
    expect(errors).toHaveLength(3)
    expect(errors[0]).toMatch(/^apps\.php: expected one of `entry`, `cgi` or `fastcgi`, got entry and fastcgi/)
    expect(errors[1]).toMatch(/^apps\.php\.mode: expected no mode for a fastcgi app/)
    expect(errors[2]).toMatch(/^apps\.php\.workers: expected no workers for a fastcgi app/)
  })

  it('refuses the fastcgi-only keys on other apps', () => {
    expect(validateConfig({ apps: { hello: { route: '/hello', entry: './hello.ts', root: '/srv', maxConnections: 2 } } })).toEqual([
      "apps.hello.root: expected root only on a fastcgi app (one with `fastcgi: 'unix:/…' | 'host:port'`), got \"/srv\"",
      "apps.hello.maxConnections: expected maxConnections only on a fastcgi app (one with `fastcgi: 'unix:/…' | 'host:port'`), got 2",
    ])
  })
})

describe('parseFastCgiAddress', () => {
  it('reads unix sockets, host:port and [v6]:port', () => {
    expect(parseFastCgiAddress('unix:/run/php/php-fpm.sock')).toEqual({ path: '/run/php/php-fpm.sock' })
    expect(parseFastCgiAddress('127.0.0.1:9000')).toEqual({ host: '127.0.0.1', port: 9000 })
    expect(parseFastCgiAddress('php.internal:9000')).toEqual({ host: 'php.internal', port: 9000 })
    expect(parseFastCgiAddress('[::1]:9000')).toEqual({ host: '::1', port: 9000 })
    for (const bad of ['', '9000', ':9000', '::1:9000', 'unix:', 'http://127.0.0.1:9000', '127.0.0.1:0']) expect(parseFastCgiAddress(bad), bad).toBeUndefined()
  })
})

describe('resolveConfig: fastcgi apps', () => {
  it('applies the defaults, makes root absolute and freezes the block', () => {
    const [app] = resolveConfig({ apps: { php: { route: '/php/', fastcgi: '127.0.0.1:9000', root: './www' } } }, { baseDir: '/srv/site' }).apps
    expect(app).toMatchObject({ mode: 'fastcgi', route: '/php', entry: '/srv/site/www', concurrency: 32, passAuthorization: false })
    expect(app.fastcgi).toEqual({ address: { host: '127.0.0.1', port: 9000 }, label: '127.0.0.1:9000', root: '/srv/site/www', index: 'index.php', frontController: undefined, maxConnections: 32, connectTimeoutMs: 5000, keepAliveTimeoutMs: 10_000 })
    expect(Object.isFrozen(app.fastcgi)).toBe(true)
  })

  it('ignores --mode for a fastcgi app, and takes maxConnections from concurrency unless set', () => {
    const apps = resolveConfig({ apps: { a: { route: '/a', fastcgi: 'unix:/tmp/a.sock', root: '/w', concurrency: 4 }, b: { route: '/b', fastcgi: 'unix:/tmp/b.sock', root: '/w', maxConnections: 3 } } }, { baseDir: '/', mode: 'inline' }).apps
    expect(apps.map(app => [app.mode, app.fastcgi?.maxConnections])).toEqual([['fastcgi', 4], ['fastcgi', 3]])
  })
})
