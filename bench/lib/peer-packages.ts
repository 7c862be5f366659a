// The peers of bench/peers.ts that are not devDependencies (srvx, @hono/node-server, Platformatic Watt),
// installed on demand into a scratch directory of their own, at pinned versions, and reused by later runs
// while the versions match. They are kept out of package.json on purpose: Watt alone brings ~280 packages,
// and only this benchmark needs any of them.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { nodeBinary } from './gateway-process.ts'

/** Pinned: a figure must say what it measured. hono is @hono/node-server's peer, pinned to the repo's devDependency. */
export const PEER_PACKAGES: Readonly<Record<string, string>> = {
  srvx: '1.0.8',
  '@hono/node-server': '2.1.11',
  hono: '4.13.19',
  wattpm: '3.67.0',
  '@platformatic/node': '3.65.0',
}

/**
 * ESM entry files written beside the scratch package.json: a module in the repo cannot import a bare name
 * installed elsewhere, but it can import one of these by path, and they resolve the names from there.
 */
const ENTRIES: Readonly<Record<string, string>> = {
  'srvx-entry.mjs': "export { serve, FastResponse } from 'srvx'\n",
  'hono-entry.mjs': "export { serve } from '@hono/node-server'\nexport { Hono } from 'hono'\n",
}

export interface PeerPackages {
  dir: string
  /** `node_modules/wattpm`'s CLI script, run with the pinned node. */
  wattpm: string
  srvxEntry: string
  honoEntry: string
  /** True when this run installed them (false: reused from an earlier run). */
  installed: boolean
}

export const PEER_PACKAGES_DIR = join(tmpdir(), 'warmgate-bench-peers')

function manifest (): string {
  return JSON.stringify({ name: 'warmgate-bench-peers', private: true, type: 'module', dependencies: PEER_PACKAGES }, null, 2) + '\n'
}

/** Every pinned package is there at its pinned version. */
function installedOk (dir: string): boolean {
  return Object.entries(PEER_PACKAGES).every(([name, version]) => {
    try {
      return (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version === version
    } catch {
      return false
    }
  })
}

/**
 * The scratch dir with the pinned packages, installed when missing (npm of the pinned Node: an npm under an
 * older Node resolves an older wattpm). Throws with the reason when they cannot be had.
 */
export function ensurePeerPackages (out: (line: string) => void, dir = PEER_PACKAGES_DIR): PeerPackages {
  mkdirSync(dir, { recursive: true })
  const wanted = manifest()
  let current = ''
  try {
    current = readFileSync(join(dir, 'package.json'), 'utf8')
  } catch {}
  let installed = false
  if (current !== wanted || !installedOk(dir)) {
    out(`  install  ${Object.entries(PEER_PACKAGES).map(([n, v]) => `${n}@${v}`).join(' ')} into ${dir} (npm install, once)`)
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true })
    rmSync(join(dir, 'package-lock.json'), { force: true })
    writeFileSync(join(dir, 'package.json'), wanted)
    // The pinned node first on PATH: npm's own #!/usr/bin/env node then runs under it too.
    const env = { ...process.env, PATH: `${dirname(nodeBinary())}:${process.env.PATH ?? ''}` }
    // No lifecycle scripts: none of these packages needs one to run, and a bench should not run strangers' code at install.
    const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir, env, encoding: 'utf8', timeout: 300_000 })
    if (result.error !== undefined || result.status !== 0 || !installedOk(dir)) {
      const why = result.error?.message ?? `npm install exited with ${result.status ?? result.signal}: ${(result.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`
      throw new Error(`could not install ${Object.keys(PEER_PACKAGES).join(', ')} into ${dir}: ${why}`)
    }
    installed = true
  }
  for (const [file, text] of Object.entries(ENTRIES)) writeFileSync(join(dir, file), text)
  const wattpmPkg = JSON.parse(readFileSync(join(dir, 'node_modules/wattpm/package.json'), 'utf8')) as { bin: string | Record<string, string> }
  const bin = typeof wattpmPkg.bin === 'string' ? wattpmPkg.bin : wattpmPkg.bin.wattpm ?? Object.values(wattpmPkg.bin)[0]
  const wattpm = join(dir, 'node_modules/wattpm', bin)
  if (!existsSync(wattpm)) throw new Error(`wattpm's CLI is not at ${wattpm}`)
  return { dir, wattpm, srvxEntry: join(dir, 'srvx-entry.mjs'), honoEntry: join(dir, 'hono-entry.mjs'), installed }
}
