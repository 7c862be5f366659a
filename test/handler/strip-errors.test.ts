import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createGateway, type Mode } from '../../src/index.ts'
import { within } from '../helpers/gateway.ts'

// A handler with TypeScript that Node's type stripping refuses fails at start-up with the file, the line,
// the offending source and the fix.

const dir = mkdtempSync(join(tmpdir(), 'wg-strip-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text)
  return join(dir, name)
}

const CASES = [
  { what: 'an enum', entry: () => file('enum.ts', "const x = 1\nenum Color { Red }\nexport default () => new Response(String(Color.Red + x))\n"), line: ':2', fix: 'const object' },
  { what: 'a parameter property', entry: () => file('param.ts', 'class A { constructor (private x: number) {} }\nexport default () => new Response(String(new A(1)))\n'), line: ':1', fix: 'declare the field' },
]

// Inline mode imports in this process, where vitest compiles TypeScript itself (enums included): the
// pack-install test and the CLI run it under Node's own stripping; the message is made by the same code.
describe.each(['warm', 'cold'] as Mode[])('%s mode: a handler that type stripping refuses', (mode) => {
  it.each(CASES)('stops start-up naming the line and the fix for $what', async ({ entry, line, fix }) => {
    const path = entry()
    const error = await within(20_000, 'createGateway to fail', createGateway({ apps: { a: { route: '/a', entry: path, mode, workers: { min: 1, max: 1 } } } }, { logger: false }).then(
      async (gw) => { await gw.close(); throw new Error('started') },
      (e: unknown) => e as Error & { code?: string },
    ))
    expect(error.code).toBe('WG_ERR_HANDLER_LOAD')
    expect(error.message).toContain(`${path}${line}`)
    expect(error.message).toContain(`fix: `)
    expect(error.message).toContain(fix)
  })
})
