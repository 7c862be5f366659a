import { describe, expect, it } from 'vitest'
import { formatLine } from '../../src/log/logger.ts'

describe('formatLine (pretty terminal output)', () => {
  it('puts an access line on one line: app, mode, method, path, status, ms and request id', () => {
    const line = formatLine({ msg: 'request', app: 'hello', mode: 'warm', method: 'GET', path: '/hello', status: 200, ms: 1.25, reqId: 'abc' }, 'msg')
    expect(line).toBe('[hello warm] GET /hello 200 1.25 ms  (req abc)')
  })

  it('keeps the message of other lines and still names the app and the request id', () => {
    expect(formatLine({ msg: 'request failed: boom', app: 'shop', mode: 'inline', reqId: 'r1' }, 'msg')).toBe('[shop inline] request failed: boom  (req r1)')
  })

  it('leaves out what a line does not carry (no app for a 404, no request id for start-up lines)', () => {
    expect(formatLine({ msg: 'request', method: 'GET', path: '/nope', status: 404, ms: 0.3, reqId: 'x' }, 'msg')).toBe('GET /nope 404 0.3 ms  (req x)')
    expect(formatLine({ msg: 'worker exited; replacing it', app: 'a', mode: 'warm' }, 'msg')).toBe('[a warm] worker exited; replacing it')
  })
})
