// Builds cold.runner.cjs, the cold runner as one CommonJS file: `npm run build:runner` after changing
// cold.runner.ts or anything it imports (test/runtime/cold-bundle.test.ts fails while the file is stale).
//
// Why one file (issue 3: cold latency within 1.15x of `node -e 0`): every request starts a process, and
// Node's start-up is the floor. Measured here (Node 24, 40 runs each, ms): `node -e 0` 21-22; the runner
// as 13 .ts modules 30-37 (each module costs ~0.5 ms to resolve, read, strip and compile); as one ES module
// 24-25; as one CommonJS file that require()s the handler 23-24 (the asynchronous ESM loader is not started
// for the runner). Only esbuild (a devDependency) is needed to build it; running it needs nothing.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const RUNNER_SOURCE = fileURLToPath(new URL('./cold.runner.ts', import.meta.url))
export const RUNNER_BUNDLE = fileURLToPath(new URL('./cold.runner.cjs', import.meta.url))

const BANNER = '// Generated from src/runtime/cold.runner.ts by `npm run build:runner` (src/runtime/build-runner.ts). Do not edit.'

/** The bundle's text, as build() makes it from the sources now. */
export async function buildRunner (): Promise<string> {
  const { build } = await import('esbuild')
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
  })
  return result.outputFiles[0].text
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await buildRunner()
  const before = (() => { try { return readFileSync(RUNNER_BUNDLE, 'utf8') } catch { return '' } })()
  writeFileSync(RUNNER_BUNDLE, text)
  console.log(`${RUNNER_BUNDLE}: ${text.length} bytes${before === text ? ' (unchanged)' : ''}`)
}
