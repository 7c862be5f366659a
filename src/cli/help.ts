export const USAGE = `warmgate — run one handler module warm (worker threads), inline, or cold (a process per request), and CGI scripts

Usage:
  warmgate init              write a starter gateway.config.ts, apps/hello.ts and tsconfig.json here
  warmgate start [options]   serve the apps of gateway.config.ts
  warmgate dev [options]     serve like start, and reload an app when one of its files is saved
  warmgate bench [options]   measure the apps in inline, warm and cold mode, side by side
  warmgate --version         print the version
  warmgate --help            this text; warmgate <command> --help for a command's options
`

export const HELP: Record<string, string> = {
  init: `Usage: warmgate init [--dir DIR]

Writes a starter project into the current directory (or DIR), each file only where none exists (an
existing file is never overwritten; if every one exists, nothing is written and the exit code is 1):
  gateway.config.ts   one app, hello, at /hello (warm mode)
  apps/hello.ts       a fetch handler, typed with warmgate's FetchHandler
  tsconfig.json       settings for Node's type stripping (erasable syntax only), for editors and tsc
and makes sure package.json says "type": "module" (the files are ES modules): it is created if missing and
gains the field if it has none; one that says "commonjs" is left as it is, with a note. Then prints the next
command: npx warmgate start.

Options:
  --dir DIR           where to write (default: the current directory)
  -h, --help          this text
`,
  start: `Usage: warmgate start [options]

Serves every app of the config file until SIGINT or SIGTERM (then closes cleanly, exit code 0).

Options:
  --config FILE       config file (default: gateway.config.ts in the current directory)
  --port N            port to listen on; 0 picks a free one (default: server.port, 8080)
  --host H            address to listen on (default: server.host, 127.0.0.1)
  --fastcgi ADDR      also accept FastCGI (nginx fastcgi_pass, lighttpd mod_fastcgi) on ADDR:
                      HOST:PORT or unix:/absolute/path.sock (default: server.fastcgi.listen, none)
  --mode MODE         run every handler app in this mode: warm, inline or cold (default: each app's
                      own; cgi apps always run one process per request)
  --log-level LEVEL   fatal, error, warn, info, debug, trace or silent (default: info)
  --processes N       run N gateway processes on the one port, each with its own pools, under a
                      supervisor that restarts one that dies; auto: one per core (default:
                      server.processes, 1 = no supervisor). SIGHUP then replaces them one by one.
  -h, --help          this text
`,
  dev: `Usage: warmgate dev [options]

Serves every app like start, and watches each warm or inline app's entry module and the local files it
imports (./ and ../ specifiers, transitively; not packages), and the config file and its imports. A save
rebuilds only the apps whose files changed (new workers prewarmed, traffic switched, old workers drained:
no request fails) and prints "↻ APP reloaded in N ms". A module that fails to load is answered by a 500
error page (HTML, or JSON for Accept: application/json) naming the file and line until a save fixes it;
a config with errors leaves the last good config serving. cold and cgi apps are fresh per request.

Options:
  --config FILE       config file (default: gateway.config.ts in the current directory)
  --port N            port to listen on; 0 picks a free one (default: server.port, 8080)
  --host H            address to listen on (default: server.host, 127.0.0.1)
  --fastcgi ADDR      also accept FastCGI (nginx fastcgi_pass, lighttpd mod_fastcgi) on ADDR:
                      HOST:PORT or unix:/absolute/path.sock (default: server.fastcgi.listen, none)
  --mode MODE         run every handler app in this mode: warm, inline or cold
  --log-level LEVEL   fatal, error, warn, info, debug, trace or silent (default: info)
  -h, --help          this text
`,
  bench: `Usage: warmgate bench [options]

Starts the gateway once per app, mode and round (in a child process, on 127.0.0.1) and drives load at it
from another process (wrk when it is on PATH, else a Node load generator). Rounds are interleaved; each
figure is the median over rounds, with min and max. Prints a table per app: req/s, latency p50/p90/p99/max,
errors, peak RSS, per-worker MB, CPU ms per request, first-request latency, ratio to inline.

Options:
  --config FILE         config file (default: gateway.config.ts in the current directory; without one,
                        the shipped workloads hello and cpu, and io and big with --app)
  --app NAME[,NAME]     apps to measure (default: every app of the config)
  --modes LIST          inline, warm and/or cold, comma-separated (default: all three); cgi apps
                        always run as cgi
  --duration D          measured time per run, after 1 s of warm-up: 5s, 1m or seconds (default: 5s)
  --connections N       connections for inline and warm (default: 32); cold and cgi get one per CPU
  --rounds N            interleaved rounds (default: 3)
  --json FILE           also write the result as JSON
  --report FILE.html    also write an HTML report (self-contained, renders offline)
  -h, --help            this text

What is requested (the same of every app measured; each flag overrides the app's bench key in the
config: bench: { path, method, body, headers }):
  --path PATH           path and query under the app's route, starting with / or ?: --path /users/1?x=2
                        requests /api/users/1?x=2 of an app at /api (default: the route itself; a cgi
                        app: one of its scripts)
  --method METHOD       HTTP method, sent upper-cased (default: GET, or POST when there is a body);
                        HEAD is measured with the Node load generator (wrk cannot)
  --body TEXT|@FILE     request body, or the bytes of FILE (a text that starts with @ goes in a file);
                        Content-Length is set from it; no Content-Type is sent unless --header gives one
  --header 'N: V'       a request header, repeatable: --header 'content-type: application/json'; added
                        to the app's bench.headers (the same name replaces it)

A run that fails (the gateway does not start, the first request is not answered 2xx or 3xx, the load
generator fails, or no request under load succeeds) does not stop the others: it is marked FAILED with
its reason in the table, the JSON and the HTML report, and the other runs are measured and reported.
Errors under load that leave some requests succeeding are counted in the errors column, not as failures.

Exit code: 0 when every run measured; 1 when any run failed (after printing the whole report and
writing --json and --report), on a bad option, or when interrupted.
`,
}

/** Prints a user-facing error (no stack) and exits with code 1. */
export function fail (message: string): never {
  process.stderr.write(`warmgate: ${message}\n`)
  process.exit(1)
}
