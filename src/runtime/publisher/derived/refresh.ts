/**
 * Brings the derived attributes of the subjects a transaction's writes may have altered up to
 * date, before the transaction's outbox row is written: each subject once, however many writes
 * reached it, in the compiler's order (an attribute after those it reads). A subject whose
 * value is unchanged is left alone and publishes nothing; a model that coalesces has its
 * subjects marked for the refresher instead, due after its window.
 */
import type { AttributeDescriptor, ModelDescriptor, PublisherSchema } from '../../contract.js';
import type { Dependency } from '../../envelope.js';
import { PublisherError } from '../../../common/errors.js';
import { sameWire, toColumn, toWire } from '../../values.js';
import type { DerivedChanges } from './changes.js';
import { type ComputeContext, computeDerived, readChunk } from './compute.js';

/** The table of subjects waiting for a coalesced refresh, which the generated migrations make. */
export const refreshTable = 'promiscuous_refresh';

/** Where a refresh writes: the transaction's recorder. */
export interface RefreshTarget {
  /** Writes a derived column of subjects and records the operations that publish them. */
  writeDerived(
    model: ModelDescriptor,
    attribute: AttributeDescriptor,
    keys: readonly unknown[],
    value: unknown,
  ): Promise<void>;
  /** Whether the transaction gives the row a new version anyway. */
  versions(table: string, key: string): boolean;
  /** The transaction's dependencies: those on the related rows a new value was read from join them. */
  readonly dependencies: Dependency[];
}

export interface RefreshOptions {
  readonly schema: PublisherSchema<unknown, unknown>;
  readonly compute: ComputeContext;
  readonly changes: DerivedChanges;
  readonly target: RefreshTarget;
  /** Milliseconds since the epoch, for the due time of coalesced subjects. */
  readonly now: number;
  /** Models refreshed now even though they coalesce: those whose subjects are due. */
  readonly due?: ReadonlySet<string>;
}

export async function refreshDerived(options: RefreshOptions): Promise<void> {
  const { schema, compute, changes, target } = options;
  for (const { model, attribute } of schema.derivations ?? []) {
    if (!changes.pending) return;
    const keys = await changes.take(compute.session, model, attribute);
    if (keys.size === 0) continue;
    const window = schema.coalesce?.[model];
    const descriptor = schema.models[model];
    if (window !== undefined && descriptor && !options.due?.has(model)) {
      // A subject the transaction writes anyway is published with its values; others wait.
      // Each is marked all the same: a refresher round that read it before this commit then
      // keeps its mark and looks again, rather than leaving what it read last.
      await markDue(compute, model, [...keys.keys()], options.now + window);
      const later = [...keys.keys()].filter((key) => !target.versions(descriptor.table, key));
      for (const key of later) keys.delete(key);
      if (keys.size === 0) continue;
    }
    const derived = descriptor?.attributes.find((a) => a.name === attribute && a.derived);
    if (!descriptor || !derived)
      throw new PublisherError(`${model}.${attribute} is not a derived attribute of ${schema.app}`);
    // Subjects that take the same new value are written by one statement.
    const groups = new Map<string, { value: unknown; keys: unknown[] }>();
    for (const computed of await computeDerived(compute, descriptor, derived, [...keys.values()])) {
      const value = toWire(derived.kind, computed.value);
      if (sameValue(derived.kind, computed.stored, value)) continue;
      target.dependencies.push(...computed.read);
      const text = JSON.stringify(value);
      const group = groups.get(text) ?? { value, keys: [] };
      group.keys.push(computed.key);
      groups.set(text, group);
    }
    for (const { value, keys: same } of groups.values()) {
      for (let i = 0; i < same.length; i += readChunk) {
        await target.writeDerived(descriptor, derived, same.slice(i, i + readChunk), toColumn(derived.kind, value));
      }
    }
  }
}

/** Whether a stored value is the one computed: decimals by their digits, whatever the scale each came at. */
function sameValue(kind: AttributeDescriptor['kind'], stored: unknown, value: unknown): boolean {
  const wire = toWire(kind, stored);
  if (kind !== 'decimal' || typeof wire !== 'string' || typeof value !== 'string') return sameWire(wire, value);
  const digits = (text: string) => (text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text);
  return digits(wire) === digits(value);
}

/**
 * Marks subjects of a coalescing model due at `due`. A subject marked already keeps its due
 * time (a burst waits at most one window) and its mark's version goes up: a refresher that
 * read the subject before this change then leaves the mark for the next round.
 */
async function markDue(compute: ComputeContext, model: string, keys: readonly string[], due: number): Promise<void> {
  const { session } = compute;
  for (let i = 0; i < keys.length; i += readChunk) {
    const rows = keys.slice(i, i + readChunk).map((id) => ({ model, id, due_at: due, version: 0 }));
    await session
      .table(refreshTable)
      .insert(rows)
      .onConflict(['model', 'id'])
      .merge({ version: session.table(refreshTable).client.raw('??.?? + 1', [refreshTable, 'version']) });
  }
}
