import type { App, SubscribedAttribute } from '../ir/ir.js';
import { literal, literalCode, propertyKey } from './literal.js';
import { constant, iface, importNamespace, importTypes, printModule, type Statement } from './module.js';
import { attributesType, kindOf, wireType } from './ts-types.js';

/**
 * `subscriber.ts`: the applicators of an app's subscriptions. Each subscription maps a
 * published type to a table, its key column and its columns; observers map a type to
 * callbacks. `resolution` shows where each known published type lands (its nearest
 * subscribed ancestor); the runtime resolves unknown types the same way from `types`.
 */
export function emitSubscriber(app: App, header: string): string {
  return printModule(header, [
    importTypes(
      ['Json', 'ObserverCallbacks', 'ObserverDescriptor', 'Sink', 'SubscriberSchema', 'SubscriptionDescriptor'],
      'promiscuous/runtime',
    ),
    importNamespace('migrations', './migrations.js'),
    importNamespace('validators', './validators.js'),
    constant('app', literal(app.name), 'The subscribing app.'),
    ...attributeTypes(app),
    ...descriptors(app),
    iface(
      'Callbacks',
      [...app.subscriptions, ...app.observers].map(
        (x) => `${propertyKey(x.name)}?: ObserverCallbacks<${attributesType(x.name)}>`,
      ),
      'Callbacks after an operation is applied (subscriptions) or received (observers), by local name.',
    ),
    iface(
      'Sinks',
      [...app.subscriptions, ...app.observers].map((x) => `${propertyKey(x.name)}?: Sink<${attributesType(x.name)}>`),
      "Sinks that send each change of an object's attributes on, by local name.",
    ),
    constant(
      'resolution',
      `${literal(resolutionTable(app))} as const`,
      'Published type -> the subscription it is applied to, by endpoint.',
    ),
    constant(
      'schema',
      literalCode([
        'app',
        'subscriptions',
        'observers',
        `bindings: ${literal(bindings(app))}`,
        `validate: ${literalCode(['envelope: validators.validateEnvelope', `attributes: ${validatorMap(app)}`])}`,
        "tables: migrations.tables.filter((t) => t.role === 'versions' || t.role === 'sinks' || t.role === 'subscribed')",
      ]),
      `Everything the runtime needs to apply the subscriptions of app \`${app.name}\`.`,
      'SubscriberSchema<Callbacks, Sinks>',
    ),
  ]);
}

/** The attributes of each subscription (a subtype's own, after its parent's) and observer. */
function attributeTypes(app: App): Statement[] {
  const subscriptions = app.subscriptions.map((s) => {
    const inherited = s.parent !== undefined && s.attributes.some((a) => !a.own);
    return iface(
      attributesType(s.name),
      s.attributes.filter((a) => a.own || !inherited).map(property),
      `Attributes of \`${s.type}\` that \`${app.name}\` stores in \`${s.table}\` (from \`${s.source.from}\`).`,
      inherited && s.parent ? [attributesType(s.parent)] : [],
    );
  });
  const observers = app.observers.map((o) =>
    iface(
      attributesType(o.name),
      o.attributes.map(property),
      `Attributes of \`${o.type}\` that \`${app.name}\` observes (from \`${o.source.from}\`).`,
    ),
  );
  return [...subscriptions, ...observers];
}

/** The plain data the runtime reads: where each subscribed type is stored, and what each observer gets. */
function descriptors(app: App): Statement[] {
  return [
    constant(
      'subscriptions',
      `${literal(
        Object.fromEntries(
          app.subscriptions.map((s) => [
            s.name,
            {
              name: s.name,
              type: s.type,
              binding: s.source.binding,
              table: s.table,
              key: s.key.column,
              parent: s.parent,
              discriminator: s.discriminator,
              attributes: s.attributes.map((a) => ({
                name: a.name,
                column: a.column,
                kind: a.type && kindOf(a.type),
                references: a.references,
              })),
            },
          ]),
        ),
      )} satisfies Readonly<Record<string, SubscriptionDescriptor>>`,
      'Where each subscribed type is stored.',
    ),
    constant(
      'observers',
      `${literal(
        Object.fromEntries(
          app.observers.map((o) => [
            o.name,
            { name: o.name, type: o.type, binding: o.source.binding, attributes: o.attributes.map((a) => a.name) },
          ]),
        ),
      )} satisfies Readonly<Record<string, ObserverDescriptor>>`,
    ),
  ];
}

/**
 * An attribute as callbacks receive it. A nullable one is optional: a publisher older than the
 * attribute does not send it, and its requirement schema lets it be absent.
 */
function property(a: SubscribedAttribute): string {
  const key = `${propertyKey(a.name)}${a.nullable ? '?' : ''}`;
  // Embedded documents are typed by the publisher; a subscriber sees plain JSON objects.
  if (a.type?.kind === 'embedded') {
    const doc = '{ readonly [key: string]: Json }';
    return `${key}: ${a.type.many ? `${doc}[]` : doc}${a.nullable ? ' | null' : ''}`;
  }
  return `${key}: ${a.type ? wireType(a.type, a.nullable ?? false) : 'unknown'}`;
}

function resolutionTable(app: App): Record<string, Record<string, string>> {
  const table: Record<string, Record<string, string>> = {};
  for (const r of app.resolutions) {
    table[r.endpoint] ??= {};
    (table[r.endpoint] as Record<string, string>)[r.type] = r.subscription;
  }
  return table;
}

export function bindings(app: App): string[] {
  return [...new Set([...app.subscriptions, ...app.observers].map((x) => x.source.binding))].sort();
}

function validatorMap(app: App): string {
  return literalCode(
    [...app.subscriptions, ...app.observers].map(
      (x) => `${propertyKey(x.name)}: validators.validateSubscribed${x.name}`,
    ),
  );
}
