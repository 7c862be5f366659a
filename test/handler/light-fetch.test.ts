import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { installLightFetch } from '../../src/handler/install-fetch.ts'
import { createWebRequest } from '../../src/handler/invoke.ts'
import { LightRequest } from '../../src/handler/light-request.ts'
import { LightResponse, takeFast } from '../../src/handler/light-response.ts'
import { realRequest, realResponse } from '../../src/handler/native-fetch.ts'
import { readWebResponse } from '../../src/handler/response-body.ts'

// The light classes must be indistinguishable from Node's own to a handler: every case below is built
// both ways and compared (status, reason, headers as iterated, body bytes, or the error thrown).
installLightFetch()
const Real = realResponse()

type Args = [body?: unknown, init?: unknown]
type BodyInit = ConstructorParameters<typeof Response>[0]

async function describeResponse (make: () => Response): Promise<unknown> {
  let response: Response
  try {
    response = make()
  } catch (error) {
    return { threw: (error as Error).constructor.name }
  }
  return { status: response.status, ok: response.ok, statusText: response.statusText, type: response.type, headers: [...response.headers], body: await response.text() }
}

const cases: Array<[string, Args]> = [
  ['string', ['hello']],
  ['empty string', ['']],
  ['unicode and a lone surrogate', ['héllo ✓ \ud800']],
  ['bytes', [new Uint8Array([104, 105])]],
  ['an ArrayBuffer', [new Uint8Array([1, 2, 3]).buffer]],
  ['a DataView (the real way)', [new DataView(new Uint8Array([65]).buffer)]],
  ['no body', [null]],
  ['undefined body, 204', [undefined, { status: 204 }]],
  ['a body on 204 (refused)', ['x', { status: 204 }]],
  ['a body on 304 (refused)', ['x', { status: 304 }]],
  ['status 199 (refused)', ['x', { status: 199 }]],
  ['status 600 (refused)', ['x', { status: 600 }]],
  ['status 200.5 (the real way)', ['x', { status: 200.5 }]],
  ['status as a string (the real way)', ['x', { status: '201' }]],
  ['status and reason', ['x', { status: 418, statusText: "I'm a teapot" }]],
  ['reason with a newline (refused)', ['x', { statusText: 'a\nb' }]],
  ['object headers', ['x', { headers: { 'X-B': '2', 'x-a': '1', 'Content-Type': 'text/html' } }]],
  ['pair headers with repeats', ['x', { headers: [['x-b', '1'], ['X-A', 'a'], ['x-b', '2'], ['Set-Cookie', 'a=1'], ['set-cookie', 'b=2']] }]],
  ['values trimmed of edge whitespace', ['x', { headers: { 'x-a': ' \t v \r\n' } }]],
  ['a number value', ['x', { headers: { 'x-n': 42 } }]],
  ['a bad name (refused)', ['x', { headers: { 'a b': '1' } }]],
  ['a value with CR LF (refused)', ['x', { headers: { a: 'x\r\ny' } }]],
  ['a value past latin-1 (refused)', ['x', { headers: { a: '✓' } }]],
  ['a pair of three (refused)', ['x', { headers: [['a', 'b', 'c']] }]],
  ['a Headers object', ['x', { headers: new Headers([['x-h', '1']]) }]],
  ['a Map of headers', ['x', { headers: new Map([['x-m', '1']]) }]],
  ['an init that is not an object (the real way)', ['x', 5]],
  ['a stream body', [new ReadableStream({ start (c) { c.enqueue(new TextEncoder().encode('streamed')); c.close() } })]],
  ['URLSearchParams', [new URLSearchParams('a=1&b=2')]],
]

