// The project's benchmarks track their children with the same code as `warmgate bench` (src/bench/).
export { eachLine, exited, stopAll, stopChild, track, waitExit } from '../../src/bench/children.ts'
