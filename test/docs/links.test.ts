import { existsSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { anchors, docFiles, links, readDoc, ROOT } from './markdown.ts'

// The docs hang together and stay inside the repository: every relative link between README.md,
// CHANGELOG.md, CONTRIBUTING.md and docs/*.md (and to the files they point at) resolves to a file or
// directory of the repository, and every #anchor to a heading of its page. The docs are a reference,
// not a notebook: no paths outside the repository, no issue numbers.

const FILES = docFiles()
const ALL_LINKS = FILES.flatMap(file => links(file, readDoc(file)))

describe('links in the docs', () => {
  it('finds the pages and their links', () => {
    expect(FILES).toEqual(expect.arrayContaining(['README.md', 'docs/configuration.md', 'docs/errors.md']))
    expect(ALL_LINKS.length).toBeGreaterThan(50)
  })

  it('resolve to a file or directory inside the repository', () => {
    const broken: string[] = []
    for (const link of ALL_LINKS) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) continue // https:, mailto:
      const [path] = link.target.split('#')
      if (path === '') continue
      const target = resolve(ROOT, dirname(link.file), decodeURI(path))
      const inside = relative(ROOT, target)
      if (isAbsolute(path) || inside.startsWith('..') || isAbsolute(inside)) broken.push(`${link.file}:${link.line}: ${link.target} leaves the repository`)
      else if (!existsSync(target)) broken.push(`${link.file}:${link.line}: ${link.target} does not exist`)
    }
    expect(broken).toEqual([])
  })

  it('point at headings that exist', () => {
    const broken: string[] = []
    for (const link of ALL_LINKS) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link.target) || !link.target.includes('#')) continue
      const [path, anchor] = link.target.split('#')
      const page = path === '' ? link.file : relative(ROOT, resolve(ROOT, dirname(link.file), decodeURI(path)))
      if (!page.endsWith('.md') || !existsSync(join(ROOT, page))) continue // the test above reports it
      if (!anchors(readDoc(page)).has(anchor)) broken.push(`${link.file}:${link.line}: no heading for #${anchor} in ${page}`)
    }
    expect(broken).toEqual([])
  })

  it('use https for links out of the repository', () => {
    const insecure = ALL_LINKS.filter(link => /^http:/i.test(link.target)).map(link => `${link.file}:${link.line}: ${link.target}`)
    expect(insecure).toEqual([])
  })
})

describe('the docs as a reference', () => {
  it.each(FILES)('%s names no path outside the repository and no issue number', (file) => {
    const text = readDoc(file)
    const found = [
      ...text.matchAll(/\.\.\/shared\b|\/work\/|PERF-NOTES|ARCHITECTURE\.md|CONVENTIONS\.md/g),
      ...text.matchAll(/\bissues?\s*#?\d+/gi),
    ].map(match => match[0])
    expect(found).toEqual([])
  })

  it('README.md stays short and links every docs page', () => {
    const readme = readDoc('README.md')
    expect(readme.split('\n').length, 'README.md lines').toBeLessThanOrEqual(250)
    const linked = new Set(links('README.md', readme).map(link => link.target.split('#')[0]))
    const pages = FILES.filter(file => file.startsWith('docs/'))
    expect(pages.filter(page => !linked.has(page)), 'docs pages the README does not link').toEqual([])
  })

  it('README.md has both quick starts', () => {
    const readme = readDoc('README.md')
    for (const command of ['npm install && npm start', 'npm test', 'npm i warmgate', 'npx warmgate init', 'npx warmgate start']) {
      expect(readme, `README.md should show \`${command}\``).toContain(command)
    }
  })
})