describe('LightResponse', () => {
  for (const [name, [body, init]] of cases) {
    it(`matches Node's Response: ${name}`, async () => {
      // A stream can be read once: each side gets its own.
      const again = (): unknown => body instanceof ReadableStream ? new ReadableStream({ start (c) { c.enqueue(new TextEncoder().encode('streamed')); c.close() } }) : body
      const real = await describeResponse(() => new Real(again() as BodyInit, init as ResponseInit))
      const light = await describeResponse(() => new LightResponse(again() as BodyInit, init as ResponseInit) as unknown as Response)
      expect(light).toEqual(real)
    })

    it(`is read by the gateway as Node's would be: ${name}`, async () => {
      let light: unknown
      try {
        light = new LightResponse(body as BodyInit, init as ResponseInit)
      } catch {
        return // refused at construction: compared above
      }
      if (body instanceof ReadableStream) return // one read only; covered by the streaming suites
      const fromLight = await readWebResponse(light)
      const fromReal = await readWebResponse(new Real(body as BodyInit, init as ResponseInit))
      const bytes = (b: unknown): unknown => b === null ? null : Buffer.from(b as Uint8Array).toString('latin1')
      expect({ ...fromLight, body: bytes(fromLight.body) }).toEqual({ ...fromReal, body: bytes(fromReal.body) })
    })
  }

  it('keeps its own copy of a byte body, as undici does', async () => {
    const bytes = new Uint8Array([1, 2, 3])
    const response = new Response(bytes)
    bytes[0] = 9
    const read = await readWebResponse(response)
    expect([...(read.body as Uint8Array)]).toEqual([1, 2, 3])
  })

  it('takes the fast path only for a plain, untouched Response', () => {
    expect(takeFast(new Response('x'))).toMatchObject({ status: 200, body: 'x' })
    const touched = new Response('x')
    touched.headers.set('x-late', '1')
    expect(takeFast(touched)).toBeUndefined()
    class Mine extends Response {}
    expect(takeFast(new Mine('x'))).toBeUndefined()
    expect(new Response('x')).not.toBeInstanceOf(Mine)
    expect(new Mine('x')).toBeInstanceOf(Response)
  })

  it('sees headers set after construction, and a subclass reads through its own members', async () => {
    const response = new Response('body', { headers: { 'x-a': '1' } })
    response.headers.set('x-late', '2')
    expect((await readWebResponse(response)).headers).toEqual(['content-type', 'text/plain;charset=UTF-8', 'x-a', '1', 'x-late', '2'])
    class Json extends Response {
      constructor (data: unknown) { super(JSON.stringify(data), { headers: { 'content-type': 'application/json' } }) }
    }
    // A subclass that overrides a member: the gateway must read through it, not around it.
    Object.defineProperty(Json.prototype, 'status', { get: () => 201 })
    const read = await readWebResponse(new Json({ a: 1 }))
    expect(read.status).toBe(201)
    expect(Buffer.from(read.body as Uint8Array).toString()).toBe('{"a":1}')
  })

  it('refuses a second read of the same Response, as a used body would be', async () => {
    const cached = new Response('once')
    await readWebResponse(cached)
    expect(cached.bodyUsed).toBe(true)
    await expect(readWebResponse(cached)).rejects.toMatchObject({ code: 'WG_ERR_HANDLER_THREW' })
  })

  it('answers instanceof both ways, and Response.json / redirect / error as Node does', async () => {
    const light = new Response('x')
    expect(light).toBeInstanceOf(Response)
    expect(light).toBeInstanceOf(Real)
    expect(new Real('x')).toBeInstanceOf(Response)
    expect(Object.prototype.toString.call(light)).toBe('[object Response]')
    expect({}).not.toBeInstanceOf(Response)
    for (const [data, init] of [[{ a: [1, 'é'] }, undefined], [[1], { status: 201, headers: { 'content-type': 'text/x-json' } }], ['s', { headers: new Headers() }]] as const) {
      expect(await describeResponse(() => Response.json(data, init))).toEqual(await describeResponse(() => Real.json(data, init)))
    }
    expect(() => Response.json(undefined)).toThrow(TypeError)
    expect(() => Response.json(1n)).toThrow(TypeError)
    expect(Response.redirect('http://127.0.0.1/x', 302).headers.get('location')).toBe('http://127.0.0.1/x')
    expect(Response.error().type).toBe('error')
  })

  it('clones and reads like Node\'s Response', async () => {
    const response = new Response('twice')
    const copy = response.clone()
    expect(await copy.text()).toBe('twice')
    expect(await response.json().catch((e: Error) => e.constructor.name)).toBe('SyntaxError')
  })
})

