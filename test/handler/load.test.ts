import { describe, expect, it } from 'vitest'
import { createGateway, GatewayError } from '../../src/index.ts'
import { loadHandler } from '../../src/handler/load.ts'
import { FIXTURES, within } from '../helpers/gateway.ts'

// A module that can never answer a request is refused when it is loaded (start-up, in every mode), with
// WG_ERR_HANDLER_INVALID and a message that says what was found, instead of a 500 on every request.

const INVALID = `${FIXTURES}handlers/invalid/`

async function loadError (file: string, preferRequire = false): Promise<GatewayError> {
  const outcome = await loadHandler(`${INVALID}${file}`, undefined, undefined, preferRequire).then(() => 'loaded', (error: unknown) => error)
  expect(outcome, file).toBeInstanceOf(GatewayError)
  return outcome as GatewayError
}

describe('loadHandler', () => {
  it.each([
    ['class-default.ts', 'the default export is a class; export an instance'],
    ['class-fetch.ts', "the default export's fetch is a class"],
    ['async-generator.ts', 'the default export is an async generator function'],
    ['number-default.ts', 'a default export that is a number (42)'],
    ['string-default.ts', 'a default export that is a string ("handler")'],
    ['null-default.ts', 'a default export that is null'],
    ['fetch-not-function.ts', "the default export's fetch is a string (\"https://example.org/\"), not a function"],
    ['throwing-proxy.ts', 'reading the default export threw: proxy property read refused'],
    ['lambda-class.ts', 'the Lambda `handler` export is a class'],
  ])('refuses %s with WG_ERR_HANDLER_INVALID saying what it found, through import() and require()', async (file, found) => {
    for (const preferRequire of [false, true]) {
      const error = await loadError(file, preferRequire)
      expect(error.code).toBe('WG_ERR_HANDLER_INVALID')
      expect(error.message).toContain(`${INVALID}${file}`)
      expect(error.message).toContain(found)
    }
  })

  it('takes the default export of a module that also exports a Lambda handler (kind auto), and the handler with kind lambda', async () => {
    const entry = `${INVALID}default-and-handler.ts`
    const fetch = await loadHandler(entry)
    expect(await (await fetch(new Request('http://x/'), {}, {} as never)).text()).toBe('fetch default')
    const lambda = await loadHandler(entry, undefined, { kind: 'lambda', appName: 'both', timeoutMs: 5000, memoryMb: undefined, payload: '2.0' })
    expect(await (await lambda(new Request('http://x/'), {}, { requestId: 'r', mode: 'inline', signal: new AbortController().signal, waitUntil: () => {} })).text()).toBe('lambda handler')
  })
})

describe('an invalid handler at start-up', () => {
  it.each(['warm', 'inline', 'cold'] as const)('makes createGateway reject with WG_ERR_HANDLER_INVALID in %s mode, for a class and an async generator', async (mode) => {
    for (const file of ['class-default.ts', 'async-generator.ts']) {
      const entry = `${INVALID}${file}`
      const config = { apps: { broken: { route: '/broken', entry, workers: { min: 1, max: 1 } } } }
      const outcome = await within(20_000, `createGateway (${mode}) with ${file}`, createGateway(config, { mode, logger: false }).then(
        async (gateway) => {
          await gateway.close()
          return 'started'
        },
        (error: unknown) => error,
      ))
      expect(outcome, `${mode} ${file}`).toBeInstanceOf(GatewayError)
      expect((outcome as GatewayError).code).toBe('WG_ERR_HANDLER_INVALID')
      expect((outcome as GatewayError).message).toContain(entry)
    }
  })
})
