// The child processes of a bench run: every one is tracked from spawn to exit, so that an abort (Ctrl-C)
// or a failure stops and reaps them all, each by its own pid.
import type { ChildProcess } from 'node:child_process'

const live = new Set<ChildProcess>()

export function track (child: ChildProcess): ChildProcess {
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

export function exited (child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** Resolves true once the child has exited, or false after `ms`. */
export function waitExit (child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true)
  return new Promise(resolve => {
    const onExit = (): void => {
      clearTimeout(timer)
      resolve(true)
    }
    const timer = setTimeout(() => {
      child.off('exit', onExit)
      resolve(false)
    }, ms)
    child.once('exit', onExit)
  })
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited (bounded). */
export async function stopChild (child: ChildProcess, graceMs = 5000): Promise<void> {
  if (exited(child)) return
  child.kill('SIGTERM')
  if (await waitExit(child, graceMs)) return
  child.kill('SIGKILL')
  await waitExit(child, 2000)
}

/** Stops every child still running. */
export async function stopAll (graceMs = 3000): Promise<void> {
  await Promise.all([...live].map(async child => stopChild(child, graceMs)))
}

/** Calls `onLine` for each complete line of a child's output as it arrives. */
export function eachLine (stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let buffered = ''
  stream?.setEncoding('utf8')
  stream?.on('data', (chunk: string) => {
    buffered += chunk
    let newline: number
    while ((newline = buffered.indexOf('\n')) !== -1) {
      onLine(buffered.slice(0, newline))
      buffered = buffered.slice(newline + 1)
    }
  })
}
