import { describe, expect, it } from 'vitest'
import { codesOf, FIXTURES, startGateway, within } from '../helpers/gateway.ts'
import { headOf, openRaw, statusOf } from '../http/support.ts'

// A Response subclass can hand out a response head a Headers object would refuse: a CR LF in a header value
// (header injection), a name that is not a token, a CR LF in the reason phrase. Every mode refuses it with
// the same 500 WG_ERR_HANDLER_RESULT, and the client never sees the smuggled field. Raw sockets: nothing in
// a client library may drop or mask a header on the way.

const ENTRY = `${FIXTURES}handlers/header-injection.ts`
const MODES = ['warm', 'inline', 'cold'] as const

describe('a handler whose Response subclass yields an invalid response head', () => {
  it('is refused with 500 WG_ERR_HANDLER_RESULT in warm, inline and cold mode, and no injected Set-Cookie reaches the client', async ({ onTestFinished }) => {
    const apps = Object.fromEntries(MODES.map(mode => [mode, { route: `/${mode}`, entry: ENTRY, mode, workers: { min: 1, max: 1 } }]))
    const { gateway, url, lines } = await within(20_000, 'starting a gateway with a warm, an inline and a cold app', startGateway({ apps }))
    onTestFinished(() => within(10_000, 'closing the gateway', gateway.close()))
    const hostile = ['/value?a%0d%0aSet-Cookie:%20pwn=1', '/value?a%0aSet-Cookie:%20pwn=1', '/value?a%00b', '/name?Set-Cookie:%20pwn=1%0d%0ax', '/status-text?OK%0d%0aSet-Cookie:%20pwn=1']
    for (const mode of MODES) {
      for (const path of hostile) {
        const label = `${mode} ${path}`
        const raw = await openRaw(url, onTestFinished)
        await raw.write(`GET /${mode}${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
        await raw.serverClosed(10_000, `the gateway answering ${label}`)
        const text = raw.text()
        expect(statusOf(text), label).toBe(500)
        expect(headOf(text), label).not.toContain('set-cookie')
        expect(text, label).not.toContain('pwn')
        const reqId = /\r\nx-request-id: ([^\r]+)\r\n/i.exec(text)?.[1] ?? ''
        expect(codesOf(lines, reqId), label).toContain('WG_ERR_HANDLER_RESULT')
      }
      // The same handler with a clean value still works: the check refuses the head, not the subclass.
      const raw = await openRaw(url, onTestFinished)
      await raw.write(`GET /${mode}/value?fine HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
      await raw.serverClosed(10_000, `the gateway answering ${mode} /value?fine`)
      expect(statusOf(raw.text()), mode).toBe(200)
      expect(headOf(raw.text()), mode).toContain('x-echo: fine')
    }
  })
})
