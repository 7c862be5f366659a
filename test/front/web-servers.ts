// Real nginx and lighttpd in front of the responder: our own processes (never a system service), in the
// foreground (`daemon off;`, `-D`) so the test owns them, every file they write under a temp prefix,
// 127.0.0.1 on free ports; stopped (SIGTERM, then SIGKILL) and waited for in afterAll.
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { request } from 'undici'
import { stopChild, waitExit } from '../../src/bench/children.ts'

export function findBinary (candidates: string[]): string | undefined {
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

export const NGINX = findBinary(['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'])
export const LIGHTTPD = findBinary(['/usr/sbin/lighttpd', '/usr/local/sbin/lighttpd'])

export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address()
      server.close(() => typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')))
    })
  })
}

export interface WebServer {
  log (): string
  stop (): Promise<void>
}

/** Spawns `binary args`, waits (bounded) until `readyUrl` answers anything, and returns a handle that stops it. */
async function run (name: string, binary: string, args: string[], readyUrl: string, logFile: string): Promise<WebServer> {
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const log = (): string => {
    let file = ''
    try {
      file = readFileSync(logFile, 'utf8')
    } catch {}
    return `${output}${file}`
  }
  const stop = async (): Promise<void> => {
    await stopChild(child, 5000)
    if (!await waitExit(child, 1000)) throw new Error(`${name} (pid ${child.pid}) did not exit`)
  }
  const deadline = performance.now() + 10_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited during start-up:\n${log()}`)
    try {
      const res = await request(readyUrl, { headersTimeout: 1000, bodyTimeout: 1000 })
      await res.body.dump()
      break
    } catch {}
    if (performance.now() > deadline) {
      await stop()
      throw new Error(`${name} did not answer on ${readyUrl} within 10 s:\n${log()}`)
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { log, stop }
}

/**
 * nginx with `server` blocks of the caller's making (and `upstreams`), temp paths and logs in `prefix`.
 * As root, its worker runs as root too (`user root;`): the temp prefix is ours alone (mode 0700).
 */
export async function startNginx (prefix: string, readyPort: number, http: string): Promise<WebServer> {
  mkdirSync(prefix, { recursive: true })
  const p = (name: string): string => JSON.stringify(join(prefix, name))
  const conf = join(prefix, 'nginx.conf')
  writeFileSync(conf, [
    'daemon off;',
    process.getuid?.() === 0 ? 'user root;' : '',
    'worker_processes 1;',
    `pid ${p('nginx.pid')};`,
    `error_log ${p('error.log')} warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${p('client_body')};`,
    `  proxy_temp_path ${p('proxy')};`,
    `  fastcgi_temp_path ${p('fastcgi')};`,
    `  uwsgi_temp_path ${p('uwsgi')};`,
    `  scgi_temp_path ${p('scgi')};`,
    `  server { listen 127.0.0.1:${readyPort}; location / { return 204; } }`,
    http,
    '}',
    '',
  ].join('\n'))
  return run('nginx', NGINX as string, ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf], `http://127.0.0.1:${readyPort}/`, join(prefix, 'error.log'))
}

/** What nginx's own `fastcgi_params` file sends (Debian's /etc/nginx/fastcgi_params), inlined so the test does not depend on it. */
export const NGINX_FASTCGI_PARAMS = [
  'fastcgi_param QUERY_STRING $query_string;',
  'fastcgi_param REQUEST_METHOD $request_method;',
  'fastcgi_param CONTENT_TYPE $content_type;',
  'fastcgi_param CONTENT_LENGTH $content_length;',
  'fastcgi_param SCRIPT_NAME $fastcgi_script_name;',
  'fastcgi_param REQUEST_URI $request_uri;',
  'fastcgi_param DOCUMENT_URI $document_uri;',
  'fastcgi_param DOCUMENT_ROOT $document_root;',
  'fastcgi_param SERVER_PROTOCOL $server_protocol;',
  'fastcgi_param REQUEST_SCHEME $scheme;',
  'fastcgi_param HTTPS $https if_not_empty;',
  'fastcgi_param GATEWAY_INTERFACE CGI/1.1;',
  'fastcgi_param SERVER_SOFTWARE nginx/$nginx_version;',
  'fastcgi_param REMOTE_ADDR $remote_addr;',
  'fastcgi_param REMOTE_PORT $remote_port;',
  'fastcgi_param SERVER_ADDR $server_addr;',
  'fastcgi_param SERVER_PORT $server_port;',
  'fastcgi_param SERVER_NAME $server_name;',
].join(' ')

/** lighttpd with mod_fastcgi forwarding everything to `fastcgi` (host:port); its files in `dir`. */
export async function startLighttpd (dir: string, port: number, fastcgi: { host: string, port: number }): Promise<WebServer> {
  mkdirSync(join(dir, 'docroot'), { recursive: true })
  const conf = join(dir, 'lighttpd.conf')
  const errorLog = join(dir, 'lighttpd-error.log')
  const q = (s: string): string => JSON.stringify(s)
  writeFileSync(conf, [
    'server.modules = ( "mod_fastcgi" )',
    `server.document-root = ${q(join(dir, 'docroot'))}`,
    'server.bind = "127.0.0.1"',
    `server.port = ${port}`,
    `server.errorlog = ${q(errorLog)}`,
    `server.upload-dirs = ( ${q(dir)} )`,
    `server.pid-file = ${q(join(dir, 'lighttpd.pid'))}`,
    // Stream the response to the client as it arrives, instead of collecting it first.
    'server.stream-response-body = 2',
    `fastcgi.server = ( "/" => (( "host" => ${q(fastcgi.host)}, "port" => ${fastcgi.port}, "check-local" => "disable" )) )`,
    '',
  ].join('\n'))
  return run('lighttpd', LIGHTTPD as string, ['-D', '-f', conf], `http://127.0.0.1:${port}/`, errorLog)
}
