import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { expect } from 'vitest'
import type { GatewayConfig } from '../../../src/index.ts'
import type { Reflection } from '../../fixtures/handlers/reflect.ts'
import { ALL_BYTES, TEXT } from '../../fixtures/handlers/responses.ts'
import type { BehaviourCase } from '../behaviour.case.ts'
import { handler, openGateway, rawExchange, rawValues, sendRaw } from '../support.ts'

const CONFIG: GatewayConfig = {
  server: { bodyLimit: '16mb' },
  apps: {
    reflect: { route: '/reflect', entry: handler('reflect.ts'), workers: { min: 1, max: 2 } },
    responses: { route: '/responses', entry: handler('responses.ts'), workers: { min: 1, max: 1 } },
  },
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

export const roundTripCases: BehaviourCase[] = [
  {
    name: 'the handler sees the request method as sent, including PUT, PATCH, DELETE, OPTIONS and a token like PURGE',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PURGE']) {
        const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? `body of ${method}` : undefined
        const res = await h.send('/reflect/method', { method, body })
        expect(res.status, method).toBe(200)
        const seen = res.json<Reflection>()
        expect(seen.method).toBe(method)
        expect(Buffer.from(seen.bodyBase64, 'base64').toString()).toBe(body ?? '')
      }
    },
  },
  {
    name: 'path and query bytes with odd but legal characters reach request.url exactly as sent',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const path = "/reflect/odd;p=1/%00/%25/%2F/a+b/%E2%9C%93/!$&'()*,:@~-._" +
        '?nul=%00&plus=a+b&semi=1;2&eq==x=&pct=%25&pct2=%2525&utf8=%E2%9C%93&sp=%20&empty=&flag&amp=%26'
      const viaHttp = await h.send(path)
      expect(viaHttp.json<Reflection>().url).toBe(`${h.url}${path}`)
      const viaFetch = await h.fetch(path)
      expect((await viaFetch.json() as Reflection).url).toBe(`http://local${path}`)
    },
  },
  {
    name: 'every request header reaches the handler, repeated ones combined the way web Headers combine them',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const res = await h.send('/reflect/headers', {
        headers: {
          'x-single': 'one',
          'X-Mixed-Case': 'Value  With Inner  Spaces',
          'x-repeated': ['first', 'second', 'third'],
          cookie: ['a=1', 'b=2'],
          'x-empty': '',
          'x-quoted': '"quoted, with commas"; q=0.5',
          accept: 'text/plain',
        },
      })
      const seen = new Map(res.json<Reflection>().headers)
      expect(seen.get('host')).toBe(new URL(h.url).host)
      expect(seen.get('x-single')).toBe('one')
      expect(seen.get('x-mixed-case')).toBe('Value  With Inner  Spaces')
      // Fetch spec "combine": non-cookie repeats are joined with ", "; undici joins Cookie with "; ".
      expect(seen.get('x-repeated')).toBe('first, second, third')
      expect(seen.get('cookie')).toBe('a=1; b=2')
      expect(seen.get('x-empty')).toBe('')
      expect(seen.get('x-quoted')).toBe('"quoted, with commas"; q=0.5')
      expect(seen.get('accept')).toBe('text/plain')
    },
  },
  {
    name: 'several Set-Cookie headers stay separate lines on the wire',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const res = await sendRaw(h.agent, h.url, '/responses/cookies')
      expect(res.status).toBe(200)
      expect(rawValues(res.rawHeaders, 'set-cookie')).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Max-Age=60', 'c=3, with comma; Secure'])
      const viaFetch = await h.fetch('/responses/cookies')
      expect(viaFetch.headers.getSetCookie()).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Max-Age=60', 'c=3, with comma; Secure'])
    },
  },
  {
    name: 'custom status codes and reason phrases reach the client, including codes without a standard reason',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const cases: Array<{ code: number, text?: string, expectedText?: string }> = [
        { code: 299 },
        { code: 599 },
        { code: 299, text: 'Custom Reason', expectedText: 'Custom Reason' },
        { code: 200, text: 'Fine Thanks', expectedText: 'Fine Thanks' },
        { code: 418, expectedText: "I'm a Teapot" },
        { code: 451, expectedText: 'Unavailable For Legal Reasons' },
      ]
      for (const { code, text, expectedText } of cases) {
        const query = `?code=${code}${text === undefined ? '' : `&text=${encodeURIComponent(text)}`}`
        const res = await sendRaw(h.agent, h.url, `/responses/status${query}`)
        expect(res.status, query).toBe(code)
        expect(res.body.toString(), query).toBe(`status ${code}`)
        if (expectedText !== undefined) expect(res.statusText, query).toBe(expectedText)
        const viaFetch = await h.fetch(`/responses/status${query}`)
        expect(viaFetch.status, query).toBe(code)
        if (text !== undefined) expect(viaFetch.statusText, query).toBe(text)
        expect(await viaFetch.text()).toBe(`status ${code}`)
      }
    },
  },
  {
    name: 'a HEAD response has no body but the Content-Length the GET response would have',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const length = String(Buffer.byteLength(TEXT))
      for (const path of ['/responses/text', '/responses/head-aware']) {
        const get = await h.send(path)
        expect(get.text(), path).toBe(TEXT)
        expect(get.headers['content-length'], `GET ${path}`).toBe(length)
        const head = await h.send(path, { method: 'HEAD' })
        expect(head.status, `HEAD ${path}`).toBe(200)
        expect(head.headers['content-length'], `HEAD ${path}`).toBe(length)
        expect(head.body.byteLength, `HEAD ${path}`).toBe(0)
        const viaFetch = await h.fetch(path, { method: 'HEAD' })
        expect(viaFetch.status).toBe(200)
        expect(viaFetch.body).toBeNull()
        // On the wire: the HEAD answer ends at its blank line, so a GET pipelined behind it parses cleanly.
        const host = new URL(h.url).host
        const wire = await rawExchange(h.url, `HEAD ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\nGET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
        const [headHead, getHead, getBody, ...rest] = wire.split('\r\n\r\n')
        expect(headHead.split('\r\n')[0], `HEAD ${path} on the wire`).toBe('HTTP/1.1 200 OK')
        expect(headHead.toLowerCase().split('\r\n'), `HEAD ${path} on the wire`).toContain(`content-length: ${length}`)
        expect(getHead, `GET ${path} after HEAD on the wire`).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
        expect(getBody).toBe(TEXT)
        expect(rest).toEqual([])
      }
    },
  },
  {
    name: '204 and 304 responses have no body, and a 204 has no Content-Length',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const noContent = await sendRaw(h.agent, h.url, '/responses/no-content')
      expect(noContent.status).toBe(204)
      expect(noContent.body.byteLength).toBe(0)
      expect(rawValues(noContent.rawHeaders, 'content-length')).toEqual([])
      expect(rawValues(noContent.rawHeaders, 'transfer-encoding')).toEqual([])
      expect(rawValues(noContent.rawHeaders, 'x-answer')).toEqual(['nothing'])
      const notModified = await sendRaw(h.agent, h.url, '/responses/not-modified')
      expect(notModified.status).toBe(304)
      expect(notModified.body.byteLength).toBe(0)
      expect(rawValues(notModified.rawHeaders, 'transfer-encoding')).toEqual([])
      expect(rawValues(notModified.rawHeaders, 'etag')).toEqual(['"v1"'])
      // The connection is still in step: a request after them on the same agent gets its own answer.
      expect((await h.send('/responses/text')).text()).toBe(TEXT)
    },
  },
  {
    name: 'binary bodies with all 256 byte values travel both ways byte-exact',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const echoed = await h.send('/reflect/bytes?raw', { method: 'POST', body: ALL_BYTES, headers: { 'content-type': 'application/octet-stream' } })
      expect(echoed.status).toBe(200)
      expect(new Uint8Array(echoed.body)).toEqual(ALL_BYTES)
      const reversed = ALL_BYTES.slice().reverse()
      const seen = (await h.send('/reflect/bytes', { method: 'POST', body: reversed })).json<Reflection>()
      expect(new Uint8Array(Buffer.from(seen.bodyBase64, 'base64'))).toEqual(reversed)
      const sent = await h.send('/responses/bytes')
      expect(new Uint8Array(sent.body)).toEqual(ALL_BYTES)
      const viaFetch = await h.fetch('/reflect/bytes?raw', { method: 'POST', body: ALL_BYTES })
      expect(new Uint8Array(await viaFetch.arrayBuffer())).toEqual(ALL_BYTES)
    },
  },
  {
    name: 'a 10 MB random body travels in and out byte-exact',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const body = randomBytes(10 * 1024 * 1024)
      const res = await h.send('/reflect/big?raw', { method: 'POST', body, ms: 20_000 })
      expect(res.status).toBe(200)
      expect(res.body.byteLength).toBe(body.byteLength)
      expect(sha256(res.body)).toBe(sha256(body))
    },
  },
  {
    name: 'a chunked request body (no Content-Length) arrives whole',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const parts = Array.from({ length: 64 }, () => randomBytes(4096))
      const res = await h.send('/reflect/chunked?raw', { method: 'POST', body: Readable.from(parts) })
      expect(res.status).toBe(200)
      expect(sha256(res.body)).toBe(sha256(Buffer.concat(parts)))
    },
  },
  {
    name: 'an empty POST body reaches the handler as an empty body',
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const res = await h.send('/reflect/empty', { method: 'POST', body: '' })
      expect(res.status).toBe(200)
      const seen = res.json<Reflection>()
      expect(seen.method).toBe('POST')
      expect(seen.bodyLength).toBe(0)
      const viaFetch = await h.fetch('/reflect/empty', { method: 'POST', body: '' })
      expect((await viaFetch.json() as Reflection).bodyLength).toBe(0)
    },
  },
]
