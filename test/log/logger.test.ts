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

describe('access lines', () => {
  it('are logged at info for 1xx-4xx, warn for 503, error for other 5xx, and debug for operator probes whatever their status', async () => {
    const { logAccess } = await import('../../src/log/logger.ts')
    const { memoryLogger } = await import('../helpers/gateway.ts')
    const { logger, lines } = memoryLogger()
    logger.level = 'debug'
    for (const status of [200, 404, 499, 500, 502, 503, 504]) logAccess(logger, `r${status}`, 'GET', '/x', status, performance.now())
    logAccess(logger, 'probe', 'GET', '/__warmgate/ready', 503, performance.now(), 'debug')
    const levels = Object.fromEntries(lines.map(line => [line.reqId, line.level]))
    expect(levels).toEqual({ r200: 30, r404: 30, r499: 30, r500: 50, r502: 50, r503: 40, r504: 50, probe: 20 })
  })
})
