import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs'
import { readdir, rename, stat, unlink } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { dirname, isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GatewayError } from '../errors.ts'
import { findOnPath } from './find-on-path.ts'

/** The helper's sources and compiler flags (exported for the tests' own builds of it). */
export const SOURCES = ['spawn-helper.c', 'spawn-helper-json.c'].map(name => fileURLToPath(new URL(name, import.meta.url)))
/** Hashed with the sources (an edited header must rebuild too), never compiled on its own. */
const HEADERS = ['spawn-helper-json.h'].map(name => fileURLToPath(new URL(name, import.meta.url)))
export const FLAGS = ['-O2', '-Wall', '-Wextra', '-std=c11']
/** Two loaded cores, a cold compiler: a build takes ~0.3 s, but must never hang a gateway's start. */
const BUILD_TIMEOUT_MS = 60_000

/** Builds of this process in flight, by binary path: concurrent gateways share one compiler run. */
const building = new Map<string, Promise<string>>()

/**
 * The compiled spawn helper (spawn-helper.c), built on first use and cached by a hash of its sources,
 * flags and compiler, so a changed source or compiler builds a new binary and nothing is rebuilt
 * otherwise. The build writes to a temporary name and renames it into place: a concurrent gateway (or
 * test file) sees either no binary or a whole one. `WARMGATE_CC` names the compiler (tests point it at
 * one that fails); else `cc`, else `gcc`, from PATH.
 * Rejects with `WG_ERR_SPAWN` saying why (no compiler, a failed build); the caller falls back.
 *
 * @example
 *   const binary = await buildSpawnHelper() // e.g. ~/.cache/warmgate/spawn-helper-3f2a…
 */
export async function buildSpawnHelper (): Promise<string> {
  const compiler = process.env.WARMGATE_CC ?? findOnPath('cc') ?? findOnPath('gcc')
  if (compiler === undefined) throw new GatewayError('WG_ERR_SPAWN', 'no C compiler (cc or gcc) on PATH')
  const hash = createHash('sha256').update(`${compiler}\0${FLAGS.join(' ')}\0`)
  for (const file of [...SOURCES, ...HEADERS]) hash.update(readFileSync(file)).update('\0')
  const binary = join(cacheDir(), `spawn-helper-${hash.digest('hex').slice(0, 16)}`)
  if (existsSync(binary)) return binary
  let build = building.get(binary)
  if (build === undefined) {
    build = compile(compiler, binary).finally(() => building.delete(binary))
    building.set(binary, build)
  }
  return build
}

async function compile (compiler: string, binary: string): Promise<string> {
  const temporary = `${binary}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(compiler, [...FLAGS, '-o', temporary, ...SOURCES], { timeout: BUILD_TIMEOUT_MS }, (error, _stdout, stderr) => {
        if (error === null) resolve()
        else reject(new GatewayError('WG_ERR_SPAWN', `${compiler} failed to build the spawn helper: ${firstLines(stderr) || error.message}`, { cause: error }))
      })
    })
    // rename(2) is atomic within a directory: readers see the old state or the whole binary.
    await rename(temporary, binary)
    await pruneStale(binary)
    return binary
  } catch (error) {
    await unlink(temporary).catch(() => {})
    throw error
  }
}

/** A binary of other sources left in the cache this long is removed when a new one is built. */
export const STALE_HELPER_MS = 7 * 24 * 3600 * 1000
const HELPER_NAME = /^spawn-helper-[0-9a-f]{16}$/

/**
 * Every change to the helper's sources (an upgrade of warmgate) leaves a binary of the old ones behind.
 * Those untouched for a week go when a new one is built; one still wanted is built again on first use.
 */
async function pruneStale (keep: string): Promise<void> {
  const dir = dirname(keep)
  const names = await readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    const path = join(dir, name)
    if (!HELPER_NAME.test(name) || path === keep) continue
    const info = await stat(path).catch(() => undefined)
    if (info !== undefined && Date.now() - info.mtimeMs > STALE_HELPER_MS) await unlink(path).catch(() => {})
  }
}

/**
 * This user's cache (XDG Base Directory: `$XDG_CACHE_HOME/warmgate`, else `~/.cache/warmgate`) when it
 * can be written; else (a read-only home, a service user without one) a directory of this user's own in
 * tmpdir. Never inside the installed package: node_modules may be read-only, and is shared.
 */
export function cacheDir (): string {
  const xdg = process.env.XDG_CACHE_HOME
  // The spec: a relative XDG_CACHE_HOME is invalid and is ignored.
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache')
  const preferred = join(base, 'warmgate')
  try {
    mkdirSync(preferred, { recursive: true, mode: 0o700 })
    accessSync(preferred, constants.W_OK)
    return preferred
  } catch {}
  const uid = process.getuid?.() ?? 0
  const dir = join(tmpdir(), `warmgate-cache-${uid}`)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  // We execute what is in it: in a shared /tmp it must be ours and writable by nobody else.
  const stat = lstatSync(dir)
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0) {
    throw new GatewayError('WG_ERR_SPAWN', `${dir} is not a private directory of this user: not building the spawn helper there`)
  }
  return dir
}

function firstLines (text: string): string {
  return text.trim().split('\n').slice(0, 3).join(' | ').slice(0, 400)
}
