import { describe, expect, it } from 'vitest'
import { ERROR_CODES, type ErrorCode } from '../../src/errors.ts'
import { docFiles, readDoc, tables } from './markdown.ts'

// docs/errors.md's tables list exactly the codes of src/errors.ts, each with the HTTP status it maps to
// (fastify's test/internals/errors.test.js keeps its docs the same way). Moved here from
// test/errors.test.ts, which read the table from README.md before the docs had pages of their own.

const CODES = Object.keys(ERROR_CODES) as ErrorCode[]
const page = readDoc('docs/errors.md')
const codeTables = tables(page).filter(table => table.header[0]?.toLowerCase() === 'code')
const rows = codeTables.flatMap(table => table.rows)

describe('docs/errors.md', () => {
  it('has tables of | code | status | meaning |', () => {
    expect(codeTables.length).toBeGreaterThan(0)
    for (const table of codeTables) expect(table.header.map(cell => cell.toLowerCase()), `table under "${table.section}"`).toEqual(['code', 'status', 'meaning'])
    const malformed = rows.filter(row => !/^`WG_ERR_[A-Z0-9_]+`$/.test(row[0]) || !/^\d{3}$/.test(row[1] ?? '') || (row[2] ?? '').length < 10)
    expect(malformed.map(row => row.join(' | ')), 'rows need a code in backticks, a 3-digit status and a meaning').toEqual([])
  })

  it.each(CODES)('lists %s once, with its status', (code) => {
    const mine = rows.filter(row => row[0] === `\`${code}\``)
    expect(mine.length, `docs/errors.md rows for ${code}`).toBe(1)
    expect(mine[0][1], `docs/errors.md status of ${code}`).toBe(String(ERROR_CODES[code].statusCode))
  })

  it('names no code that ERROR_CODES does not have, in its tables or its prose', () => {
    const named = [...page.matchAll(/WG_ERR_[A-Z0-9_]+/g)].map(match => match[0])
    expect(named.filter(code => !(code in ERROR_CODES)), 'codes in docs/errors.md that are not in ERROR_CODES').toEqual([])
  })

  it('names no unknown code anywhere else in the docs either', () => {
    const unknown = docFiles().flatMap(file => [...readDoc(file).matchAll(/WG_ERR_[A-Z0-9_]+/g)]
      .map(match => match[0])
      .filter(code => !(code in ERROR_CODES))
      .map(code => `${code} (${file})`))
    expect(unknown, 'WG_ERR_ codes in the docs that are not in ERROR_CODES').toEqual([])
  })
})
