import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { HEADER_LENGTH, RecordParser, RecordType } from '../../src/fastcgi/records.ts'
import { cgiHead, writeResponse } from '../../src/front/fastcgi-response.ts'
import type { GatewayResponse } from '../../src/types.ts'
import { within } from '../helpers/gateway.ts'
import { parseCgi } from './support.ts'

const response = (extra: Partial<GatewayResponse>): GatewayResponse => ({ status: 200, statusText: '', headers: [], body: null, ...extra })

describe('cgiHead', () => {
  it('writes Status, the headers in order, our request id and the length of bytes held', () => {
    const head = cgiHead(response({
      headers: ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'content-length', '999', 'transfer-encoding', 'chunked', 'Status', '500', 'connection', 'close'],
      body: new Uint8Array(5),
    }), 'req-1', 'GET')
    expect(head.text).toBe('Status: 200 OK\r\ncontent-type: text/plain\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nx-request-id: req-1\r\ncontent-length: 5\r\n\r\n')
    expect(head.withBody).toBe(true)
  })

  it("keeps the handler's own X-Request-Id and reason phrase", () => {
    const head = cgiHead(response({ status: 418, statusText: 'Short', headers: ['x-request-id', 'mine'] }), 'req-2', 'GET')
    expect(head.text).toBe('Status: 418 Short\r\nx-request-id: mine\r\ncontent-length: 0\r\n\r\n')
  })

  it('sends no body and no length for 204 and 304, and the GET length for HEAD', () => {
    expect(cgiHead(response({ status: 204, body: new Uint8Array(3) }), 'r', 'GET')).toMatchObject({ withBody: false, text: 'Status: 204 No Content\r\nx-request-id: r\r\n\r\n' })
    expect(cgiHead(response({ status: 304 }), 'r', 'GET').text).not.toContain('content-length')
    expect(cgiHead(response({ headers: ['content-length', '21'] }), 'r', 'HEAD')).toMatchObject({ withBody: false, text: 'Status: 200 OK\r\nx-request-id: r\r\ncontent-length: 21\r\n\r\n' })
  })

  it('holds a streamed body to its declared length', () => {
    const body = Readable.from([])
    expect(cgiHead(response({ headers: ['content-length', '10'], body }), 'r', 'GET')).toMatchObject({ withBody: true, declared: 10 })
    body.destroy()
  })
})

/** A real loopback socket pair: what writeResponse writes on `server` is parsed on `client`. */
async function socketPair (): Promise<{ server: Socket, client: Socket, close: () => void }> {
  const listener = createServer()
  listener.listen(0, '127.0.0.1')
  await once(listener, 'listening')
  const { port } = listener.address() as { port: number }
  const client = connect(port, '127.0.0.1')
  const [server] = await once(listener, 'connection') as [Socket]
  listener.close()
  return { server, client, close: () => { client.destroy(); server.destroy() } }
}

async function recordsOf (client: Socket, requestId: number): Promise<Array<{ type: number, length: number, content: Buffer }>> {
  const parser = new RecordParser()
  const records: Array<{ type: number, length: number, content: Buffer }> = []
  await within(5000, 'END_REQUEST', new Promise<void>((resolve) => {
    client.on('data', (chunk: Buffer) => {
      for (const r of parser.push(chunk)) {
        expect(r.requestId).toBe(requestId)
        records.push({ type: r.type, length: r.content.length, content: Buffer.from(r.content) })
        if (r.type === RecordType.END_REQUEST) resolve()
      }
    })
  }))
  return records
}

describe('writeResponse', () => {
  it('splits a body held in memory into STDOUT records of at most 65528 bytes, then the empty STDOUT and END_REQUEST', async ({ onTestFinished }) => {
    const pair = await socketPair()
    onTestFinished(pair.close)
    const body = Buffer.alloc(2 * 65528 + 3).map((_, i) => i & 0xff)
    const head = cgiHead(response({ body }), 'r', 'GET')
    let done = false
    writeResponse(pair.server, 7, head, body, () => { done = true })
    const records = await recordsOf(pair.client, 7)
    expect(done).toBe(true)
    expect(records.map(r => [r.type, r.length])).toEqual([
      [RecordType.STDOUT, 65528], [RecordType.STDOUT, 65528], [RecordType.STDOUT, head.text.length + 3], [RecordType.STDOUT, 0], [RecordType.END_REQUEST, 8],
    ])
    const parsed = parseCgi(Buffer.concat(records.filter(r => r.type === RecordType.STDOUT).map(r => r.content)))
    expect(Buffer.compare(parsed.body, body)).toBe(0)
    expect([...records.at(-1)!.content]).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
    expect(HEADER_LENGTH).toBe(8)
  })

  it('streams a body as records as it comes, cut at its declared length', async ({ onTestFinished }) => {
    const pair = await socketPair()
    onTestFinished(pair.close)
    const body = Readable.from([Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('never sent')])
    const head = cgiHead(response({ headers: ['content-length', '6'], body }), 'r', 'GET')
    writeResponse(pair.server, 1, head, body, () => {})
    const records = await recordsOf(pair.client, 1)
    expect(parseCgi(Buffer.concat(records.filter(r => r.type === RecordType.STDOUT).map(r => r.content))).body.toString()).toBe('abcdef')
    expect(records.at(-2)).toMatchObject({ type: RecordType.STDOUT, length: 0 })
  })

  it('destroys the connection instead of ending the request when a streamed body fails', async ({ onTestFinished }) => {
    const pair = await socketPair()
    onTestFinished(pair.close)
    const body = new Readable({ read () {} })
    body.on('error', () => {})
    const head = cgiHead(response({ body }), 'r', 'GET')
    let done = false
    pair.client.resume()
    writeResponse(pair.server, 1, head, body, () => { done = true })
    body.push('partial')
    setTimeout(() => body.destroy(new Error('broke')), 20)
    await within(3000, 'the socket closes', once(pair.client, 'close'))
    expect(pair.server.destroyed).toBe(true)
    expect(done).toBe(false)
  })
})
