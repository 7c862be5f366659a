import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../../src/config/resolve.ts'
import { validateConfig } from '../../src/config/schema.ts'
import type { GatewayConfig } from '../../src/index.ts'

// `kind` and `lambda` (README "AWS Lambda handlers"): validated with the key path, resolved with defaults.

const app = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ route: '/fn', entry: './fn.ts', ...extra })
const cgi = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ route: '/cgi', cgi: './cgi-bin', ...extra })

describe('validateConfig: kind and lambda', () => {
  it('accepts kind fetch or lambda, and lambda.payload 1.0 or 2.0', () => {
    expect(validateConfig({ apps: { a: app({ kind: 'lambda', lambda: { payload: '1.0' } }), b: app({ route: '/b', kind: 'fetch' }), c: app({ route: '/c', lambda: { payload: '2.0' } }) } })).toEqual([])
  })

  it.each([
    [{ kind: 'node', lambda: { payload: '2.0' } }, 'apps.fn.lambda: expected no lambda options with kind \'node\', got {"payload":"2.0"}'],
    [{ kind: 'aws' }, 'apps.fn.kind: expected \'fetch\', \'lambda\' or \'node\' (or no kind: detected from the module\'s exports), got "aws"'],
    [{ lambda: { payload: '3.0' } }, 'apps.fn.lambda.payload: expected \'1.0\' or \'2.0\', got "3.0"'],
    [{ lambda: { payload: 2 } }, 'apps.fn.lambda.payload: expected \'1.0\' or \'2.0\', got 2'],
    [{ lambda: 'v2' }, 'apps.fn.lambda: expected an object ({ payload: \'2.0\' }), got "v2"'],
    [{ lambda: { version: '2.0' } }, 'apps.fn.lambda.version: unknown key (expected one of payload)'],
    [{ kind: 'fetch', lambda: { payload: '1.0' } }, `apps.fn.lambda: expected no lambda options with kind 'fetch', got {"payload":"1.0"}`],
  ])('rejects %j naming the key path', (extra, message) => {
    expect(validateConfig({ apps: { fn: app(extra) } })).toEqual([message])
  })

  it('refuses kind and lambda on a cgi app', () => {
    const errors = validateConfig({ apps: { scripts: cgi({ kind: 'lambda', lambda: { payload: '2.0' } }) } })
    expect(errors).toHaveLength(2)
    expect(errors[0]).toMatch(/^apps\.scripts\.kind: expected no kind for a cgi app/)
    expect(errors[1]).toMatch(/^apps\.scripts\.lambda: expected no lambda options for a cgi app/)
  })
})

describe('resolveConfig: kind and lambda', () => {
  const resolve = (config: GatewayConfig) => resolveConfig(config, { baseDir: '/srv' }).apps

  it('defaults kind to auto (detected) and the payload to 2.0, frozen', () => {
    const [resolved] = resolve({ apps: { fn: { route: '/fn', entry: './fn.ts' } } })
    expect(resolved.kind).toBe('auto')
    expect(resolved.lambda).toEqual({ payload: '2.0' })
    expect(Object.isFrozen(resolved.lambda)).toBe(true)
  })

  it('keeps what the app sets', () => {
    const [resolved] = resolve({ apps: { fn: { route: '/fn', entry: './fn.ts', kind: 'lambda', lambda: { payload: '1.0' } } } })
    expect([resolved.kind, resolved.lambda.payload]).toEqual(['lambda', '1.0'])
  })
})
