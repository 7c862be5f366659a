import { describe, expect, it } from 'vitest'
import { describeLoadFailure, prefersJson } from '../../src/dev/error-page.ts'

describe('error page', () => {
  it('prefers JSON only when Accept ranks it above text/html', () => {
    expect(prefersJson(['accept', 'application/json'])).toBe(true)
    expect(prefersJson(['Accept', 'application/problem+json'])).toBe(true)
    expect(prefersJson(['accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'])).toBe(false)
    expect(prefersJson(['accept', 'text/html;q=0.5, application/json'])).toBe(true)
    expect(prefersJson(['accept', 'application/json;q=0'])).toBe(false)
    expect(prefersJson([])).toBe(false)
  })

  it('points at the first place in the stack that is one of the app\'s files, without the reload query', () => {
    const error = new Error('boom')
    error.stack = 'Error: boom\n    at file:///srv/app/lib/x.ts?warmgate-reload=3:7:9\n    at file:///srv/app/main.ts:1:1'
    expect(describeLoadFailure(error, new Set(['/srv/app/main.ts', '/srv/app/lib/x.ts']))).toMatchObject({ file: '/srv/app/lib/x.ts', line: 7, column: 9 })
    const syntax = new Error('wrapper', { cause: Object.assign(new SyntaxError("Expected ','"), { stack: "/srv/app/main.ts:2\n  const = 3\n  ^\n\nSyntaxError: Expected ','" }) })
    expect(describeLoadFailure(syntax, new Set(['/srv/app/main.ts']))).toMatchObject({ file: '/srv/app/main.ts', line: 2, message: "Expected ','" })
    expect(describeLoadFailure(error, new Set()).file).toBeUndefined()
  })
})
