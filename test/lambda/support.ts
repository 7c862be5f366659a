import { readFileSync } from 'node:fs'
import { FIXTURES } from '../helpers/gateway.ts'

/** CLF date as API Gateway writes `requestContext.time`: `12/Mar/2020:19:03:58 +0000`. */
export const CLF_TIME = /^\d{2}\/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/

/** An expected event from test/fixtures/lambda/, with `{{name}}` placeholders filled in. */
export function expectedEvent (file: string, vars: Record<string, string>): unknown {
  const text = readFileSync(`${FIXTURES}lambda/${file}`, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!(name in vars)) throw new Error(`no value for {{${name}}} in ${file}`)
    return vars[name]
  })
  return JSON.parse(text) as unknown
}

/**
 * Compares an event with its fixture field by field and lists every difference by key path. Objects
 * must have exactly the fixture's keys (a field AWS does not send must be absent), except under `open`
 * paths (headers: a client adds its own, such as connection), where the fixture's keys must be there.
 * `<clf-time>` and `<epoch-ms>` stand for time fields, checked by format and as within a minute of now.
 */
export function shapeDifferences (actual: unknown, expected: unknown, open: readonly string[] = ['headers', 'multiValueHeaders'], path = ''): string[] {
  const at = path === '' ? '(root)' : path
  if (expected === '<clf-time>') return typeof actual === 'string' && CLF_TIME.test(actual) ? [] : [`${at}: expected a CLF time, got ${JSON.stringify(actual)}`]
  if (expected === '<epoch-ms>') {
    return typeof actual === 'number' && Number.isInteger(actual) && Math.abs(actual - Date.now()) < 60_000 ? [] : [`${at}: expected epoch ms near now, got ${JSON.stringify(actual)}`]
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return [`${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`]
    return expected.flatMap((item, i) => shapeDifferences(actual[i], item, open, `${path}[${i}]`))
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return [`${at}: expected an object, got ${JSON.stringify(actual)}`]
    const found = actual as Record<string, unknown>
    const differences: string[] = []
    for (const [key, value] of Object.entries(expected)) {
      const sub = path === '' ? key : `${path}.${key}`
      if (!(key in found)) differences.push(`${sub}: missing`)
      else differences.push(...shapeDifferences(found[key], value, open, sub))
    }
    if (!open.includes(path)) {
      for (const key of Object.keys(found)) if (!(key in expected)) differences.push(`${path === '' ? key : `${path}.${key}`}: not in the documented shape`)
    }
    return differences
  }
  return Object.is(actual, expected) ? [] : [`${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`]
}
