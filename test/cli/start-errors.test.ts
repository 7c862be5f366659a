import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FIXTURES, within } from '../helpers/gateway.ts'
import { MAIN, NODE } from '../helpers/cli.ts'

// `warmgate start` refusing to start: exit 1 and a message that says what is wrong and where, without a
// stack trace of warmgate's own. Broken files are written to a scratch directory (a config with a syntax
// error cannot live in the repository: the type check reads every .ts file there).

const SCRATCH = mkdtempSync(join(tmpdir(), 'wg-start-errors-'))
afterAll(() => rmSync(SCRATCH, { recursive: true, force: true }))
// .js files here are ES modules, as in a project made with `warmgate init`.
writeFileSync(join(SCRATCH, 'package.json'), '{ "type": "module" }\n')

interface Result { code: number | null, stdout: string, stderr: string }

/** Runs `warmgate start --port 0 ...args` in the scratch directory; it must exit by itself within 20 s. */
async function start (args: string[]): Promise<Result> {
  const child = spawn(NODE, [MAIN, 'start', '--port', '0', ...args], { cwd: SCRATCH, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  try {
    const code = await within(20_000, `warmgate start ${args.join(' ')} exiting by itself`, new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', resolve)
    }))
    return { code, stdout, stderr }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

/** Writes `text` to the scratch directory as `name`; returns its path. */
function write (name: string, text: string): string {
  const path = join(SCRATCH, name)
  writeFileSync(path, text)
  return path
}

// A stack frame of warmgate's own: never printed for a coded error.
const STACK_LINE = /^\s+at .*\((?:node:|file:)/m

describe('warmgate start with an invalid handler', () => {
  it.each(['warm', 'inline', 'cold'])('exits 1 saying the default export is a class (--mode %s)', async (mode) => {
    const entry = `${FIXTURES}handlers/invalid/class-default.ts`
    write(`class-${mode}.config.mjs`, `export default { apps: { broken: { route: '/broken', entry: ${JSON.stringify(entry)}, workers: { min: 1, max: 1 } } } }\n`)
    const result = await start(['--config', `class-${mode}.config.mjs`, '--mode', mode])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(entry)
    expect(result.stderr).toContain('the default export is a class; export an instance (`export default new Handler()`) or a function')
    expect(result.stderr).not.toMatch(STACK_LINE)
    expect(result.stdout).not.toContain('listening')
  })
})

describe('warmgate start with a config file that fails to load', () => {
  // The comma missing after entry: line 3, column 51 (the `workers` that follows it).
  const BROKEN = "export default {\n  apps: {\n    hello: { route: '/hello', entry: './hello.ts' workers: { min: 1 } },\n  },\n}\n"

  it.each(['ts', 'mjs', 'js'])('exits 1 showing file:line:column, the line and a caret for a syntax error (.%s)', async (ext) => {
    const path = write(`syntax.config.${ext}`, BROKEN)
    const result = await start(['--config', `syntax.config.${ext}`])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`config file ${path} failed to load: SyntaxError: `)
    expect(result.stderr).toContain(`at ${path}:3:51\n`)
    expect(result.stderr).toContain("    3 |     hello: { route: '/hello', entry: './hello.ts' workers: { min: 1 } },\n")
    expect(result.stderr).toContain(`      | ${' '.repeat(50)}^\n`)
    expect(result.stdout).not.toContain('listening')
  })

  it.each([
    ['only an export', "export default { apps: { a: { route: '/a', entry: './a.ts' } } }\n"],
    ['an import', "import { join } from 'node:path'\nexport default { apps: { a: { route: '/a', entry: join('.', 'a.ts') } } }\n"],
  ])('exits 1 saying how to fix a "type": "commonjs" project (npm init -y) whose ES config has %s', async (label, source) => {
    const dir = join(SCRATCH, `commonjs-${label.replace(/\W+/g, '-')}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', type: 'commonjs' }))
    writeFileSync(join(dir, 'gateway.config.ts'), source)
    const result = await start(['--config', join(dir, 'gateway.config.ts')])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`config file ${join(dir, 'gateway.config.ts')} failed to load: SyntaxError: `)
    expect(result.stderr).toContain('add it with `npm pkg set type=module`, or name the file gateway.config.mts')
    expect(result.stderr).not.toMatch(STACK_LINE)
  })

  it('exits 1 showing where the config threw at its top level', async () => {
    const path = write('throws.config.ts', "const port: number = 8080\nif (port > 0) {\n  throw new Error('config exploded at ' + port)\n}\nexport default { apps: {} }\n")
    const result = await start(['--config', 'throws.config.ts'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`config file ${path} failed to load: config exploded at 8080\n  at ${path}:3:9\n`)
    expect(result.stderr).toContain("    3 |   throw new Error('config exploded at ' + port)\n      |         ^\n")
    expect(result.stderr).not.toMatch(STACK_LINE)
  })
})
