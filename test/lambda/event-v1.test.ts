import { describe, expect, it } from 'vitest'
import type { EventInput } from '../../src/lambda/event-input.ts'
import { createEventV1 } from '../../src/lambda/event-v1.ts'
import { expectedEvent, shapeDifferences } from './support.ts'

// test/fixtures/lambda/event-v1.json is AWS's documented 1.0 example (HTTP API payload format 1.0, the
// REST "Lambda proxy integration input format" plus `version`) with our request's values put in, less
// requestContext.authorizer (no authorizers) and identity.clientCert (no mutual TLS).

const input = (over: Partial<EventInput> = {}): EventInput => ({
  requestId: 'req-1',
  method: 'GET',
  url: 'http://127.0.0.1:8080/v1/event?name=a&name=b&x=1',
  headers: ['Host', '127.0.0.1:8080', 'X-Multi', 'one', 'Cookie', 'c1=v1; c2=v2', 'User-Agent', 'warmgate-test', 'X-Multi', 'two'],
  body: null,
  sourceIp: '127.0.0.1',
  protocol: 'HTTP/1.1',
  time: Date.now(),
  ...over,
})

describe('createEventV1', () => {
  it('builds the documented 1.0 shape field by field', () => {
    expect(shapeDifferences(createEventV1(input()), expectedEvent('event-v1.json', { host: '127.0.0.1:8080', requestId: 'req-1' }), [])).toEqual([])
  })

  it('uses null for maps with nothing in them and for a missing body', () => {
    const event = createEventV1(input({ url: 'http://h/x', headers: [] }))
    expect(event).toMatchObject({ headers: null, multiValueHeaders: null, queryStringParameters: null, multiValueQueryStringParameters: null, body: null })
  })

  it('carries a text body as is and a binary one base64', () => {
    const text = createEventV1(input({ method: 'POST', headers: ['content-type', 'text/plain'], body: new TextEncoder().encode('hi') }))
    expect(text).toMatchObject({ body: 'hi', isBase64Encoded: false })
    const binary = createEventV1(input({ method: 'POST', headers: ['content-type', 'image/png'], body: new Uint8Array([137, 80]) }))
    expect(binary).toMatchObject({ body: Buffer.from([137, 80]).toString('base64'), isBase64Encoded: true })
  })
})
