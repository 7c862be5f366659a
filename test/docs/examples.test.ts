import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ts from 'typescript'
import { afterAll, describe, expect, it } from 'vitest'
import { createGateway } from '../../src/index.ts'
import { docFiles, readDoc, ROOT } from './markdown.ts'

// The TypeScript a reader copies from the docs compiles under the project's strict settings: every
// ```ts block of README.md, and every block of docs/*.md that imports from 'warmgate' (the others are
// fragments: an `apps: { … }` excerpt, a Lambda handler written the AWS way). And the README's hello
// handler answers what it says, run by a real gateway.

interface Example { name: string, code: string }

function tsBlocks (file: string): string[] {
  return [...readDoc(file).matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map(match => match[1])
}

const examples: Example[] = [
  ...tsBlocks('README.md').map((code, index) => ({ name: `README.md #${index + 1}`, code })),
  ...docFiles().filter(file => file.startsWith('docs/')).flatMap(file => tsBlocks(file)
    .map((code, index) => ({ name: `${file} #${index + 1}`, code }))
    .filter(example => example.code.includes("from 'warmgate'"))),
]

/** Type-checks each example as its own module under tsconfig.json, with 'warmgate' resolved to src/index.ts. */
function typeErrors (list: Example[]): string[] {
  const configFile = ts.readConfigFile(join(ROOT, 'tsconfig.json'), path => ts.sys.readFile(path))
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT)
  // The package's exports name dist/, which a clone may not have built: the sources are what the docs describe.
  const options: ts.CompilerOptions = { ...parsed.options, noEmit: true, paths: { warmgate: [join(ROOT, 'src/index.ts')] } }
  // Inside the repository (so that hono and @types/node resolve as they would in a project), never on disk.
  const files = new Map(list.map((example, index) => [join(ROOT, 'test', 'docs', `__example_${index}__.ts`), example]))
  const host = ts.createCompilerHost(options)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = path => files.has(path) || fileExists.call(host, path)
  host.readFile = path => files.get(path)?.code ?? readFile.call(host, path)
  host.getSourceFile = (path, language, onError, create) => {
    const example = files.get(path)
    return example === undefined ? getSourceFile.call(host, path, language, onError, create) : ts.createSourceFile(path, example.code, language, true)
  }
  const program = ts.createProgram([...files.keys()], options, host)
  const errors: string[] = []
  for (const [path, example] of files) {
    for (const diagnostic of ts.getPreEmitDiagnostics(program, program.getSourceFile(path))) {
      const where = diagnostic.file !== undefined && diagnostic.start !== undefined
        ? `:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1}`
        : ''
      errors.push(`${example.name}${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`)
    }
  }
  return errors
}

describe('the docs\' TypeScript examples', () => {
  it('finds the README\'s hello handler and config among them', () => {
    expect(examples.some(example => example.name.startsWith('README.md') && example.code.includes('FetchHandler'))).toBe(true)
    expect(examples.some(example => example.name.startsWith('README.md') && example.code.includes('defineConfig'))).toBe(true)
  })

  it('type-check under the project\'s strict settings', () => {
    expect(typeErrors(examples)).toEqual([])
  }, 120_000)
})

describe('the README\'s hello handler', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wg-docs-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('answers as a real app in every mode', async () => {
    const hello = tsBlocks('README.md').find(code => code.includes('FetchHandler'))
    expect(hello).toBeDefined()
    // `import type` is erased by type stripping: the file runs without resolving 'warmgate'.
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
    writeFileSync(join(dir, 'hello.ts'), hello as string)
    const gw = await createGateway({
      apps: {
        warm: { route: '/warm', entry: './hello.ts', mode: 'warm', workers: { min: 1, max: 1 }, env: { GREETING: 'env' } },
        inline: { route: '/inline', entry: './hello.ts', mode: 'inline' },
        cold: { route: '/cold', entry: './hello.ts', mode: 'cold' },
      },
    }, { baseDir: dir, logger: false })
    try {
      for (const mode of ['warm', 'inline', 'cold']) {
        const res = await gw.fetch(new Request(`http://local/${mode}?name=docs`))
        expect(res.status).toBe(200)
        expect(await res.text()).toMatch(new RegExp(`^Hello, docs! \\(${mode}, request [^)]+\\)\\n$`))
      }
      const fromEnv = await gw.fetch(new Request('http://local/warm'))
      expect(await fromEnv.text()).toMatch(/^Hello, env! /)
    } finally {
      await gw.close()
    }
  }, 60_000)
})
