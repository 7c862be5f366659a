import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { FIXTURES, ROOT, within } from '../helpers/gateway.ts'

const run = promisify(execFile)
const NODE = join(ROOT, 'node_modules', '.bin', 'node')
const SCRIPT = join(FIXTURES, 'cli', 'young-generation.ts')

async function newSpace (variant: 'fixed' | 'default'): Promise<{ before: number, after: number }> {
  const { stdout } = await within(20_000, `young-generation fixture (${variant})`, run(NODE, [SCRIPT, variant]))
  return JSON.parse(stdout) as { before: number, after: number }
}

// The CLI's heap setting must really take effect at run time: a Node upgrade that ignored it would
// silently bring back the main isolate's young-generation growth under warm load.
describe('fixYoungGeneration', () => {
  const MB = 1024 * 1024

  it('keeps the young generation small (a few MB) under survivor-heavy allocation', async () => {
    const fixed = await newSpace('fixed')
    expect(fixed.after).toBeLessThanOrEqual(4 * MB)
  })

  it('(control) without it, the same allocation grows the young generation many times over', async () => {
    const grown = await newSpace('default')
    expect(grown.after).toBeGreaterThanOrEqual(32 * MB)
  })
})
