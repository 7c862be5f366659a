// `npm run build` (and `prepack`): src/ to dist/, what the registry package holds.
// 1. tsc compiles the TypeScript (JavaScript, declarations, source maps; `.ts` import paths become `.js`).
// 2. esbuild bundles the cold runner into one CommonJS file (src/runtime/cold/build-runner.ts says why).
// 3. The files that are not TypeScript and that the built modules find beside themselves are copied as they
//    are: the warm worker's CommonJS shim, the spawn helper's C and Python sources (compiled or run on the
//    user's machine), and wrk's report script.
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildRunner, writeAtomically } from '../src/runtime/cold/build-runner.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const DIST = join(ROOT, 'dist')

/** Paths under src/ that dist/ needs as they are. */
export const ASSETS = [
  'runtime/warm/warm.worker.cjs',
  'spawn/spawn-helper.c',
  'spawn/spawn-helper-json.c',
  'spawn/spawn-helper-json.h',
  'spawn/spawn-helper.py',
  'bench/report.lua',
]

rmSync(DIST, { recursive: true, force: true })
execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' })
writeAtomically(join(DIST, 'runtime', 'cold', 'cold.runner.cjs'), await buildRunner())
for (const asset of ASSETS) {
  mkdirSync(dirname(join(DIST, asset)), { recursive: true })
  copyFileSync(join(ROOT, 'src', asset), join(DIST, asset))
}
chmodSync(join(DIST, 'cli', 'main.js'), 0o755)
console.log(`built ${DIST}`)
