// Where a config file failed to load, for the message `warmgate start` prints: `file:line:column`, the
// line and a caret. Only ever runs on the error path.
import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface SourceLocation {
  file: string
  line: number
  /** 1-based; 0 when only the line is known. */
  column: number
}

/**
 * Where in `file` an import of it failed, from what Node says:
 * - a stack whose first line is `file:line`, then the line and a caret: type stripping's errors, and V8's
 *   syntax errors in TypeScript and CommonJS files;
 * - a stack frame in `file` (`file:///…:line:column`): a throw while its top level ran;
 * - neither, for a syntax error in an ES module (Node keeps its `file:line` out of the error object): V8's
 *   own syntax check of the source, in a child `node --check`, says where.
 */
export async function locateLoadError (error: unknown, file: string): Promise<SourceLocation | undefined> {
  const stack = typeof (error as { stack?: unknown } | null)?.stack === 'string' ? (error as Error).stack as string : ''
  const located = fromExcerpt(stack, file) ?? fromFrames(stack, file)
  if (located !== undefined || (error as { name?: unknown } | null)?.name !== 'SyntaxError') return located
  return fromSyntaxCheck(file)
}

/** `  at file:3:22`, then the line and a caret under the column (nothing when the file cannot be read). */
export function formatLocation ({ file, line, column }: SourceLocation): string {
  let text = `\n  at ${file}:${line}${column > 0 ? `:${column}` : ''}`
  let source: string | undefined
  try {
    source = readFileSync(file, 'utf8').split(/\r?\n/)[line - 1]
  } catch {}
  if (source === undefined || source.length > 240) return text
  const gutter = `${line} | `
  text += `\n    ${gutter}${source}`
  // The caret keeps the line's tabs, so it lands under the column in any tab width.
  if (column > 0) text += `\n    ${' '.repeat(gutter.length - 2)}| ${source.slice(0, column - 1).replace(/[^\t]/g, ' ')}^`
  return text
}

/** Node's decorated stack: `where:line`, context lines, a caret line under the failing one. */
function fromExcerpt (stack: string, file: string, where = file): SourceLocation | undefined {
  const lines = stack.split('\n')
  const match = /^(.+):(\d+)$/.exec(lines[0] ?? '')
  // A path, or a file: URL (with a reload's query) when the nearest package.json says "type": "module".
  if (match === null || (match[1] !== where && pathOf(match[1]) !== where)) return undefined
  const line = Number(match[2])
  // The excerpt ends at the first blank line; its caret line comes right after the line it points into.
  for (let i = 2; i < lines.length && lines[i] !== ''; i++) {
    if (/^\s*\^+\s*$/.test(lines[i])) return { file, line, column: lines[i].indexOf('^') + 1 }
  }
  return { file, line, column: 0 }
}

function fromFrames (stack: string, file: string): SourceLocation | undefined {
  for (const match of stack.matchAll(/(file:\/\/[^\s)?]+)(?:\?[^\s):]*)?:(\d+):(\d+)/g)) {
    if (pathOf(match[1]) === file) return { file, line: Number(match[2]), column: Number(match[3]) }
  }
  return undefined
}

function pathOf (url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined
  try {
    return fileURLToPath(url.replace(/\?.*$/, ''))
  } catch {
    return undefined
  }
}

const TYPESCRIPT = new Set(['.ts', '.mts'])

async function fromSyntaxCheck (file: string): Promise<SourceLocation | undefined> {
  const { execFile } = await import('node:child_process')
  const inputType = TYPESCRIPT.has(extname(file)) ? 'module-typescript' : 'module'
  let source: Buffer
  try {
    source = readFileSync(file)
  } catch {
    return undefined
  }
  const stderr = await new Promise<string>((resolve) => {
    const child = execFile(process.execPath, [`--input-type=${inputType}`, '--disable-warning=ExperimentalWarning', '--check'], { timeout: 5000, env: {} }, (_error, _stdout, err) => resolve(String(err)))
    child.stdin?.on('error', () => {})
    child.stdin?.end(source)
  })
  return fromExcerpt(stderr, file, '[stdin]')
}
