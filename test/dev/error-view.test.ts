import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { devErrorResponse, messageOf, parseStack } from '../../src/dev/error-view.ts'
import { LiveReload, setLiveReload } from '../../src/dev/live-reload.ts'
import { GatewayError, reviveError, serializeError } from '../../src/errors.ts'
import type { GatewayRequest } from '../../src/types.ts'
import { ROOT } from '../helpers/gateway.ts'

// The dev error page of a handler that fails at run time (MountedApp under exposeErrors): the same page
// as a load failure's, from the error objects of every mode (an inline Error with its cause, a warm
// worker's plain {code,message,stack}).

const DIR = mkdtempSync(join(tmpdir(), 'wg-error-view-'))
afterAll(() => rmSync(DIR, { recursive: true, force: true }))
afterEach(() => setLiveReload(undefined))

const APP = join(DIR, 'app.ts')
writeFileSync(APP, "const a = 1\nexport default () => {\n  return JSON.parse('{bad')\n}\n")
const OWN = join(ROOT, 'src', 'handler', 'invoke.ts')

/** What a handler's JSON.parse throws: V8's own frame first, then the user's, then warmgate's. */
function handlerError (): GatewayError {
  const cause = new SyntaxError("Expected property name or '}' in JSON at position 1")
  cause.stack = `${cause.name}: ${cause.message}
    at JSON.parse (<anonymous>)
    at default (${pathToFileURL(APP).href}?warmgate-reload=2:3:15)
    at invokeHandler (${pathToFileURL(OWN).href}:57:20)
    at async Promise.all (index 0)
    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)
    at run (/srv/app/node_modules/some-lib/index.js:1:1)`
  const error = new GatewayError('WG_ERR_HANDLER_THREW', `handler threw: ${cause.message}`, { cause })
  error.stack = `GatewayError: ${error.message}\n    at invokeHandler (${pathToFileURL(OWN).href}:61:11)`
  return error
}

function request (accept?: string): GatewayRequest {
  return { id: 'req-1', method: 'GET', url: 'http://127.0.0.1/app/x?y=1', headers: accept === undefined ? [] : ['Accept', accept], body: null }
}

