import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { buildRunner, RUNNER_BUNDLE } from '../../src/runtime/build-runner.ts'

// The cold runtime starts src/runtime/cold.runner.cjs, built from cold.runner.ts and what it imports. A
// change to those sources that is not built into it would leave cold mode running the old code.
describe('the cold runner bundle', () => {
  it('is what `npm run build:runner` makes from the sources now', async () => {
    const built = await buildRunner()
    const committed = readFileSync(RUNNER_BUNDLE, 'utf8')
    expect(committed === built, 'src/runtime/cold.runner.cjs is stale: run `npm run build:runner` and commit it').toBe(true)
  })
})
