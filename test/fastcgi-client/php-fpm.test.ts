import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { codesOf, type Started, startGateway, within } from '../helpers/gateway.ts'
import { sendRaw } from '../runtime/support.ts'
import { countingRelay, type CountingRelay, PHP_FPM, PHP_ROOT, phpFpm, type PhpFpm } from './php-fpm.ts'

// warmgate → a real php-fpm (README "FastCGI backends (php-fpm)"): the params PHP sees, bodies both
// ways, status codes and cookies, timeouts, connection reuse, refused paths, and php-fpm going away.

interface Echo {
  server: Record<string, string>
  get: Record<string, string>
  post: Record<string, string>
  files: Record<string, { size: number, error: number, sha1: string | null }>
  rawLength: number
  rawSha1: string
  json: unknown
}

describe.skipIf(PHP_FPM === undefined)('fastcgi app → php-fpm', () => {
  let fpm: PhpFpm
  let relay: CountingRelay
  let gw: Started

  beforeAll(async () => {
    fpm = phpFpm({ children: 4 })
    await fpm.start()
    relay = await countingRelay(fpm.dir, fpm.socket)
    gw = await startGateway({
      apps: {
        php: { route: '/php', fastcgi: `unix:${relay.socket}`, root: PHP_ROOT, index: 'index.php', timeout: '1s', bodyLimit: '32mb', env: { APP_STAGE: 'test' } },
        direct: { route: '/direct', fastcgi: `unix:${fpm.socket}`, root: PHP_ROOT, passAuthorization: true, maxConnections: 2, connectTimeout: '2s' },
        front: { route: '/front', fastcgi: `unix:${fpm.socket}`, root: PHP_ROOT, frontController: 'echo.php' },
      },
    })
  }, 20_000)

  afterAll(async () => {
    await gw?.gateway.close()
    await relay?.close()
    await fpm?.dispose()
  }, 20_000)

  async function get (path: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, text: string }> {
    const res = await within(5000, `GET ${path}`, request(`${gw.url}${path}`, { headers }))
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
  }

  async function echo (path: string, init: { method?: string, headers?: Record<string, string>, body?: string | Buffer | Readable } = {}): Promise<Echo> {
    const res = await within(10_000, `${init.method ?? 'GET'} ${path}`, request(`${gw.url}${path}`, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body }))
    const text = await res.body.text()
    expect(res.statusCode, text).toBe(200)
    return JSON.parse(text) as Echo
  }

  it('runs the frontController for a path that names no script, REQUEST_URI as sent (try_files … /index.php?$query_string)', async () => {
    const { server, get: query } = await echo('/front/users/5?tab=posts')
    expect(server).toMatchObject({
      SCRIPT_NAME: '/front/echo.php',
      SCRIPT_FILENAME: `${PHP_ROOT}/echo.php`,
      REQUEST_URI: '/front/users/5?tab=posts',
      QUERY_STRING: 'tab=posts',
      DOCUMENT_URI: '/front/echo.php',
      PHP_SELF: '/front/echo.php',
    })
    expect(server.PATH_INFO ?? '').toBe('')
    expect(query).toEqual({ tab: 'posts' })
    expect((await echo('/front/')).server).toMatchObject({ SCRIPT_NAME: '/front/echo.php', REQUEST_URI: '/front/' })
    // A path that names a script still runs that script; a bad segment is still refused before php-fpm.
    expect((await echo('/front/echo.php/x')).server).toMatchObject({ SCRIPT_NAME: '/front/echo.php', PATH_INFO: '/x' })
    expect((await get('/front/users/%0a')).status).toBe(400)
    expect((await get('/front/missing.php')).status).toBe(404)
  })

  it('sends the params nginx fastcgi_params + fastcgi_split_path_info give php-fpm', async () => {
    const { server, get: query } = await echo('/php/echo.php/x/y?a=1&b=two%20words', {
      headers: { 'x-custom': 'yes', proxy: 'http://evil.test', authorization: 'Basic dTpw', cookie: 'c=1' },
    })
    expect(server).toMatchObject({
      SCRIPT_FILENAME: `${PHP_ROOT}/echo.php`,
      SCRIPT_NAME: '/php/echo.php',
      PATH_INFO: '/x/y',
      PATH_TRANSLATED: `${PHP_ROOT}/x/y`,
      DOCUMENT_ROOT: PHP_ROOT,
      DOCUMENT_URI: '/php/echo.php/x/y',
      REQUEST_URI: '/php/echo.php/x/y?a=1&b=two%20words',
      QUERY_STRING: 'a=1&b=two%20words',
      REQUEST_METHOD: 'GET',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      REMOTE_ADDR: '127.0.0.1',
      REDIRECT_STATUS: '200',
      HTTP_X_CUSTOM: 'yes',
      HTTP_COOKIE: 'c=1',
      APP_STAGE: 'test',
      PHP_SELF: '/php/echo.php/x/y',
    })
    expect(server.SERVER_PORT).toBe(new URL(gw.url).port)
    expect(server.SERVER_SOFTWARE).toMatch(/^warmgate\//)
    // httpoxy, and credentials only with passAuthorization (as for cgi apps).
    expect(server).not.toHaveProperty('HTTP_PROXY')
    expect(server).not.toHaveProperty('HTTP_AUTHORIZATION')
    expect(server).not.toHaveProperty('PATH')
    expect(server).not.toHaveProperty('CONTENT_LENGTH')
    expect(query).toEqual({ a: '1', b: 'two words' })
  })

  it('passes Authorization to an app with passAuthorization (PHP_AUTH_USER works)', async () => {
    const { server } = await echo('/direct/echo.php', { headers: { authorization: 'Basic dTpw' } })
    expect(server).toMatchObject({ HTTP_AUTHORIZATION: 'Basic dTpw', PHP_AUTH_USER: 'u', PHP_AUTH_PW: 'p' })
    expect(server.PATH_INFO ?? '').toBe('')
  })

  it('runs the index for a path ending in / and for the route itself', async () => {
    expect(await get('/php/')).toMatchObject({ status: 200, text: 'index of root: /php/index.php\n' })
    expect(await get('/php')).toMatchObject({ status: 200, text: 'index of root: /php/index.php\n' })
    expect(await get('/php/sub/')).toMatchObject({ status: 200, text: 'index of sub: /php/sub/index.php\n' })
  })

  it('answers 404 for a path that names no .php script, without asking the backend', async () => {
    const before = relay.sent.length
    const res = await get('/php/readme.txt', { 'x-request-id': 'no-script' })
    expect(res.status).toBe(404)
    expect(codesOf(gw.lines, 'no-script')).toContain('WG_ERR_SCRIPT_NOT_FOUND')
    expect(relay.sent.length).toBe(before)
  })

  it("passes php-fpm's own 404 for a script that does not exist", async () => {
    const res = await get('/php/missing.php')
    expect(res.status).toBe(404)
  })

  it('decodes a url-encoded form into $_POST and a JSON body into php://input', async () => {
    const form = await echo('/php/echo.php', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=Ada+Lovelace&n=42' })
    expect(form.post).toEqual({ name: 'Ada Lovelace', n: '42' })
    expect(form.server).toMatchObject({ CONTENT_TYPE: 'application/x-www-form-urlencoded', CONTENT_LENGTH: '22', REQUEST_METHOD: 'POST' })
    const json = await echo('/php/echo.php', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: [1, 2], b: 'é' }) })
    expect(json.json).toEqual({ a: [1, 2], b: 'é' })
  })

  it('streams a multipart upload of a few MB (Content-Length) and a chunked body into php-fpm', async () => {
    const file = Buffer.alloc(5 * 1024 * 1024)
    for (let i = 0; i < file.length; i++) file[i] = (i * 7 + (i >> 9)) & 0xff
    const boundary = '----warmgate-test-boundary'
    const multipart = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="blob.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      file,
      Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--${boundary}--\r\n`),
    ])
    const up = await echo('/php/echo.php', { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(multipart.length) }, body: multipart })
    expect(up.files.upload).toEqual({ size: file.length, error: 0, sha1: createHash('sha1').update(file).digest('hex') })
    expect(up.post).toEqual({ note: 'hello' })

    const chunked = Readable.from([Buffer.from('part one, '), Buffer.from('part two')])
    const res = await echo('/php/echo.php', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: chunked })
    expect(res.rawLength).toBe(18)
    expect(res.server.CONTENT_LENGTH).toBe('18')
  }, 30_000)

  it('passes status codes, two Set-Cookie headers, redirects and reason phrases', async () => {
    const created = await get('/php/status.php?do=created')
    expect(created.status).toBe(201)
    expect(created.headers['set-cookie']).toEqual(['a=1', 'b=2'])
    expect(created.text).toBe('created\n')
    const moved = await get('/php/status.php?do=redirect')
    expect(moved.status).toBe(302)
    expect(moved.headers.location).toBe('https://example.test/elsewhere')
    const res = await within(5000, 'teapot', request(`${gw.url}/php/status.php?do=teapot`))
    expect(res.statusCode).toBe(418)
    expect(res.statusText).toBe('Short And Stout')
    await res.body.text()
  })

  it('streams a large response whole', async () => {
    const res = await within(10_000, 'big.php', request(`${gw.url}/php/big.php?mb=8`))
    const body = Buffer.from(await res.body.arrayBuffer())
    expect(res.statusCode).toBe(200)
    expect(body.length).toBe(8 * 1024 * 1024)
    expect(body.subarray(0, 32).toString()).toBe('0123456789abcdef0123456789abcdef')
    expect(body.subarray(-16).toString()).toBe('0123456789abcdef')
  })

  it('logs STDERR lines with the request id', async () => {
    const res = await get('/php/stderr.php', { 'x-request-id': 'stderr-lines' })
    expect(res).toMatchObject({ status: 200, text: 'ok\n' })
    const lines = gw.lines.filter(line => line.reqId === 'stderr-lines' && typeof line.stderr === 'string').map(line => line.stderr as string)
    expect(lines.some(line => line.includes('first stderr line'))).toBe(true)
    expect(lines.some(line => line.includes('second stderr line'))).toBe(true)
  })

  it("answers 504 when the script takes longer than the app's timeout, and drops that connection", async () => {
    const before = relay.accepted
    const started = performance.now()
    const res = await get('/php/slow.php?ms=3000', { 'x-request-id': 'too-slow' })
    expect(res.status).toBe(504)
    expect(performance.now() - started).toBeLessThan(2500)
    expect(codesOf(gw.lines, 'too-slow')).toContain('WG_ERR_TIMEOUT')
    // The next request cannot have the abandoned connection: it opens another.
    expect((await get('/php/hello.php')).status).toBe(200)
    expect(relay.accepted).toBeGreaterThan(before)
  })

  it('reuses one connection for requests one after another (FCGI_KEEP_CONN)', async () => {
    // Settle: whatever the earlier tests left idle is reused, so count from a request that surely has one.
    await get('/php/hello.php')
    const before = relay.accepted
    for (let i = 0; i < 20; i++) expect((await get(`/php/hello.php?i=${i}`)).text).toBe('Hello from PHP\n')
    expect(relay.accepted - before).toBe(0)
    // Concurrent requests need more connections, capped at maxConnections (direct: 2) → stats show ≤ 2.
    await Promise.all(Array.from({ length: 8 }, async () => get('/direct/slow.php?ms=50')))
    expect(gw.gateway.stats().direct.workers).toBeLessThanOrEqual(2)
  })

  it.each([
    ['LF', '/php/echo.php/%0a'],
    ['CR', '/php/echo.php/x%0dy'],
    ['NUL', '/php/echo.php%00.txt'],
    ['NUL in PATH_INFO', '/php/echo.php/a%00b'],
    ['an encoded dot segment', '/php/sub/%2e%2e/echo.php'],
    ['an encoded dot segment that leaves the route', '/php/%2e%2e/php/echo.php'],
    ['a raw dot segment', '/php/sub/../echo.php'],
    ['an encoded slash', '/php/sub%2f..%2fecho.php'],
    ['double encoding', '/php/%252e%252e/echo.php'],
  ])('refuses %s in the path with 400 before anything reaches the backend', async (_name, path) => {
    const before = relay.sent.length
    // Sent verbatim: undici's request() would resolve dot segments through `new URL` first.
    const agent = new Agent()
    try {
      expect((await sendRaw(agent, gw.url, path)).status).toBe(400)
    } finally {
      await agent.close()
    }
    expect(relay.sent.length).toBe(before)
  })

  it('closes the backend connection when the client leaves mid-body, and never reuses it', async () => {
    const controller = new AbortController()
    const res = await within(5000, 'big.php head', request(`${gw.url}/php/big.php?mb=64`, { signal: controller.signal }))
    for await (const _ of res.body) break
    const open = relay.open
    expect(gw.gateway.stats().php.workers).toBeGreaterThanOrEqual(1)
    controller.abort()
    await res.body.text().catch(() => {})
    // The relay sees the gateway close its side: one connection fewer than while the body streamed.
    await within(5000, 'the backend connection to be closed', (async () => {
      while (relay.open >= open) await new Promise(resolve => setTimeout(resolve, 10))
    })())
    expect((await get('/php/hello.php')).status).toBe(200)
  })

  it('answers 502 quickly while php-fpm is stopped, and recovers when it is back', async () => {
    expect((await get('/direct/hello.php')).status).toBe(200)
    await fpm.stop()
    const started = performance.now()
    const res = await get('/direct/hello.php', { 'x-request-id': 'fpm-down' })
    expect(res.status).toBe(502)
    expect(performance.now() - started).toBeLessThan(1000)
    expect(codesOf(gw.lines, 'fpm-down')).toEqual(expect.arrayContaining([expect.stringMatching(/^WG_ERR_FASTCGI_(UNAVAILABLE|CLOSED)$/)]))
    const again = await get('/direct/hello.php', { 'x-request-id': 'fpm-down-2' })
    expect(again.status).toBe(502)
    expect(codesOf(gw.lines, 'fpm-down-2')).toContain('WG_ERR_FASTCGI_UNAVAILABLE')
    await fpm.start()
    expect(await get('/direct/hello.php')).toMatchObject({ status: 200, text: 'Hello from PHP\n' })
  }, 20_000)
})
