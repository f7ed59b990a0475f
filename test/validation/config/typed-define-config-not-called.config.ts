// `defineConfig<RuntimeHooks>()` alone exports the function that takes the config.
import { defineConfig } from 'promiscuous';

type RuntimeHooks = { virtuals: Record<string, never>; callbacks: Record<string, never> };

export default defineConfig<RuntimeHooks>();

// expect:
// config/typed-define-config-not-called.config.ts:6:16: error[P005] the default export must be an object (help: call the function `defineConfig<RuntimeHooks>()` returns with the config: `defineConfig<RuntimeHooks>()({ ... })`)
