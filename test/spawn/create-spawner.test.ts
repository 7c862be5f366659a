import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createSpawner } from '../../src/spawn/create-spawner.ts'
import { DirectSpawner } from '../../src/spawn/direct-spawner.ts'
import type { Spawner } from '../../src/spawn/spawner.ts'
import { memoryLogger, within } from '../helpers/gateway.ts'
import { allPids, cmdlineOf, procStat } from '../helpers/proc.ts'
import { ENV, HAVE_CC, HAVE_PYTHON, readAll } from './support.ts'

// Which spawner the gateway picks: the compiled helper when a compiler is here, the python helper
// when the build fails (one warn line saying why), and what WARMGATE_SPAWNER forces.

const scratch = mkdtempSync(join(tmpdir(), 'wg-create-spawner-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
/** A "compiler" that fails the way a broken toolchain does: a message on stderr, status 1. */
const FAILING_CC = join(scratch, 'failing-cc')
writeFileSync(FAILING_CC, '#!/bin/sh\necho "cc: fatal error: simulated broken toolchain" >&2\nexit 1\n')
chmodSync(FAILING_CC, 0o755)

const saved = { spawner: process.env.WARMGATE_SPAWNER, cc: process.env.WARMGATE_CC }
afterEach(() => {
  for (const [name, value] of [['WARMGATE_SPAWNER', saved.spawner], ['WARMGATE_CC', saved.cc]] as const) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
})
if (!HAVE_CC) console.warn('[spawn tests] skipping the compiled-helper choice cases: no C compiler (cc or gcc) on PATH')
if (!HAVE_PYTHON) console.warn('[spawn tests] skipping the python fallback cases: python3 is not installed')

/** The command line of the one spawn helper this process runs now. */
function helperCommandLine (): string | undefined {
  const pids = allPids().filter(pid => procStat(pid)?.ppid === process.pid && cmdlineOf(pid)?.includes('spawn-helper') === true)
  expect(pids).toHaveLength(1)
  return cmdlineOf(pids[0])
}

async function opened (onTestFinished: (fn: () => Promise<void> | void) => void): Promise<{ spawner: Spawner, lines: Array<Record<string, unknown>> }> {
  const { logger, lines } = memoryLogger()
  const spawner = await within(60_000, 'createSpawner()', createSpawner(logger))
  onTestFinished(() => within(10_000, 'spawner.close()', spawner.close()))
  return { spawner, lines }
}

async function echoes (spawner: Spawner): Promise<string> {
  const child = await spawner.spawn({ file: '/bin/echo', args: ['hello'], env: ENV, cwd: '/', stdin: null }, () => {})
  const out = await readAll(child.stdout, 5000, 'echo stdout')
  await within(5000, 'echo exit', child.exited)
  return out.toString()
}

describe('createSpawner', () => {
  it.skipIf(!HAVE_CC)('chooses the compiled helper when a C compiler is on PATH, and logs no warning', async ({ onTestFinished }) => {
    delete process.env.WARMGATE_SPAWNER
    delete process.env.WARMGATE_CC
    const { spawner, lines } = await opened(onTestFinished)
    expect(await echoes(spawner)).toBe('hello\n')
    const command = helperCommandLine()
    expect(command).toMatch(/\/spawn-helper-[0-9a-f]{16} /)
    expect(command).not.toContain('python')
    expect(lines.filter(line => line.level === 40)).toEqual([])
  })

  it.skipIf(!HAVE_PYTHON)('falls back to the python helper when the build fails, with one warn line saying why', async ({ onTestFinished }) => {
    delete process.env.WARMGATE_SPAWNER
    process.env.WARMGATE_CC = FAILING_CC
    const { spawner, lines } = await opened(onTestFinished)
    expect(await echoes(spawner)).toBe('hello\n')
    expect(helperCommandLine()).toContain('spawn-helper.py')
    const warnings = lines.filter(line => line.level === 40)
    expect(warnings).toHaveLength(1)
    expect(String(warnings[0].msg)).toContain('simulated broken toolchain')
    expect(warnings[0].err).toMatchObject({ code: 'WG_ERR_SPAWN' })
  })

  it.skipIf(!HAVE_PYTHON)('falls back to the python helper when the compiler does not exist', async ({ onTestFinished }) => {
    delete process.env.WARMGATE_SPAWNER
    process.env.WARMGATE_CC = join(scratch, 'no-such-cc')
    const { spawner, lines } = await opened(onTestFinished)
    expect(await echoes(spawner)).toBe('hello\n')
    expect(helperCommandLine()).toContain('spawn-helper.py')
    expect(lines.filter(line => line.level === 40)).toHaveLength(1)
  })

  it('WARMGATE_SPAWNER=c is an error (WG_ERR_SPAWN) when the helper cannot be built', async () => {
    process.env.WARMGATE_SPAWNER = 'c'
    process.env.WARMGATE_CC = FAILING_CC
    const { logger } = memoryLogger()
    await expect(within(60_000, 'createSpawner()', createSpawner(logger))).rejects.toMatchObject({ code: 'WG_ERR_SPAWN' })
  })

  it.skipIf(!HAVE_PYTHON)('WARMGATE_SPAWNER=python uses the python helper even with a compiler', async ({ onTestFinished }) => {
    process.env.WARMGATE_SPAWNER = 'python'
    delete process.env.WARMGATE_CC
    const { spawner } = await opened(onTestFinished)
    expect(await echoes(spawner)).toBe('hello\n')
    expect(helperCommandLine()).toContain('spawn-helper.py')
  })

  it('WARMGATE_SPAWNER=direct spawns from the gateway itself, and says so', async ({ onTestFinished }) => {
    process.env.WARMGATE_SPAWNER = 'direct'
    const { spawner, lines } = await opened(onTestFinished)
    expect(spawner).toBeInstanceOf(DirectSpawner)
    expect(await echoes(spawner)).toBe('hello\n')
    expect(lines.filter(line => line.level === 40)).toHaveLength(1)
  })

  it('rejects an unknown WARMGATE_SPAWNER value with WG_ERR_CONFIG_INVALID', async () => {
    process.env.WARMGATE_SPAWNER = 'rust'
    const { logger } = memoryLogger()
    await expect(createSpawner(logger)).rejects.toMatchObject({ code: 'WG_ERR_CONFIG_INVALID' })
  })
})
