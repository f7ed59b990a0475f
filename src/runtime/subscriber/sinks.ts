/**
 * The app's sinks, by local name: each sends an object's payload (the attributes its target
 * receives) on to an external API when it differs from the one it last sent. A sink runs in
 * the apply transaction, after its row is written and the callbacks ran, and records what it
 * sent in `promiscuous_sinks` in that transaction: a send that throws or times out rolls the
 * apply back, and the message is retried (the same idempotency key), then parked.
 */
import type { Knex } from 'knex';
import { SchemaError, SinkError, SubscriberError } from '../../common/errors.js';
import { errorText } from '../../common/logger.js';
import type { RequiredTable, Sink, SinkEvent, SinkSend, SubscriberSchema } from '../contract.js';
import type { Database } from '../db/database.js';
import { sinksTable } from '../db/tables.js';
import type { Envelope, OperationMessage } from '../envelope.js';
import type { SubscriberObserver } from '../observability/subscriber-observer.js';

/** How long a send may take by default: well within the apply transaction a worker can hold. */
export const defaultSinkTimeoutMs = 10_000;

type Payload = Readonly<Record<string, unknown>>;
type SinksByTarget = Readonly<Record<string, Sink<unknown>>>;

interface SinkSettings {
  readonly send: SinkSend<unknown>;
  readonly timeoutMs: number;
  readonly attempts?: number;
  /** The attributes its target receives, by their published names. */
  readonly attributes: readonly string[];
}

/** A sink's state row: what it last sent for an object, and at which version. */
interface SentRow {
  readonly payload: string | null;
  readonly version: number | string;
}

/** The version of a state row that only locks an object nothing was sent for yet. */
const nothingSent = -1;

export class SinkRunner {
  private readonly sinks = new Map<string, SinkSettings>();

  /** Throws when a sink names no subscription or observer of the app, or is not a sink. */
  constructor(
    schema: SubscriberSchema<unknown>,
    bySink: SinksByTarget | undefined,
    private readonly database: Database,
    private readonly observer: SubscriberObserver,
  ) {
    const problems = sinksProblems(schema, bySink ?? {});
    if (problems.length > 0) {
      throw new SubscriberError(`the sinks of ${schema.app} do not match its routes: ${problems.join('; ')}`);
    }
    for (const [target, sink] of Object.entries(bySink ?? {})) {
      if (sink === undefined) continue;
      const { send, timeoutMs, attempts } = typeof sink === 'function' ? { send: sink } : sink;
      const attributes =
        schema.subscriptions[target]?.attributes.map((a) => a.name) ?? schema.observers[target]?.attributes ?? [];
      this.sinks.set(target, {
        send,
        timeoutMs: timeoutMs ?? defaultSinkTimeoutMs,
        ...(attempts === undefined ? {} : { attempts }),
        attributes,
      });
    }
  }

  /** Whether any sink is configured: only then does the subscriber need the sinks' table. */
  get configured(): boolean {
    return this.sinks.size > 0;
  }

  /** Whether the subscription or observer has a sink. */
  has(target: string): boolean {
    return this.sinks.has(target);
  }

  /**
   * Sends the target's payload of an operation just written in `trx`, if it differs from the
   * one last sent, and records it. The object's state row is locked first (inserted when it
   * has none, which makes a second transaction on a new object wait too), so two workers
   * never send for one object at once; the second then finds what the first sent.
   */
  async run(target: string, op: OperationMessage, envelope: Envelope, trx: Knex.Transaction): Promise<void> {
    const sink = this.sinks.get(target);
    if (!sink) return;
    const key = { sink: target, publisher: envelope.app, endpoint: op.endpoint, object_id: op.id };
    const sent = await this.lock(trx, key);
    const payload = op.attributes === null ? null : pick(op.attributes, sink.attributes);
    const previous = sent.payload === null ? null : (JSON.parse(sent.payload) as Payload);
    const text = payload === null ? null : canonicalJson(payload);
    // Sent for this version or a later one already (a worker that read its version before
    // another committed), or nothing it sees changed.
    if (Number(sent.version) >= op.version || text === (previous === null ? null : canonicalJson(previous))) {
      this.observer.sinkSkipped(target);
      return;
    }
    const event: Omit<SinkEvent<unknown>, 'signal'> = {
      type: op.types[0] ?? target,
      id: op.id,
      operation: op.operation,
      version: op.version,
      payload,
      previous,
      idempotencyKey: `${target}:${op.endpoint}:${op.id}:${op.version}${op.operation === 'sync' ? ':sync' : ''}`,
      trx,
    };
    const span = { endpoint: op.endpoint, operation: op.operation, version: op.version };
    await this.observer.sinkSpan(envelope, target, span, () => this.send(target, sink, event));
    await trx(sinksTable).where(key).update({ payload: text, version: op.version, sent_at: Date.now() });
  }

