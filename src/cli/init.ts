// `warmgate init`: a starter project in the current directory. Writes only files that do not exist.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { fail } from './help.ts'

const CONFIG = `import { defineConfig } from 'warmgate'

// Served by \`npx warmgate start\` and \`npx warmgate dev\`. Paths are relative to this file.
export default defineConfig({
  server: { host: '127.0.0.1', port: 8080 },
  apps: {
    // mode: 'warm' (the default: preloaded worker threads), 'inline' (the main thread) or 'cold' (a process per request).
    hello: { route: '/hello', entry: './apps/hello.ts' },
  },
})
`

const HELLO = `import type { FetchHandler } from 'warmgate'

// A fetch handler: a web Request in, a Response out. The same module runs in every mode.
const hello: FetchHandler = (request, env, ctx) => {
  const name = new URL(request.url).searchParams.get('name') ?? 'world'
  return new Response(\`Hello, \${name}! (\${ctx.mode} mode, request \${ctx.requestId})\\n\`, {
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  })
}

export default hello
`

// What Node's type stripping runs as it is: erasable syntax only, ES modules, .ts import paths.
const TSCONFIG = `${JSON.stringify({
  compilerOptions: {
    target: 'es2023',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    erasableSyntaxOnly: true,
    skipLibCheck: true,
  },
  include: ['gateway.config.ts', 'apps'],
}, null, 2)}\n`

export const STARTER_FILES: Record<string, string> = {
  'gateway.config.ts': CONFIG,
  'apps/hello.ts': HELLO,
  'tsconfig.json': TSCONFIG,
}

export async function run (argv: string[]): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { dir: { type: 'string' } }, strict: true, allowPositionals: false })
  } catch (error) {
    fail(`${(error as Error).message} (see warmgate init --help)`)
  }
  const dir = parsed.values.dir ?? process.cwd()
  const written: string[] = []
  const kept: string[] = []
  for (const [name, text] of Object.entries(STARTER_FILES)) {
    const path = join(dir, name)
    if (existsSync(path)) {
      kept.push(name)
      continue
    }
    mkdirSync(dirname(path), { recursive: true })
    // 'wx': never replace a file that appeared meanwhile.
    writeFileSync(path, text, { flag: 'wx' })
    written.push(name)
  }
  const moduleNote = ensureModuleType(dir)
  for (const name of kept) process.stdout.write(`  kept      ${name} (it exists; not overwritten)\n`)
  for (const name of written) process.stdout.write(`  wrote     ${name}\n`)
  if (moduleNote !== undefined) process.stdout.write(`  ${moduleNote}\n`)
  if (written.length === 0) fail('nothing written: every starter file exists already')
  process.stdout.write(`
Next: npx warmgate start     (or npx warmgate dev: reloads on save)
then: curl http://127.0.0.1:8080/hello
Type-checking the handlers (optional): npm i -D typescript @types/node && npx tsc
`)
}

/**
 * The starter files are ES modules. A package.json without "type" makes Node guess (and warn) on each
 * load, so it gets "module"; one that says "commonjs" (as `npm init -y` writes) is the user's to change.
 */
function ensureModuleType (dir: string): string | undefined {
  const path = join(dir, 'package.json')
  if (!existsSync(path)) {
    writeFileSync(path, `${JSON.stringify({ private: true, type: 'module' }, null, 2)}\n`, { flag: 'wx' })
    return 'wrote     package.json ("type": "module")'
  }
  let pkg: Record<string, unknown>
  try {
    pkg = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  } catch (error) {
    return `note: package.json could not be read (${(error as Error).message}); it needs "type": "module" for these files`
  }
  if (pkg.type === 'module') return undefined
  if (pkg.type === undefined) {
    writeFileSync(path, `${JSON.stringify({ ...pkg, type: 'module' }, null, 2)}\n`)
    return 'set       "type": "module" in package.json (the starter files are ES modules)'
  }
  return `note: package.json says "type": ${JSON.stringify(pkg.type)}; the starter files are ES modules: run \`npm pkg set type=module\`, or rename them to .mts`
}
