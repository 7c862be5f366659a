import { describe, it } from 'vitest'
import type { Mode } from '../../src/index.ts'
import { BEHAVIOUR } from './behaviour.case.ts'

// Every runtime runs the one behaviour suite; what only one mode does lives in <mode>-runtime.test.ts.
const MODES = ['warm', 'inline', 'cold'] as const satisfies readonly Mode[]

describe.each(MODES)('%s runtime', (mode) => {
  for (const group of BEHAVIOUR) {
    describe(group.title, () => {
      for (const behaviour of group.cases) {
        // A mode that cannot pass a case declares why (behaviour.case.ts); the reason shows in the test name.
        const reason = behaviour.skip?.[mode]
        const name = reason === undefined ? behaviour.name : `${behaviour.name} (${mode} cannot: ${reason})`
        it.skipIf(reason !== undefined)(name, async ({ onTestFinished }) => behaviour.run({ mode, defer: (fn) => onTestFinished(async () => { await fn() }) }))
      }
    })
  }
})
