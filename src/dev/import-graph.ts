import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

// A scanner, not a parser: it finds string literals after `from`, after a bare `import` (side-effect
// imports) and inside `import('…')`, when they start with './' or '../'. Limits, on purpose:
// - a match inside a comment or a string still counts (one file too many is watched: harmless);
// - computed dynamic imports (`import(name)`), `require()` and `new URL('./x', import.meta.url)` are
//   not seen, nor are bare specifiers (packages) and `#imports`: those are not the app's own files.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*|\bimport\s*\(\s*)(['"])(\.{1,2}\/[^'"\n]+)\1/g
/** Tried in order when a specifier names no file as written (extensionless TS imports). */
const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs', '/index.ts', '/index.js']

/** The local files `file` imports directly, as absolute paths of files that exist. */
export function scanImports (file: string, source: string): string[] {
  const found: string[] = []
  for (const match of source.matchAll(SPECIFIER)) {
    const path = resolveLocal(dirname(file), match[2])
    if (path !== undefined) found.push(path)
  }
  return found
}

/**
 * `entry` and every local file it imports, transitively (node_modules never: a bare specifier is not
 * followed). A file that cannot be read (deleted mid-save) is kept, so its directory stays watched.
 */
export function collectGraph (entry: string): Set<string> {
  const seen = new Set<string>()
  const todo = [resolve(entry)]
  while (todo.length > 0) {
    const file = todo.pop() as string
    if (seen.has(file)) continue
    seen.add(file)
    let source: string
    try {
      source = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const next of scanImports(file, source)) if (!seen.has(next) && !next.includes('/node_modules/')) todo.push(next)
  }
  return seen
}

function resolveLocal (dir: string, specifier: string): string | undefined {
  const base = resolve(dir, specifier.split(/[?#]/)[0])
  if (isFile(base)) return base
  for (const ext of EXTENSIONS) if (isFile(base + ext)) return base + ext
  return undefined
}

function isFile (path: string): boolean {
  return existsSync(path) && statSync(path).isFile()
}
