import type { Mode } from '../../src/index.ts'
import { connectionCases } from './cases/connections.case.ts'
import { embeddingCases } from './cases/embedding.case.ts'
import { handlerContractCases } from './cases/handler-contract.case.ts'
import { nodeAppCases } from './cases/node-apps.case.ts'
import { requestIdCases } from './cases/request-id.case.ts'
import { roundTripCases } from './cases/round-trip.case.ts'
import { routingCases } from './cases/routing.case.ts'
import { startupCases } from './cases/startup.case.ts'
import { timeoutCases } from './cases/timeout.case.ts'
import type { CaseContext } from './support.ts'

/**
 * One behaviour every runtime must show. `conformance.test.ts` runs each case once per mode; a mode
 * that cannot pass a case says so in `skip`, with the reason, instead of leaving the case out.
 */
export interface BehaviourCase {
  /** A behaviour sentence: the test's name. */
  readonly name: string
  readonly run: (ctx: CaseContext) => Promise<void>
  readonly skip?: Partial<Record<Mode, string>>
}

export interface BehaviourGroup {
  readonly title: string
  readonly cases: readonly BehaviourCase[]
}

/** The shared behaviour suite, by group. */
export const BEHAVIOUR: readonly BehaviourGroup[] = [
  { title: 'routing', cases: routingCases },
  { title: 'faithful round trip', cases: roundTripCases },
  { title: 'connections', cases: connectionCases },
  { title: 'request ids and access log', cases: requestIdCases },
  { title: 'handler contract', cases: handlerContractCases },
  { title: 'timeouts and aborts', cases: timeoutCases },
  { title: 'embedding', cases: embeddingCases },
  { title: 'start-up failures', cases: startupCases },
  { title: 'Node-style apps (Express, Koa, Fastify)', cases: nodeAppCases },
]
