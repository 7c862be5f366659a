// Awaits a 20 ms timer: a workload `warmgate bench` ships (src/bench/workloads/io.ts).
export { default } from '../src/bench/workloads/io.ts'
