/**
 * `promiscuous`: the config API for `promiscuous.config.ts`. The runtime is `promiscuous/runtime`,
 * the compiler `promiscuous/compiler`.
 */
export * from './compiler/config/define-config.js';
export type { LogFields, LogFn, Logger, LogLevel } from './common/logger.js';