  /** The object's state row, locked until commit: inserted (nothing sent) when it has none. */
  private async lock(trx: Knex.Transaction, key: Record<string, string>): Promise<SentRow> {
    // A no-op update of an existing row: it locks it, as the insert locks a new one.
    await trx(sinksTable)
      .insert({ ...key, payload: null, version: nothingSent, sent_at: 0 })
      .onConflict(['sink', 'publisher', 'endpoint', 'object_id'])
      .merge(['sink']);
    const query = trx(sinksTable).where(key).first('payload', 'version');
    // A locking read returns the newest row on MySQL, whose plain reads see the transaction's snapshot.
    return (
      ((await (this.database.locksRows ? query.forUpdate() : query)) as SentRow | undefined) ?? {
        payload: null,
        version: nothingSent,
      }
    );
  }

  /** Calls `send`, failing it with a SinkError when it throws or outlives its timeout. */
  private async send(target: string, sink: SinkSettings, event: Omit<SinkEvent<unknown>, 'signal'>): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new SinkError(`sink ${target} timed out after ${sink.timeoutMs} ms`, target, sink.attempts);
        reject(error);
        controller.abort(error);
      }, sink.timeoutMs);
    });
    const sending = Promise.resolve().then(() => sink.send({ ...event, signal: controller.signal }));
    // A send that outlives its timeout settles unheard.
    sending.catch(() => {});
    try {
      await Promise.race([sending, timeout]);
    } catch (error) {
      if (error instanceof SinkError) throw error;
      throw new SinkError(`sink ${target} failed: ${errorText(error)}`, target, sink.attempts, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The tables the subscriber checks at start: the sinks' table only when sinks are configured.
 * Generated code older than sinks lists none: it must be generated again.
 */
export function subscriberTables(
  schema: Pick<SubscriberSchema<unknown>, 'app' | 'tables'>,
  sinks: boolean,
): readonly RequiredTable[] | undefined {
  if (!schema.tables) return undefined;
  if (sinks && !schema.tables.some((t) => t.role === 'sinks')) {
    throw new SchemaError(
      `${schema.app}'s generated code lists no table for its sinks: run \`promiscuous generate\`, then the app's migrations`,
    );
  }
  return sinks ? schema.tables : schema.tables.filter((t) => t.role !== 'sinks');
}

/** What keeps an app's sinks from matching its routes: a local name that is no subscription or observer, or no sink. */
export function sinksProblems(schema: SubscriberSchema<unknown>, bySink: Readonly<Record<string, unknown>>): string[] {
  const targets = [...Object.keys(schema.subscriptions), ...Object.keys(schema.observers)];
  const problems: string[] = [];
  for (const [target, sink] of Object.entries(bySink)) {
    if (!targets.includes(target)) {
      problems.push(`${target} is no subscription or observer (${schema.app} has ${targets.join(', ') || 'none'})`);
    } else if (sink !== undefined) problems.push(...sinkProblems(target, sink));
  }
  return problems;
}

function sinkProblems(target: string, sink: unknown): string[] {
  if (typeof sink === 'function') return [];
  if (typeof sink !== 'object' || sink === null || typeof (sink as { send?: unknown }).send !== 'function') {
    return [`${target} is no sink (a function, or { send, timeoutMs?, attempts? })`];
  }
  const problems: string[] = [];
  const { timeoutMs, attempts, ...rest } = sink as { timeoutMs?: unknown; attempts?: unknown; send: unknown };
  for (const option of Object.keys(rest)) {
    if (option !== 'send') problems.push(`${target}.${option} is no sink option (use send, timeoutMs, attempts)`);
  }
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0)) {
    problems.push(`${target}.timeoutMs is not a positive number`);
  }
  if (attempts !== undefined && !(Number.isInteger(attempts) && (attempts as number) > 0)) {
    problems.push(`${target}.attempts is not a positive integer`);
  }
  return problems;
}

/** The attributes a target receives, those the operation carries. */
function pick(attributes: Payload, names: readonly string[]): Payload {
  const out: Record<string, unknown> = {};
  for (const name of names) if (Object.hasOwn(attributes, name)) out[name] = attributes[name];
  return out;
}

/** JSON with every object's keys sorted: two payloads that mean the same read the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}
