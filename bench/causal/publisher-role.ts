/**
 * The causal benchmark's publisher process: writers running requests at full speed, each inside
 * `publisher.context(...)`, so that every message depends on the context's previous one.
 */
import { schema as crowdtap, type Hooks, type Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import { AmqpTransport, Publisher } from '../../src/runtime/index.js';
import {
  type Commit,
  connect,
  newUser,
  nextTurn,
  now,
  QueryStats,
  type Role,
  services,
  type ShapeStat,
  virtuals,
} from '../lib/index.js';
import { orgRenameEvery, orgsPerWriter, type PublisherInit, usersPerWriter } from './settings.js';

export interface RunResult {
  readonly start: number;
  readonly commits: Commit[];
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly queries: Record<string, ShapeStat>;
}

export async function publisherRole(init: PublisherInit): Promise<Role> {
  const db = connect(init.db);
  const stats = new QueryStats();
  stats.attach(db);
  const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  const writers = new Writers(init.writers, stats);
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport,
    virtuals,
    errorNotifier: writers.noteRuntimeError,
  });
  writers.publisher = publisher;
  return {
    commands: {
      seed: () => writers.seed(),
      run: (args: { seconds: number }) => writers.drive(args),
      write: (args: { count: number }) => writers.drive(args),
    },
    async close() {
      await publisher.close();
      await transport.close();
      await db.destroy();
    },
  };
}

class Writers {
  publisher!: Publisher<Hooks, Virtuals>;
  /** Each writer's own organizations (it alone renames them) and users (it alone renames them). */
  private readonly ownOrgs: number[][] = [];
  private readonly ownUsers: string[][] = [];
  private readonly allOrgs: number[] = [];
  /** Users created lately by any writer: what requests read. */
  private readonly recent: string[] = [];
  private requests = 0;
  private runtimeErrors = 0;
  private firstRuntimeError: string | undefined;

  constructor(
    private readonly writers: number,
    private readonly stats: QueryStats,
  ) {}

  readonly noteRuntimeError = (e: Error): void => {
    this.runtimeErrors += 1;
    this.firstRuntimeError ??= e.message;
  };

  /** Organizations and users of every writer, published like everything else; returns how many. */
  async seed(): Promise<number> {
    const keys: string[] = [];
    let org = 0;
    for (let w = 0; w < this.writers; w++) {
      const orgs = Array.from({ length: orgsPerWriter }, () => ++org);
      const users = Array.from({ length: usersPerWriter }, () => ({ ...newUser(), org_id: orgs[0] as number }));
      await this.publisher.transaction(async (tx) => {
        for (const id of orgs) await tx.Organization.create({ id, name: `Org ${id}` });
        for (const user of users) await tx.User.create(user);
      });
      this.ownOrgs.push(orgs);
      this.allOrgs.push(...orgs);
      this.ownUsers.push(users.map((u) => u.id));
      this.recent.push(...users.map((u) => u.id));
      keys.push(...orgs.map((id) => `${id}:1`), ...users.map((u) => `${u.id}:1`));
    }
    await this.publisher.relay?.flush();
    return keys.length;
  }

  private async request(w: number): Promise<Commit[]> {
    const { publisher, recent } = this;
    this.requests += 1;
    const n = this.requests;
    const mine = this.ownUsers[w] as string[];
    const me = mine[n % mine.length] as string;
    const out: Commit[] = [];
    await publisher.context({ name: 'POST /members', userId: me }, async () => {
      // 1. A user joins an organization the request read.
      const orgId = this.allOrgs[Math.floor(Math.random() * this.allOrgs.length)] as number;
      const user = { ...newUser(), org_id: orgId };
      await publisher.transaction(async (tx) => {
        await tx.Organization.find(orgId);
        await tx.User.create(user);
      });
      out.push([`${user.id}:1`, now()]);
      // 2. The request reads a user another writer created lately, and renames its own user.
      const other = recent[Math.floor(Math.random() * recent.length)] as string;
      const row = await publisher.transaction(async (tx) => {
        await tx.User.find(other);
        return tx.User.update(me, { name: `Member ${me.slice(0, 8)} request ${n}` });
      });
      out.push([`${me}:${Number(row?._v)}`, now()]);
      recent[n % 100] = user.id;
      // 3. Now and then the request renames one of the writer's organizations.
      if (n % orgRenameEvery === 0) {
        const own = this.ownOrgs[w] as number[];
        const org = own[Math.floor(n / orgRenameEvery) % own.length] as number;
        const renamed = await publisher.transaction(async (tx) =>
          tx.Organization.update(org, { name: `Org ${org} rename ${n}` }),
        );
        out.push([`${org}:${Number(renamed?._v)}`, now()]);
      }
    });
    return out;
  }

  /** Requests at full speed by every writer, for `seconds` or until `count` requests. */
  async drive(args: { seconds?: number; count?: number }): Promise<RunResult> {
    this.runtimeErrors = 0;
    this.firstRuntimeError = undefined;
    const commits: Commit[] = [];
    let errors = 0;
    let firstError: string | undefined;
    let started = 0;
    this.stats.reset();
    const start = now();
    const end = args.seconds === undefined ? Number.POSITIVE_INFINITY : start + args.seconds * 1000;
    const count = args.count ?? Number.POSITIVE_INFINITY;
    await Promise.all(
      Array.from({ length: this.writers }, async (_, w) => {
        while (now() < end && started < count) {
          started += 1;
          await nextTurn();
          try {
            commits.push(...(await this.request(w)));
          } catch (error) {
            errors += 1;
            firstError ??= (error as Error).stack ?? String(error);
          }
        }
      }),
    );
    const queries = this.stats.snapshot();
    // Rows committed at the end are still on their way to the broker: wait for the relay.
    await this.publisher.relay?.flush();
    errors += this.runtimeErrors;
    firstError ??= this.firstRuntimeError;
    return { start, commits, requests: started, errors, ...(firstError ? { firstError } : {}), queries };
  }
}
