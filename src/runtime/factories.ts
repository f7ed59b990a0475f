import type { Envelope, Operation, OperationMessage } from './envelope.js';

/**
 * Test factories for subscribers, produced by `promiscuous generate mocks`. A publisher hands
 * its generated factories module to its subscribers; their tests build the exact messages the
 * publisher would send and deliver them through their own applicators, without a broker.
 */

interface FactoryTarget {
  readonly app: string;
  readonly endpoint: string;
  /** This type first, then its ancestors. */
  readonly types: readonly string[];
}

export interface ModelFactoryOptions<A> extends FactoryTarget {
  readonly primaryKey: keyof A & string;
  /** Valid attributes for the n-th object (n starts at 1). */
  readonly defaults: (n: number) => A;
}

export interface ModelFactory<A> {
  /** Attributes valid against the published schema, with `overrides` applied. */
  build(overrides?: Partial<A>): A;
  /** A create message for a new object. */
  create(overrides?: Partial<A>): Envelope;
  /** An update message: the object's last state with `changes` applied, at the next version. */
  update(id: A[keyof A] | string, changes?: Partial<A>): Envelope;
  /** A destroy message at the next version. */
  destroy(id: A[keyof A] | string): Envelope;
}

export interface EphemeralFactory<A> {
  build(overrides?: Partial<A>): A;
  create(overrides?: Partial<A>): Envelope;
}

let messages = 0;

function envelope(target: FactoryTarget, operation: OperationMessage): Envelope {
  messages += 1;
  return {
    format: 1,
    id: `factory-${messages}`,
    app: target.app,
    host: 'factory',
    generation: 0,
    timestamp: Date.now(),
    context: null,
    operations: [operation],
    dependencies: [],
  };
}

export function modelFactory<A extends object>(options: ModelFactoryOptions<A>): ModelFactory<A> {
  let sequence = 0;
  const objects = new Map<string, { attributes: A; version: number }>();
  const message = (id: string, operation: Operation, version: number, attributes: A | null): Envelope =>
    envelope(options, {
      endpoint: options.endpoint,
      types: options.types,
      id,
      operation,
      version,
      attributes: attributes as Record<string, unknown> | null,
    });
  const known = (id: unknown): { attributes: A; version: number } => {
    const found = objects.get(String(id));
    if (found) return found;
    const attributes = { ...factory.build(), [options.primaryKey]: id } as A;
    return { attributes, version: 0 };
  };
  const factory: ModelFactory<A> = {
    build(overrides = {}) {
      sequence += 1;
      return { ...options.defaults(sequence), ...overrides };
    },
    create(overrides = {}) {
      const attributes = factory.build(overrides);
      const id = String(attributes[options.primaryKey]);
      objects.set(id, { attributes, version: 1 });
      return message(id, 'create', 1, attributes);
    },
    update(id, changes = {}) {
      const previous = known(id);
      const attributes = { ...previous.attributes, ...changes };
      const version = previous.version + 1;
      objects.set(String(id), { attributes, version });
      return message(String(id), 'update', version, attributes);
    },
    destroy(id) {
      const previous = known(id);
      const version = previous.version + 1;
      objects.set(String(id), { attributes: previous.attributes, version });
      return message(String(id), 'destroy', version, null);
    },
  };
  return factory;
}

export function ephemeralFactory<A extends object>(
  options: FactoryTarget & { readonly defaults: (n: number) => A },
): EphemeralFactory<A> {
  let sequence = 0;
  const factory: EphemeralFactory<A> = {
    build(overrides = {}) {
      sequence += 1;
      return { ...options.defaults(sequence), ...overrides };
    },
    create(overrides = {}) {
      const attributes = factory.build(overrides);
      return envelope(options, {
        endpoint: options.endpoint,
        types: options.types,
        id: `${options.endpoint}#${sequence}`,
        operation: 'create',
        version: 1,
        attributes: attributes as Record<string, unknown>,
      });
    },
  };
  return factory;
}

/** A deterministic UUID (version 4 layout) for the n-th object, so that factory output is stable. */
export function factoryUuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** A deterministic timestamp: 2024-01-01T00:00:00Z plus n seconds. */
export function factoryTimestamp(n: number): string {
  return new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString();
}
