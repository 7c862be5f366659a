// The smallest handler, a 13-byte text answer. It is also a workload `warmgate bench` ships, so it lives in
// the package's sources (src/bench/workloads/hello.ts); this example serves it as is.
export { default } from '../src/bench/workloads/hello.ts'
