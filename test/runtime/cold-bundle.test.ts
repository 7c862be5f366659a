import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { buildRunner, coldRunner, RUNNER_BUNDLE } from '../../src/runtime/cold/build-runner.ts'

// Cold requests start cold.runner.cjs, built from cold.runner.ts and what it imports. From the sources
// (a clone) it is built when a cold app starts, so a change to them can never leave cold mode on old code.
describe('the cold runner bundle', () => {
  it('is built from the sources now when a cold app starts from them', async () => {
    expect(await coldRunner()).toBe(RUNNER_BUNDLE)
    expect(readFileSync(RUNNER_BUNDLE, 'utf8') === await buildRunner(), 'cold.runner.cjs differs from what the sources make').toBe(true)
  })
})
