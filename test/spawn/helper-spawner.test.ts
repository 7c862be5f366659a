import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { FLAGS, SOURCES } from '../../src/spawn/build-helper.ts'
import { HelperSpawner } from '../../src/spawn/helper-spawner.ts'
import type { CgiChild, SpawnSpec } from '../../src/spawn/spawner.ts'
import { FIXTURES, ROOT, within } from '../helpers/gateway.ts'
import { procStat } from '../helpers/proc.ts'
import { eventually } from '../runtime/support.ts'
import { ENV, HELPER_BUILDS, HELPERS, type HelperKind, helperCommand, readAll } from './support.ts'

// The spawn helper's protocol and behaviour, driven through HelperSpawner against real helper
// processes: the compiled one (spawn-helper.c) and the python one must behave the same.

const scratch = mkdtempSync(join(tmpdir(), 'wg-spawn-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
const notExecutable = join(scratch, 'plain.sh')
writeFileSync(notExecutable, '#!/bin/sh\necho no\n')
chmodSync(notExecutable, 0o644)
// Executable, but its interpreter does not exist: execve itself fails (ENOENT), after the file checks.
const noInterpreter = join(scratch, 'no-interpreter.sh')
writeFileSync(noInterpreter, '#!/nonexistent/warmgate-shell\necho no\n')
chmodSync(noInterpreter, 0o755)

function sh (script: string, stdin: Uint8Array | null = null): SpawnSpec {
  return { file: '/bin/sh', args: ['-c', script], env: ENV, cwd: scratch, stdin }
}

async function open (kind: HelperKind, onTestFinished: (fn: () => Promise<void> | void) => void): Promise<HelperSpawner> {
  const helper = new HelperSpawner(await helperCommand(kind))
  onTestFinished(() => within(10_000, 'helper.close()', helper.close()))
  await within(10_000, 'the helper to be ready', helper.ready)
  return helper
}

function collect (): { sink: (chunk: Buffer) => void, text: () => string } {
  const chunks: Buffer[] = []
  return { sink: chunk => chunks.push(chunk), text: () => Buffer.concat(chunks).toString() }
}

/** daemon.sh (test/fixtures/cgi-bin): starts a setsid daemon, orphaned at once, and answers with its pid. */
function daemonScript (query: '' | 'stay'): SpawnSpec {
  return { file: `${FIXTURES}cgi-bin/daemon.sh`, args: [], env: { ...ENV, QUERY_STRING: query }, cwd: scratch, stdin: null }
}

function daemonPid (output: string): number {
  const pid = Number(/^X-Daemon: (\d+)\r$/m.exec(output)?.[1])
  expect(pid, output).toBeGreaterThan(0)
  return pid
}

/** Alive: not gone, and not a zombie (a killed process under a PID 1 that does not reap stays one). */
function running (pid: number): boolean {
  const state = procStat(pid)?.state
  return state !== undefined && state !== 'Z'
}

/** The first `count` lines of a child's stdout, each a number (a pid the script echoed). */
async function firstNumbers (child: CgiChild, count: number): Promise<number[]> {
  let text = ''
  await within(5000, `${count} lines of stdout`, (async () => {
    for await (const chunk of child.stdout) {
      text += String(chunk)
      if (text.split('\n').length > count) return
    }
  })())
  return text.split('\n').slice(0, count).map(Number)
}

async function failure (child: CgiChild): Promise<string> {
  const status = await within(5000, 'the failed spawn to settle', child.exited)
  expect(status.error).toMatchObject({ code: 'WG_ERR_SPAWN' })
  return status.error?.message ?? ''
}

describe.each(HELPER_BUILDS)('spawn helper ($kind)', ({ kind, skip }) => {
  it.skipIf(skip !== undefined)('forwards stdout and stderr and reports the exit code after both have ended', async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    const err = collect()
    const child = await helper.spawn(sh('printf out; printf err >&2; exit 7'), err.sink)
    expect((await readAll(child.stdout, 5000, 'stdout')).toString()).toBe('out')
    expect(await within(5000, 'exit', child.exited)).toEqual({ code: 7, signal: null })
    expect(err.text()).toBe('err')
  })

  it.skipIf(skip !== undefined)('gives the child its request body as fd 0, 1 MB of it, byte for byte', async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    const body = Buffer.alloc(1024 * 1024)
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 11)) & 0xff
    const child = await helper.spawn({ ...sh('cat'), stdin: body }, () => {})
    const echoed = await readAll(child.stdout, 10_000, 'the echoed body')
    expect(echoed.equals(body)).toBe(true)
    expect(await within(5000, 'exit', child.exited)).toEqual({ code: 0, signal: null })
  })

  it.skipIf(skip !== undefined)('passes argv and env with non-ASCII text unchanged, and starts in cwd', async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    const spec = { file: '/bin/sh', args: ['-c', 'printf "%s|%s|%s" "$1" "$WG_V" "$(pwd)"', 'x', 'é \u{1F600} "q" \\ \t'], env: { ...ENV, WG_V: 'ü\nnext' }, cwd: scratch, stdin: null }
    const child = await helper.spawn(spec, () => {})
    expect((await readAll(child.stdout, 5000, 'stdout')).toString()).toBe(`é \u{1F600} "q" \\ \t|ü\nnext|${scratch}`)
    await within(5000, 'exit', child.exited)
  })

  it.skipIf(skip !== undefined)('fails a spawn with the errno name: ENOENT, EACCES, a missing interpreter, a missing cwd, a NUL byte (EINVAL)', async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    expect(await failure(await helper.spawn({ ...sh(''), file: join(scratch, 'missing.sh') }, () => {}))).toContain('ENOENT')
    expect(await failure(await helper.spawn({ ...sh(''), file: notExecutable }, () => {}))).toContain('EACCES')
    // Not an empty response: the exec's own error, reported before stdout's end and the exit.
    const stillborn = await helper.spawn({ ...sh(''), file: noInterpreter }, () => {})
    const read = readAll(stillborn.stdout, 5000, 'stdout').then(() => 'ended', (error: Error) => error.message)
    expect(await failure(stillborn)).toContain('ENOENT')
    expect(await read).toContain('ENOENT')
    expect(await failure(await helper.spawn({ ...sh('true'), cwd: join(scratch, 'gone') }, () => {}))).toContain('ENOENT')
    expect(await failure(await helper.spawn({ ...sh('true'), args: ['-c', 'a\0b'] }, () => {}))).toContain('EINVAL')
    expect(await failure(await helper.spawn({ ...sh('true'), env: { 'A=B': 'c' } }, () => {}))).toContain('EINVAL')
    // A failed spawn leaves the helper serving.
    const child = await helper.spawn(sh('echo ok'), () => {})
    expect((await readAll(child.stdout, 5000, 'stdout')).toString()).toBe('ok\n')
  })

  it.skipIf(skip !== undefined)('runs 120 spawns at once: every exit code and output is its own, failed execs, kills and drops just after the spawn included', async ({ onTestFinished }) => {
    // The compiled helper does not wait for a child's exec (clone without CLONE_VFORK), and learns of an exec
    // that failed only when that child has exited: a script that exits at once, an exec that fails among
    // ones that work, a kill or a drop that comes while a child is starting, must each land on their own job.
    const helper = await open(kind, onTestFinished)
    const children = await Promise.all(Array.from({ length: 120 }, async (_, i) => ({ i, child: await helper.spawn(sh(`printf ${i}; exit ${i % 100}`), () => {}) })))
    const stillborn = await Promise.all(Array.from({ length: 20 }, async () => helper.spawn({ ...sh(''), file: noInterpreter }, () => {})))
    const killed = await Promise.all(Array.from({ length: 10 }, async () => helper.spawn(sh('sleep 30'), () => {})))
    for (const child of killed) child.kill()
    const dropped = await Promise.all(Array.from({ length: 10 }, async () => helper.spawn(sh('exec yes'), () => {})))
    for (const child of dropped) child.stdout.destroy()
    for (const { i, child } of children) {
      expect((await readAll(child.stdout, 10_000, `stdout of ${i}`)).toString()).toBe(String(i))
      expect(await within(10_000, `exit of ${i}`, child.exited)).toEqual({ code: i % 100, signal: null })
    }
    for (const child of stillborn) expect(await failure(child)).toContain('ENOENT')
    for (const child of killed) expect(await within(10_000, 'a killed script', child.exited)).toEqual({ code: null, signal: 'SIGTERM' })
    for (const child of dropped) expect((await within(10_000, 'a dropped script', child.exited)).signal).toBe('SIGPIPE')
  })

  it.skipIf(skip !== undefined)('starts a child leading its own process group, with no signal blocked or ignored', async ({ onTestFinished }) => {
    // The helpers block SIGCHLD and SIGTERM (the C one takes them by signalfd) and ignore SIGPIPE (python also
    // SIGXFSZ): none of that is the script's. Only signals 1-31 are compared: glibc's posix_spawn (the python
    // helper's) leaves its two internal signals, 32 and 33, ignored, and no program can use them.
    const helper = await open(kind, onTestFinished)
    // The masks as exec passes them on: grep reads its own (sh, waiting for a child, may block signals meanwhile).
    const child = await helper.spawn(sh('read -r s < /proc/$$/stat; set -- $s; echo $1 $5; exec grep -E "^Sig(Blk|Ign):" /proc/self/status'), () => {})
    const [ids, blocked, ignored] = (await readAll(child.stdout, 5000, 'stdout')).toString().trim().split('\n')
    const [pid, pgid] = ids.split(' ')
    const standard = (line: string): number => Number.parseInt(line.slice(-8), 16) & 0x7fffffff // bits 0-30: signals 1-31
    expect(blocked).toMatch(/^SigBlk:\t[0-9a-f]{16}$/)
    expect(ignored).toMatch(/^SigIgn:\t[0-9a-f]{16}$/)
    expect(standard(blocked), blocked).toBe(0)
    expect(standard(ignored), ignored).toBe(0)
    expect(pgid).toBe(pid)
    expect(await within(5000, 'exit', child.exited)).toEqual({ code: 0, signal: null })
  })

  it.skipIf(skip !== undefined)('keeps 64 KiB of stderr and drops the rest', async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    const err = collect()
    const child = await helper.spawn(sh('head -c 200000 /dev/zero | tr "\\0" e >&2; echo done'), err.sink)
    expect((await readAll(child.stdout, 5000, 'stdout')).toString()).toBe('done\n')
    expect(await within(5000, 'exit', child.exited)).toEqual({ code: 0, signal: null })
    expect(err.text().length).toBe(64 * 1024)
  })

  it.skipIf(skip !== undefined)('holds a script that writes more than the ack window until its stdout is read (backpressure)', async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    const size = 4 * 1024 * 1024
    const child = await helper.spawn(sh(`head -c ${size} /dev/zero`), () => {})
    let exited = false
    void child.exited.then(() => { exited = true })
    await sleep(500)
    expect(exited, 'the script finished with nobody reading its 4 MB').toBe(false)
    expect(child.stdout.readableLength).toBeLessThanOrEqual(256 * 1024)
    expect((await readAll(child.stdout, 10_000, 'stdout')).length).toBe(size)
    expect(await within(5000, 'exit', child.exited)).toEqual({ code: 0, signal: null })
  })

  it.skipIf(skip !== undefined)('closes stdout when it is dropped: a script writing forever dies of SIGPIPE', async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    const child = await helper.spawn(sh('exec yes'), () => {})
    await within(5000, 'the first bytes', new Promise(resolve => child.stdout.once('readable', resolve)))
    child.stdout.destroy()
    expect(await within(5000, 'exit after the drop', child.exited)).toEqual({ code: null, signal: 'SIGPIPE' })
  })

  it.skipIf(skip !== undefined)('kills the process group: SIGTERM, then SIGKILL after the grace to a script that traps TERM', async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    const plain = await helper.spawn(sh('echo started; sleep 30'), () => {})
    const trapping = await helper.spawn(sh('trap "" TERM; echo started; sleep 30 & wait; sleep 30'), () => {})
    for (const child of [plain, trapping]) await within(5000, 'the script to start', new Promise(resolve => child.stdout.once('data', resolve)))
    const started = performance.now()
    plain.kill()
    trapping.kill()
    expect(await within(5000, 'the plain script to exit', plain.exited)).toEqual({ code: null, signal: 'SIGTERM' })
    expect(await within(5000, 'the trapping script to exit', trapping.exited)).toEqual({ code: null, signal: 'SIGKILL' })
    expect(performance.now() - started).toBeGreaterThan(1500)
  })

  it.skipIf(skip !== undefined)("reaps a script's orphaned grandchild (child subreaper): no zombie is left to PID 1", async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    // The grandchild leaves the group (setsid), so the group kill does not reach it: it outlives the
    // script, is re-parented to the helper, and must be reaped there when it exits.
    const child = await helper.spawn(sh('setsid sh -c "sleep 0.3" </dev/null >/dev/null 2>&1 & echo $!'), () => {})
    const grandchild = Number((await readAll(child.stdout, 5000, 'stdout')).toString())
    await within(5000, 'exit', child.exited)
    const parent = procStat(grandchild)?.ppid
    if (parent !== undefined) expect(parent).toBe(helper.pid)
    await eventually(5000, `grandchild ${grandchild} reaped`, () => procStat(grandchild) === undefined ? true : undefined)
  })

  it.skipIf(skip !== undefined)("kills a daemon that left its script's group and session (setsid, double fork) once the script has exited", async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    const child = await helper.spawn(daemonScript(''), () => {})
    const daemon = daemonPid((await readAll(child.stdout, 5000, 'stdout')).toString())
    expect(await within(5000, 'exit', child.exited)).toEqual({ code: 0, signal: null })
    // Out of every request's group, so no group kill reaches it; re-parented to the helper, which finds it.
    await eventually(3000, `daemon ${daemon} killed`, () => running(daemon) ? undefined : true)
  })

  it.skipIf(skip !== undefined)("kills everything it runs when it exits, a daemon out of every request's group included, without waiting for it", async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    // The script stays (sleeping, stdout closed): its daemon is still alive when the helper is told to go.
    const child = await helper.spawn(daemonScript('stay'), () => {})
    const daemon = daemonPid((await readAll(child.stdout, 5000, 'stdout')).toString())
    const helperPid = helper.pid as number
    expect(running(daemon)).toBe(true)
    // SIGTERM is how it hears that the gateway died (PR_SET_PDEATHSIG): it cleans up and exits.
    process.kill(helperPid, 'SIGTERM')
    await eventually(3000, `helper ${helperPid} and daemon ${daemon} gone`, () => running(helperPid) || running(daemon) ? undefined : true)
    expect((await within(5000, 'the script to be failed', child.exited)).error).toMatchObject({ code: 'WG_ERR_SPAWN' })
  })

  it.skipIf(skip !== undefined)('killed outright (SIGKILL), it leaves nothing running: the spawner kills the session its children are in', async ({ onTestFinished }) => {
    const helper = await open(kind, onTestFinished)
    const child = await helper.spawn(sh('echo $$; sleep 30 & echo $!; wait'), () => {})
    const pids = await firstNumbers(child, 2)
    expect(pids.every(running), String(pids)).toBe(true)
    process.kill(helper.pid as number, 'SIGKILL')
    expect((await within(5000, 'the script to be failed', child.exited)).error).toMatchObject({ code: 'WG_ERR_SPAWN' })
    await eventually(3000, `the script and its sleep (${pids.join(', ')}) killed`, () => pids.some(running) ? undefined : true)
  })

  it.skipIf(skip !== undefined)('exits with the gateway (PR_SET_PDEATHSIG), killing what it runs', async ({ onTestFinished }) => {
    // A separate Node process owns the helper; it is killed with SIGKILL, so it cannot clean up.
    const owner = spawn(join(ROOT, 'node_modules/.bin/node'), ['--input-type=module', '-e', `
      import { HelperSpawner } from ${JSON.stringify(join(ROOT, 'src/spawn/helper-spawner.ts'))}
      const helper = new HelperSpawner(${JSON.stringify(await helperCommand(kind))})
      await helper.ready
      const child = await helper.spawn({ file: '/bin/sh', args: ['-c', 'echo $$; exec sleep 30'], env: {}, cwd: '/', stdin: null }, () => {})
      for await (const chunk of child.stdout) { console.log(helper.pid, String(chunk).trim()); break }
    `], { stdio: ['ignore', 'pipe', 'inherit'] })
    onTestFinished(() => { owner.kill('SIGKILL') })
    const line = await within(10_000, 'the owner to report its helper', new Promise<string>(resolve => owner.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString()))))
    const [helperPid, scriptPid] = line.trim().split(' ').map(Number)
    expect(procStat(helperPid)).toBeDefined()
    owner.kill('SIGKILL')
    await eventually(5000, `helper ${helperPid} and script ${scriptPid} gone`, () => {
      const left = [procStat(helperPid), procStat(scriptPid)].filter(info => info !== undefined && info.state !== 'Z')
      return left.length === 0 ? true : undefined
    })
  })
})

// A quick guard that the compiled helper is warnings-clean, as the build flags promise.
describe.skipIf(HELPERS[0].skip !== undefined)('spawn-helper.c', () => {
  it('compiles with -O2 -Wall -Wextra -std=c11 without a warning', () => {
    const out = join(scratch, 'helper-wall')
    const result = execFileSync('cc', [...FLAGS, '-Wpedantic', '-o', out, ...SOURCES], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    expect(result).toBe('')
  })
})
