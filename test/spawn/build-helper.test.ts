import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { buildSpawnHelper, STALE_HELPER_MS } from '../../src/spawn/build-helper.ts'
import { compiledHelper, HelperSpawner } from '../../src/spawn/helper-spawner.ts'
import { ROOT, within } from '../helpers/gateway.ts'
import { HAVE_CC } from './support.ts'

// Building the compiled helper: once per source and compiler, atomically (a temporary name renamed
// into place), shared by concurrent builds. Each test uses a compiler wrapper of its own, so its
// cache key is new and the build really runs (the cache is keyed by the compiler's path too).

const scratch = mkdtempSync(join(tmpdir(), 'wg-build-helper-'))
const built: string[] = []
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true })
  for (const binary of built) rmSync(binary, { force: true }) // keep the shared cache free of test builds
})
const savedCc = process.env.WARMGATE_CC
afterEach(() => {
  if (savedCc === undefined) delete process.env.WARMGATE_CC
  else process.env.WARMGATE_CC = savedCc
})
if (!HAVE_CC) console.warn('[spawn tests] skipping the build cases: no C compiler (cc or gcc) on PATH')

/** A cc wrapper that logs each run, and after compiling notes whether the final name already exists. */
function wrapper (name: string): { path: string, log: () => string[] } {
  const path = join(scratch, name)
  const log = `${path}.log`
  writeFileSync(path, `#!/bin/sh
echo run >> ${log}
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
cc "$@" || exit $?
sleep 0.3
if [ -e "\${out%.*.*.tmp}" ]; then echo final-before-rename >> ${log}; else echo final-absent >> ${log}; fi
`)
  chmodSync(path, 0o755)
  return { path, log: () => existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [] }
}

function leftovers (binary: string): string[] {
  return readdirSync(dirname(binary)).filter(name => name.startsWith(basename(binary)) && name.endsWith('.tmp'))
}

async function starts (binary: string): Promise<void> {
  const helper = new HelperSpawner(compiledHelper(binary))
  try {
    await within(10_000, 'the built helper to be ready', helper.ready)
  } finally {
    await within(10_000, 'helper.close()', helper.close())
  }
}

describe.skipIf(!HAVE_CC)('buildSpawnHelper', () => {
  it('compiles once for concurrent callers, under a temporary name renamed into place, then serves the cache', async () => {
    const cc = wrapper('cc-once')
    process.env.WARMGATE_CC = cc.path
    const [a, b] = await within(60_000, 'two concurrent builds', Promise.all([buildSpawnHelper(), buildSpawnHelper()]))
    built.push(a)
    expect(b).toBe(a)
    expect(cc.log()).toEqual(['run', 'final-absent'])
    expect(leftovers(a)).toEqual([])
    await starts(a)
    expect(await buildSpawnHelper()).toBe(a)
    expect(cc.log()).toEqual(['run', 'final-absent'])
  })

  it('gives two processes building at once the same whole binary, and leaves no temporary file', async () => {
    const cc = wrapper('cc-two-processes')
    const script = `import { buildSpawnHelper } from ${JSON.stringify(join(ROOT, 'src/spawn/build-helper.ts'))}\nconsole.log(await buildSpawnHelper())`
    const run = (): Promise<string> => new Promise((resolve, reject) => {
      const child = spawn(join(ROOT, 'node_modules/.bin/node'), ['--input-type=module', '-e', script], { env: { ...process.env, WARMGATE_CC: cc.path }, stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
      child.once('exit', code => { if (code === 0) resolve(out.trim()); else reject(new Error(`builder exited ${code}`)) })
    })
    const [a, b] = await within(60_000, 'two builder processes', Promise.all([run(), run()]))
    built.push(a)
    expect(b).toBe(a)
    expect(leftovers(a)).toEqual([])
    await starts(a)
  })

  it('removes binaries of other sources untouched for a week when it builds, and keeps recent ones', async () => {
    const cc = wrapper('cc-prune')
    process.env.WARMGATE_CC = cc.path
    // Made-up binaries of the cache's name shape (and one of another shape), in the cache directory in use.
    const probe = await buildSpawnHelper() // the cache directory in use (this binary is the current one)
    const dir = dirname(probe)
    const stale = join(dir, `spawn-helper-${'0'.repeat(15)}1`)
    const recent = join(dir, `spawn-helper-${'0'.repeat(15)}2`)
    const other = join(dir, 'spawn-helper-notes.txt')
    for (const path of [stale, recent, other]) writeFileSync(path, 'x')
    built.push(stale, recent, other)
    const old = (Date.now() - STALE_HELPER_MS - 60_000) / 1000
    utimesSync(stale, old, old)
    utimesSync(other, old, old)
    // The binary is gone, so this builds again, and a build prunes.
    rmSync(probe, { force: true })
    built.push(await within(60_000, 'the build', buildSpawnHelper()))
    expect(existsSync(stale)).toBe(false)
    expect(existsSync(recent)).toBe(true)
    expect(existsSync(other)).toBe(true)
  })

  it('rejects with WG_ERR_SPAWN and the compiler\'s message when the build fails, leaving nothing behind', async () => {
    const cc = join(scratch, 'cc-broken')
    const log = `${cc}.log`
    // It leaves a half-written output behind, as a compiler killed mid-write would.
    writeFileSync(cc, `#!/bin/sh\nfor a in "$@"; do [ "$prev" = "-o" ] && echo "$a" > ${log} && echo partial > "$a"; prev="$a"; done\necho "spawn-helper.c:1: error: simulated" >&2\nexit 1\n`)
    chmodSync(cc, 0o755)
    process.env.WARMGATE_CC = cc
    const error = await within(60_000, 'the failing build', buildSpawnHelper().then(() => undefined, (e: unknown) => e)) as { code?: string, message: string }
    expect(error).toMatchObject({ code: 'WG_ERR_SPAWN' })
    expect(error.message).toContain('simulated')
    const temporary = readFileSync(log, 'utf8').trim()
    expect(temporary).toMatch(/\.tmp$/)
    expect(existsSync(temporary)).toBe(false)
    expect(existsSync(temporary.replace(/\.[0-9]+\.[0-9a-f]+\.tmp$/, ''))).toBe(false)
  })
})
