/**
 * Derived attributes, once every model of the app is resolved: each one's source (a copy along
 * relations, a virtual attribute reading related rows, an aggregate over children), resolved
 * after the derived attributes it reads, so that a copy takes its source's type and a cycle is
 * found where it closes (P219); then `coalesce` (P224). A model with a derived attribute in
 * error is left out, with its subtypes.
 */
import type { FieldAst, ModifierAst, Name, PathAst, PublishAst } from '../ast/ast.js';
import type { Field, Publication, RelatedColumns } from '../ir/ir.js';
import { aggregateTypeFits, resolveAggregate } from './aggregates.js';
import { type AppContext, written } from './context.js';
import { type FieldResolver, pathSpan, pathText, storedField, walk } from './derived-paths.js';
import { formatType } from './types.js';
import { resolveCoalesce } from './coalesce.js';

type Derived = Extract<ModifierAst, { kind: 'from' | 'aggregate' | 'virtual' }>;

/** The modifier that makes a field derived: `from`, an aggregate, or a virtual reading across a relation. */
export function derivedModifier(ast: FieldAst): Derived | undefined {
  for (const m of ast.modifiers) {
    if (m.kind === 'from' || m.kind === 'aggregate') return m;
    if (m.kind === 'virtual' && m.uses.some((path) => path.length > 1)) return m;
  }
  return undefined;
}

export function resolveDerived(app: AppContext): void {
  const resolver = new DerivedResolver(app);
  for (const { value, decl } of [...app.publications.values()]) {
    for (const ast of (decl as PublishAst).fields) {
      if (derivedModifier(ast) && value.fields.some((f) => f.own && f.name === ast.name.text)) {
        resolver.resolve(value.name, ast.name.text);
      }
    }
  }
  resolver.apply();
  resolveCoalesce(app);
}

class DerivedResolver {
  /** By `Model.field`, the model being the one that declares it. */
  private readonly done = new Map<string, Field | 'failed'>();
  private readonly stack: string[] = [];

  constructor(private readonly app: AppContext) {}

  /** A derived field of the model that declares it, resolved; undefined when it cannot be (reported). */
  resolve(model: string, name: string): Field | undefined {
    const key = `${model}.${name}`;
    const known = this.done.get(key);
    if (known) return known === 'failed' ? undefined : known;
    if (this.stack.includes(key)) {
      this.reportCycle(key);
      return undefined;
    }
    const located = this.app.publications.get(model);
    const ast = (located?.decl as PublishAst | undefined)?.fields.find((f) => f.name.text === name);
    const field = located?.value.fields.find((f) => f.name === name);
    const modifier = ast && derivedModifier(ast);
    if (!located || !ast || !field || !modifier) return field;
    this.stack.push(key);
    const resolved = this.derive(located.value, ast, field, modifier);
    this.stack.pop();
    // A cycle through this field was reported and marked it failed meanwhile.
    if (this.done.get(key) !== 'failed') this.done.set(key, resolved ?? 'failed');
    return this.done.get(key) === 'failed' ? undefined : resolved;
  }

  /** A field read by a derived attribute, as it is once resolved, when it is derived too. */
  private readonly reads: FieldResolver = (model, field) => {
    const owner = declaringModel(this.app, model, field.name);
    const resolved = this.resolve(owner, field.name);
    return resolved && { ...resolved, own: field.own };
  };

  private derive(model: Publication, ast: FieldAst, field: Field, modifier: Derived): Field | undefined {
    if (modifier.kind === 'from') return this.copy(model, ast, field, modifier.path);
    if (modifier.kind === 'virtual') return this.virtual(model, field, modifier.uses);
    const aggregate = resolveAggregate(this.app, model, modifier, this.reads);
    if (!aggregate) return undefined;
    const fits = aggregateTypeFits(this.app, ast, modifier, field, aggregate.source);
    return fits ? { ...field, derived: aggregate.derivation } : undefined;
  }

  private copy(model: Publication, ast: FieldAst, field: Field, path: PathAst): Field | undefined {
    const last = path.at(-1) as Name;
    if (path.length === 1) {
      this.app.bag.error(
        'P216',
        last.span,
        `\`from\` copies a field of a related row; \`${last.text}\` names no relation`,
        written(
          last.span,
          `start the path at a \`belongs_to\` field: \`from customer.${last.text}\`; to publish a column under another name, write \`column ${last.text}\``,
          `start the path at a \`belongs_to\` field: \`from: 'customer.${last.text}'\`; to publish a column under another name, write \`column: '${last.text}'\``,
        ),
      );
      return undefined;
    }
    const reached = walk(this.app, model, path);
    const source = reached && storedField(this.app, reached.model, last, this.reads);
    if (!reached || !source) return undefined;
    const nullable = reached.nullable || source.nullable;
    if (ast.type && !copyTypeFits(this.app, ast, field, path, source, nullable)) return undefined;
    return {
      ...field,
      type: ast.type ? field.type : source.type,
      nullable: ast.type ? field.nullable : nullable,
      derived: { kind: 'copy', path: reached.steps, column: source.column ?? source.name },
    };
  }

