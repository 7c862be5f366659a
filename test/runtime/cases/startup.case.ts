import { expect } from 'vitest'
import { createGateway, GatewayError, type GatewayConfig } from '../../../src/index.ts'
import { within } from '../../helpers/gateway.ts'
import type { BehaviourCase } from '../behaviour.case.ts'
import { type CaseContext, exampleApp, handler, MODULES, runAlone } from '../support.ts'

const MISSING = handler('does-not-exist.ts')
const THROWS = handler('throws-at-import.ts')
const INVALID = handler('no-handler.ts')

/**
 * The broken app alone, one worker. In this process a failed start must not stop a worker that is still
 * loading: Node 24.9 can abort the whole process when a worker is terminated mid-load (see the case
 * that runs in a child process below).
 */
function alone (entry: string): GatewayConfig {
  return { apps: { broken: { route: '/broken', entry, workers: { min: 1, max: 1 } } } }
}

/** A healthy app beside the broken one: its workers must be stopped too when start-up fails. */
function withBroken (entry: string): GatewayConfig {
  return {
    apps: {
      good: { route: '/good', entry: exampleApp('hello.ts'), workers: { min: 1, max: 1 } },
      broken: { route: '/broken', entry, workers: { min: 2, max: 2 } },
    },
  }
}

/**
 * `createGateway` must reject with `code` and name the file, on every one of `attempts` starts: in warm
 * mode the code comes back from a worker, and a result that depends on message timing shows up as a
 * different code on some of the attempts.
 */
async function expectStartFailure (ctx: CaseContext, entry: string, code: string, attempts = 1): Promise<void> {
  const seen: string[] = []
  for (let i = 0; i < attempts; i++) {
    const outcome = await within(15_000, `createGateway with ${entry}`, createGateway(alone(entry), { mode: ctx.mode, logger: false }).then(
      async (gateway) => {
        await gateway.close()
        return 'started'
      },
      (error: unknown) => error,
    ))
    expect(outcome).toBeInstanceOf(GatewayError)
    const error = outcome as GatewayError
    expect(error.message).toContain(entry)
    seen.push(error.code)
  }
  expect(seen).toEqual(Array.from({ length: attempts }, () => code))
}

export const startupCases: BehaviourCase[] = [
  {
    name: 'a missing entry file makes createGateway reject with WG_ERR_ENTRY_NOT_FOUND naming the file and where relative paths start',
    run: async (ctx) => {
      await expectStartFailure(ctx, MISSING, 'WG_ERR_ENTRY_NOT_FOUND')
      const error = await createGateway(alone(MISSING), { mode: ctx.mode, logger: false }).then(() => undefined, (e: unknown) => e as Error)
      expect(error?.message).toContain('relative paths are taken from the directory of the config file')
    },
  },
  {
    name: 'a handler module that throws at import makes createGateway reject with WG_ERR_HANDLER_LOAD naming the file',
    run: async (ctx) => expectStartFailure(ctx, THROWS, 'WG_ERR_HANDLER_LOAD'),
  },
  {
    name: 'a handler module with neither a default function nor a fetch object makes createGateway reject with WG_ERR_HANDLER_INVALID naming the file, every time',
    run: async (ctx) => expectStartFailure(ctx, INVALID, 'WG_ERR_HANDLER_INVALID', 8),
  },
  {
    name: 'a failed start stops every app it started and leaves nothing running: the process exits on its own',
    async run (ctx) {
      const source = `
        import { createGateway } from ${JSON.stringify(MODULES.gateway)}
        const configs = ${JSON.stringify([MISSING, THROWS, INVALID].map(withBroken))}
        const codes = []
        for (const config of configs) {
          codes.push(await createGateway(config, { mode: ${JSON.stringify(ctx.mode)}, logger: false }).then(() => 'started', (error) => error.code))
        }
        process.stdout.write(JSON.stringify(codes))
      `
      const { stdout, stderr, code, signal } = await runAlone(source, 15_000)
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' })
      expect(JSON.parse(stdout)).toEqual(['WG_ERR_ENTRY_NOT_FOUND', 'WG_ERR_HANDLER_LOAD', 'WG_ERR_HANDLER_INVALID'])
    },
  },
]
