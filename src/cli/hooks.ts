import type { ObserverCallbacks, PublisherSchema, Sink, SubscriberSchema } from '../runtime/contract.js';
import { type VirtualFunctions, virtualsProblems } from '../runtime/publisher/publications.js';
import { callbacksProblems } from '../runtime/subscriber/callbacks.js';
import { sinksProblems } from '../runtime/subscriber/sinks.js';
import { ConfigError } from './exit-codes.js';
import type { AppRuntime } from './runtime.js';

const typedHooks = '(`defineConfig<RuntimeHooks>()` with the generated `RuntimeHooks` checks them as you type)';

/**
 * The app's virtual attribute functions from the config's `virtuals`, checked against the
 * routes before anything is read or consumed: a mismatch stops the command at its start,
 * naming it, as a config to fix.
 */
export function configVirtuals(runtime: AppRuntime, schema: PublisherSchema): VirtualFunctions {
  const virtuals = (runtime.config.virtuals?.[runtime.app] ?? {}) as VirtualFunctions;
  const problems = virtualsProblems(schema, virtuals);
  if (problems.length > 0) {
    throw new ConfigError(
      `the config's \`virtuals.${runtime.app}\` does not match the routes: ${problems.join('; ')} ${typedHooks}`,
    );
  }
  return virtuals;
}

/** The app's callbacks from the config's `callbacks`, checked against the routes likewise. */
export function configCallbacks(
  runtime: AppRuntime,
  schema: SubscriberSchema,
): Readonly<Record<string, ObserverCallbacks<unknown>>> {
  const callbacks = (runtime.config.callbacks?.[runtime.app] ?? {}) as Readonly<
    Record<string, ObserverCallbacks<unknown>>
  >;
  const problems = callbacksProblems(schema, callbacks);
  if (problems.length > 0) {
    throw new ConfigError(
      `the config's \`callbacks.${runtime.app}\` does not match the routes: ${problems.join('; ')} ${typedHooks}`,
    );
  }
  return callbacks;
}

/** The app's sinks from the config's `sinks`, checked against the routes likewise. */
export function configSinks(runtime: AppRuntime, schema: SubscriberSchema): Readonly<Record<string, Sink<unknown>>> {
  const sinks = (runtime.config.sinks?.[runtime.app] ?? {}) as Readonly<Record<string, Sink<unknown>>>;
  const problems = sinksProblems(schema, sinks);
  if (problems.length > 0) {
    throw new ConfigError(
      `the config's \`sinks.${runtime.app}\` does not match the routes: ${problems.join('; ')} ${typedHooks}`,
    );
  }
  return sinks;
}
