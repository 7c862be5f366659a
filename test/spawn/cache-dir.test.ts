import { lstatSync, mkdtempSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cacheDir } from '../../src/spawn/build-helper.ts'

// Where the compiled spawn helper is cached: this user's cache directory, never the installed package.
describe('the spawn helper cache directory', () => {
  const saved = process.env.XDG_CACHE_HOME
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME
    else process.env.XDG_CACHE_HOME = saved
  })

  it('is $XDG_CACHE_HOME/warmgate when XDG_CACHE_HOME is set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-xdg-'))
    try {
      process.env.XDG_CACHE_HOME = dir
      expect(cacheDir()).toBe(join(dir, 'warmgate'))
      expect(lstatSync(join(dir, 'warmgate')).isDirectory()).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('is ~/.cache/warmgate without it, and ignores a relative XDG_CACHE_HOME (the spec says so)', () => {
    delete process.env.XDG_CACHE_HOME
    expect(cacheDir()).toBe(join(homedir(), '.cache', 'warmgate'))
    process.env.XDG_CACHE_HOME = 'relative/cache'
    expect(cacheDir()).toBe(join(homedir(), '.cache', 'warmgate'))
  })

  it('falls back to a private directory of this user in tmpdir when the cache cannot be written', () => {
    // Under a file: no one, root included, can make a directory there.
    process.env.XDG_CACHE_HOME = '/dev/null/cache'
    const dir = cacheDir()
    expect(dir).toBe(join(tmpdir(), `warmgate-cache-${process.getuid?.() ?? 0}`))
    expect(lstatSync(dir).mode & 0o077).toBe(0)
  })
})
