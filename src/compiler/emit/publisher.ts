import type { App, Field, Publication } from '../ir/ir.js';
import { literal, literalCode, propertyKey } from './literal.js';
import {
  constant,
  iface,
  importNamespace,
  importTypes,
  importValues,
  printModule,
  type Statement,
  typeAlias,
} from './module.js';
import { dependents, derivationOrder, hasDerived } from './derived.js';
import { relatedParameters } from './related-types.js';
import { attributesType, columnType, fieldProperty, kindOf, rowType, wireType } from './ts-types.js';

/**
 * `publisher.ts`: the typed hooks of an app's published models. Row, create and update types
 * follow the table's columns; attribute types follow the wire. The descriptors are plain data
 * that the runtime reads; `bind` wraps the runtime's transaction in the typed hooks.
 */
export function emitPublisher(app: App, header: string): string {
  return printModule(header, [
    ...imports(app),
    ...app.embedded.map((model) =>
      iface(
        attributesType(model.name),
        model.fields.map((f) => fieldProperty(f)),
        `An embedded \`${model.name}\` document.`,
      ),
    ),
    ...app.publications.flatMap((p) => publicationTypes(p, app)),
    ...app.ephemerals.map((e) =>
      iface(
        attributesType(e.name),
        e.fields.map((f) => fieldProperty(f)),
        `Attributes of the ephemeral \`${e.name}\`, published on \`${e.endpoint.name}\`.`,
      ),
    ),
    virtualsType(app),
    ...descriptors(app),
    ...derivedDescriptors(app),
    ...hooks(app),
    schema(app),
  ]);
}

function imports(app: App): Statement[] {
  return [
    importTypes(
      [
        'EmbeddedDescriptor',
        'EphemeralDescriptor',
        'EphemeralHook',
        'Json',
        'ModelDescriptor',
        'ModelHooks',
        'PublisherSchema',
        'PublisherTransaction',
        ...(hasDerived(app) ? ['DependentDescriptor'] : []),
      ],
      'promiscuous/runtime',
    ),
    importValues(['bindEphemeral', 'bindModel'], 'promiscuous/runtime'),
    importNamespace('migrations', './migrations.js'),
    importNamespace('validators', './validators.js'),
    constant('app', literal(app.name), 'The publishing app.'),
  ];
}

/** Whether the app supplies a field's function: a virtual attribute, or a derived one that reads related rows. */
export function isComputed(f: Field): boolean {
  return f.virtual !== undefined || f.derived?.kind === 'virtual';
}

function virtualsType(app: App): Statement {
  const virtuals = app.publications.filter((p) => p.fields.some((f) => f.own && isComputed(f)));
  if (virtuals.length === 0) {
    return typeAlias('Virtuals', 'Record<string, never>', 'This app publishes no virtual attributes.');
  }
  return iface(
    'Virtuals',
    virtuals.map((p) => {
      const fns = p.fields
        .filter((f) => f.own && isComputed(f))
        .map((f) => {
          const params =
            f.derived?.kind === 'virtual'
              ? relatedParameters(app, p, f.derived.reads)
              : `row: Readonly<${rowType(p.name)}>`;
          return `${propertyKey(f.name)}(${params}): ${wireType(f.type, f.nullable)}`;
        });
      return `${p.name}: { ${fns.join('; ')} }`;
    }),
    "The functions that compute virtual attributes, by model: `new Publisher({ virtuals })` and the config's `virtuals` take them.",
  );
}

/** The plain data the runtime reads: models, ephemerals and embedded documents. */
function descriptors(app: App): Statement[] {
  return [
    constant(
      'models',
      `${literal(Object.fromEntries(app.publications.map((p) => [p.name, modelDescriptor(p)])))} satisfies Readonly<Record<string, ModelDescriptor>>`,
      'What the runtime needs to know of each published model.',
    ),
    constant(
      'ephemerals',
      `${literal(
        Object.fromEntries(
          app.ephemerals.map((e) => [
            e.name,
            { name: e.name, endpoint: e.endpoint.name, attributes: e.fields.map(attributeDescriptor) },
          ]),
        ),
      )} satisfies Readonly<Record<string, EphemeralDescriptor>>`,
    ),
    constant(
      'embedded',
      `${literal(
        Object.fromEntries(
          app.embedded.map((m) => [
            m.name,
            { name: m.name, primaryKey: m.primaryKey, attributes: m.fields.map(attributeDescriptor) },
          ]),
        ),
      )} satisfies Readonly<Record<string, EmbeddedDescriptor>>`,
    ),
  ];
}

/** What keeps the derived attributes current: none when the app has none. */
function derivedDescriptors(app: App): Statement[] {
  if (!hasDerived(app)) return [];
  const coalesce = Object.fromEntries(app.publications.flatMap((p) => (p.coalesce ? [[p.name, p.coalesce]] : [])));
  return [
    constant(
      'dependents',
      `${literal(dependents(app))} satisfies Readonly<Record<string, readonly DependentDescriptor[]>>`,
      'For each table, the derived attributes a change to it can alter.',
    ),
    constant(
      'derivations',
      literal(derivationOrder(app)),
      'Every derived attribute, each after those it reads: the order they are refreshed in.',
    ),
    constant(
      'coalesce',
      `${literal(coalesce)} satisfies Readonly<Record<string, number>>`,
      'Models whose derived attributes are refreshed after a window, in milliseconds.',
    ),
  ];
}

