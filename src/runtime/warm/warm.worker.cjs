'use strict'
// piscina loads a worker file with require() first. Under Node 24 a require() of an ES module
// (require(esm)) runs module instantiation synchronously, and terminating the thread in the middle of it
// aborts the whole process (module_wrap.cc "InstantiateModule" assertion). This CommonJS shim loads in
// no time; the real worker is then loaded with import(), which thread termination handles cleanly.
// Copied as is into dist/runtime/ by `npm run build`: there the worker is warm.worker.js, in a clone .ts.
const { existsSync } = require('node:fs')
const { join } = require('node:path')
const WORKER = existsSync(join(__dirname, 'warm.worker.js')) ? './warm.worker.js' : './warm.worker.ts'
let serve
module.exports = async function serveShim (task) {
  serve ??= (await import(WORKER)).default
  return serve(task)
}
