import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { createGateway, type Gateway } from '../../src/index.ts'
import { APPS, startGateway, within } from '../helpers/gateway.ts'

// gateway.listen({ reusePort }): what `warmgate start --processes` builds on (SO_REUSEPORT, Linux).

const config = { apps: { hello: { route: '/hello', entry: `${APPS}hello.ts`, mode: 'inline' as const } } }
const open: Gateway[] = []
afterEach(async () => {
  await within(10_000, 'closing the gateways', Promise.all(open.map(async gateway => gateway.close())))
  open.length = 0
})

describe('gateway.listen reusePort', () => {
  it.skipIf(process.platform !== 'linux')('lets two gateways listen on the same port, and both answer', async () => {
    const first = await createGateway(config, { logger: false })
    open.push(first)
    const { port, url } = await first.listen({ port: 0, host: '127.0.0.1', reusePort: true })
    const second = await createGateway(config, { logger: false })
    open.push(second)
    expect((await second.listen({ port, host: '127.0.0.1', reusePort: true })).port).toBe(port)
    // Closing one leaves the other answering on the port.
    await first.close()
    const res = await within(5000, 'GET after closing the first gateway', request(`${url}/hello`))
    expect([res.statusCode, await res.body.text()]).toEqual([200, 'Hello, world!'])
  })

  it('without reusePort a second gateway on the same port fails with WG_ERR_LISTEN (EADDRINUSE)', async () => {
    const { gateway, url } = await startGateway(config)
    open.push(gateway)
    const second = await createGateway(config, { logger: false })
    open.push(second)
    const failure = await second.listen({ port: Number(new URL(url).port), host: '127.0.0.1' }).catch((error: unknown) => error)
    expect(failure).toMatchObject({ code: 'WG_ERR_LISTEN', cause: { code: 'EADDRINUSE' } })
  })
})