/** The typed hooks, and `bind`, which wraps the runtime's transaction in them. */
function hooks(app: App): Statement[] {
  return [
    iface(
      'Hooks',
      [
        ...app.publications.map((p) => `${p.name}: ModelHooks<${rowType(p.name)}, ${p.name}Create, ${p.name}Update>`),
        ...app.ephemerals.map((e) => `${e.name}: EphemeralHook<${attributesType(e.name)}>`),
      ],
      'The typed hooks inside `publisher.transaction(async (tx) => { ... })`.',
    ),
    constant(
      'bind',
      `(tx: PublisherTransaction): Hooks => (${literalCode([
        ...app.publications.map(
          (p) => `${p.name}: bindModel<${rowType(p.name)}, ${p.name}Create, ${p.name}Update>(tx, models.${p.name})`,
        ),
        ...app.ephemerals.map((e) => `${e.name}: bindEphemeral<${attributesType(e.name)}>(tx, ephemerals.${e.name})`),
      ])})`,
    ),
  ];
}

function schema(app: App): Statement {
  const derived = hasDerived(app);
  const roles = ['published', 'outbox', ...(app.publications.some((p) => p.coalesce) ? ['refresh'] : [])];
  return constant(
    'schema',
    literalCode([
      'app',
      'models',
      'ephemerals',
      'embedded',
      ...(derived ? ['dependents', 'derivations', 'coalesce'] : []),
      'bind',
      `validate: ${literalCode([
        'envelope: validators.validateEnvelope',
        `attributes: ${literalCode(
          [...app.publications, ...app.ephemerals].map(
            (t) => `${propertyKey(t.name)}: validators.validatePublished${t.name}`,
          ),
        )}`,
      ])}`,
      `tables: migrations.tables.filter((t) => ${roles.map((r) => `t.role === '${r}'`).join(' || ')})`,
    ]),
    `Everything the runtime needs to publish app \`${app.name}\`.`,
    'PublisherSchema<Hooks, Virtuals>',
  );
}

function publicationTypes(p: Publication, app: App): Statement[] {
  const own = p.fields.filter((f) => f.own);
  // A table published on several endpoints is one row: a root's hooks write every column
  // that any publication of the table reads, so that each endpoint's payload is complete.
  const siblings = p.parent ? [] : siblingColumns(p, app);
  const columns = [...own.filter((f) => f.column !== undefined), ...siblings];
  const parentRow = p.parent ? [rowType(p.parent)] : [];
  const extraColumns: string[] = [];
  if (!p.parent) {
    const subtyped = app.publications.some((other) => other.parent === p.name);
    const discriminator = p.discriminator?.column;
    if (subtyped && discriminator && !p.fields.some((f) => f.column === discriminator)) {
      extraColumns.push(`${propertyKey(discriminator)}?: string`);
    }
    extraColumns.push('_v?: number');
  }
  // The publisher writes derived columns; the app never does.
  const createProps = columns
    .filter((f) => !f.derived)
    .map(
      (f) =>
        `${propertyKey(f.column as string)}${f.primary || f.nullable ? '?' : ''}: ${columnType(f.type, f.nullable)}`,
    );
  const key = p.fields.find((f) => f.name === p.primaryKey);
  return [
    iface(
      attributesType(p.name),
      own.filter((f) => !f.private).map((f) => fieldProperty(f)),
      `Attributes of \`${p.name}\` as published on \`${p.endpoint.name}\`.`,
      p.parent ? [attributesType(p.parent)] : [],
    ),
    iface(
      rowType(p.name),
      [
        // A derived column is empty until the publisher first fills it (rows made before it was added).
        ...columns.map((f) => `${propertyKey(f.column as string)}: ${columnType(f.type, f.nullable || !!f.derived)}`),
        ...extraColumns,
      ],
      `A row of \`${p.table}\` as \`${p.name}\` reads it.`,
      parentRow,
    ),
    iface(
      `${p.name}Create`,
      createProps,
      `The columns \`${p.name}.create\` writes; the key may be left to the database.`,
      p.parent ? [`${p.parent}Create`] : [],
    ),
    typeAlias(`${p.name}Update`, `Partial<Omit<${p.name}Create, ${literal(key?.column ?? p.primaryKey)}>>`),
  ];
}

/** Columns of the other model trees published from the same table, not already in `p`. */
function siblingColumns(p: Publication, app: App): Field[] {
  const mine = new Set(p.fields.map((f) => f.column));
  const out = new Map<string, Field>();
  for (const other of app.publications) {
    if (other.table !== p.table || other.parent !== undefined || other.name === p.name) continue;
    for (const f of other.fields) {
      if (f.column === undefined || mine.has(f.column)) continue;
      const seen = out.get(f.column);
      // Required if any publication requires it.
      if (!seen || (seen.nullable && !f.nullable)) out.set(f.column, { ...f, primary: false });
    }
  }
  return [...out.values()];
}

function modelDescriptor(p: Publication): Record<string, unknown> {
  const key = p.fields.find((f) => f.name === p.primaryKey);
  return {
    name: p.name,
    table: p.table,
    endpoint: p.endpoint.name,
    types: p.ancestors,
    primaryKey: { attribute: p.primaryKey, column: key?.column ?? p.primaryKey },
    discriminator: p.discriminator,
    attributes: p.fields.map(attributeDescriptor),
  };
}

export function attributeDescriptor(f: Field): Record<string, unknown> {
  const type = f.type;
  return {
    name: f.name,
    column: f.column,
    kind: kindOf(type),
    nullable: f.nullable,
    uses: f.virtual?.uses,
    belongsTo: f.relation?.model,
    embedded: type.kind === 'embedded' ? type.model : undefined,
    many: type.kind === 'embedded' ? type.many : undefined,
    private: f.private ? true : undefined,
    derived: f.derived,
  };
}
