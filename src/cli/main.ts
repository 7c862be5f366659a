#!/usr/bin/env node
// The `warmgate` command. Thin: parses arguments and calls the same API embedders use; a command's
// code is imported only when that command runs. The Node version is checked first, before anything an
// older Node could fail to load with an error that says nothing of the version.
import { unsupportedNode } from './node-version.ts'

const unsupported = unsupportedNode(process.versions.node)
if (unsupported !== undefined) {
  process.stderr.write(`warmgate: ${unsupported}\n`)
  process.exit(1)
}
const { fail, HELP, USAGE } = await import('./help.ts')

const COMMANDS: Record<string, () => Promise<{ run: (argv: string[]) => Promise<void> }>> = {
  init: async () => import('./init.ts'),
  start: async () => import('./start.ts'),
  dev: async () => import('./dev.ts'),
  bench: async () => import('./bench.ts'),
}

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined
    process.stdout.write(topic !== undefined && topic in HELP ? HELP[topic] : USAGE)
    return
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${(await import('../version.ts')).VERSION}\n`)
    return
  }
  const load = COMMANDS[command]
  if (load === undefined) fail(`unknown command '${command}'. Commands: ${Object.keys(COMMANDS).join(', ')} (see warmgate --help)`)
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP[command])
    return
  }
  await (await load()).run(rest)
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const code = (error as { code?: unknown })?.code
  // Our own errors are for users: the message says it all. Anything else is a bug: show the stack.
  if (typeof code === 'string' && code.startsWith('WG_ERR_')) fail((error as Error).message)
  console.error(error)
  process.exit(1)
})
