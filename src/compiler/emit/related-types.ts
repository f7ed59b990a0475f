/**
 * The parameters of a derived virtual attribute's function: `row`, the columns of its own row
 * it reads, and `related`, the columns of each related row it reads, nested by relation name
 * and null where a nullable relation is null (`related.customer.region.name`).
 */
import type { App, Publication, RelatedColumns, RelationStep } from '../ir/ir.js';
import { literal, propertyKey } from './literal.js';
import { columnType, rowType } from './ts-types.js';

interface Node {
  readonly model: string;
  readonly columns: string[];
  readonly children: Map<string, { node: Node; nullable: boolean }>;
}

export function relatedParameters(app: App, p: Publication, reads: readonly RelatedColumns[]): string {
  const own = reads.find((r) => r.path.length === 0)?.columns ?? [];
  const row =
    own.length === 0
      ? 'Readonly<Record<string, never>>'
      : `Readonly<Pick<${rowType(p.name)}, ${own.map((c) => literal(c)).join(' | ')}>>`;
  const root: Node = { model: p.name, columns: [], children: new Map() };
  for (const read of reads) if (read.path.length > 0) place(app, root, read.path, read.columns);
  return `row: ${row}, related: ${nodeType(app, root)}`;
}

/** Adds the columns read at the end of a path to the tree of relations, one node per step. */
function place(app: App, root: Node, path: readonly RelationStep[], columns: readonly string[]): void {
  let node = root;
  for (const step of path) {
    const model = app.publications.find((m) => m.name === node.model);
    const field = model?.fields.find((f) => f.relation && (f.column ?? f.name) === step.column);
    let child = node.children.get(step.name);
    if (!child) {
      child = { node: { model: step.model, columns: [], children: new Map() }, nullable: field?.nullable ?? true };
      node.children.set(step.name, child);
    }
    node = child.node;
  }
  for (const column of columns) if (!node.columns.includes(column)) node.columns.push(column);
}

function nodeType(app: App, node: Node): string {
  const model = app.publications.find((m) => m.name === node.model);
  const props = [
    ...node.columns.map((column) => {
      const field = model?.fields.find((f) => f.column === column);
      return `readonly ${propertyKey(column)}: ${field ? columnType(field.type, field.nullable) : 'unknown'}`;
    }),
    ...[...node.children].map(([name, child]) => {
      const type = nodeType(app, child.node);
      return `readonly ${propertyKey(name)}: ${child.nullable ? `${type} | null` : type}`;
    }),
  ];
  return `{ ${props.join('; ')} }`;
}
