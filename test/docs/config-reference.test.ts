import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/schema.ts'
import { readDoc, tables } from './markdown.ts'

// docs/configuration.md's reference tables list exactly the keys the config schema accepts: a key added
// to the schema without a row, or a row for a key the schema refuses, fails here.
//
// The keys come from the schema itself, not from a copy: every level of the config is given a key it
// cannot know, and validateConfig's "unknown key (expected one of …)" message names the keys it accepts
// there. A key whose value is an object of its own keys (server.fastcgi, …) or a map of named objects
// (apps) is explored the same way, level by level.

const PROBE = '__docs_probe__'
/** How an app is named in the docs: `apps.<name>.route`. */
const NAME = '<name>'

type Wrap = (value: unknown) => unknown

/**
 * The keys validateConfig accepts at `where` (the key path as its messages spell it), or undefined when
 * nothing there reports unknown keys.
 */
function acceptedAt (where: string[], wrap: Wrap, value: unknown): string[] | undefined {
  const marker = `${[...where, PROBE].join('.')}: unknown key (expected one of `
  const error = validateConfig(wrap(value)).find(message => message.startsWith(marker))
  return error?.slice(marker.length, -1).split(', ')
}

/**
 * Every key path the schema accepts below `path` (objects and leaves alike), with `<name>` for the entries
 * of a map. `where` is the same path as validateConfig's messages spell it (the probe name for an entry).
 */
function schemaKeys (path: string[] = [], where: string[] = [], wrap: Wrap = value => value): string[] {
  if (path.length > 6) throw new Error(`the config schema nests deeper than expected at ${path.join('.')}`)
  const keys = acceptedAt(where, wrap, { [PROBE]: 1 })
  if (keys !== undefined) {
    return keys.flatMap(key => [[...path, key].join('.'), ...schemaKeys([...path, key], [...where, key], value => wrap({ [key]: value }))])
  }
  // A map of named objects (`apps`): the keys of its entries are reported one level further down.
  if (path.length === 0 || acceptedAt([...where, PROBE], wrap, { [PROBE]: { [PROBE]: 1 } }) === undefined) return []
  return schemaKeys([...path, NAME], [...where, PROBE], value => wrap({ [PROBE]: value }))
}

const accepted = schemaKeys()
/** Keys with keys below them: documented through their children. */
const objects = new Set(accepted.filter(key => accepted.some(other => other.startsWith(`${key}.`))))
const leaves = accepted.filter(key => !objects.has(key))

const page = readDoc('docs/configuration.md')
const referenceTables = tables(page).filter(table => table.header[0]?.toLowerCase() === 'key')
const documented = referenceTables.flatMap(table => table.rows.map(row => row[0]))

describe('docs/configuration.md', () => {
  it('finds the keys of the schema at every level', () => {
    // Guards the probe itself: if validateConfig's message changed, the lists below would be empty.
    expect(accepted).toEqual(expect.arrayContaining(['server', 'server.host', 'server.fastcgi.listen', 'defaults.workers.min', 'apps.<name>.route', 'apps.<name>.workers.max', 'apps.<name>.lambda.payload']))
    expect(leaves.length).toBeGreaterThan(40)
  })

  it('has reference tables whose first column is the key', () => {
    expect(referenceTables.length).toBeGreaterThan(0)
    const malformed = documented.filter(cell => !/^`[A-Za-z<>.]+`$/.test(cell))
    expect(malformed, 'a key cell must be one key in backticks, e.g. `apps.<name>.route`').toEqual([])
  })

  it('documents every key the schema accepts', () => {
    const names = new Set(documented.map(cell => cell.slice(1, -1)))
    expect(leaves.filter(key => !names.has(key)), 'keys the schema accepts with no row in docs/configuration.md').toEqual([])
  })

  it('documents no key the schema refuses, and each key once', () => {
    const names = documented.map(cell => cell.slice(1, -1))
    expect(names.filter(key => !accepted.includes(key)), 'rows for keys the schema does not accept').toEqual([])
    expect(names.filter((key, index) => names.indexOf(key) !== index), 'keys with more than one row').toEqual([])
  })

  it('gives every key a meaning', () => {
    const empty = referenceTables.flatMap(table => table.rows).filter(row => (row[2] ?? '').length < 10).map(row => row[0])
    expect(empty, 'rows without a meaning').toEqual([])
  })
})
