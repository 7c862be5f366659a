import type { ChildProcess } from 'node:child_process'

/** Every child the bench has started and not yet seen exit. */
const live = new Set<ChildProcess>()

export function track (child: ChildProcess): ChildProcess {
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

export function exited (child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** Resolves once the child has exited, or after `ms` with false. */
export function waitExit (child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true)
  return new Promise(resolve => {
    const timer = setTimeout(() => {
      child.off('exit', onExit)
      resolve(false)
    }, ms)
    const onExit = (): void => {
      clearTimeout(timer)
      resolve(true)
    }
    child.once('exit', onExit)
  })
}

/** SIGTERM (lets a gateway write its --cpu-prof file), then SIGKILL after `graceMs`. Bounded. */
export async function stopChild (child: ChildProcess, graceMs = 5000): Promise<void> {
  if (exited(child)) return
  child.kill('SIGTERM')
  if (await waitExit(child, graceMs)) return
  child.kill('SIGKILL')
  await waitExit(child, 2000)
}

/** Stops every child still running, each by its own pid. */
export async function stopAll (graceMs = 3000): Promise<void> {
  await Promise.all([...live].map(async (child) => stopChild(child, graceMs)))
}

/** Calls `onLine` for each complete line of a child's output (utf8), as it arrives. */
export function eachLine (stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let buffered = ''
  stream?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    let newline: number
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      onLine(line)
    }
  })
}
