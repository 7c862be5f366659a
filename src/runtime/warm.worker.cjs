'use strict'
// piscina loads a worker file with require() first. Under Node 24 a require() of an ES module
// (require(esm)) runs module instantiation synchronously, and terminating the thread in the middle of it
// aborts the whole process (module_wrap.cc "InstantiateModule" assertion). This CommonJS shim loads in
// no time; the real worker is then loaded with import(), which thread termination handles cleanly.
let serve
module.exports = async function serveShim (task) {
  serve ??= (await import('./warm.worker.ts')).default
  return serve(task)
}
