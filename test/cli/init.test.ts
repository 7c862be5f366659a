import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { STARTER_FILES } from '../../src/cli/init.ts'
import { MAIN, NODE } from '../helpers/cli.ts'

// `warmgate init`: a starter project, written only where nothing exists. (That the project it writes
// serves is proven from the packed package: test/package/pack-install.test.ts.)

const dirs: string[] = []
afterEach(() => { for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true }) })

function init (dir: string, ...args: string[]): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(NODE, [MAIN, 'init', ...args], { cwd: dir, encoding: 'utf8', timeout: 20_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

function emptyDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'wg-init-'))
  dirs.push(dir)
  return dir
}

describe('warmgate init', () => {
  it('writes gateway.config.ts, apps/hello.ts, tsconfig.json and a module package.json into an empty directory, and says what to run next', () => {
    const dir = emptyDir()
    const result = init(dir)
    expect(result.status).toBe(0)
    for (const [name, text] of Object.entries(STARTER_FILES)) {
      expect(readFileSync(join(dir, name), 'utf8')).toBe(text)
      expect(result.stdout).toContain(`wrote     ${name}`)
    }
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toEqual({ private: true, type: 'module' })
    expect(result.stdout).toContain('npx warmgate start')
    expect(STARTER_FILES['gateway.config.ts']).toContain("from 'warmgate'")
  })

  it('never overwrites: an existing file is kept and named, and with every file there it writes nothing and exits 1', () => {
    const dir = emptyDir()
    writeFileSync(join(dir, 'gateway.config.ts'), 'mine\n')
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', dependencies: { warmgate: '^0.1.0' } }))
    const first = init(dir)
    expect(first.status).toBe(0)
    expect(readFileSync(join(dir, 'gateway.config.ts'), 'utf8')).toBe('mine\n')
    expect(first.stdout).toContain('kept      gateway.config.ts')
    // A package.json without "type" gains "module", and keeps the rest.
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toEqual({ name: 'app', dependencies: { warmgate: '^0.1.0' }, type: 'module' })
    const second = init(dir)
    expect(second.status).toBe(1)
    expect(second.stderr).toContain('nothing written')
  })

  it('leaves a package.json that says "type": "commonjs" as it is, with a note saying how to change it', () => {
    const dir = emptyDir()
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', type: 'commonjs' }))
    const result = init(dir)
    expect(result.status).toBe(0)
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type).toBe('commonjs')
    expect(result.stdout).toContain('npm pkg set type=module')
  })

  it('says what it writes with --help, and refuses an unknown option', () => {
    const help = init(emptyDir(), '--help')
    expect(help.status).toBe(0)
    for (const name of Object.keys(STARTER_FILES)) expect(help.stdout).toContain(name)
    const bad = init(emptyDir(), '--force')
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/--force/)
  })
})
