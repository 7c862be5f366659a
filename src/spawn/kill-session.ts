import { readdirSync, readFileSync } from 'node:fs'

/** Enough passes for a fork that raced the previous one; each finds what the one before left. */
const PASSES = 5

/**
 * SIGKILLs every live process of session `sid` (Linux `/proc`; elsewhere it finds nothing) and returns
 * how many it signalled. For a spawn helper that was killed outright: it led a session that every child
 * joined, so its scripts and their children are found by its id even though nobody told us their pids.
 * Only while one of them lives is the id theirs: a pid is not reused while a session or group still
 * holds it, so call this at once, before anything (a new helper) can take the number again.
 *
 * @example
 *   helper.once('exit', () => killSession(helper.pid))
 */
export function killSession (sid: number): number {
  const killed = new Set<number>()
  for (let pass = 0; pass < PASSES; pass++) {
    let found = 0
    for (const pid of pids()) {
      if (killed.has(pid) || !inSession(pid, sid)) continue
      try {
        process.kill(pid, 'SIGKILL')
        killed.add(pid)
        found++
      } catch {}
    }
    if (found === 0) break
  }
  return killed.size
}

function pids (): number[] {
  try {
    return readdirSync('/proc').filter(name => name.charCodeAt(0) >= 0x31 && name.charCodeAt(0) <= 0x39).map(Number)
  } catch {
    return []
  }
}

/** `/proc/<pid>/stat`: state and session (fields 3 and 6), after comm, which may hold anything. */
function inSession (pid: number, sid: number): boolean {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return false
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ', 4)
  return fields[0] !== 'Z' && Number(fields[3]) === sid
}
