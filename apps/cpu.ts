// ~2 ms of synchronous work a request (PBKDF2): a workload `warmgate bench` ships (src/bench/workloads/cpu.ts).
export { default } from '../src/bench/workloads/cpu.ts'
