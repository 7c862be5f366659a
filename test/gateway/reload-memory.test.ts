import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { expect, it } from 'vitest'
import { appTableOf } from '../../src/gateway/gateway.ts'
import { replaceApps } from '../../src/gateway/reload.ts'
import { APPS, startGateway, within } from '../helpers/gateway.ts'

// Many reloads (warmgate dev reloads on every save) must not keep the retired runtimes alive: each one
// holds a piscina pool and its bookkeeping. A timer left pending for the app's timeout after a worker
// stopped used to keep every runtime of the last 30 s.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

// `inline` under inlineInThread (warmgate dev): the same one-thread pool, so the same guarantee.
for (const mode of ['warm', 'inline'] as const) {
  it(`a retired ${mode} runtime is garbage once its reload is over: 40 reloads keep none of the old ones`, async ({ onTestFinished }) => {
    const { gateway, url } = await within(15_000, `starting a ${mode} gateway`, startGateway({
      apps: { hello: { route: '/hello', entry: `${APPS}hello.ts`, mode, timeout: '30s', workers: { min: 1, max: 1 } } },
    }, { inlineInThread: true }))
    onTestFinished(() => within(10_000, 'closing the gateway', gateway.close()))
    const table = appTableOf(gateway)
    const retired: Array<WeakRef<object>> = []
    for (let i = 0; i < 40; i++) {
      retired.push(new WeakRef(table.apps[0].runtime))
      await within(10_000, `reload ${i + 1}`, replaceApps(table, table.config, new Set(['hello'])))
    }
    expect((await fetch(`${url}/hello`, { signal: AbortSignal.timeout(5000) })).status).toBe(200)
    // Let the last terminations settle, then collect.
    await new Promise(resolve => setTimeout(resolve, 200))
    for (let i = 0; i < 3; i++) {
      gc()
      await new Promise(resolve => setImmediate(resolve))
    }
    const alive = retired.filter(ref => ref.deref() !== undefined).length
    expect(alive).toBeLessThanOrEqual(2)
  }, 30_000)
}
