import { fileURLToPath } from 'node:url'

/**
 * The path of module `name` beside the module whose `import.meta.url` is `base`: `name.ts` when warmgate
 * runs from its sources (a clone, Node's type stripping), `name.js` when it runs from the built package
 * (`dist/`, where Node does not strip types under node_modules).
 */
export function siblingModule (base: string, name: string): string {
  return fileURLToPath(new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base))
}

/** Whether the module at `base` runs from its TypeScript sources (a clone) rather than the built package. */
export function fromSources (base: string): boolean {
  return base.endsWith('.ts')
}
