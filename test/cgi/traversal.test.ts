import { chmodSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Agent } from 'undici'
import { rawValues, sendRaw } from '../runtime/support.ts'
import { codesOf, legacyApp, marks, openCgi, SCRATCH } from './support.ts'

// Script lookup as an attacker sees it: no request path may run anything but an executable regular file
// inside the app directory, serve a script's source, or spawn a process on the way to a refusal.
// Every fixture appends a line to the mark file before anything else, so "no process was spawned" is
// checked, not assumed: each test ends with a control request that must be the only new line.

interface Answer { status: number, body: string, requestId: string | undefined }

/** GET with the path sent verbatim (undici's dispatch does not normalise it, unlike `new URL`). */
async function get (agent: Agent, base: string, path: string): Promise<Answer> {
  const res = await sendRaw(agent, base, path)
  return { status: res.status, body: res.body.toString('latin1'), requestId: rawValues(res.rawHeaders, 'x-request-id')[0] }
}

/**
 * Sends each of `paths`, then a control request, and asserts in one go (so a failure lists every bad
 * path): each answer passes `check`, no path ran a script, and the control alone left a mark.
 */
async function expectNoSpawn (agent: Agent, base: string, paths: string[], check: (path: string, answer: Answer) => string[]): Promise<void> {
  const problems: string[] = []
  const first = marks().length
  for (const path of paths) {
    const before = marks().length
    const answer = await get(agent, base, path)
    const ran = marks().slice(before).map(line => line.split(' ')[0])
    const wrong = check(path, answer)
    if (ran.length > 0) wrong.push(`ran ${ran.join(', ')}`)
    if (wrong.length > 0) problems.push(`${path} → ${answer.status}: ${wrong.join('; ')}`)
  }
  const control = await get(agent, base, '/cgi-bin/env.sh?control')
  expect(control.status, 'the control request').toBe(200)
  expect(problems).toEqual([])
  expect(marks().slice(first).map(line => line.split(' ')[0]), 'scripts run by the paths, then the control').toEqual(['env.sh'])
}

/** A refusal: one of `statuses`, an x-request-id, never a script's source (every fixture starts `#!`). */
function refused (...statuses: number[]) {
  return (_path: string, answer: Answer): string[] => {
    const wrong: string[] = []
    if (!statuses.includes(answer.status)) wrong.push(`expected status ${statuses.join(' or ')}`)
    if (answer.requestId === undefined) wrong.push('no x-request-id')
    if (answer.body.includes('#!')) wrong.push('the body shows a script source')
    return wrong
  }
}

