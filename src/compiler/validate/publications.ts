/**
 * The publisher pass: an app's embedded models, publications and ephemerals, resolved into its
 * context. Publications are resolved parents first, so that a subtype sees its parent's fields;
 * a subtype lives in its parent's table and endpoint, told apart by a discriminator (P201-P214).
 */
import type { EmbeddedAst, EphemeralAst, Name, PublishAst } from '../ast/ast.js';
import { didYouMean } from '../diagnostics/suggest.js';
import type { Publication } from '../ir/ir.js';
import { type AppContext, written } from './context.js';
import { resolveEndpoint } from './endpoints.js';
import { resolveDerived } from './derived.js';
import { fields } from './fields.js';
import { primaryKey } from './keys.js';
import { claimName, publicationName, rootName } from './naming.js';
import { parentsFirst } from './order.js';

export function resolvePublishers(app: AppContext): void {
  for (const decl of app.decls) if (decl.kind === 'embedded') addEmbedded(app, decl);
  addPublications(
    app,
    app.decls.filter((d): d is PublishAst => d.kind === 'publish'),
  );
  for (const decl of app.decls) if (decl.kind === 'ephemeral') addEphemeral(app, decl);
  resolveDerived(app);
}

function addEmbedded(app: AppContext, decl: EmbeddedAst): void {
  if (!claimName(app, decl.name, false)) return;
  app.embeddedNames.add(decl.name.text);
  const resolved = fields(app, decl.fields, 'embedded', []);
  const key = primaryKey(app, resolved, decl.name, decl.span);
  if (!resolved.ok || key === undefined) return;
  app.embedded.set(decl.name.text, {
    value: { kind: 'embedded', name: decl.name.text, fields: resolved.fields, primaryKey: key },
    span: decl.name.span,
    decl,
  });
}

function addEphemeral(app: AppContext, decl: EphemeralAst): void {
  if (!claimName(app, decl.name, false)) return;
  const endpoint = resolveEndpoint(app, decl.to, decl.name.text);
  const resolved = fields(app, decl.fields, 'ephemeral', []);
  if (!resolved.ok || !endpoint) return;
  app.ephemerals.set(decl.name.text, {
    value: { kind: 'ephemeral', name: decl.name.text, endpoint, fields: resolved.fields },
    span: decl.name.span,
    decl,
  });
}

function addPublications(app: AppContext, decls: readonly PublishAst[]): void {
  const byName = new Map<string, PublishAst>();
  for (const decl of decls) {
    const name = publicationName(decl);
    if (claimName(app, name, decl.as !== undefined)) byName.set(name.text, decl);
  }
  for (const [name, decl] of byName) app.publishDecls.set(name, decl);
  parentsFirst(app.bag, byName, 'model', (name, decl) => addPublication(app, name, decl));
}

function addPublication(app: AppContext, name: string, decl: PublishAst): void {
  const parented = parentOf(app, name, decl);
  if (!parented) return;
  const { parent } = parented;
  const inherited = parent ? parent.fields.map((f) => ({ ...f, own: false })) : [];
  const resolved = fields(app, decl.fields, 'publication', inherited);
  if (!resolved.ok) return;
  const key = parent ? parent.primaryKey : primaryKey(app, resolved, decl.table, decl.span);
  if (key === undefined) return;
  if (parent) {
    const extraPrimary = decl.fields.find((f) => f.modifiers.some((m) => m.kind === 'primary'));
    if (extraPrimary) {
      app.bag.error(
        'P205',
        extraPrimary.name.span,
        `\`${name}\` inherits its primary key \`${parent.primaryKey}\` from \`${parent.name}\``,
        'remove `primary` from the subtype',
      );
      return;
    }
  }
  const endpoint = parent ? parent.endpoint : resolveEndpoint(app, decl.to, name);
  if (!endpoint) return;
  const discriminator = parent ? claimDiscriminator(app, name, decl, parent) : undefined;
  if (parent && !discriminator) return;
  app.publications.set(name, {
    value: {
      kind: 'publication',
      name,
      table: decl.table.text,
      endpoint,
      ...(parent ? { parent: parent.name } : {}),
      ancestors: [name, ...(parent?.ancestors ?? [])],
      ...(discriminator ? { discriminator } : {}),
      fields: resolved.fields,
      primaryKey: key,
    },
    span: (decl.as ?? decl.table).span,
    decl,
  });
}

