// Small readers for the repository's Markdown (README.md, docs/*.md): tables, headings and links, enough
// for the tests that keep the docs in step with the code. Not a Markdown parser: the docs keep to
// GitHub's plain forms (pipe tables, ATX headings, inline links).
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ROOT } from '../helpers/gateway.ts'

export { ROOT }

/** The Markdown files the project owns as documentation, relative to the repository root. */
export function docFiles (): string[] {
  const pages = readdirSync(join(ROOT, 'docs')).filter(name => name.endsWith('.md')).sort().map(name => `docs/${name}`)
  return ['README.md', 'CHANGELOG.md', 'CONTRIBUTING.md', ...pages]
}

export function readDoc (file: string): string {
  return readFileSync(join(ROOT, file), 'utf8')
}

/** The text with fenced code blocks blanked out (line count kept), so that their content is not read as Markdown. */
export function withoutCodeBlocks (text: string): string {
  let fenced = false
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced
      return ''
    }
    return fenced ? '' : line
  }).join('\n')
}

/** One cell per `|`-separated column; `\|` inside a cell is text, not a separator. */
export function cells (line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/).map(cell => cell.trim().replace(/\\\|/g, '|'))
}

export interface Table {
  /** The heading the table is under (without the #s), '' before any heading. */
  section: string
  header: string[]
  rows: string[][]
}

/** Every pipe table of a Markdown text, with the heading it sits under. */
export function tables (text: string): Table[] {
  const found: Table[] = []
  let section = ''
  const lines = withoutCodeBlocks(text).split('\n')
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6}\s+(.*)$/.exec(lines[i])
    if (heading !== null) section = heading[1].trim()
    if (!lines[i].trim().startsWith('|') || !/^\s*\|?\s*:?-{3,}/.test(lines[i + 1] ?? '')) continue
    const table: Table = { section, header: cells(lines[i]), rows: [] }
    i += 2
    while (i < lines.length && lines[i].trim().startsWith('|')) table.rows.push(cells(lines[i++]))
    i--
    found.push(table)
  }
  return found
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function slug (heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** The anchors a page's headings make, with GitHub's `-1`, `-2` suffixes for repeated headings. */
export function anchors (text: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  for (const line of withoutCodeBlocks(text).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading === null) continue
    const base = slug(heading[1])
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    result.add(count === 0 ? base : `${base}-${count}`)
  }
  return result
}

export interface Link {
  file: string
  line: number
  target: string
}

/** Inline links and images (`[text](target)`) outside code blocks and code spans. */
export function links (file: string, text: string): Link[] {
  const found: Link[] = []
  withoutCodeBlocks(text).split('\n').forEach((line, index) => {
    const prose = line.replace(/`[^`]*`/g, '')
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ file, line: index + 1, target: match[1] })
    }
  })
  return found
}

/** `path` relative to the repository root, for messages. */
export function fromRoot (path: string): string {
  return relative(ROOT, path)
}
