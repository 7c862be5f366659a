import { watch, type FSWatcher } from 'node:fs'
import { dirname, join } from 'node:path'

export interface FileWatcher {
  /** Watches exactly these files from now on (directories are added and dropped as needed). */
  update (files: Iterable<string>): void
  close (): void
}

/**
 * Watches files through their directories. Editors that save by writing a temp file and renaming it
 * over the original (vim, JetBrains) replace the inode: a watch on the file itself goes deaf after the
 * first save, a watch on the directory sees the rename under the file's name. Events for other names
 * (the temp file, swap files) are filtered out. Events are debounced: `onChange` runs `debounceMs`
 * after the last one with every file changed meanwhile, and the time of the first event (one save that
 * touches several files, or writes one file in several chunks, is one change).
 */
export function createFileWatcher (onChange: (files: Set<string>, firstEventAt: number) => void, debounceMs = 50): FileWatcher {
  const watchers = new Map<string, FSWatcher>()
  let watched = new Set<string>()
  let pending = new Set<string>()
  let firstEventAt = 0
  let timer: NodeJS.Timeout | undefined

  const flush = (): void => {
    timer = undefined
    const files = pending
    pending = new Set()
    onChange(files, firstEventAt)
  }

  const onEvent = (dir: string, name: string | Buffer | null): void => {
    // Some platforms give no name: treat every watched file of the directory as changed.
    const files = name === null ? [...watched].filter(file => dirname(file) === dir) : [join(dir, String(name))]
    for (const file of files) {
      if (!watched.has(file)) continue
      if (pending.size === 0) firstEventAt = performance.now()
      pending.add(file)
      clearTimeout(timer)
      timer = setTimeout(flush, debounceMs)
    }
  }

  return {
    update (files) {
      watched = new Set(files)
      const dirs = new Set([...watched].map(file => dirname(file)))
      for (const [dir, watcher] of watchers) {
        if (dirs.has(dir)) continue
        watcher.close()
        watchers.delete(dir)
      }
      for (const dir of dirs) {
        if (watchers.has(dir)) continue
        try {
          const watcher = watch(dir, { persistent: false }, (_event, name) => onEvent(dir, name))
          watcher.on('error', () => { watcher.close(); watchers.delete(dir) })
          watchers.set(dir, watcher)
        } catch {
          // The directory is gone (deleted mid-save): the next update tries again.
        }
      }
    },
    close () {
      clearTimeout(timer)
      for (const watcher of watchers.values()) watcher.close()
      watchers.clear()
    },
  }
}

