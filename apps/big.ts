// A 1 MiB body: a workload `warmgate bench` ships (src/bench/workloads/big.ts).
export { default, bigBody } from '../src/bench/workloads/big.ts'
