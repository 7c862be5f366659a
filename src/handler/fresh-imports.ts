// process.getBuiltinModule, not `import … from 'node:…'`: an ESM import of a builtin builds a facade that
// reads every export, and fs's and util's lazy ones load streams, readline, workers… (~8 ms of each cold request).
const { registerHooks } = process.getBuiltinModule('node:module')


/** The query a reload adds to a handler's URL (handler/load.ts): ESM caches a module by its URL. */
export const RELOAD_PARAM = 'warmgate-reload'

let registered = false

/**
 * Makes a module imported under `?warmgate-reload=N` import its relative imports (`./`, `../`) under the
 * same N, so that reloading an inline handler reads the app's own files again, not only its entry. Bare
 * specifiers (packages, `warmgate` itself) keep their one cached instance: a second copy of a package
 * would split its state and its classes. Registered on the main thread at the first reload only
 * (`module.registerHooks`, Node ≥ 22.15, runs in-thread and synchronously); other imports pass through.
 */
export function propagateReloadVersion (): void {
  if (registered) return
  registered = true
  registerHooks({
    resolve (specifier, context, nextResolve) {
      const result = nextResolve(specifier, context)
      const parent = context.parentURL
      if (parent === undefined || !parent.includes(RELOAD_PARAM) || !(specifier.startsWith('./') || specifier.startsWith('../'))) return result
      const version = new URL(parent).searchParams.get(RELOAD_PARAM)
      if (version === null || !result.url.startsWith('file:')) return result
      const url = new URL(result.url)
      url.searchParams.set(RELOAD_PARAM, version)
      return { ...result, url: url.href }
    },
  })
}
