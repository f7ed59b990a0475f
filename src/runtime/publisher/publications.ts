/**
 * What an app publishes of its tables: each table's publications (a model and its subtypes),
 * the attributes a row publishes as each, virtual attributes computed, and which columns feed
 * them. Resolved from the generated schema once, and cached per table.
 */
import type { AttributeDescriptor, ModelDescriptor, PublisherSchema } from '../contract.js';
import { PublisherError } from '../../common/errors.js';
import { isJsonKind, toWire } from '../values.js';

/** Functions computing virtual attributes: `{ User: { full_name: (row) => ... } }`. */
export type VirtualFunctions = Readonly<Record<string, Readonly<Record<string, (row: never) => unknown>>>>;

type Row = Readonly<Record<string, unknown>>;

export class Publications {
  private readonly tables = new Map<string, ModelDescriptor[]>();
  private readonly columns = new Map<string, AttributeDescriptor[]>();
  private readonly published = new Map<string, ReadonlySet<string>>();
  private readonly json = new Map<string, ReadonlySet<string>>();
  private readonly derived = new Map<string, ReadonlySet<string>>();

  /** Throws when `virtuals` lack a function the routes need, or hold one they do not declare. */
  constructor(
    private readonly schema: PublisherSchema<unknown, unknown>,
    private readonly virtuals: VirtualFunctions,
  ) {
    const problems = virtualsProblems(schema, virtuals);
    if (problems.length > 0) {
      throw new PublisherError(
        `the virtual attributes of ${schema.app} do not match its routes: ${problems.join('; ')}`,
      );
    }
    for (const model of Object.values(schema.models)) {
      const list = this.tables.get(model.table) ?? [];
      list.push(model);
      this.tables.set(model.table, list);
      this.columns.set(model.table, [...(this.columns.get(model.table) ?? []), ...model.attributes]);
    }
  }

  /** Whether some model publishes rows of the table. */
  publishes(table: string): boolean {
    return this.tables.has(table);
  }

  /** A published model, by name. */
  model(name: string): ModelDescriptor {
    const { app, models } = this.schema;
    const model = models[name];
    if (!model)
      throw new PublisherError(`${app} publishes no model ${name} (it has ${Object.keys(models).join(', ')})`);
    return model;
  }

  /** The model at the root of what an endpoint publishes: its rows are every object of the endpoint. */
  endpointRoot(endpoint: string): ModelDescriptor | undefined {
    const models = Object.values(this.schema.models).filter((m) => m.endpoint === endpoint);
    return models.sort((a, b) => a.types.length - b.types.length)[0];
  }

  /** Every publication of a table, resolved to the most specific type the row is. */
  of(model: ModelDescriptor, row: Row): ModelDescriptor[] {
    const all = this.tables.get(model.table) ?? [model];
    const roots = [...new Set(all.map((m) => m.types.at(-1)))];
    return roots.map((root) => {
      const tree = all.filter((m) => m.types.at(-1) === root);
      const rootModel = tree.find((m) => m.name === root) ?? model;
      const column = rootModel.discriminator?.column;
      const value = column === undefined ? undefined : row[column];
      return tree.find((m) => m.discriminator?.value === value) ?? rootModel;
    });
  }

  /** The published attributes of a row as `model`, virtual ones computed. */
  attributes(model: ModelDescriptor, row: Row): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const attribute of model.attributes) {
      if (attribute.private) continue;
      if (attribute.uses !== undefined && !attribute.derived) {
        const fn = this.virtualFunction(model, attribute.name);
        out[attribute.name] = toWire(attribute.kind, fn(row as never));
      } else {
        out[attribute.name] = toWire(attribute.kind, row[attribute.column ?? attribute.name]);
      }
    }
    return out;
  }

  /** The app's function of a virtual attribute (a subtype's own first). */
  virtualFunction(model: ModelDescriptor, name: string): (row: never) => unknown {
    for (const type of model.types) {
      const fn = this.virtuals[type]?.[name];
      if (fn) return fn;
    }
    throw new PublisherError(`no function for the virtual attribute ${model.name}.${name}: pass it in \`virtuals\``);
  }

  /** Every attribute any publication reads from a table: a write converts its columns by them. */
  tableAttributes(table: string): readonly AttributeDescriptor[] {
    return this.columns.get(table) ?? [];
  }

  /**
   * The columns of a table whose change changes what some publication of it publishes: the
   * published attributes' own, those virtual attributes use, and the discriminator.
   */
  publishedColumns(table: string): ReadonlySet<string> {
    let columns = this.published.get(table);
    if (!columns) {
      const found = new Set<string>();
      for (const model of this.tables.get(table) ?? []) {
        if (model.discriminator) found.add(model.discriminator.column);
        for (const a of model.attributes) {
          if (a.private) continue;
          for (const column of a.uses ?? (a.column === undefined ? [] : [a.column])) found.add(column);
        }
      }
      this.published.set(table, (columns = found));
    }
    return columns;
  }

  /** The columns of a table that hold derived attributes, which only the publisher writes. */
  derivedColumns(table: string): ReadonlySet<string> {
    let columns = this.derived.get(table);
    if (!columns) {
      columns = new Set(this.tableAttributes(table).flatMap((a) => (a.derived && a.column ? [a.column] : [])));
      this.derived.set(table, columns);
    }
    return columns;
  }

  /** The columns of a table that hold JSON (JSON, array and embedded attributes). */
  jsonColumns(table: string): ReadonlySet<string> {
    let columns = this.json.get(table);
    if (!columns) {
      columns = new Set(
        this.tableAttributes(table).flatMap((a) => (a.column !== undefined && isJsonKind(a.kind) ? [a.column] : [])),
      );
      this.json.set(table, columns);
    }
    return columns;
  }
}

/**
 * What keeps an app's virtual attribute functions from matching its routes: each virtual
 * attribute without a function, and each function for no virtual attribute (a misspelt name).
 * Checked when a publisher starts, so that a missing function fails there and not while it
 * publishes. A subtype may override its parent's function; a missing one is named after the
 * model that declares the attribute, as the generated `Virtuals` type does.
 */
export function virtualsProblems(schema: PublisherSchema<unknown, unknown>, virtuals: VirtualFunctions): string[] {
  const { models } = schema;
  const declared = (type: string, name: string): boolean =>
    models[type]?.attributes.some((a) => a.name === name && isVirtual(a)) ?? false;
  const missing = new Set<string>();
  for (const model of Object.values(models)) {
    for (const attribute of model.attributes) {
      const { name } = attribute;
      if (!isVirtual(attribute) || model.types.some((type) => typeof virtuals[type]?.[name] === 'function')) continue;
      const owner = [...model.types].reverse().find((type) => declared(type, name)) ?? model.name;
      missing.add(`no function for ${owner}.${name}`);
    }
  }
  const unknown: string[] = [];
  for (const [type, functions] of Object.entries(virtuals)) {
    const model = models[type];
    if (!model) {
      unknown.push(`${type} is not a model of ${schema.app} (it has ${Object.keys(models).join(', ')})`);
      continue;
    }
    const known = model.attributes.filter(isVirtual).map((a) => a.name);
    for (const name of Object.keys(functions)) {
      if (known.includes(name)) continue;
      unknown.push(`${type}.${name} is not a virtual attribute (${type} has ${known.join(', ') || 'none'})`);
    }
  }
  return [...missing, ...unknown];
}

/** Whether the app supplies the attribute's function: a virtual attribute, of its own row or derived. */
function isVirtual(attribute: AttributeDescriptor): boolean {
  return attribute.uses !== undefined || attribute.derived?.kind === 'virtual';
}
