import type { PublisherSchema } from '../runtime/contract.js';
import { Publisher } from '../runtime/publisher/publisher.js';
import { exitCodes } from './exit-codes.js';
import { configVirtuals } from './hooks.js';
import type { Output } from './output.js';
import { type RuntimeOptions, withAppRuntime } from './runtime.js';
import { requireSchemaTables } from './tables.js';

/**
 * `promiscuous refresh <Model...>`: computes the derived attributes of every row of the
 * models and publishes the rows whose values change: after a migration adds a derived
 * attribute, whose column stays empty until then. Safe while live writes go on, and to run
 * again.
 */
export function refresh(models: readonly string[], options: RuntimeOptions, output: Output): Promise<number> {
  return withAppRuntime(options, output, async (runtime, opened) => {
    const { schema } = await runtime.generated<{ schema: PublisherSchema }>('publisher');
    const derived = Object.values(schema.models)
      .filter((m) => m.attributes.some((a) => a.derived))
      .map((m) => m.name);
    const unknown = models.filter((m) => !derived.includes(m));
    if (unknown.length > 0) {
      const has = derived.length > 0 ? `those with some: ${derived.join(', ')}` : 'none has any';
      output.error(
        `[${runtime.app}] ${unknown.join(', ')}: no model of ${runtime.app} with derived attributes (${has})`,
      );
      return exitCodes.usage;
    }
    await requireSchemaTables(runtime, schema);
    const publisher = opened.add(
      new Publisher({
        schema,
        knex: runtime.knex,
        transport: runtime.transport,
        virtuals: configVirtuals(runtime, schema),
        answerResync: false,
        logger: runtime.logger,
        ...(runtime.signatures ? { signatures: runtime.signatures } : {}),
      }),
      (p) => p.close(),
    );
    for (const model of models) {
      const rows = await publisher.refresh(model);
      output.info(`[${runtime.app}] ${model}: ${rows} rows refreshed`);
    }
    await publisher.relay?.flush();
    return exitCodes.ok;
  });
}
