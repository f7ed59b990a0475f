/**
 * The plan of a message: where each of its operations goes (the app's subscription and
 * observers for its routing key and type chain), whether it may be applied at all (the
 * sender owns the endpoint, the attributes fit their schema), and what must be applied
 * before it (its requirements). Routes are resolved once per key and type chain. An
 * operation of a type that reaches none of the app's subscriptions and observers (a type its
 * routes do not store, or one added to the publisher after they were generated) is not the
 * app's: it is skipped, as a dependency on such a type is.
 */
import { routingKey, topicMatches } from '../../common/topic.js';
import {
  type CompiledValidator,
  resolveObservers,
  resolveSubscription,
  type SubscriberSchema,
  type SubscriptionDescriptor,
} from '../contract.js';
import type { Dependency, Envelope, OperationMessage } from '../envelope.js';
import { Unprocessable } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { mismatchReason } from './mismatch.js';
import { objectKey, type Plan, type Requirement } from './types.js';

/** Where operations under a routing key, of a type chain, go. */
interface Route {
  /** Whether the app binds the key at all. */
  readonly bound: boolean;
  readonly subscription?: SubscriptionDescriptor;
  readonly targets: readonly string[];
}

/** Routes and tracked endpoints kept at most: type chains come from messages, which a faulty publisher could vary endlessly. */
const cacheLimit = 10_000;

export class Planner {
  private readonly routes = new Map<string, Route>();
  /** Whether this app tracks objects of an endpoint and type chain (see `tracks`), resolved once each. */
  private readonly tracked = new Map<string, boolean>();
  /** The endpoints and type chains whose skipped operations were reported as a warning. */
  private readonly warned = new Set<string>();

  constructor(
    private readonly schema: SubscriberSchema<unknown>,
    private readonly log: Logger,
  ) {}

  /** The plans of a message's operations; throws {@link Unprocessable} for one that can never be applied. */
  plan(envelope: Envelope): Plan[] {
    return envelope.operations.flatMap((op) => this.planOperation(op, envelope.app));
  }

  /**
   * What must be applied before the message: each object's previous version (per-object
   * order), and each dependency on an object this app stores or observes (causal order),
   * except what the message itself brings.
   */
  requirements(envelope: Envelope, plans: readonly Plan[]): Requirement[] {
    const brought = new Map<string, number>();
    const out: Requirement[] = [];
    for (const { op, key } of plans) {
      const earlier = brought.get(key);
      if (op.operation !== 'sync' && op.version > 1 && (earlier === undefined || earlier < op.version - 1)) {
        out.push({ key, publisher: envelope.app, endpoint: op.endpoint, id: op.id, version: op.version - 1 });
      }
      brought.set(key, Math.max(earlier ?? 0, op.version));
    }
    for (const dependency of envelope.dependencies) {
      const publisher = dependency.endpoint.split('/')[0] as string;
      const key = objectKey(publisher, dependency.endpoint, dependency.id);
      if ((brought.get(key) ?? -1) >= dependency.version || !this.tracks(dependency)) continue;
      out.push({ key, publisher, endpoint: dependency.endpoint, id: dependency.id, version: dependency.version });
    }
    return out;
  }

  private planOperation(op: OperationMessage, publisher: string): Plan[] {
    // A sync is bound, routed and resolved as the update it stands for.
    const key = routingKey(op.endpoint, op.operation === 'sync' ? 'update' : op.operation);
    const { bound, subscription, targets } = this.route(key, op.types);
    if (bound && op.endpoint.split('/')[0] !== publisher) {
      throw new Unprocessable(`app ${publisher} sent an operation on ${op.endpoint}, an endpoint it does not own`);
    }
    if (targets.length === 0) {
      // On an endpoint this app does not bind, it came along in a multi-type message; on one
      // it binds, its type is one the app's routes do not store or observe: not ours either way.
      if (bound) this.skipped(op, publisher);
      return [];
    }
    if (op.attributes !== null) {
      for (const target of targets) {
        const validate = this.schema.validate.attributes[target];
        if (validate && !validate(op.attributes))
          throw new Unprocessable(this.mismatch(op, publisher, target, validate));
      }
    }
    return [{ op, key: objectKey(publisher, op.endpoint, op.id), ...(subscription ? { subscription } : {}), targets }];
  }

  /** Says in the log that an operation was skipped: a warning the first time for its endpoint and type chain. */
  private skipped(op: OperationMessage, publisher: string): void {
    const chain = `${op.endpoint} ${op.types.join(' ')}`;
    const fields = { publisher, endpoint: op.endpoint, types: op.types, id: op.id, version: op.version };
    const text = `skipping ${op.types.join(' < ')} on ${op.endpoint}: no subscription or observer of ${this.schema.app} is for it or an ancestor`;
    if (this.warned.has(chain)) return this.log.debug(fields, text);
    if (this.warned.size >= cacheLimit) this.warned.clear();
    this.warned.add(chain);
    this.log.warn(
      fields,
      `${text} (to store such objects, subscribe to the type, then run an initial sync: \`promiscuous publish\`; further ones are logged at debug level)`,
    );
  }

  private mismatch(op: OperationMessage, publisher: string, target: string, validate: CompiledValidator): string {
    const subscription = this.schema.subscriptions[target];
    const kinds = new Map((subscription?.attributes ?? []).flatMap((a) => (a.kind ? [[a.name, a.kind] as const] : [])));
    return mismatchReason(
      { app: this.schema.app, publisher, target, observer: subscription === undefined, kinds },
      op,
      validate,
    );
  }

  /** Whether this app stores or observes the object of a dependency: only then can it wait for it. */
  private tracks(dependency: Dependency): boolean {
    const { endpoint, types } = dependency;
    const cacheKey = `${endpoint} ${types === undefined ? '' : types.join(' ')}`;
    let tracked = this.tracked.get(cacheKey);
    if (tracked === undefined) {
      const keys = (['create', 'update', 'destroy'] as const).map((o) => routingKey(endpoint, o));
      tracked = types
        ? keys.some((key) => this.route(key, types).targets.length > 0)
        : keys.some((key) => this.schema.bindings.some((b) => topicMatches(b, key)));
      if (this.tracked.size >= cacheLimit) this.tracked.clear();
      this.tracked.set(cacheKey, tracked);
    }
    return tracked;
  }

  /** Where an operation under a routing key, of a type chain, goes. */
  private route(key: string, types: readonly string[]): Route {
    const cacheKey = `${key} ${types.join(' ')}`;
    let route = this.routes.get(cacheKey);
    if (!route) {
      const subscription = resolveSubscription(this.schema, key, types);
      const observers = resolveObservers(this.schema, key, types);
      route = {
        bound: this.schema.bindings.some((b) => topicMatches(b, key)),
        ...(subscription ? { subscription } : {}),
        targets: [...(subscription ? [subscription.name] : []), ...observers.map((o) => o.name)],
      };
      if (this.routes.size >= cacheLimit) this.routes.clear();
      this.routes.set(cacheKey, route);
    }
    return route;
  }
}
