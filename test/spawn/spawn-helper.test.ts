import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { FIXTURES, startGateway, within } from '../helpers/gateway.ts'
import { allPids, cmdlineOf, procStat } from '../helpers/proc.ts'
import { eventually } from '../runtime/support.ts'

// The python3 spawn helper is one process per gateway; when it dies (an operator's kill, the OOM
// killer) the gateway must say so, fail nothing it has not started, and start a new one.

const HAVE_PYTHON = (process.env.PATH ?? '').split(':').some((dir) => {
  try {
    return readdirSync(dir).includes('python3')
  } catch {
    return false
  }
})
if (!HAVE_PYTHON) console.warn('[spawn tests] skipping: python3 is not installed, the gateway spawns without its helper')

/** Pids of this process's children whose command line runs the spawn helper. */
function helperPids (): number[] {
  return allPids().filter(pid => procStat(pid)?.ppid === process.pid && cmdlineOf(pid)?.includes('spawn-helper') === true)
}

describe.skipIf(!HAVE_PYTHON)('spawn helper', () => {
  it('is replaced when it dies: the next request is answered, the death is logged, and close() leaves no helper', async () => {
    const { gateway, url, lines } = await startGateway({ apps: { cgi: { route: '/cgi-bin', cgi: `${FIXTURES}cgi-bin` } } })
    try {
      const first = await within(5000, 'the first request', fetch(`${url}/cgi-bin/other.sh`))
      expect(first.status).toBe(200)
      await first.arrayBuffer()
      const [helper] = helperPids()
      expect(helper).toBeGreaterThan(0)
      process.kill(helper, 'SIGKILL')
      // A request racing the death fails (502, as one racing a warm worker's death does); once the
      // gateway has noticed, it has a new helper starting and the next request is served.
      await eventually(5000, 'the death to be logged', () => lines.some(line => line.msg === 'the spawn helper exited; starting a new one') ? true : undefined)

      const again = await within(10_000, 'a request after the helper died', fetch(`${url}/cgi-bin/other.sh`))
      expect(again.status).toBe(200)
      await again.arrayBuffer()
      expect(helperPids()).toHaveLength(1)
      expect(helperPids()).not.toContain(helper)
    } finally {
      await within(10_000, 'gateway.close()', gateway.close())
    }
    expect(helperPids()).toEqual([])
  })
})
