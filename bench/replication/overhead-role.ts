/**
 * Figure 1's child processes: one side of the publisher's overhead each (bare writes, the hooks
 * with the relay, signing or not; with BENCH_DECOMPOSE=1 the hooks' statements alone, the hooks without relay).
 */
import type { Knex } from 'knex';
import { schema as crowdtap, type Hooks, type Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';
import { AmqpTransport, NullTransport, outboxTable, Publisher } from '../../src/runtime/index.js';
import {
  type DbRef,
  newUser,
  nextTurn,
  now,
  type QueryStats,
  type Role,
  services,
  type ShapeStat,
  type User,
  virtuals,
} from '../lib/index.js';
import {
  connectTo,
  type InitArgs,
  settings,
  signatureOptions,
  type Statement,
  statementsOf,
  template,
} from './settings.js';
import { bareRow } from './workload.js';

/**
 * The statements one hook write issues (BEGIN and COMMIT aside), captured in this process (so
 * that the side replaying them never loads a publisher) on the database that side writes.
 */
export async function captureStatements(ref: DbRef): Promise<Record<'create' | 'update', Statement[]>> {
  const db = connectTo(ref);
  const captured: Statement[] = [];
  const listen = (q: { sql: string; bindings?: readonly unknown[]; __knexTxId?: string }): void => {
    if (!q.__knexTxId || /^(begin|commit|rollback|start)/i.test(q.sql.trim())) return;
    captured.push({ sql: q.sql.replace(/\$\d+/g, '?'), bindings: q.bindings ?? [] });
  };
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport: new NullTransport(),
    virtuals,
    relay: false,
  });
  try {
    db.on('query', listen);
    await publisher.transaction(async (tx) => void (await tx.User.create({ ...newUser(), id: template.id })));
    const create = captured.splice(0);
    await publisher.transaction(async (tx) => void (await tx.User.update(template.id, { name: template.name })));
    const update = captured.splice(0);
    return { create, update };
  } finally {
    db.removeListener('query', listen);
    await publisher.close();
    await db.destroy();
  }
}

/** Replays captured statements in one transaction, with another write's id and name. */
async function replay(
  db: Knex,
  statements: readonly Statement[],
  values: { id: string; name?: string },
): Promise<void> {
  const swap = (b: unknown): unknown => {
    if (b === template.id) return values.id;
    if (b === template.name && values.name !== undefined) return values.name;
    return b;
  };
  await db.transaction(async (trx) => {
    for (const s of statements) await trx.raw(s.sql, s.bindings.map(swap) as Knex.RawBinding[]);
  });
}

/** Errors the runtime reports through its `errorNotifier` (the relay's, say), counted. */
export class ErrorLog {
  private count = 0;
  private first: string | undefined;
  readonly note = (error: Error): void => {
    this.count += 1;
    this.first ??= error.message;
  };

  take(): { runtimeErrors: number; firstRuntimeError?: string } {
    const out = { runtimeErrors: this.count, ...(this.first ? { firstRuntimeError: this.first } : {}) };
    this.count = 0;
    this.first = undefined;
    return out;
  }
}

/** What a side reports of a phase. */
export interface PhaseResult {
  readonly runtimeErrors: number;
  readonly firstRuntimeError?: string;
  readonly writes: number;
  readonly ms: number;
  readonly backlog: number;
  readonly drainMs: number;
  readonly queries: Record<string, ShapeStat>;
}

type Ops = Record<'create', (user: User) => Promise<void>> &
  Record<'update', (user: User, name: string) => Promise<void>>;

/**
 * Figure 1, one side: bare writes (a plain Knex, no publisher anywhere in the process, as in an
 * app without promiscuous) or writes through the hooks (publisher and relay). The two sides run
 * in two processes that take turns on the same table, so that nothing of one (the publisher's
 * query listener, the promise hooks its AsyncLocalStorage turns on) slows the other.
 */
