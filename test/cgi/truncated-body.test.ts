import { describe, expect, it } from 'vitest'
import { openRaw } from '../http/support.ts'
import { codesOf, openCgi } from './support.ts'

// CGI output has no end marker: a script killed mid-body ends its stdout exactly as a finished one does.
// Its exit status is the only sign, and a cut body must never reach the client as a whole one.

async function rawGet (url: string, path: string, reqId: string, defer: (fn: () => void) => void): Promise<string> {
  const conn = await openRaw(url, defer)
  await conn.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-request-id: ${reqId}\r\n\r\n`)
  await conn.serverClosed(8000, `${path}: the server ending the exchange`).catch(() => undefined)
  return conn.text()
}

describe('a cgi script that dies before its body ends', () => {
  it('is cut off without the last chunk when it dies after its head went out (RFC 9112 §7.1)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write('GET /cgi-bin/killed-mid-body.sh HTTP/1.1\r\nHost: x\r\nx-request-id: cgi-killed-late\r\n\r\n')
    await conn.serverClosed(8000, 'the server closing the cut response')
    const text = conn.text()
    expect(text).toMatch(/^HTTP\/1\.1 200 /)
    expect(text.toLowerCase()).toContain('transfer-encoding: chunked')
    expect(text).toContain('first part\n')
    expect(text.endsWith('0\r\n\r\n'), `the body ends ${JSON.stringify(text.slice(-16))}`).toBe(false)
    expect(codesOf(h.lines, 'cgi-killed-late')).toContain('WG_ERR_CGI_TRUNCATED')
  })

  it('is a 502 WG_ERR_CGI_TRUNCATED when it dies before the head went out', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const text = await rawGet(h.url, '/cgi-bin/killed-mid-body.sh?quick', 'cgi-killed-early', onTestFinished)
    // Whether the head was still being held or already sent depends on timing: either way, never a whole-looking 200.
    if (text.startsWith('HTTP/1.1 200 ')) expect(text.endsWith('0\r\n\r\n')).toBe(false)
    else expect(text).toMatch(/^HTTP\/1\.1 502 /)
    expect(text).not.toMatch(/content-length: 11\r\n/i)
    expect(codesOf(h.lines, 'cgi-killed-early')).toContain('WG_ERR_CGI_TRUNCATED')
  })

  it.for(['', '?quick'])('is whole when it exits non-zero after its body (%s): a script\'s exit code says nothing of its output', async (query, { onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send(`/cgi-bin/fails-after-body.sh${query}`)
    expect(res.status).toBe(200)
    expect(res.body.toString()).toBe(query === '' ? 'whole page\nsecond part\n' : 'whole page\n')
  })
})