describe('dev error page of a run-time error', () => {
  it('parses a stack innermost error first, and tells the user\'s frames from Node\'s, packages\' and warmgate\'s', () => {
    const [inner, outer] = parseStack(`${handlerError().stack}\nCaused by: ${(handlerError().cause as Error).stack}`)
    expect(inner.header).toMatch(/^SyntaxError: /)
    expect(outer.header).toMatch(/^GatewayError: handler threw/)
    expect(inner.frames.map(f => [f.file, f.internal])).toEqual([
      [undefined, true],
      [APP, false],
      [OWN, true],
      [undefined, true],
      ['node:internal/process/task_queues', true],
      ['/srv/app/node_modules/some-lib/index.js', true],
    ])
    expect(messageOf("/srv/app/x.ts:2\n  const = 3\n  ^\n\nSyntaxError: Expected ','")).toBe("Expected ','")
    expect(messageOf('TypeError [ERR_X]: bad\nsecond line')).toBe('bad\nsecond line')
  })

  it.each([
    ['an inline handler (the cause is an Error)', (): unknown => handlerError()],
    ['a warm worker (plain {code,message,stack} data)', (): unknown => reviveError(serializeError(handlerError()), 'WG_ERR_HANDLER_THREW')],
  ])('answers HTML with the user\'s frames first and the others dimmed, for %s', (_label, make) => {
    const res = devErrorResponse('WG_ERR_HANDLER_THREW', request('text/html,application/xhtml+xml,*/*;q=0.8'), 'app', make())
    expect(res.status).toBe(500)
    expect(res.errorCode).toBe('WG_ERR_HANDLER_THREW')
    expect(res.headers).toEqual(['content-type', 'text/html; charset=utf-8', 'cache-control', 'no-store'])
    const html = new TextDecoder().decode(res.body as Uint8Array)
    expect(html).toMatch(/^<!doctype html>/)
    expect(html).toContain('<title>app failed on GET /app/x?y=1</title>')
    expect(html).toContain('<pre class="message">SyntaxError: Expected property name or &#39;}&#39; in JSON at position 1</pre>')
    expect(html).toContain(`at <code>${APP}:3:15</code>`)
    // The line itself, from the file on disk, marked.
    expect(html).toContain('<mark>3 │   return JSON.parse(&#39;{bad&#39;)</mark>')
    const stack = html.slice(html.indexOf('<pre class="stack">'))
    const user = stack.indexOf('<span class="user">at default (')
    expect(user).toBeGreaterThan(-1)
    // The user's frame before V8's JSON.parse frame, which comes first in the stack as thrown.
    expect(stack.indexOf('<span class="internal">at JSON.parse (&#60;anonymous&#62;)</span>')).toBeGreaterThan(user)
    expect(stack).toContain(`<span class="internal">at invokeHandler (${pathToFileURL(OWN).href}:57:20)</span>`)
    expect(stack).toContain('<span class="internal">at process.processTicksAndRejections (node:internal/process/task_queues:105:5)</span>')
    expect(stack).toContain('<span class="internal">at run (/srv/app/node_modules/some-lib/index.js:1:1)</span>')
    // warmgate's wrapper after the user's error, dimmed whole.
    expect(stack.indexOf('<span class="internal">wrapped by: GatewayError: handler threw')).toBeGreaterThan(user)
    // No dev server to poll: no script.
    expect(html).not.toContain('<script>')
  })

  it('answers JSON when Accept prefers it: message, the user\'s file and line, the stack, frames user first', () => {
    const res = devErrorResponse('WG_ERR_HANDLER_THREW', request('application/json'), 'app', reviveError(serializeError(handlerError()), 'WG_ERR_HANDLER_THREW'))
    expect(res.headers[1]).toBe('application/json; charset=utf-8')
    const body = JSON.parse(new TextDecoder().decode(res.body as Uint8Array)) as Record<string, unknown> & { frames: Array<{ file: string | null, internal: boolean }> }
    expect(body).toMatchObject({ error: 'WG_ERR_HANDLER_THREW', status: 500, app: 'app', message: "Expected property name or '}' in JSON at position 1", file: APP, line: 3, column: 15, requestId: 'req-1' })
    expect(body.stack).toContain('Caused by: SyntaxError')
    expect(body.frames[0]).toMatchObject({ file: APP, internal: false })
    expect(body.frames.slice(1).every(frame => frame.internal)).toBe(true)
  })

  it('keeps the status and error code of other 5xx errors (a timeout has no user frame: no place shown)', () => {
    const timeout = new GatewayError('WG_ERR_TIMEOUT', 'handler did not answer within 50 ms')
    timeout.stack = `GatewayError: ${timeout.message}\n    at Timeout.abortOnTimeout (${pathToFileURL(join(ROOT, 'src', 'gateway', 'mounted-app.ts')).href}:146:14)\n    at listOnTimeout (node:internal/timers:608:17)`
    const res = devErrorResponse('WG_ERR_TIMEOUT', request(), 'app', timeout)
    expect(res.status).toBe(504)
    expect(res.statusText).toBe('Gateway Timeout')
    const html = new TextDecoder().decode(res.body as Uint8Array)
    expect(html).toContain('<pre class="message">GatewayError: handler did not answer within 50 ms</pre>')
    expect(html).not.toContain('class="where"')
  })

  it('carries the live-reload script under warmgate dev: it polls the version path with the version it was rendered at', () => {
    const live = new LiveReload(() => '/__ops')
    live.bump()
    setLiveReload(live)
    const html = new TextDecoder().decode(devErrorResponse('WG_ERR_HANDLER_THREW', request(), 'app', handlerError()).body as Uint8Array)
    expect(html).toContain('const url = "/__ops/dev/version"')
    expect(html).toContain(`seen = "${live.instance}.1"`)
    expect(JSON.parse(live.json())).toEqual({ instance: live.instance, version: 1 })
  })
})
