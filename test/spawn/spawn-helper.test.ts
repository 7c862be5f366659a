import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FIXTURES, startGateway, within } from '../helpers/gateway.ts'
import { allPids, cmdlineOf, procStat } from '../helpers/proc.ts'
import { eventually } from '../runtime/support.ts'
import { HELPERS } from './support.ts'

// The spawn helper is one process per gateway; when it dies (an operator's kill, the OOM killer) the
// gateway must say so, fail nothing it has not started, and start a new one of the same kind. Run
// against both helpers (WARMGATE_SPAWNER=c and =python).

const scratch = mkdtempSync(join(tmpdir(), 'wg-spawn-gateway-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** Pids the fixtures appended to `file` (sleep.sh: its own, then its sleep's). */
function recorded (file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(line => line !== '').map(Number)
  } catch {
    return []
  }
}

/** Alive: not gone, and not a zombie (a killed process under a PID 1 that does not reap stays one). */
function running (pid: number): boolean {
  const state = procStat(pid)?.state
  return state !== undefined && state !== 'Z'
}

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

  it.skipIf(skip !== undefined)('when it is killed, the request in flight gets 502 and the processes it had started are killed with it', async () => {
    const pids = join(scratch, `pids-${kind}`)
    const { gateway, url } = await startGateway({ apps: { cgi: { route: '/cgi-bin', cgi: `${FIXTURES}cgi-bin`, env: { WG_CGI_PIDS: pids } } } })
    try {
      const pending = fetch(`${url}/cgi-bin/sleep.sh?30`)
      const started = await eventually(5000, 'sleep.sh and its sleep to record their pids', () => recorded(pids).length >= 2 ? recorded(pids) : undefined)
      const [helper] = helperPids()
      process.kill(helper, 'SIGKILL')
      const res = await within(5000, 'the request in flight', pending)
      expect(res.status).toBe(502)
      await res.arrayBuffer()
      // Not left running under PID 1 (a zombie there is dead: this PID 1 reaps only now and then).
      await eventually(3000, `sleep.sh and its sleep (${started.join(', ')}) killed`, () => started.some(running) ? undefined : true)
    } finally {
      await within(10_000, 'gateway.close()', gateway.close())
    }
  })
})
