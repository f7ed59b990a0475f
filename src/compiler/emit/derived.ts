/**
 * What the publisher needs to keep derived attributes current, read from the IR: for each
 * table, the derived attributes a change to it can alter (`dependents`), and the order to
 * refresh them in (`derivations`), each after the derived attributes it reads.
 */
import type { App, Derivation, Field, Publication, RelationStep } from '../ir/ir.js';

export interface DerivedRef {
  readonly model: string;
  readonly attribute: string;
}

export interface Dependent extends DerivedRef {
  readonly columns: readonly string[];
  readonly reach: { readonly path: readonly RelationStep[] } | { readonly via: string };
}

/** Whether the app has a derived attribute: its publisher schema then carries what keeps them current. */
export function hasDerived(app: App): boolean {
  return app.publications.some((p) => p.fields.some((f) => f.own && f.derived));
}

/** Every derived attribute, each after the derived attributes it reads; models by name, then fields in order. */
export function derivationOrder(app: App): DerivedRef[] {
  const order: DerivedRef[] = [];
  const seen = new Set<string>();
  const visit = (p: Publication, f: Field): void => {
    const key = `${p.name}.${f.name}`;
    if (seen.has(key) || !f.derived) return;
    seen.add(key);
    for (const read of readDerived(app, p, f.derived)) visit(read.model, read.field);
    order.push({ model: p.name, attribute: f.name });
  };
  for (const p of app.publications) for (const f of p.fields) if (f.own) visit(p, f);
  return order;
}

/** The derived attributes a derivation reads, each on the model that declares it. */
function readDerived(app: App, subject: Publication, derivation: Derivation): { model: Publication; field: Field }[] {
  const model = (name: string) => app.publications.find((p) => p.name === name);
  const at = (path: readonly RelationStep[]) => (path.length === 0 ? subject : model(path.at(-1)?.model ?? ''));
  const reads: { model: Publication | undefined; columns: readonly string[] }[] =
    derivation.kind === 'copy'
      ? [{ model: at(derivation.path), columns: [derivation.column] }]
      : derivation.kind === 'virtual'
        ? derivation.reads.map((r) => ({ model: at(r.path), columns: r.columns }))
        : [{ model: model(derivation.model), columns: derivation.column === undefined ? [] : [derivation.column] }];
  return reads.flatMap(({ model: read, columns }) =>
    columns.flatMap((column) => {
      const field = read?.fields.find((f) => f.column === column && f.derived);
      const owner = read && field ? declaring(app, read, field.name) : undefined;
      return owner && field ? [{ model: owner, field }] : [];
    }),
  );
}

function declaring(app: App, model: Publication, field: string): Publication {
  for (const name of model.ancestors) {
    const ancestor = app.publications.find((p) => p.name === name);
    if (ancestor?.fields.some((f) => f.own && f.name === field)) return ancestor;
  }
  return model;
}

/**
 * For each table, what a change to it can alter: each derived attribute that reads it, with
 * the columns of it read and how a changed row leads to its subjects. Tables by name; within
 * one, attributes in refresh order.
 */
export function dependents(app: App): Record<string, Dependent[]> {
  const byTable = new Map<string, Dependent[]>();
  for (const ref of derivationOrder(app)) {
    const subject = app.publications.find((p) => p.name === ref.model);
    const field = subject?.fields.find((f) => f.name === ref.attribute);
    if (!subject || !field?.derived) continue;
    for (const dependent of attributeDependents(subject, field.derived, ref)) {
      const table = dependent.table;
      const { table: _, ...descriptor } = dependent;
      byTable.set(table, [...(byTable.get(table) ?? []), descriptor]);
    }
  }
  return Object.fromEntries([...byTable].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface Read {
  readonly table: string;
  readonly reach: Dependent['reach'];
  readonly columns: readonly string[];
}

/**
 * One attribute's dependents: a table reached along a path by each of its prefixes, reading a
 * hop's column or, at the end, the columns read there; an aggregate's children by `via`. A
 * table reached twice (a relation to its own model) lists, each time, every column of it read.
 */
function attributeDependents(
  subject: Publication,
  derivation: Derivation,
  ref: DerivedRef,
): (Dependent & { table: string })[] {
  const reads: Read[] = [];
  const along = (path: readonly RelationStep[], columns: readonly string[]) => {
    path.forEach((step, i) => {
      const from = i === 0 ? subject.table : (path[i - 1] as RelationStep).table;
      reads.push({ table: from, reach: { path: path.slice(0, i) }, columns: [step.column] });
    });
    reads.push({ table: path.at(-1)?.table ?? subject.table, reach: { path }, columns });
  };
  if (derivation.kind === 'copy') along(derivation.path, [derivation.column]);
  else if (derivation.kind === 'virtual') for (const r of derivation.reads) along(r.path, r.columns);
  else {
    // A new subject has no children: its count and sum start at 0, which its creation sets.
    reads.push({ table: subject.table, reach: { path: [] }, columns: [] });
    const columns = [derivation.via, ...(derivation.column === undefined ? [] : [derivation.column])];
    reads.push({ table: derivation.table, reach: { via: derivation.via }, columns });
  }
  const columnsOf = new Map<string, string[]>();
  for (const read of reads) {
    const list = columnsOf.get(read.table) ?? [];
    for (const column of read.columns) if (!list.includes(column)) list.push(column);
    columnsOf.set(read.table, list);
  }
  const seen = new Set<string>();
  return reads.flatMap((read) => {
    const key = `${read.table} ${JSON.stringify(read.reach)}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ ...ref, columns: columnsOf.get(read.table) ?? [], reach: read.reach, table: read.table }];
  });
}
