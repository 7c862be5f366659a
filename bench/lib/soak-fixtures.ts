// What bench/soak.ts serves, written into its temp dir: one handler module for the warm, inline and cold
// apps, a directory of sh CGI scripts, and the config that mounts them (each app under /<mode>).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Every app's `timeout`: short, so that a timeout request holds its connection ~2 s, not 30. */
export const APP_TIMEOUT_MS = 2000
/** What a handler or script sleeps on /sleep: past the timeout, and past warm mode's 1 s kill grace. */
export const SLEEP_MS = 5000
/** Bytes /big streams: more than the kernel's socket buffers and the 256 KiB window, so that an abort lands mid-body. */
export const BIG_BYTES = 16 * 1024 * 1024

// /sleep ignores ctx.signal on purpose: in warm mode the thread is then terminated and replaced after the
// timeout, a path a soak should go through; /big is pulled, so a client that stops reading holds it back.
const HANDLER = `import { createHash } from 'node:crypto'
const chunk = new Uint8Array(65536).fill(120)
export default async function soak (request, _env, _ctx) {
  const action = new URL(request.url).pathname.split('/').pop()
  switch (action) {
    case 'hello':
      return new Response('hello\\n', { headers: { 'content-type': 'text/plain' } })
    case 'echo': {
      const body = new Uint8Array(await request.arrayBuffer())
      const sha = createHash('sha256').update(body).digest('hex')
      return new Response(body, { headers: { 'content-type': 'application/octet-stream', 'x-sha256': sha } })
    }
    case 'throw':
      throw new Error('soak: thrown on purpose')
    case 'sleep':
      await new Promise(resolve => setTimeout(resolve, ${SLEEP_MS}))
      return new Response('late\\n')
    case 'big': {
      let left = ${BIG_BYTES}
      const body = new ReadableStream({
        pull (controller) {
          if (left <= 0) return controller.close()
          controller.enqueue(chunk.slice())
          left -= chunk.length
        },
      })
      return new Response(body, { headers: { 'content-type': 'application/octet-stream' } })
    }
  }
  return new Response('no such action\\n', { status: 404 })
}
`

// `garbage.sh` writes no header block and exits 3 (a 502 the bench expects); `sleep.sh` leaves a child
// (`sleep`) in its process group, which the gateway must kill with the script at the timeout.
const SCRIPTS: Record<string, string> = {
  'hello.sh': "printf 'Content-Type: text/plain\\r\\n\\r\\nhello\\n'",
  'echo.sh': "printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\nexec cat",
  'garbage.sh': "echo 'this is not a CGI header block'\nexit 3",
  'sleep.sh': `sleep ${SLEEP_MS / 1000}\nprintf 'Content-Type: text/plain\\r\\n\\r\\nlate\\n'`,
  'big.sh': `printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\nexec head -c ${BIG_BYTES} /dev/zero`,
}

/** Writes the handler, the scripts and the config into `dir`; returns the config's path. */
export function writeSoakFixtures (dir: string): string {
  const handler = join(dir, 'handler.mjs')
  writeFileSync(handler, HANDLER)
  const cgiDir = join(dir, 'cgi')
  mkdirSync(cgiDir)
  for (const [name, body] of Object.entries(SCRIPTS)) {
    writeFileSync(join(cgiDir, name), `#!/bin/sh\n${body}\n`)
    chmodSync(join(cgiDir, name), 0o755)
  }
  const q = JSON.stringify
  const common = `timeout: ${APP_TIMEOUT_MS}, bodyLimit: '8mb'`
  // passEnv: the cold runners and scripts carry the bench's tag, so that findLeftovers() knows them.
  const config = join(dir, 'gateway.config.mjs')
  writeFileSync(config, `export default {
  apps: {
    warm: { route: '/warm', entry: ${q(handler)}, mode: 'warm', workers: { min: 1, max: 2 }, ${common} },
    inline: { route: '/inline', entry: ${q(handler)}, mode: 'inline', ${common} },
    cold: { route: '/cold', entry: ${q(handler)}, mode: 'cold', passEnv: ['WARMGATE_BENCH_TAG'], ${common} },
    cgi: { route: '/cgi', cgi: ${q(cgiDir)}, passEnv: ['WARMGATE_BENCH_TAG'], ${common} },
  },
}
`)
  return config
}
