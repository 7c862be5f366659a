import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { buildSpawnHelper, FLAGS, SOURCES } from '../../src/spawn/build-helper.ts'
import { findOnPath } from '../../src/spawn/find-on-path.ts'
import { compiledHelper, type HelperCommand, pythonHelper } from '../../src/spawn/helper-spawner.ts'
import { within } from '../helpers/gateway.ts'

// Shared by the spawn suites: which helpers this machine can run, and small readers for a child.

export const HAVE_CC = findOnPath('cc') !== undefined || findOnPath('gcc') !== undefined
const PYTHON = findOnPath('python3')
export const HAVE_PYTHON = PYTHON !== undefined && spawnSync(PYTHON, ['-c', 'pass'], { timeout: 5000 }).status === 0

/** The helpers to run a suite against, each with the reason it is skipped here (printed, never silent). */
export const HELPERS: Array<{ kind: 'c' | 'python', skip: string | undefined }> = [
  { kind: 'c', skip: HAVE_CC ? undefined : 'no C compiler (cc or gcc) on PATH' },
  { kind: 'python', skip: HAVE_PYTHON ? undefined : 'python3 is not installed' },
]
for (const { kind, skip } of HELPERS) if (skip !== undefined) console.warn(`[spawn tests] skipping the ${kind} helper cases: ${skip}`)

/**
 * The helper builds the protocol suite runs against: the two above, and spawn-helper.c built with
 * -DWG_NO_CLONE, its posix_spawn path for machines other than Linux on x86_64/aarch64 (never built here
 * otherwise, so tested this way).
 */
export type HelperKind = 'c' | 'c-posix-spawn' | 'python'
export const HELPER_BUILDS: Array<{ kind: HelperKind, skip: string | undefined }> = [
  ...HELPERS,
  { kind: 'c-posix-spawn', skip: HELPERS[0].skip },
]

let posixSpawnBuild: string | undefined

/** How to start the helper of `kind` (the compiled one is built, or found in its cache, first). */
export async function helperCommand (kind: HelperKind): Promise<HelperCommand> {
  if (kind === 'python') return pythonHelper(PYTHON as string)
  if (kind === 'c-posix-spawn') {
    if (posixSpawnBuild === undefined) {
      const dir = mkdtempSync(join(tmpdir(), 'wg-helper-posix-spawn-'))
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
      const binary = join(dir, 'spawn-helper')
      execFileSync('cc', [...FLAGS, '-Werror', '-DWG_NO_CLONE', '-o', binary, ...SOURCES], { stdio: ['ignore', 'pipe', 'pipe'] })
      posixSpawnBuild = binary
    }
    return compiledHelper(posixSpawnBuild)
  }
  return compiledHelper(await within(60_000, 'building the compiled spawn helper', buildSpawnHelper()))
}

/** Everything a stream yields until its end, bounded. */
export async function readAll (stream: Readable, ms: number, label: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  await within(ms, label, (async () => { for await (const chunk of stream) chunks.push(chunk as Buffer) })())
  return Buffer.concat(chunks)
}

/** The environment the scripts run with: just enough for sh. */
export const ENV = { PATH: '/usr/bin:/bin' }
