import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { webStreamFromReadable } from '../../src/runtime/inline/inline-body.ts'
import { within } from '../helpers/gateway.ts'

// The handler's request.body in inline mode, made from the front door's Readable: a source whose last
// event came before the handler ran must still end or fail the handler's stream, not leave it waiting.

async function readAll (stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += Buffer.from(chunk).toString()
  return text
}

describe('webStreamFromReadable', () => {
  it('fails the handler stream of a source that failed before it was read', async () => {
    const source = new Readable({ read () {} })
    source.on('error', () => {})
    source.destroy(new Error('client gone'))
    await new Promise(resolve => setImmediate(resolve))
    await expect(within(2000, 'reading a failed body', readAll(webStreamFromReadable(source)))).rejects.toThrow('client gone')
  })

  it('ends the handler stream of a source that ended before it was read', async () => {
    const source = Readable.from([Buffer.from('abc')])
    source.resume()
    await new Promise(resolve => source.once('end', resolve))
    expect(await within(2000, 'reading an ended body', readAll(webStreamFromReadable(source)))).toBe('')
  })

  it('passes every chunk of a live source through', async () => {
    const source = Readable.from([Buffer.from('a'), Buffer.from('bc'), Buffer.from('')])
    expect(await within(2000, 'reading a live body', readAll(webStreamFromReadable(source)))).toBe('abc')
  })
})
