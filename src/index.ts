/**
 * `promiscuous`: the config API for `promiscuous.config.ts`. The runtime is `promiscuous/runtime`,
 * the compiler the package `promiscuous-compiler`.
 */
export * from './common/define-config.js';
export type { LogFields, LogFn, Logger, LogLevel } from './common/logger.js';
