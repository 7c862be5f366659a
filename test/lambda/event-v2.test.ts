import { describe, expect, it } from 'vitest'
import type { EventInput } from '../../src/lambda/event-input.ts'
import { createEventV2 } from '../../src/lambda/event-v2.ts'
import { expectedEvent, shapeDifferences } from './support.ts'

// test/fixtures/lambda/event-v2.json is AWS's documented 2.0 example ("Create AWS Lambda proxy
// integrations for HTTP APIs", payload format 2.0) with our request's values put in, less the fields
// a local gateway has nothing for: authentication, authorizer (no authorizers), pathParameters (no
// route parameters), stageVariables (no stages). Those must be absent, as AWS leaves them out then.

const input = (over: Partial<EventInput> = {}): EventInput => ({
  requestId: 'req-123',
  method: 'POST',
  url: 'http://127.0.0.1:8080/v2/event?name=a&name=b&x=1',
  headers: ['Host', '127.0.0.1:8080', 'Content-Type', 'application/json', 'User-Agent', 'warmgate-test', 'X-Multi', 'one', 'Cookie', 'c1=v1; c2=v2', 'X-Multi', 'two'],
  body: new TextEncoder().encode('{"hello":"world","n":1}'),
  sourceIp: '127.0.0.1',
  protocol: 'HTTP/1.1',
  time: Date.UTC(2020, 2, 12, 19, 3, 58, 390),
  ...over,
})

describe('createEventV2', () => {
  it('builds the documented 2.0 shape field by field', () => {
    const event = createEventV2({ ...input(), time: Date.now() })
    expect(shapeDifferences(event, expectedEvent('event-v2.json', { host: '127.0.0.1:8080', requestId: 'req-123' }), [])).toEqual([])
  })

  it('writes requestContext.time in CLF form and timeEpoch in ms', () => {
    const event = createEventV2(input())
    expect(event.requestContext.time).toBe('12/Mar/2020:19:03:58 +0000')
    expect(event.requestContext.timeEpoch).toBe(Date.UTC(2020, 2, 12, 19, 3, 58, 390))
  })

  it('leaves out cookies, queryStringParameters and body when the request has none', () => {
    const event = createEventV2(input({ method: 'GET', url: 'http://h/x', headers: ['host', 'h'], body: null }))
    expect(event).not.toHaveProperty('cookies')
    expect(event).not.toHaveProperty('queryStringParameters')
    expect(event).not.toHaveProperty('body')
    expect(event.isBase64Encoded).toBe(false)
    expect(event.rawQueryString).toBe('')
    expect(event.requestContext.http.userAgent).toBe('')
  })

  it('base64-encodes a binary body and one that is not valid UTF-8, keeps text as is', () => {
    const bytes = new Uint8Array([0, 255, 1, 254])
    const binary = createEventV2(input({ headers: ['content-type', 'application/octet-stream'], body: bytes }))
    expect(binary).toMatchObject({ isBase64Encoded: true, body: Buffer.from(bytes).toString('base64') })
    const badText = createEventV2(input({ headers: ['content-type', 'text/plain'], body: bytes }))
    expect(badText.isBase64Encoded).toBe(true)
    const form = createEventV2(input({ headers: ['content-type', 'application/x-www-form-urlencoded'], body: new TextEncoder().encode('a=1&b=é') }))
    expect(form).toMatchObject({ isBase64Encoded: false, body: 'a=1&b=é' })
    const vendorJson = createEventV2(input({ headers: ['content-type', 'application/vnd.api+json'], body: new TextEncoder().encode('{}') }))
    expect(vendorJson).toMatchObject({ isBase64Encoded: false, body: '{}' })
  })

  it('keeps the raw query string as sent and decodes the parameters', () => {
    const event = createEventV2(input({ url: 'http://h/p?q=a%20b+c&empty=&flag' }))
    expect(event.rawQueryString).toBe('q=a%20b+c&empty=&flag')
    expect(event.queryStringParameters).toEqual({ q: 'a b c', empty: '', flag: '' })
  })
})
