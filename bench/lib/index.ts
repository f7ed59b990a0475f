/**
 * What the benchmarks share (bench/causal.ts, bench/initial-sync.ts, bench/replication.ts).
 * bench/compile.ts takes only its tables, from bench/table.ts, which loads nothing else.
 */
export * from './applied.js';
export * from './cpu.js';
export * from './databases.js';
export * from './deliveries.js';
export * from './format.js';
export * from './machine.js';
export * from './open-loop.js';
export * from './options.js';
export * from './processes.js';
export * from './profiles.js';
export * from './report.js';
export * from './statements.js';
export * from './users.js';
export { table } from '../table.js';
