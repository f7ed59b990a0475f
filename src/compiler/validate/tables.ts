/**
 * A table fed by several subscriptions: one row per shared key (P407), each column written by
 * one publisher only (P406) and holding one attribute (P410); a subtype may add columns to its
 * parent's.
 */
import type { SubscribeAst } from '../ast/ast.js';
import type { Subscription } from '../ir/ir.js';
import type { Span } from '../source/source-file.js';
import { type AppContext, type Located, written } from './context.js';

interface Feed {
  readonly sub: Located<Subscription>;
  /** The subscription whose table this is: a subtype stored with its parent shares its root. */
  readonly root: string;
}

interface Claim extends Feed {
  readonly attribute: string;
}

export function checkTables(app: AppContext): void {
  const tables = new Map<string, Feed[]>();
  for (const entry of app.subscriptions.values()) {
    const list = tables.get(entry.value.table) ?? [];
    list.push({ sub: entry, root: subscriptionRoot(app, entry.value) });
    tables.set(entry.value.table, list);
  }
  for (const [table, feeds] of tables) {
    checkKeys(app, table, feeds);
    checkColumns(app, table, feeds);
  }
}

function checkKeys(app: AppContext, table: string, feeds: readonly Feed[]): void {
  const first = feeds[0];
  if (!first) return;
  const column = first.sub.value.key.column;
  for (const { sub } of feeds.slice(1)) {
    if (sub.value.key.column === column) continue;
    const span = (sub.decl as SubscribeAst).foreignKey?.column.span ?? sub.span;
    app.bag.error(
      'P407',
      span,
      `\`${table}\` is keyed by \`${column}\` for \`${first.sub.value.name}\` but by \`${sub.value.key.column}\` here`,
      `subscriptions into one table share the key column: write ${written(span, `\`foreign_key ${column}\``, `\`foreignKey: '${column}'\``)}`,
      [{ message: `\`${first.sub.value.name}\` subscribed here`, span: first.sub.span }],
    );
  }
}

function checkColumns(app: AppContext, table: string, feeds: readonly Feed[]): void {
  const claims = new Map<string, Claim>();
  for (const feed of feeds) {
    const decl = feed.sub.decl as SubscribeAst;
    for (const attribute of feed.sub.value.attributes.filter((a) => a.own)) {
      const ref = decl.attributes.find((a) => a.name.text === attribute.name);
      const span = ref?.column?.span ?? ref?.name.span ?? feed.sub.span;
      const elsewhere = written(span, `\`${attribute.name} as <column>\``, `\`{ ${attribute.name}: '<column>' }\``);
      if (attribute.column === feed.sub.value.key.column) {
        app.bag.error(
          'P410',
          span,
          `\`${attribute.column}\` is the key column of \`${table}\`; it holds the publisher's id`,
          `store \`${attribute.name}\` in another column: ${elsewhere}`,
        );
        continue;
      }
      const previous = claims.get(attribute.column);
      if (!previous) claims.set(attribute.column, { ...feed, attribute: attribute.name });
      else reportClash(app, table, previous, { ...feed, attribute: attribute.name }, attribute.column, span, elsewhere);
    }
  }
}

/** A second claim on a column: another publisher's (P406), the same attribute again, or another one (P410). */
function reportClash(
  app: AppContext,
  table: string,
  previous: Claim,
  claim: Claim,
  column: string,
  span: Span,
  elsewhere: string,
): void {
  const note = [{ message: `\`${previous.sub.value.name}\` writes it here`, span: previous.sub.span }];
  if (previous.root !== claim.root) {
    app.bag.error(
      'P406',
      span,
      `column \`${column}\` of \`${table}\` is already written by \`${previous.sub.value.name}\` (from \`${previous.sub.value.source.from}\`)`,
      `each publisher owns its columns: store it elsewhere with ${elsewhere}`,
      note,
    );
  } else if (previous.attribute === claim.attribute) {
    app.bag.error(
      'P410',
      span,
      `column \`${column}\` of \`${table}\` is written twice`,
      "subscribe each attribute once (a subtype inherits its parent's attributes)",
      note,
    );
  } else {
    app.bag.error(
      'P410',
      span,
      `column \`${column}\` of \`${table}\` already holds \`${previous.attribute}\``,
      `store \`${claim.attribute}\` in another column: ${elsewhere}`,
      note,
    );
  }
}

function subscriptionRoot(app: AppContext, subscription: Subscription): string {
  let current = subscription;
  while (current.parent !== undefined) {
    const parent = app.subscriptions.get(current.parent)?.value;
    if (!parent || parent.table !== current.table) break;
    current = parent;
  }
  return current.name;
}
