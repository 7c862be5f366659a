import type { Readable } from 'node:stream'

/** One process to start: argv (never a shell), an environment built from an allowlist, a working directory. */
export interface SpawnSpec {
  readonly file: string
  readonly args: readonly string[]
  readonly env: Readonly<Record<string, string>>
  readonly cwd: string
  /** The request body for stdin; `null` gives the child `/dev/null` (nothing to write, one pipe fewer). */
  readonly stdin: Uint8Array | null
}

export interface ExitStatus {
  readonly code: number | null
  readonly signal: string | null
  /** Set when the process never ran (`WG_ERR_SPAWN`). */
  readonly error?: Error
}

/** A running CGI process, the leader of its own process group. */
export interface CgiChild {
  /** The script's stdout. A process that could not be started ends it with a `WG_ERR_SPAWN` error. Paused until read; reading it is the caller's job (backpressure reaches the script). */
  readonly stdout: Readable
  /** Settles once the process has been reaped. */
  readonly exited: Promise<ExitStatus>
  /** SIGTERM to the whole group now, SIGKILL to what is left after the grace period. Idempotent. */
  kill (): void
}

export type StderrSink = (chunk: Buffer) => void

/**
 * Starts CGI processes. Every implementation puts each child in its own process group, kills the
 * group (TERM, then KILL after `KILL_GRACE_MS`) once the child exits, so a background grandchild
 * does not outlive its request, and reaps every child. The spawn helpers also kill what leaves its
 * group and is orphaned (a setsid daemon: spawn-helper.c kill_strays); the direct spawner cannot.
 */
export interface Spawner {
  /** Rejects with `WG_ERR_SPAWN` when the process cannot be started. */
  spawn (spec: SpawnSpec, onStderr: StderrSink): Promise<CgiChild>
  /** Kills every group still alive and waits until each child is reaped. */
  close (): Promise<void>
}

/** Between SIGTERM and SIGKILL: long enough for a script to clean up, short enough not to hold a slot. */
export const KILL_GRACE_MS = 2000
