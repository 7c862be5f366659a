import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES, GatewayError, isGatewayError, serializeError, type ErrorCode } from '../src/errors.ts'
import { ROOT } from './helpers/gateway.ts'

// Keeps the error table (src/errors.ts) and the code that throws (src/) in step, like fastify's
// test/internals/errors.test.js; test/docs/error-codes.test.ts does the same for docs/errors.md.

const CODES = Object.keys(ERROR_CODES) as ErrorCode[]
const SRC = join(ROOT, 'src')

/** Every source file under src/, with its text. */
const sources: Array<{ file: string, text: string }> = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter(file => /\.(?:ts|mts|js|mjs)$/.test(file))
  .map(file => ({ file: join('src', file), text: readFileSync(join(SRC, file), 'utf8') }))

describe('ERROR_CODES', () => {
  it.each(CODES)('%s has the WG_ERR_ prefix, a 4xx/5xx status and a description', (code) => {
    expect(code).toMatch(/^WG_ERR_[A-Z0-9_]+$/)
    const { statusCode, description } = ERROR_CODES[code]
    expect(Number.isInteger(statusCode)).toBe(true)
    expect(statusCode).toBeGreaterThanOrEqual(400)
    expect(statusCode).toBeLessThanOrEqual(599)
    expect(typeof description).toBe('string')
    expect(description.trim().length).toBeGreaterThan(10)
  })

  it('GatewayError carries each code with the status of its table row', () => {
    for (const code of CODES) {
      const cause = new Error('underlying')
      const error = new GatewayError(code, 'message', { cause })
      expect(error).toBeInstanceOf(Error)
      expect(isGatewayError(error)).toBe(true)
      expect(error.name).toBe('GatewayError')
      expect(error.code).toBe(code)
      expect(error.statusCode).toBe(ERROR_CODES[code].statusCode)
      expect(error.cause).toBe(cause)
      expect(serializeError(error)).toMatchObject({ code, message: 'message' })
    }
  })

  it('finds the source files it checks', () => {
    expect(sources.map(source => source.file)).toContain(join('src', 'errors.ts'))
    expect(sources.length).toBeGreaterThan(10)
  })

  it('has a row for every code that src/ throws with new GatewayError', () => {
    const thrown = new Map<string, string>()
    for (const { file, text } of sources) {
      for (const match of text.matchAll(/new\s+GatewayError\s*\(\s*['"`]([A-Z0-9_]+)['"`]/g)) thrown.set(match[1], file)
    }
    expect(thrown.size).toBeGreaterThan(5)
    const missing = [...thrown].filter(([code]) => !(code in ERROR_CODES)).map(([code, file]) => `${code} (${file})`)
    expect(missing, 'codes thrown in src/ without a row in ERROR_CODES').toEqual([])
  })

  it('has a row for every WG_ERR_ literal anywhere in src/', () => {
    const unknown: string[] = []
    for (const { file, text } of sources) {
      for (const match of text.matchAll(/['"`](WG_ERR_[A-Z0-9_]+)['"`]/g)) if (!(match[1] in ERROR_CODES)) unknown.push(`${match[1]} (${file})`)
    }
    expect(unknown, 'WG_ERR_ literals in src/ that are not in ERROR_CODES').toEqual([])
  })

  it('uses every code of the table somewhere in src/ besides the table itself', () => {
    const elsewhere = sources.filter(source => source.file !== join('src', 'errors.ts')).map(source => source.text).join('\n')
    const unused = CODES.filter(code => !new RegExp(`['"\`]${code}['"\`]`).test(elsewhere))
    expect(unused, 'codes in ERROR_CODES that no code in src/ produces').toEqual([])
  })
})
