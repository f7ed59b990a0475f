/**
 * Which subscriber tables the generated migrations make: subscriptions into one table agree on
 * `unmanaged` (P411), and a managed table whose column types cannot be known is created with a
 * documented default (P412, a warning).
 */
import type { SubscribeAst } from '../ast/ast.js';
import type { Subscription } from '../ir/ir.js';
import { type AppContext, type Located, written } from './context.js';

export function checkManagement(app: AppContext): void {
  const tables = new Map<string, Located<Subscription>[]>();
  for (const entry of app.subscriptions.values()) {
    tables.set(entry.value.table, [...(tables.get(entry.value.table) ?? []), entry]);
  }
  for (const [table, feeds] of tables) {
    const unmanaged = feeds.find((f) => !f.value.managed);
    if (unmanaged) checkAgreement(app, table, feeds, unmanaged);
    else for (const feed of feeds) checkTypesKnown(app, feed);
  }
}

/** Each subscription that keeps the table managed on its own account (not by inheritance) is reported. */
function checkAgreement(
  app: AppContext,
  table: string,
  feeds: readonly Located<Subscription>[],
  unmanaged: Located<Subscription>,
): void {
  const where = (unmanaged.decl as SubscribeAst).unmanaged ?? unmanaged.span;
  for (const feed of feeds) {
    if (!feed.value.managed || inheritsTable(app, feed.value)) continue;
    app.bag.error(
      'P411',
      feed.span,
      `\`${table}\` is \`unmanaged\` for \`${unmanaged.value.name}\` but managed by the migrations for \`${feed.value.name}\``,
      `subscriptions into one table agree: ${written(
        feed.span,
        `add \`unmanaged\` here too, or remove it from \`${unmanaged.value.name}\``,
        `add \`unmanaged: true\` here too, or remove it from \`${unmanaged.value.name}\``,
      )}`,
      [{ message: `\`${unmanaged.value.name}\` says \`unmanaged\` here`, span: where }],
    );
  }
}

/** A subtype stored in its parent's table: it takes the table's management from its parent. */
function inheritsTable(app: AppContext, subscription: Subscription): boolean {
  if (subscription.parent === undefined) return false;
  return app.subscriptions.get(subscription.parent)?.value.table === subscription.table;
}

/**
 * Without the publisher (not in the workspace, no `--schemas`), a subscribed attribute's type is
 * unknown: its column is created as nullable `text`, and a key of unknown type as `string`.
 */
function checkTypesKnown(app: AppContext, feed: Located<Subscription>): void {
  const s = feed.value;
  const unknown = s.attributes.filter((a) => a.own && a.type === undefined).map((a) => `\`${a.column}\``);
  const key = s.key.type === undefined && !inheritsTable(app, s);
  if (unknown.length === 0 && !key) return;
  const made = [
    ...(unknown.length > 0 ? [`${unknown.join(', ')} as nullable \`text\``] : []),
    ...(key ? [`the key \`${s.key.column}\` as \`string\``] : []),
  ].join(' and ');
  const keyType = key
    ? written(
        feed.span,
        `, declare the key's type (\`foreign_key ${s.key.column} <type>\`)`,
        ", declare the key's type",
      )
    : '';
  app.bag.warning(
    'P412',
    feed.span,
    `no publisher of \`${s.type}\` is known here: the migration creates \`${s.table}\` with ${made}`,
    `pass the publisher's endpoint schemas with \`--schemas <dir>\`${keyType}, or make the table your own with ${written(feed.span, '`unmanaged`', '`unmanaged: true`')}`,
  );
}
