/**
 * Watches for writes to published tables that bypass the hooks (a raw Knex query, say): they
 * would never be published. The hooks run their queries inside {@link RawWriteWatch.asHooks};
 * any other write to a published table is reported.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import { PublisherError } from '../../common/errors.js';

export class RawWriteWatch {
  /** Set while a hook runs its queries. */
  private readonly hooks = new AsyncLocalStorage<true>();

  constructor(
    private readonly enabled: boolean,
    knex: Knex,
    publishes: (table: string) => boolean,
    report: (error: Error, table: string) => void,
  ) {
    if (!enabled) return;
    knex.on('query', (query: { method?: string; sql?: string }) => {
      if (this.hooks.getStore() || !query.sql || !['insert', 'update', 'del', 'raw'].includes(query.method ?? ''))
        return;
      const table = writtenTable(query.sql);
      if (table === undefined || !publishes(table)) return;
      report(
        new PublisherError(
          `a write to the published table ${table} bypassed the hooks and will not be published: ${query.sql.slice(0, 120)}`,
        ),
        table,
      );
    });
  }

  /** Runs a hook's queries as the hooks', when raw writes are being watched for. */
  asHooks<T>(fn: () => Promise<T>): Promise<T> {
    return this.enabled ? this.hooks.run(true, fn) : fn();
  }
}

/** The table an INSERT, UPDATE or DELETE writes, whatever the dialect's quotes. */
function writtenTable(sql: string): string | undefined {
  const match = /^\s*(?:insert\s+into|update|delete\s+from)\s+[`"[]?(?:\w+[`"\]]?\.[`"[]?)?(\w+)/i.exec(sql);
  return match?.[1];
}
