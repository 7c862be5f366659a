import { readdirSync, readFileSync } from 'node:fs'

// Reading /proc, for tests that check which processes exist, in what state, under which parent.

export interface ProcInfo { pid: number, comm: string, state: string, ppid: number, pgrp: number }

/** `/proc/<pid>/stat`, or undefined once the pid is gone (exited and reaped). */
export function procStat (pid: number): ProcInfo | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // comm is in parentheses and may itself hold spaces or parentheses.
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  const rest = text.slice(close + 2).split(' ')
  return { pid, comm: text.slice(open + 1, close), state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]) }
}

/** The argv of `pid` joined by spaces ('' for a zombie), or undefined once it is gone. */
export function cmdlineOf (pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
  } catch {
    return undefined
  }
}

export function allPids (): number[] {
  return readdirSync('/proc').filter(name => /^\d+$/.test(name)).map(Number)
}

/** Node worker threads alive in this process (Node names each one `WorkerThread`). */
export function workerThreadCount (): number {
  let count = 0
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'WorkerThread') count++
    } catch {
      // The thread ended while we looked.
    }
  }
  return count
}
