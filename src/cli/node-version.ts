// Imports nothing: the `warmgate` command runs this before anything that an older Node cannot load.

/** The oldest Node warmgate runs on (package.json `engines`): type stripping on by default, require(esm). */
export const MINIMUM_NODE = [22, 19] as const

/** A message saying what is needed, or undefined when `version` (e.g. `process.versions.node`) will do. */
export function unsupportedNode (version: string): string | undefined {
  const [major, minor] = version.split('.').map(Number)
  if (major > MINIMUM_NODE[0] || (major === MINIMUM_NODE[0] && minor >= MINIMUM_NODE[1])) return undefined
  return `warmgate needs Node.js ${MINIMUM_NODE.join('.')} or newer (it runs TypeScript handlers with Node's own type stripping); this is Node.js ${version}.\n` +
    `Install a newer Node (https://nodejs.org), or pin one in your project with \`npm i -D node@24\` and run warmgate through \`npx warmgate\`.`
}
