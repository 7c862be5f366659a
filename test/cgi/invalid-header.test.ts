import { describe, expect, it } from 'vitest'
import { rawExchange } from '../runtime/support.ts'
import { codesOf, openCgi, parseRaw } from './support.ts'

// A script whose header block holds no valid field (docs/cgi.md "The response"): 502, never a 200 made of
// nothing, and the log line under the request id says which line was dropped and why.

const GET = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`

describe('cgi app: a header block with no valid field', () => {
  it('answers 502 WG_ERR_CGI_NO_HEADERS when the only header line has a CR, a NUL, no colon or a leading fold, and logs the dropped line', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const cases: Array<[string, string]> = [['cr', 'invalid-value'], ['nul', 'invalid-value'], ['no-colon', 'malformed-line'], ['fold', 'malformed-line']]
    for (const [which, reason] of cases) {
      const wire = await rawExchange(h.url, GET(`/cgi-bin/invalid-header.sh?${which}`))
      const res = parseRaw(wire)
      expect(res.status, which).toBe(502)
      expect(wire, which).not.toContain('LEAKED')
      expect(res.headers.map(([name]) => name), which).not.toContain('location')
      const reqId = res.headers.find(([name]) => name === 'x-request-id')?.[1] ?? ''
      expect(codesOf(h.lines, reqId), which).toContain('WG_ERR_CGI_NO_HEADERS')
      const logged = h.lines.filter(line => line.reqId === reqId && (line.level as number) >= 40).map(line => JSON.stringify(line))
      expect(logged.some(line => line.includes(reason)), `${which}: ${logged.join('\n')}`).toBe(true)
    }
  })
})
