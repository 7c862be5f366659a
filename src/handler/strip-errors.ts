// Node runs TypeScript by stripping types, not by compiling it: syntax that has a runtime meaning (enum,
// namespace, parameter properties, `import =`) is refused. Its error names neither the line in its message
// nor the fix; this says both.

const FIXES: Array<[RegExp, string]> = [
  [/\benum\b/, 'use a const object instead, e.g. `const Color = { Red: 0, Green: 1 } as const`'],
  [/parameter propert/, 'declare the field in the class body and assign it in the constructor'],
  [/namespace/, 'use a module (a file of its own) instead of a namespace'],
  [/import.*=|export =/, 'use `import x from` / `export default` instead of `import x = require()` / `export =`'],
]

/**
 * A type-stripping error (`ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX`, `ERR_INVALID_TYPESCRIPT_SYNTAX`) as a
 * message with its file and line (from the first line of Node's stack, where Node puts them) and the fix;
 * undefined for any other error.
 */
export function describeStripError (error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  if (code !== 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' && code !== 'ERR_INVALID_TYPESCRIPT_SYNTAX') return undefined
  const { message, stack = '' } = error as Error
  const [where = '', source = '', marker = ''] = stack.split('\n')
  const location = /^\S+:\d+/.test(where) ? ` at ${where.trim()}` : ''
  const excerpt = source !== '' && /^\s*\^+\s*$/.test(marker) ? `\n    ${source}\n    ${marker}` : ''
  const fix = FIXES.find(([pattern]) => pattern.test(message))?.[1] ?? 'Node strips types only: keep to erasable syntax (tsconfig "erasableSyntaxOnly": true shows the rest in your editor)'
  return `${message}${location}${excerpt}\n  fix: ${fix}`
}
