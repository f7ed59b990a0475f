// In this repository the compiler is read from its sources (the `source` export condition).
export * from '../../src/compiler/index.js';
