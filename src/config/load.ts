import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { GatewayError } from '../errors.ts'
import { describeStripError } from '../handler/strip-errors.ts'
import { propagateReloadVersion, RELOAD_PARAM } from '../handler/fresh-imports.ts'
import type { GatewayConfig, Mode } from './define.ts'
import { resolveConfig, type ResolvedConfig } from './resolve.ts'
import { isPlainObject, validateConfig } from './schema.ts'

/** Files looked for in the working directory when no `--config` is given, in this order. */
export const CONFIG_FILES = ['gateway.config.ts', 'gateway.config.mts', 'gateway.config.mjs', 'gateway.config.js']

export function findConfigFile (cwd: string = process.cwd()): string | undefined {
  for (const name of CONFIG_FILES) {
    const file = resolve(cwd, name)
    if (existsSync(file)) return file
  }
  return undefined
}

let reloads = 0

/**
 * Imports a config file (TypeScript through Node's type stripping), validates it once and resolves it.
 * `fresh` (a reload) imports it under a new URL: ESM caches a module by URL, so the same URL would give
 * the first version again. Its relative imports are re-read too (handler/fresh-imports.ts).
 */
export async function loadConfigFile (file: string | undefined, options: { mode?: Mode, fresh?: boolean } = {}): Promise<ResolvedConfig> {
  const path = file === undefined ? findConfigFile() : resolve(file)
  if (path === undefined || !existsSync(path)) {
    const what = path ?? `${CONFIG_FILES[0]} in ${process.cwd()}`
    throw new GatewayError('WG_ERR_CONFIG_NOT_FOUND', `config file not found: ${what}`)
  }
  let mod: Record<string, unknown>
  try {
    const url = pathToFileURL(path)
    if (options.fresh === true) {
      propagateReloadVersion()
      url.searchParams.set(RELOAD_PARAM, String(++reloads))
    }
    mod = await import(url.href)
  } catch (cause) {
    throw new GatewayError('WG_ERR_CONFIG_LOAD', `config file ${path} failed to load: ${await describeLoadError(cause, path)}`, { cause })
  }
  const raw = mod.default
  if (!isPlainObject(raw)) {
    throw new GatewayError('WG_ERR_CONFIG_LOAD', `config file ${path} must \`export default\` a config object (use defineConfig from 'warmgate')`)
  }
  return checkAndResolve(raw, { baseDir: dirname(path), configFile: path, mode: options.mode })
}

/** The error's name and message, where in the file it happened (line, column, the line and a caret), and a fix when we know one. */
async function describeLoadError (cause: unknown, path: string): Promise<string> {
  const message = cause instanceof Error ? cause.message : String(cause)
  const name = cause instanceof Error && cause.name !== 'Error' ? `${cause.name}: ` : ''
  const { formatLocation, locateLoadError } = await import('./load-error.ts')
  const location = await locateLoadError(cause, path)
  let text = `${name}${message}${location === undefined ? '' : formatLocation(location)}`
  // Syntax Node's type stripping refuses (enum, namespace…): say what to write instead.
  if ((cause as { code?: unknown })?.code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') {
    const fix = /\n {2}fix: (.*)$/.exec(describeStripError(cause) ?? '')?.[1]
    if (fix !== undefined) text += `\n  fix: ${fix}`
  }
  // `npm init -y` writes "type": "commonjs": Node then reads the config's `import` (or, in a config with
  // no import, its `export default`) as CommonJS.
  if (message.includes('Cannot use import statement outside a module') || (message.includes("Unexpected token 'export'") && !/\.m[jt]s$/.test(path))) {
    text += ' (the nearest package.json does not say "type": "module": add it with `npm pkg set type=module`, or name the file gateway.config.mts)'
  }
  return text
}

/** Validates a config object (from a file or from an embedder) and resolves it, or throws every error at once. */
export function checkAndResolve (raw: unknown, options: { baseDir: string, configFile?: string, mode?: Mode }): ResolvedConfig {
  const errors = validateConfig(raw)
  if (errors.length > 0) {
    const where = options.configFile === undefined ? 'config' : options.configFile
    const error = new GatewayError('WG_ERR_CONFIG_INVALID', `invalid ${where}:\n  ${errors.join('\n  ')}`)
    ;(error as GatewayError & { errors: string[] }).errors = errors
    throw error
  }
  return resolveConfig(raw as GatewayConfig, options)
}