export async function overheadRole(init: InitArgs): Promise<Role> {
  const db = connectTo(init.db);
  const stats = statementsOf(db);
  const errors = new ErrorLog();
  let publisher: Publisher<Hooks, Virtuals> | undefined;
  let transport: AmqpTransport | undefined;
  if (init.variant === 'publisher' || init.variant === 'signed' || init.variant === 'relay-off') {
    transport = await AmqpTransport.connect({
      url: services.amqpUrl,
      namespace: init.namespace,
      frameSize: settings.frameSize,
    });
    // The subscriber's queue exists, so that the broker persists what the relay publishes.
    await transport.declare(sniper.app, sniper.bindings);
    publisher = new Publisher<Hooks, Virtuals>({
      schema: crowdtap,
      knex: db,
      transport,
      virtuals,
      errorNotifier: errors.note,
      ...signatureOptions(init),
      ...(init.variant === 'relay-off' ? { relay: false } : {}),
    });
  }
  const side = new OverheadSide(db, stats, errors, publisher, sideOps(init, db, publisher));
  return {
    commands: {
      seed: (args: { writers: number; perWriter: number }) => side.seed(args.writers, args.perWriter),
      phase: (args: { op: 'create' | 'update'; seconds: number; writers: number }) =>
        side.phase(args.op, args.seconds, args.writers),
    },
    async close() {
      await publisher?.close();
      await transport?.close();
      await db.destroy();
    },
  };
}

/** A side's one-row writes. */
function sideOps(init: InitArgs, db: Knex, p: Publisher<Hooks, Virtuals> | undefined): Ops {
  if (p) {
    return {
      create: (user) => p.transaction(async (tx) => void (await tx.User.create(user))),
      update: (user, name) => p.transaction(async (tx) => void (await tx.User.update(user.id, { name }))),
    };
  }
  if (init.variant === 'statements') {
    // The statements the hooks issued for a template write, replayed as raw SQL on plain
    // Knex with this write's id and name: what the statements alone cost.
    return {
      create: (user) => replay(db, init.statements?.create ?? [], { id: user.id }),
      update: (user, name) => replay(db, init.statements?.update ?? [], { id: user.id, name }),
    };
  }
  return {
    create: (user) => db.transaction(async (trx) => void (await trx('users').insert(bareRow(user)))),
    update: (user, name) =>
      db.transaction(async (trx) => void (await trx('users').where('id', user.id).update({ name }))),
  };
}

class OverheadSide {
  private readonly pool: User[][] = [];
  private updates = 0;

  constructor(
    private readonly db: Knex,
    private readonly stats: QueryStats,
    private readonly errors: ErrorLog,
    private readonly publisher: Publisher<Hooks, Virtuals> | undefined,
    private readonly ops: Ops,
  ) {}

  /** Rows for the updates: each writer updates its own, round robin. */
  async seed(writers: number, perWriter: number): Promise<null> {
    const p = this.publisher;
    for (let w = 0; w < writers; w++) {
      const users = Array.from({ length: perWriter }, newUser);
      if (p) {
        await p.transaction(async (tx) => {
          for (const user of users) await tx.User.create(user);
        });
      } else await this.db.batchInsert('users', users.map(bareRow), 50);
      this.pool.push(users);
    }
    await p?.relay?.flush();
    return null;
  }

  async phase(op: 'create' | 'update', seconds: number, writers: number): Promise<PhaseResult> {
    const p = this.publisher;
    await p?.relay?.flush();
    this.errors.take();
    let writes = 0;
    this.stats.reset();
    const start = now();
    const end = start + seconds * 1000;
    let last = start;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const mine = this.pool[w % this.pool.length] ?? [];
        for (let i = 0; now() < end; i++) {
          await nextTurn();
          if (op === 'create') await this.ops.create(newUser());
          else {
            // A name never used before, so that every update changes a published attribute.
            this.updates += 1;
            const user = mine[i % mine.length] as User;
            await this.ops.update(user, `User ${user.last_name} update ${this.updates}`);
          }
          writes += 1;
          last = now();
        }
      }),
    );
    const queries = this.stats.snapshot();
    let backlog = 0;
    if (p) {
      const [{ n }] = (await this.db(outboxTable).count({ n: '*' })) as [{ n: number | string }];
      backlog = Number(n);
      await p.relay?.flush();
    }
    return { writes, ms: last - start, backlog, drainMs: now() - start, queries, ...this.errors.take() };
  }
}