describe('LightRequest', () => {
  const controller = new AbortController()
  const signal = controller.signal
  const call = (over: Partial<Parameters<typeof createWebRequest>[0]> = {}): Parameters<typeof createWebRequest>[0] =>
    ({ id: 'r1', method: 'POST', url: 'http://Example.COM:80/a"b?q=1', headers: ['Host', 'example.com', 'X-A', '1', 'x-a', '2'], body: new TextEncoder().encode('payload'), ...over })

  it('answers method, url and signal as Node\'s Request would, without making one', () => {
    const request = createWebRequest(call(), controller)
    const real = new (realRequest())('http://Example.COM:80/a"b?q=1', { method: 'POST' })
    expect(request).toBeInstanceOf(LightRequest)
    expect(request.method).toBe('POST')
    expect(request.url).toBe(real.url)
    expect(request.signal).toBe(signal)
  })

  it('makes the real Request for what it does not read itself: clone, a header change', async () => {
    const request = createWebRequest(call(), controller)
    expect(await request.clone().text()).toBe('payload')
    expect(await request.text()).toBe('payload')
    expect(request.bodyUsed).toBe(true)
    expect(request).toBeInstanceOf(Request)
    class MyRequest extends Request {}
    expect(request).not.toBeInstanceOf(MyRequest)
    expect(new MyRequest('http://127.0.0.1/')).toBeInstanceOf(Request)
  })

  // Each read is made of a light request and of Node's Request built from the same parts: same answer, or the same error.
  const headerLists: Array<[string, string[]]> = [
    ['none', []],
    ['one', ['Content-Type', 'text/plain']],
    ['repeats, any case, out of order', ['X-B', '1', 'Host', 'example.com', 'x-a', '1', 'X-A', '2', 'x-b', ' 3 ']],
    ['cookies joined by "; ", Set-Cookie kept apart', ['Cookie', 'a=1', 'set-cookie', 's=1', 'Accept', '*/*', 'cookie', 'b=2', 'Set-Cookie', 's=2']],
    ['empty and latin-1 values', ['x-empty', '', 'x-latin', 'caf\xe9', 'x-tab', '\tv\t']],
  ]
  // The last four are refused by undici (or converted: 7), which a light request leaves to it.
  const names = ['host', 'HOST', 'x-a', 'X-B', 'cookie', 'set-cookie', 'missing', 'x-empty', 'x-latin', 'x-tab', 'bad name', '', 'ü', 7]
  const read = (headers: Headers, refused: boolean): unknown => {
    const out: Record<string, unknown> = {}
    const attempt = (key: string, fn: () => unknown): void => {
      try {
        out[key] = fn()
      } catch (error) {
        out[key] = { threw: (error as Error).constructor.name, message: (error as Error).message }
      }
    }
    for (const name of refused ? names.slice(-4) : names.slice(0, -4)) {
      attempt(`get ${String(name)}`, () => headers.get(name as string))
      attempt(`has ${String(name)}`, () => headers.has(name as string))
    }
    if (refused) {
      attempt('get()', () => (headers.get as () => unknown)())
      attempt('forEach without a callback', () => (headers.forEach as (cb: unknown) => void)(undefined))
      return out
    }
    attempt('entries', () => [...headers.entries()])
    attempt('iterator', () => [...headers])
    attempt('keys', () => [...headers.keys()])
    attempt('values', () => [...headers.values()])
    attempt('getSetCookie', () => headers.getSetCookie())
    attempt('forEach', () => {
      const seen: unknown[] = []
      headers.forEach(function (this: unknown, value, name, self) { seen.push([name, value, self === headers, this]) }, 'arg')
      headers.forEach(function (this: unknown) { seen.push(this === globalThis) })
      return seen
    })
    attempt('Object.keys', () => Object.keys(headers))
    attempt('JSON', () => JSON.stringify(headers))
    attempt('toStringTag', () => Object.prototype.toString.call(headers))
    return out
  }
  const pairsOf = (list: string[]): [string, string][] => Array.from({ length: list.length / 2 }, (_, i) => [list[2 * i], list[2 * i + 1]])
  const isReal = (request: Request): boolean => !(request instanceof LightRequest) || Object.getOwnPropertySymbols(request).some(key => key.description === 'warmgate.realRequest' && (request as unknown as Record<symbol, unknown>)[key] !== undefined)
  for (const [name, list] of headerLists) {
    it(`reads its headers as Node's Request would, without making one: ${name}`, () => {
      const request = createWebRequest(call({ headers: list }), controller)
      const real = new (realRequest())('http://127.0.0.1/', { method: 'POST', headers: pairsOf(list) })
      expect(read(request.headers, false)).toEqual(read(real.headers, false))
      expect(isReal(request)).toBe(false)
      expect(read(request.headers, true)).toEqual(read(real.headers, true))
      expect(request.headers).toBe(request.headers)
      expect(request.headers).toBeInstanceOf(Headers)
      expect(request.headers.constructor).toBe(Headers)
    })
  }

  it('reads its headers without making the real Request, and a change goes through it and on to fetch', async () => {
    const request = createWebRequest(call({ headers: ['X-A', '1', 'Host', 'h'] }), controller)
    const headers = request.headers
    expect(headers.get('x-a')).toBe('1')
    expect(isReal(request)).toBe(false)
    headers.set('x-b', '2')
    expect(isReal(request)).toBe(true)
    headers.append('x-a', '3')
    headers.delete('host')
    expect(headers.get('x-a')).toBe('1, 3')
    expect([...headers]).toEqual([['x-a', '1, 3'], ['x-b', '2']])
    expect(request.headers).toBe(headers)
    expect([...new Request(request).headers]).toEqual([['x-a', '1, 3'], ['x-b', '2']])
    expect(() => headers.set('bad name', 'x')).toThrow(TypeError)
  })

  const bodies: Array<[string, Partial<Parameters<typeof createWebRequest>[0]>]> = [
    ['bytes', {}],
    ['JSON with a BOM', { body: new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"a":[1,"é"]}')]) }],
    ['invalid UTF-8', { body: new Uint8Array([0x61, 0xff, 0x62]) }],
    ['not JSON', { body: new TextEncoder().encode('{nope') }],
    ['empty bytes', { body: new Uint8Array(0) }],
    ['no body', { body: null }],
    ['a GET', { method: 'GET', body: null }],
  ]
  const bodyRead = async (make: () => Request, how: 'text' | 'json' | 'arrayBuffer' | 'bytes'): Promise<unknown> => {
    const request = make()
    const settle = async (promise: () => Promise<unknown>): Promise<unknown> => {
      try {
        const value = await promise()
        return value instanceof ArrayBuffer ? { buffer: [...new Uint8Array(value)] } : value instanceof Uint8Array ? { bytes: [...value] } : value
      } catch (error) {
        return { threw: (error as Error).constructor.name }
      }
    }
    const first = await settle(async () => request[how]())
    const usedAfter = request.bodyUsed
    const second = await settle(async () => request.text())
    const cloned = await settle(async () => request.clone().text())
    return { first, usedAfter, second, cloned, usedAtEnd: request.bodyUsed }
  }
  for (const [name, over] of bodies) {
    for (const how of ['text', 'json', 'arrayBuffer', 'bytes'] as const) {
      it(`reads a body it holds as Node's Request would: ${name}, ${how}()`, async () => {
        const parts = call(over)
        const light = await bodyRead(() => createWebRequest(parts, controller), how)
        const real = await bodyRead(() => {
          const bytes = parts.body as Uint8Array<ArrayBuffer> | null
          const hasBody = bytes !== null && parts.method !== 'GET' && bytes.byteLength > 0
          return new (realRequest())(parts.url, { method: parts.method, body: hasBody ? bytes : undefined })
        }, how)
        expect(light).toEqual(real)
      })
    }
  }

  it('reads a body without making the real Request', async () => {
    const request = createWebRequest(call({ body: new TextEncoder().encode('{"a":1}') }), controller)
    expect(await request.json()).toEqual({ a: 1 })
    expect(isReal(request)).toBe(false)
    expect(request.bodyUsed).toBe(true)
    await expect(request.arrayBuffer()).rejects.toThrow(TypeError)
  })

  it('is refused at once where Node\'s would be: a forbidden method, a URL that does not parse, a bad CGI header', () => {
    expect(() => createWebRequest(call({ method: 'TRACE' }), controller)).toThrow(expect.objectContaining({ code: 'WG_ERR_BAD_REQUEST' }))
    expect(() => createWebRequest(call({ url: 'http://a%zz/' }), controller, true)).toThrow(expect.objectContaining({ code: 'WG_ERR_BAD_REQUEST' }))
    expect(() => createWebRequest(call({ headers: ['bad name', 'x'] }), controller, true)).toThrow(expect.objectContaining({ code: 'WG_ERR_BAD_REQUEST' }))
  })

  it('can be passed to new Request() and to fetch(), as a handler proxying its request would', async () => {
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => res.end(`${req.method} ${req.url} ${req.headers['x-a']} ${body}`))
    }).listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as AddressInfo
      const incoming = (): Request => createWebRequest(call({ url: `http://127.0.0.1:${port}/p?x=1`, headers: ['X-A', '1'] }), controller)
      const copy = new Request(incoming())
      expect(copy.url).toBe(`http://127.0.0.1:${port}/p?x=1`)
      expect(await copy.text()).toBe('payload')
      const answer = await fetch(incoming())
      expect(await answer.text()).toBe('POST /p?x=1 1 payload')
      expect(answer).toBeInstanceOf(Response)
    } finally {
      server.close()
    }
  })
})