/**
 * The resolved parent a subtype extends, which must share its table and endpoint. Undefined
 * when the subtype cannot be resolved; a parent that failed for its own error is not reported.
 */
function parentOf(app: AppContext, name: string, decl: PublishAst): { parent?: Publication } | undefined {
  if (!decl.extends) {
    if (decl.when) {
      app.bag.error(
        'P212',
        decl.when.column.span,
        `\`when\` belongs on a subtype; \`${name}\` extends nothing`,
        'remove `when`, or add `extends <Parent>`',
      );
    }
    return {};
  }
  const parent = app.publications.get(decl.extends.text)?.value;
  if (!parent) {
    if (!app.names.has(decl.extends.text) || app.embedded.has(decl.extends.text)) {
      reportUnknownParent(app, name, decl, decl.extends);
    }
    return undefined;
  }
  if (parent.table !== decl.table.text) {
    app.bag.error(
      'P203',
      decl.table.span,
      `\`${name}\` extends \`${parent.name}\` but is published from table \`${decl.table.text}\`, not \`${parent.table}\``,
      `a subtype lives in its parent's table (single-table inheritance): write \`publish ${parent.table} as ${name} extends ${parent.name}\``,
    );
    return undefined;
  }
  if (decl.to) {
    app.bag.error(
      'P301',
      decl.to.span,
      `\`${name}\` is published on its root's endpoint \`${parent.endpoint.name}\``,
      'remove `to` from the subtype; subscribers of the root receive it there',
    );
    return undefined;
  }
  return { parent };
}

function reportUnknownParent(app: AppContext, name: string, decl: PublishAst, parent: Name): void {
  app.bag.error(
    'P201',
    parent.span,
    `\`${parent.text}\` is not a published model of app \`${app.name}\``,
    didYouMean(
      parent.text,
      [...app.publishDecls.keys()].filter((n) => n !== name),
      'a published model:',
    ) ??
      written(
        parent.span,
        `publish it from the same table: \`publish ${decl.table.text} as ${parent.text} { id integer primary ... }\`, or remove \`extends\``,
        `publish it from the same table: \`{ table: '${decl.table.text}', as: '${parent.text}', fields: { ... } }\`, or remove \`extends\``,
      ),
  );
}

/**
 * The column and value that tell a subtype's rows apart in its root's table: one column for
 * the whole tree, one value per type. The root's entry in `app.publications`, once it has a
 * subtype, gets its own name.
 */
function claimDiscriminator(
  app: AppContext,
  name: string,
  decl: PublishAst,
  parent: Publication,
): Publication['discriminator'] {
  const column = decl.when?.column.text ?? parent.discriminator?.column ?? 'type';
  const value = decl.when?.value.text ?? name;
  const root = rootOf(app, parent);
  const rootColumn = root.discriminator?.column;
  if (rootColumn !== undefined && rootColumn !== column) {
    app.bag.error(
      'P212',
      decl.when?.column.span ?? decl.span,
      `subtypes of \`${root.name}\` are told apart by \`${rootColumn}\`, not \`${column}\``,
      written(
        decl.when?.column.span ?? decl.span,
        `write \`when ${rootColumn} = "${value}"\``,
        `write \`when: { column: '${rootColumn}', value: '${value}' }\``,
      ),
    );
    return undefined;
  }
  const clash = [...app.publications.values()].find(
    (p) => rootOf(app, p.value).name === root.name && p.value.discriminator?.value === value,
  );
  if (clash) {
    app.bag.error(
      'P212',
      decl.when?.value.span ?? decl.span,
      `\`${clash.value.name}\` already uses \`${column} = "${value}"\``,
      'give each subtype its own discriminator value',
      [{ message: 'used here', span: clash.span }],
    );
    return undefined;
  }
  const entry = app.publications.get(root.name);
  if (!root.discriminator && entry) {
    const discriminator = { column, value: root.name };
    app.publications.set(root.name, { ...entry, value: { ...entry.value, discriminator } });
  }
  return { column, value };
}

function rootOf(app: AppContext, publication: Publication): Publication {
  return app.publications.get(rootName(publication))?.value ?? publication;
}