describe('cgi app: script lookup refuses traversal and never spawns on the way', () => {
  it('runs a script named with percent-encoded ordinary characters (control for the cases below)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const before = marks().length
    const res = await get(h.agent, h.url, '/cgi-bin/%65nv.sh')
    expect(res.status).toBe(200)
    expect(marks().slice(before).map(line => line.split(' ')[0])).toEqual(['env.sh'])
  })

  it('answers 400 or 404 for ".." segments, and spawns nothing', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    await expectNoSpawn(h.agent, h.url, [
      '/cgi-bin/../../../../bin/sh',
      '/cgi-bin/../cgi-bin/env.sh',
      '/cgi-bin/sub/../env.sh',
      '/cgi-bin/sub/inner.sh/../../env.sh',
      '/cgi-bin/env.sh/..',
    ], refused(400, 404))
  })

  it('answers 400 or 404 for encoded dots and slashes (%2e%2e, %2f), and spawns nothing', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    await expectNoSpawn(h.agent, h.url, [
      '/cgi-bin/%2e%2e/%2e%2e/bin/sh',
      '/cgi-bin/%2E%2E/cgi-bin/env.sh',
      '/cgi-bin/sub/%2e%2e/env.sh',
      '/cgi-bin/sub/.%2e/env.sh',
      '/cgi-bin/%2e%2e%2f%2e%2e%2fbin%2fsh',
      '/cgi-bin/sub%2finner.sh',
      '/cgi-bin/sub%2F..%2Fenv.sh',
    ], refused(400, 404))
  })

  it('answers 400 or 404 for double encoding (%252e) and NUL (%00), and spawns nothing', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    await expectNoSpawn(h.agent, h.url, [
      '/cgi-bin/%252e%252e/%252e%252e/bin/sh',
      '/cgi-bin/sub/%252e%252e/env.sh',
      '/cgi-bin/env%252esh',
      '/cgi-bin/env.sh%00',
      '/cgi-bin/env.sh%00.txt',
      '/cgi-bin/sub/inner.sh%00/x',
    ], refused(400, 404))
  })

  it('answers 400 or 404 for backslashes, raw or encoded, and spawns nothing', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    await expectNoSpawn(h.agent, h.url, [
      '/cgi-bin/..\\..\\bin\\sh',
      '/cgi-bin/sub\\..\\env.sh',
      '/cgi-bin/sub\\inner.sh',
      '/cgi-bin/..%5c..%5cbin%5csh',
      '/cgi-bin/sub%5cinner.sh',
    ], refused(400, 404))
  })

  it('refuses a symlink that leads out of the directory (403 or 404) and does not run its target', async ({ onTestFinished }) => {
    // The fixture tree has `escape` → /usr/bin/env (which would print the environment); this test also
    // builds a tree of its own whose outside target would leave a mark.
    const root = join(SCRATCH, `escape-${Date.now()}`)
    mkdirSync(join(root, 'app'), { recursive: true })
    mkdirSync(join(root, 'outside'))
    const evil = join(root, 'outside', 'evil.sh')
    writeFileSync(evil, '#!/bin/sh\necho "evil.sh $$" >> "$WG_CGI_MARK"\nprintf \'Content-Type: text/plain\\n\\nescaped\\n\'\n')
    chmodSync(evil, 0o755)
    symlinkSync(evil, join(root, 'app', 'link.sh'))
    symlinkSync('../outside', join(root, 'app', 'dirlink'))
    writeFileSync(join(root, 'app', 'ok.sh'), '#!/bin/sh\necho "ok.sh $$" >> "$WG_CGI_MARK"\nprintf \'Content-Type: text/plain\\n\\nok\\n\'\n')
    chmodSync(join(root, 'app', 'ok.sh'), 0o755)
    const h = await openCgi(onTestFinished, { jail: legacyApp({ route: '/jail', cgi: join(root, 'app') }) })

    const before = marks().length
    const answers = []
    for (const path of ['/cgi-bin/escape', '/cgi-bin/escape/x', '/jail/link.sh', '/jail/link.sh/x', '/jail/dirlink/evil.sh']) {
      const answer = await get(h.agent, h.url, path)
      answers.push(answer)
      expect([403, 404], `status of ${path}`).toContain(answer.status)
      expect(answer.body, `body of ${path}`).not.toMatch(/escaped|PATH=|WG_CGI/)
    }
    expect((await get(h.agent, h.url, '/jail/ok.sh')).body).toBe('ok\n')
    expect(marks().slice(before).map(line => line.split(' ')[0])).toEqual(['ok.sh'])
    const forbidden = answers.find(answer => answer.status === 403)
    if (forbidden !== undefined) expect(codesOf(h.lines, forbidden.requestId as string)).toContain('WG_ERR_SCRIPT_FORBIDDEN')
  })

  it('runs a script whose name holds shell metacharacters directly, never through a shell', async ({ onTestFinished }) => {
    const app = join(SCRATCH, `shell-${Date.now()}`)
    mkdirSync(app)
    const names = ['$(touch pwned-subst).sh', 'a;touch pwned-semi;.sh', 'b`touch pwned-tick`.sh', 'c|touch pwned-pipe.sh']
    for (const name of names) {
      writeFileSync(join(app, name), '#!/bin/sh\necho "meta.sh $$" >> "$WG_CGI_MARK"\nprintf \'Content-Type: text/plain\\n\\nran directly\\n\'\n')
      chmodSync(join(app, name), 0o755)
    }
    const h = await openCgi(onTestFinished, { meta: legacyApp({ route: '/meta', cgi: app }) })
    for (const name of names) {
      const res = await get(h.agent, h.url, `/meta/${encodeURIComponent(name)}`)
      expect([res.status, res.body], name).toEqual([200, 'ran directly\n'])
    }
    expect(readdirSync(app).filter(file => file.startsWith('pwned'))).toEqual([])
  })

  it('answers 403 for a file that is not executable, and never serves its source', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    await expectNoSpawn(h.agent, h.url, ['/cgi-bin/not-executable.sh', '/cgi-bin/not-executable.sh/x', '/cgi-bin/docs/README.txt'], (path, answer) => {
      const wrong = refused(403)(path, answer)
      if (/NOT-EXECUTABLE-SOURCE|A directory with no script/.test(answer.body)) wrong.push('the body shows the file')
      if (!codesOf(h.lines, answer.requestId as string).includes('WG_ERR_SCRIPT_FORBIDDEN')) wrong.push('no WG_ERR_SCRIPT_FORBIDDEN logged')
      return wrong
    })
  })

  it('answers 404 for a directory without a script, a missing script, and the app root', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    await expectNoSpawn(h.agent, h.url, ['/cgi-bin', '/cgi-bin/', '/cgi-bin/docs', '/cgi-bin/docs/', '/cgi-bin/sub', '/cgi-bin/sub/', '/cgi-bin/nope.sh', '/cgi-bin/nope.sh/x', '/cgi-bin/sub/nope/inner.sh'], (path, answer) => {
      const wrong = refused(404)(path, answer)
      if (!codesOf(h.lines, answer.requestId as string).includes('WG_ERR_SCRIPT_NOT_FOUND')) wrong.push('no WG_ERR_SCRIPT_NOT_FOUND logged')
      return wrong
    })
  })

  it('never serves a script source, whatever the method or suffix', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    // Lines only the fixtures' sources hold (env.sh, respond.sh, sub/inner.sh).
    const sources = ['#!/bin/sh', 'so tests can prove a request did', 'One CGI response shape', 'A script in a subdirectory', 'printf ']
    for (const path of ['/cgi-bin/respond.sh?created', '/cgi-bin/respond.sh/', '/cgi-bin/respond.sh/respond.sh', '/cgi-bin/sub/inner.sh/', '/cgi-bin/alias.sh?x']) {
      const answer = await get(h.agent, h.url, path)
      for (const text of sources) expect(answer.body, `${path} must not show ${text}`).not.toContain(text)
    }
  })

  it('answers 404, not a match, for a path that only shares the route prefix', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    await expectNoSpawn(h.agent, h.url, ['/cgi-binenv.sh', '/cgi-bin.sh', '/CGI-BIN/env.sh'], refused(404))
  })
})
