export const USAGE = `warmgate — run one handler module warm (worker threads), inline, or cold (a process per request), and CGI scripts

Usage:
  warmgate start [options]   serve the apps of gateway.config.ts
  warmgate --version         print the version
  warmgate --help            this text; warmgate <command> --help for a command's options
`

export const HELP: Record<string, string> = {
  start: `Usage: warmgate start [options]

Serves every app of the config file until SIGINT or SIGTERM (then closes cleanly, exit code 0).

Options:
  --config FILE       config file (default: gateway.config.ts in the current directory)
  --port N            port to listen on; 0 picks a free one (default: server.port, 8080)
  --host H            address to listen on (default: server.host, 127.0.0.1)
  --mode MODE         run every handler app in this mode: warm, inline or cold (default: each app's
                      own; cgi apps always run one process per request)
  --log-level LEVEL   fatal, error, warn, info, debug, trace or silent (default: info)
  -h, --help          this text
`,
}

/** Prints a user-facing error (no stack) and exits with code 1. */
export function fail (message: string): never {
  process.stderr.write(`warmgate: ${message}\n`)
  process.exit(1)
}
