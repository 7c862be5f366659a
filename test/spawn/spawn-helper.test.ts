import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FIXTURES, startGateway, within } from '../helpers/gateway.ts'
import { allPids, cmdlineOf, procStat } from '../helpers/proc.ts'
import { eventually } from '../runtime/support.ts'
import { HELPERS } from './support.ts'

// The spawn helper is one process per gateway; when it dies (an operator's kill, the OOM killer) the
// gateway must say so, fail nothing it has not started, and start a new one of the same kind. Run
// against both helpers (WARMGATE_SPAWNER=c and =python).

/** Pids of this process's children whose command line runs a spawn helper (compiled or python). */
function helperPids (): number[] {
  return allPids().filter(pid => procStat(pid)?.ppid === process.pid && cmdlineOf(pid)?.includes('spawn-helper') === true)
}

describe.each(HELPERS)('spawn helper ($kind) through a gateway', ({ kind, skip }) => {
  const before = process.env.WARMGATE_SPAWNER
  beforeEach(() => { process.env.WARMGATE_SPAWNER = kind })
  afterEach(() => {
    if (before === undefined) delete process.env.WARMGATE_SPAWNER
    else process.env.WARMGATE_SPAWNER = before
  })

  it.skipIf(skip !== undefined)('is replaced when it dies: the next request is answered, the death is logged, and close() leaves no helper', async () => {
    const { gateway, url, lines } = await startGateway({ apps: { cgi: { route: '/cgi-bin', cgi: `${FIXTURES}cgi-bin` } } })
    try {
      const first = await within(5000, 'the first request', fetch(`${url}/cgi-bin/other.sh`))
      expect(first.status).toBe(200)
      await first.arrayBuffer()
      const [helper] = helperPids()
      expect(helper).toBeGreaterThan(0)
      // The kind asked for is the one running: the python helper is a python3 running spawn-helper.py.
      expect(cmdlineOf(helper)?.includes('spawn-helper.py')).toBe(kind === 'python')
      process.kill(helper, 'SIGKILL')
      // A request racing the death fails (502, as one racing a warm worker's death does); once the
      // gateway has noticed, it has a new helper starting and the next request is served.
      await eventually(5000, 'the death to be logged', () => lines.some(line => line.msg === 'the spawn helper exited; starting a new one') ? true : undefined)

      const again = await within(10_000, 'a request after the helper died', fetch(`${url}/cgi-bin/other.sh`))
      expect(again.status).toBe(200)
      await again.arrayBuffer()
      expect(helperPids()).toHaveLength(1)
      expect(helperPids()).not.toContain(helper)
      expect(cmdlineOf(helperPids()[0])?.includes('spawn-helper.py')).toBe(kind === 'python')
    } finally {
      await within(10_000, 'gateway.close()', gateway.close())
    }
    expect(helperPids()).toEqual([])
  })
})
