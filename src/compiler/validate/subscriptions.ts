/**
 * The subscriber pass: an app's observers and subscriptions, resolved against what is published
 * (P405, P408, P409, P212). Subscriptions are resolved parents first; a subtype stored in its
 * parent's table inherits its attributes and is told apart by a discriminator.
 */
import type { ObserveAst, SubscribeAst } from '../ast/ast.js';
import { didYouMean } from '../diagnostics/suggest.js';
import type { Subscription } from '../ir/ir.js';
import { pluralize, snakeCase } from '../ir/names.js';
import { attributes } from './attributes.js';
import { type AppContext, type Published, written } from './context.js';
import { checkManagement } from './managed.js';
import { claimLocal } from './naming.js';
import { parentsFirst } from './order.js';
import { addResolutions } from './resolutions.js';
import { resolveSource, type Source } from './sources.js';
import { checkTables } from './tables.js';
import { formatType, resolveType, sameType } from './types.js';

export function resolveSubscribers(app: AppContext, published: Published): void {
  const byName = new Map<string, SubscribeAst>();
  for (const decl of app.decls) {
    if (decl.kind === 'subscribe' && claimLocal(app, decl.as ?? decl.type))
      byName.set((decl.as ?? decl.type).text, decl);
  }
  for (const decl of app.decls) {
    if (decl.kind === 'observe' && claimLocal(app, decl.as ?? decl.type)) addObserver(app, published, decl);
  }
  parentsFirst(app.bag, byName, 'subscription', (name, decl) => addSubscription(app, published, name, decl));
  checkTables(app);
  checkManagement(app);
  addResolutions(app, published.catalog);
}

function addObserver(app: AppContext, published: Published, decl: ObserveAst): void {
  const source = resolveSource(app, published, decl);
  if (!source) return;
  const own = attributes(app, decl.attributes, source.type, decl.type.text);
  if (!own) return;
  const name = (decl.as ?? decl.type).text;
  app.observers.set(name, {
    value: {
      kind: 'observer',
      name,
      type: decl.type.text,
      source: { from: source.from, binding: source.binding },
      attributes: own,
      ...(source.publisher ? { publisher: source.publisher } : {}),
    },
    span: (decl.as ?? decl.type).span,
    decl,
  });
}

function addSubscription(app: AppContext, published: Published, name: string, decl: SubscribeAst): void {
  const parented = parentOf(app, decl);
  if (!parented) return;
  const { parent } = parented;
  const source = resolveSource(app, published, decl, parent?.source.from);
  if (!source) return;
  if (parent && source.type && !source.type.ancestors.includes(parent.type)) {
    app.bag.error(
      'P409',
      decl.extends?.span ?? decl.span,
      `\`${decl.type.text}\` does not extend \`${parent.type}\` on the publisher (its ancestors: ${source.type.ancestors.map((a) => `\`${a}\``).join(', ')})`,
      'extend the subscription of one of its ancestors, or none',
    );
    return;
  }
  // Attributes and key are checked independently, so that both mistakes show at once.
  const own = attributes(app, decl.attributes, source.type, decl.type.text);
  const table = decl.into?.text ?? parent?.table ?? pluralize(snakeCase(name));
  const key = foreignKey(app, decl, source, parent);
  if (!key || !own) return;
  const sameTable = parent !== undefined && parent.table === table;
  let discriminator: Subscription['discriminator'];
  if (sameTable && parent) {
    discriminator = claimDiscriminator(app, name, decl, parent);
  } else if (decl.when) {
    app.bag.error(
      'P212',
      decl.when.column.span,
      "`when` applies to a subtype stored in its parent's table",
      'remove `when`, or add `extends <Parent>` without `into`',
    );
    return;
  }
  const inherited = sameTable && parent ? parent.attributes.map((a) => ({ ...a, own: false })) : [];
  const publisher = source.publisher ?? parent?.publisher;
  app.subscriptions.set(name, {
    value: {
      kind: 'subscription',
      name,
      type: decl.type.text,
      source: { from: source.from, binding: source.binding },
      table,
      key,
      // A subtype stored in its parent's table is managed as that table is.
      managed: decl.unmanaged === undefined && (!sameTable || parent === undefined || parent.managed),
      ...(parent ? { parent: parent.name } : {}),
      ...(discriminator ? { discriminator } : {}),
      attributes: [...inherited, ...own],
      ...(publisher ? { publisher } : {}),
    },
    span: (decl.as ?? decl.type).span,
    decl,
  });
}

/** The resolved subscription this one extends; undefined when it cannot be resolved. */
function parentOf(app: AppContext, decl: SubscribeAst): { parent?: Subscription } | undefined {
  if (!decl.extends) return {};
  const parent = app.subscriptions.get(decl.extends.text)?.value;
  if (parent) return { parent };
  // A parent that failed for an error of its own was reported there.
  if (!app.localNames.has(decl.extends.text) || app.observers.has(decl.extends.text)) {
    app.bag.error(
      'P408',
      decl.extends.span,
      `\`${decl.extends.text}\` is not a subscription of app \`${app.name}\``,
      didYouMean(decl.extends.text, [...app.subscriptions.keys()], 'a subscription:') ??
        written(
          decl.extends.span,
          `subscribe to it too: \`subscribe ${decl.extends.text} from "<app>/<model>" { ... }\`, or remove \`extends\``,
          `subscribe to it too: \`{ type: '${decl.extends.text}', from: '<app>/<model>', attributes: [...] }\`, or remove \`extends\``,
        ),
    );
  }
  return undefined;
}

/** The column that holds the publisher's id: `foreign_key`, the parent's, or `id` (P405). */
function foreignKey(
  app: AppContext,
  decl: SubscribeAst,
  source: Source,
  parent: Subscription | undefined,
): Subscription['key'] | undefined {
  const keyType = decl.foreignKey?.type ? resolveType(app.bag, decl.foreignKey.type) : undefined;
  if (decl.foreignKey?.type && !keyType) return undefined;
  const idType = source.type?.idType;
  const known = keyType ?? idType;
  const key = decl.foreignKey
    ? { column: decl.foreignKey.column.text, ...(known ? { type: known } : {}) }
    : {
        column: parent?.key.column ?? 'id',
        ...(known ? { type: known } : parent?.key.type ? { type: parent.key.type } : {}),
      };
  if (keyType && idType && !sameType(keyType, idType)) {
    const span = decl.foreignKey?.type?.span ?? decl.span;
    app.bag.error(
      'P405',
      span,
      `\`${key.column}\` is \`${formatType(keyType, false)}\` but \`${decl.type.text}\` ids are \`${formatType(idType, false)}\``,
      written(
        span,
        `declare \`foreign_key ${key.column} ${formatType(idType, false)}\``,
        `declare \`foreignKey: { column: '${key.column}', type: '${formatType(idType, false)}' }\``,
      ),
    );
    return undefined;
  }
  return key;
}

/**
 * A subtype stored in its parent's table is told apart by a discriminator; the parent's entry in
 * `app.subscriptions`, when it had none, gets one with its own name.
 */
function claimDiscriminator(
  app: AppContext,
  name: string,
  decl: SubscribeAst,
  parent: Subscription,
): Subscription['discriminator'] {
  const discriminator = {
    column: decl.when?.column.text ?? parent.discriminator?.column ?? 'type',
    value: decl.when?.value.text ?? name,
  };
  const entry = app.subscriptions.get(parent.name);
  if (!parent.discriminator && entry) {
    const root = { column: discriminator.column, value: parent.name };
    app.subscriptions.set(parent.name, { ...entry, value: { ...entry.value, discriminator: root } });
  }
  return discriminator;
}