  /** Own columns (the empty path) first, then each relation path in the order first read. */
  private virtual(model: Publication, field: Field, uses: readonly PathAst[]): Field | undefined {
    const reads = new Map<string, { path: RelatedColumns['path']; columns: string[] }>();
    let ok = true;
    for (const path of uses) {
      const last = path.at(-1) as Name;
      const reached = path.length === 1 ? { steps: [], model } : walk(this.app, model, path);
      const source = reached && this.virtualSource(reached.model, model, field, last);
      if (!reached || !source) {
        ok = false;
        continue;
      }
      const key = reached.steps.map((s) => s.name).join('.');
      const entry = reads.get(key) ?? { path: reached.steps, columns: [] };
      const column = source.column ?? source.name;
      if (!entry.columns.includes(column)) entry.columns.push(column);
      reads.set(key, entry);
    }
    if (!ok) return undefined;
    const sorted = [...reads].sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : 0)).map(([, read]) => read);
    return { ...field, derived: { kind: 'virtual', reads: sorted } };
  }

  /** A column a virtual attribute reads: one of its own model's (P207, as for any virtual) or a related one. */
  private virtualSource(reached: Publication, model: Publication, field: Field, name: Name): Field | undefined {
    if (reached !== model) return storedField(this.app, reached, name, this.reads);
    const own = model.fields.find((f) => f.name === name.text);
    if (own && own.column !== undefined && !own.virtual) return this.reads(model, own);
    this.app.bag.error(
      'P207',
      name.span,
      own
        ? `\`${name.text}\` is itself virtual; a virtual attribute uses columns`
        : `virtual attribute \`${field.name}\` uses \`${name.text}\`, which is not a field of this model`,
      own ? 'list the columns it is computed from' : `declare \`${name.text}\` on \`${model.name}\``,
    );
    return undefined;
  }

  private reportCycle(key: string): void {
    const chain = [...this.stack.slice(this.stack.indexOf(key)), key];
    for (const link of chain) this.done.set(link, 'failed');
    const [model = '', name = ''] = key.split('.');
    const ast = (this.app.publications.get(model)?.decl as PublishAst | undefined)?.fields.find(
      (f) => f.name.text === name,
    );
    this.app.bag.error(
      'P219',
      ast?.name.span ?? (this.app.publications.get(model)?.span as Name['span']),
      `derived attributes read each other in a cycle: ${chain.map((k) => `\`${k}\``).join(' -> ')}`,
      'derive one of them from stored columns only, so that the chain ends',
    );
  }

  /** Every publication gets its derived fields (its own and inherited) resolved; one that failed is left out. */
  apply(): void {
    const failed = new Set([...this.done].filter(([, f]) => f === 'failed').map(([key]) => key.split('.')[0]));
    for (const [name, located] of [...this.app.publications]) {
      if (located.value.ancestors.some((a) => failed.has(a))) {
        this.app.publications.delete(name);
        continue;
      }
      const fields = located.value.fields.map((f) => {
        const resolved = this.done.get(`${declaringModel(this.app, located.value, f.name)}.${f.name}`);
        return resolved && resolved !== 'failed' ? { ...resolved, own: f.own } : f;
      });
      this.app.publications.set(name, { ...located, value: { ...located.value, fields } });
    }
  }
}

/** A copy's declared type is its source's (P220), nullable when a relation or the source may be null. */
function copyTypeFits(
  app: AppContext,
  ast: FieldAst,
  field: Field,
  path: PathAst,
  source: Field,
  nullable: boolean,
): boolean {
  const span = ast.type?.span ?? ast.name.span;
  const wanted = formatType(source.type, nullable);
  if (formatType(field.type, false) !== formatType(source.type, false)) {
    app.bag.error(
      'P220',
      span,
      `\`${field.name}\` is declared \`${formatType(field.type, field.nullable)}\`, but \`${pathText(path)}\` is \`${formatType(source.type, source.nullable)}\``,
      `declare it \`${wanted}\`, or leave the type out to take the source's`,
    );
    return false;
  }
  if (nullable && !field.nullable) {
    const why = source.nullable ? `\`${pathText(path)}\` may be null` : 'a relation along the path may be null';
    app.bag.error('P220', span, `${why}, so \`${field.name}\` may be null`, `declare it \`${wanted}\``, [
      ...(pathSpan(path) ? [{ message: 'read here', span: pathSpan(path) as Name['span'] }] : []),
    ]);
    return false;
  }
  return true;
}

/** The model, among `model` and its ancestors, that declares a field. */
function declaringModel(app: AppContext, model: Publication, field: string): string {
  for (const name of model.ancestors) {
    const ancestor = name === model.name ? model : app.publications.get(name)?.value;
    if (ancestor?.fields.some((f) => f.own && f.name === field)) return name;
  }
  return model.name;
}
