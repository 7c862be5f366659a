import { describe, it } from 'vitest'
import type { Mode } from '../../src/index.ts'
import { BEHAVIOUR } from './behaviour.case.ts'

// Every runtime runs the one behaviour suite; what only one mode does lives in <mode>-runtime.test.ts.
const MODES = ['warm', 'inline'] as const satisfies readonly Mode[]

describe.each(MODES)('%s runtime', (mode) => {
  for (const group of BEHAVIOUR) {
    describe(group.title, () => {
      for (const behaviour of group.cases) {
        const reason = behaviour.skip?.[mode]
        if (reason !== undefined) {
          it.skip(`${behaviour.name} (${mode} cannot: ${reason})`, () => {})
        } else {
          it(behaviour.name, async ({ onTestFinished }) => behaviour.run({ mode, defer: (fn) => onTestFinished(async () => { await fn() }) }))
        }
      }
    })
  }
})
