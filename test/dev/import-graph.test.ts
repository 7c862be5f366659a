import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { collectGraph, scanImports } from '../../src/dev/import-graph.ts'

const DIR = mkdtempSync(join(tmpdir(), 'wg-graph-'))
afterAll(() => rmSync(DIR, { recursive: true, force: true }))

describe('import graph', () => {
  it('follows ./ and ../ imports and export-froms transitively, but not packages', () => {
    mkdirSync(join(DIR, 'app/lib'), { recursive: true })
    mkdirSync(join(DIR, 'shared'))
    writeFileSync(join(DIR, 'app/main.ts'), "import { a } from './lib/a.ts'\nimport pino from 'pino'\nimport './side.ts'\nexport * from '../shared/s'\nconst later = await import('./lazy.ts')\n")
    writeFileSync(join(DIR, 'app/lib/a.ts'), "export { b } from './b.ts'\nexport const a = 1\n")
    writeFileSync(join(DIR, 'app/lib/b.ts'), "import { a } from './a.ts'\nexport const b = a\n")
    writeFileSync(join(DIR, 'app/side.ts'), '')
    writeFileSync(join(DIR, 'app/lazy.ts'), '')
    writeFileSync(join(DIR, 'shared/s.ts'), 'export const s = 1\n')
    const graph = collectGraph(join(DIR, 'app/main.ts'))
    expect([...graph].map(file => file.slice(DIR.length + 1)).sort()).toEqual(['app/lazy.ts', 'app/lib/a.ts', 'app/lib/b.ts', 'app/main.ts', 'app/side.ts', 'shared/s.ts'])
  })

  it('skips specifiers that name no file', () => {
    expect(scanImports(join(DIR, 'x.ts'), "import { x } from './missing.ts'\n")).toEqual([])
  })
})
