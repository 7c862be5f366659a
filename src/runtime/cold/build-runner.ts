// Builds cold.runner.cjs, the cold runner as one CommonJS file. The built package ships it (`npm run
// build` writes dist/runtime/cold/cold.runner.cjs); a clone, which runs from its sources, builds it beside
// cold.runner.ts when a cold app first starts, and again whenever the sources changed (it is not committed).
//
// Why one file: every cold request starts a process, and Node's start-up is the floor. Measured here (Node 24,
// 40 runs each, ms): `node -e 0` 21-22; the runner as 13 .ts modules 30-37 (each module costs ~0.5 ms to
// resolve, read, strip and compile); as one ES module 24-25; as one CommonJS file that require()s the handler
// 23-24 (the asynchronous ESM loader is not started for the runner). Only esbuild (a devDependency) is needed
// to build it; running it needs nothing.
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { fromSources } from '../../module-file.ts'

export const RUNNER_SOURCE = fileURLToPath(new URL('./cold.runner.ts', import.meta.url))
/** Beside this module: src/runtime/ in a clone, dist/runtime/ in the package. */
export const RUNNER_BUNDLE = fileURLToPath(new URL('./cold.runner.cjs', import.meta.url))

const BANNER = '// Generated from src/runtime/cold/cold.runner.ts by src/runtime/cold/build-runner.ts. Do not edit.'

/** The bundle's text, as esbuild makes it from the sources now. */
export async function buildRunner (): Promise<string> {
  const { build, stop } = await import('esbuild')
  // esbuild's service process would otherwise stay a child of the gateway for its whole life.
  const result = await build({
    entryPoints: [RUNNER_SOURCE],
    bundle: true,
    write: false,
    format: 'cjs',
    platform: 'node',
    target: 'node22',
    banner: { js: BANNER },
    legalComments: 'none',
    logLevel: 'silent',
  }).finally(() => { void stop() })
  return result.outputFiles[0].text
}

/** Writes `text` to `file` whole: another process may be starting the runner at the same moment. */
export function writeAtomically (file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, text)
  renameSync(temporary, file)
}

let ready: Promise<string> | undefined

/**
 * The runner bundle's path. From the built package: the one it ships. From the sources: built now if it
 * is missing or differs from what the sources make (once per process, ~100 ms).
 */
export function coldRunner (): Promise<string> {
  ready ??= (async () => {
    if (!fromSources(import.meta.url)) return RUNNER_BUNDLE
    const text = await buildRunner()
    let before = ''
    try { before = readFileSync(RUNNER_BUNDLE, 'utf8') } catch {}
    if (before !== text) writeAtomically(RUNNER_BUNDLE, text)
    return RUNNER_BUNDLE
  })()
  return ready
}
