// The benchmarks measure the gateway as users run it: the built package (dist/, `npm run build`), not the
// TypeScript sources a clone runs from. From the sources, Node's type stripper is loaded into the gateway
// process too (~20 MB of RSS, and start-up time), which no installed gateway pays.
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url))

/** dist/cli/main.js: the `warmgate` command of the built package. */
export const BUILT_CLI = `${DIST}cli/main.js`

/** Throws, saying what to run, when the package is not built. The bench:* scripts build it first. */
export function assertBuilt (): void {
  if (!existsSync(`${DIST}index.js`) || !existsSync(BUILT_CLI)) throw new Error('dist/ is missing: run `npm run build` first (the npm run bench:* scripts do)')
}

/** The built package's entry, typed as the sources it is built from. */
export async function builtGateway (): Promise<typeof import('../../src/index.ts')> {
  assertBuilt()
  return await import(pathToFileURL(`${DIST}index.js`).href) as typeof import('../../src/index.ts')
}

/** The built CLI's heap setting (src/cli/heap.ts), as `warmgate start` applies it. */
export async function builtHeap (): Promise<typeof import('../../src/cli/heap.ts')> {
  assertBuilt()
  return await import(pathToFileURL(`${DIST}cli/heap.js`).href) as typeof import('../../src/cli/heap.ts')
}
