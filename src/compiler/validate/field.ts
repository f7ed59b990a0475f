/**
 * One field of a model: its modifiers fit together and fit the model (P208, P225), and its type
 * is written, embedded (P209) or taken from the key of the model it belongs to (P210, P211). A
 * derived attribute's source is resolved once every model is (derived.ts).
 */
import type { FieldAst, ModifierAst, Name } from '../ast/ast.js';
import { didYouMean } from '../diagnostics/suggest.js';
import type { Field, FieldType } from '../ir/ir.js';
import { type AppContext, written } from './context.js';
import { relationKey } from './keys.js';
import { formatType, resolveType, sameType } from './types.js';

export type FieldOwner = 'publication' | 'ephemeral' | 'embedded';

const ownerWords: Record<FieldOwner, string> = {
  publication: 'a published model',
  ephemeral: 'an ephemeral (it has no table)',
  embedded: "an embedded document (it lives in its owner's row)",
};

interface Modifiers {
  primary: boolean;
  isPrivate: boolean;
  column: string | undefined;
  virtual?: Field['virtual'];
  /** `from`, an aggregate, or a virtual that reads across a relation: stored, and kept current. */
  derived?: ModifierAst;
  relation?: { target: Name; nullable: boolean };
  embeds?: { target: Name; many: boolean; nullable: boolean };
}

interface Typed {
  type?: FieldType;
  nullable: boolean;
}

export function field(app: AppContext, ast: FieldAst, owner: FieldOwner): Field | undefined {
  const { modifiers, ok } = readModifiers(app, ast);
  const fits = modifiersFit(app, ast, owner, modifiers);
  if (!ok || !fits) return undefined;
  const { embeds, relation, virtual, column, derived } = modifiers;
  const declared = embeds ? embeddedType(app, ast, embeds) : writtenType(app, ast);
  if (!declared) return undefined;
  let { type, nullable } = declared;
  // A copy may leave out its type, which is its source's: this stands for it until derived.ts
  // resolves the source, once every model is resolved.
  if (!type && derived?.kind === 'from') type = { kind: 'scalar', name: 'string' };
  if (relation) {
    type = relationType(app, ast, relation.target, type);
    if (!type) return undefined;
    nullable = nullable || relation.nullable;
  }
  if (!type) {
    const example = derived?.kind === 'aggregate' ? 'integer' : 'string';
    app.bag.error(
      'P103',
      ast.name.span,
      `field \`${ast.name.text}\` has no type`,
      written(
        ast.name.span,
        `write \`${ast.name.text} ${example}\` (or another type)`,
        `add \`type: '${example}'\` (or another type) to it`,
      ),
    );
    return undefined;
  }
  return {
    name: ast.name.text,
    ...(column !== undefined && !virtual && owner === 'publication' ? { column } : {}),
    type,
    nullable,
    primary: modifiers.primary,
    private: modifiers.isPrivate,
    ...(virtual ? { virtual } : {}),
    ...(relation ? { relation: { model: relation.target.text } } : {}),
    own: true,
  };
}

/** Collects the modifiers; one given twice is reported and its first occurrence kept. */
function readModifiers(app: AppContext, ast: FieldAst): { modifiers: Modifiers; ok: boolean } {
  const modifiers: Modifiers = { primary: false, isPrivate: false, column: ast.name.text };
  const seen = new Set<string>();
  let ok = true;
  for (const m of ast.modifiers) {
    if (seen.has(m.kind)) {
      if (m.kind === 'aggregate')
        app.bag.error('P208', m.span, 'a derived attribute has one source', 'keep one of them');
      else app.bag.error('P208', m.span, `\`${modifierWord(m.kind)}\` is given twice`, 'keep one');
      ok = false;
      continue;
    }
    seen.add(m.kind);
    if (m.kind === 'primary') modifiers.primary = true;
    else if (m.kind === 'private') modifiers.isPrivate = true;
    else if (m.kind === 'virtual' && !m.uses.some((path) => path.length > 1)) {
      modifiers.virtual = { uses: m.uses.flatMap((path) => path.map((u) => u.text)) };
    } else if (m.kind === 'virtual' || m.kind === 'from' || m.kind === 'aggregate') {
      if (modifiers.derived) {
        app.bag.error('P208', m.span, 'a derived attribute has one source', 'keep one of them');
        ok = false;
      }
      modifiers.derived = m;
    } else if (m.kind === 'column') modifiers.column = m.column.text;
    else if (m.kind === 'belongsTo') modifiers.relation = { target: m.target, nullable: m.nullable };
    else modifiers.embeds = { target: m.target, many: m.many, nullable: m.nullable };
  }
  return { modifiers, ok };
}

/** Reports every modifier that has no meaning in this model or contradicts another one. */
function modifiersFit(app: AppContext, ast: FieldAst, owner: FieldOwner, modifiers: Modifiers): boolean {
  let ok = true;
  const fail = (m: ModifierAst | undefined, message: string, fix: string): void => {
    app.bag.error('P208', m?.span ?? ast.span, message, fix);
    ok = false;
  };
  const find = (...kinds: ModifierAst['kind'][]) => ast.modifiers.find((m) => kinds.includes(m.kind));
  const { primary, isPrivate, virtual, relation, embeds, derived } = modifiers;
  const where = ownerWords[owner];
  if (derived && !derivedFits(app, ast, owner, modifiers, derived)) ok = false;
  if (owner !== 'publication') {
    for (const m of ast.modifiers) {
      if (m === derived) continue;
      if (m.kind === 'virtual' || m.kind === 'private' || m.kind === 'column') {
        fail(m, `\`${modifierWord(m.kind)}\` has no meaning in ${where}`, `remove \`${modifierWord(m.kind)}\``);
      }
    }
  }
  if (owner === 'embedded' && (relation || embeds)) {
    fail(
      find('belongsTo', 'embeds'),
      `${where} cannot hold relations or further embedded documents`,
      'publish it as a model',
    );
  }
  if (owner === 'ephemeral' && (embeds || primary)) {
    const m = find('embeds', 'primary');
    fail(m, `\`${modifierWord(m?.kind ?? 'embeds')}\` has no meaning in ${where}`, 'remove it');
  }
  if (relation && embeds)
    fail(undefined, 'a field cannot both belong to a model and embed one', 'split it in two fields');
  if (virtual && (primary || isPrivate || relation || embeds)) {
    fail(
      undefined,
      'a virtual attribute is computed: it cannot be a key, private, a relation or embedded',
      'drop `virtual` or the other modifier',
    );
  }
  if (isPrivate && (relation || embeds)) {
    fail(
      find('private'),
      'a private column is not published, so it cannot be a relation or hold documents',
      'drop `private`',
    );
  }
  return ok;
}

/**
 * A derived attribute is stored in its model's table (P225) and is neither a key, a relation
 * nor a document (P208); one source, computed by the app or not (P208).
 */
function derivedFits(
  app: AppContext,
  ast: FieldAst,
  owner: FieldOwner,
  modifiers: Modifiers,
  derived: ModifierAst,
): boolean {
  const what = derivedWord(derived);
  if (owner !== 'publication') {
    app.bag.error(
      'P225',
      derived.span,
      `${what} is stored in its model's table: it has no place in ${ownerWords[owner]}`,
      'derive it on a published model, or send the value itself',
    );
    return false;
  }
  const primary = ast.modifiers.find((m) => m.kind === 'primary');
  if (primary) {
    app.bag.error(
      'P225',
      primary.span,
      `${what} cannot be a primary key`,
      'drop `primary`; the key is a column of its own',
    );
    return false;
  }
  const other = modifiers.relation
    ? 'belongs_to'
    : modifiers.embeds
      ? 'embeds'
      : modifiers.virtual
        ? 'virtual'
        : undefined;
  if (other) {
    app.bag.error('P208', derived.span, `${what} cannot also be \`${other}\``, 'split it in two fields');
    return false;
  }
  return true;
}

function derivedWord(m: ModifierAst): string {
  if (m.kind === 'aggregate') return `\`${m.function}(...)\``;
  return m.kind === 'from' ? 'a copied attribute (`from`)' : 'a virtual attribute that reads related rows';
}

function writtenType(app: AppContext, ast: FieldAst): Typed | undefined {
  if (!ast.type) return { nullable: false };
  const type = resolveType(app.bag, ast.type);
  return type ? { type, nullable: ast.type.nullable } : undefined;
}

/** An embedded field's type is the embedded model's, which the field names. */
function embeddedType(app: AppContext, ast: FieldAst, embeds: NonNullable<Modifiers['embeds']>): Typed | undefined {
  if (ast.type) {
    app.bag.error(
      'P208',
      ast.type.span,
      'an embedded field takes its type from the embedded model',
      `remove \`${ast.type.name.text}\``,
    );
    return undefined;
  }
  const target = app.embedded.get(embeds.target.text);
  if (target)
    return { type: { kind: 'embedded', model: target.value.name, many: embeds.many }, nullable: embeds.nullable };
  // Declared, but with an error of its own (reported there).
  if (app.embeddedNames.has(embeds.target.text)) return undefined;
  app.bag.error(
    'P209',
    embeds.target.span,
    `\`${embeds.target.text}\` is not an embedded model of app \`${app.name}\``,
    didYouMean(embeds.target.text, [...app.embedded.keys()], 'an embedded model:') ??
      written(
        embeds.target.span,
        `declare it: \`embedded ${embeds.target.text} { id uuid primary ... }\``,
        `declare it under \`embedded\`: \`${embeds.target.text}: { fields: { id: 'uuid primary', ... } }\``,
      ),
  );
  return undefined;
}

/** A `belongs_to` field holds the target's key: it takes the key's type, or must agree with it. */
function relationType(
  app: AppContext,
  ast: FieldAst,
  target: Name,
  type: FieldType | undefined,
): FieldType | undefined {
  const key = relationKey(app, target.text, new Set());
  if (key === undefined) {
    app.bag.error(
      'P210',
      target.span,
      `\`${target.text}\` is not a published model of app \`${app.name}\``,
      didYouMean(target.text, [...app.publishDecls.keys()], 'a published model:') ??
        written(
          target.span,
          `publish it: \`publish <table> as ${target.text} { ... }\``,
          `publish it: \`{ table: '<table>', as: '${target.text}', fields: { ... } }\``,
        ),
    );
    return undefined;
  }
  // The target's declaration has an error of its own, reported there.
  if (key === 'broken') return undefined;
  if (key === 'loop') {
    // Reported on the keys in the loop; a field that only points into it waits for them.
    const isKey = ast.modifiers.some((m) => m.kind === 'primary') || ast.name.text === 'id';
    if (isKey && !type) reportUntypedKey(app, ast, target);
    return undefined;
  }
  if (type && !sameType(type, key.type)) {
    app.bag.error(
      'P211',
      ast.type?.span ?? ast.span,
      `\`${ast.name.text}\` is \`${formatType(type, false)}\` but \`${target.text}.${key.name}\` is \`${formatType(key.type, false)}\``,
      `declare it \`${formatType(key.type, false)}\`, or leave the type out to take the key's`,
    );
    return undefined;
  }
  return key.type;
}

function reportUntypedKey(app: AppContext, ast: FieldAst, target: Name): void {
  app.bag.error(
    'P206',
    ast.name.span,
    `primary key \`${ast.name.text}\` belongs to \`${target.text}\`, whose key leads back here: it has no type`,
    `give it the type the keys hold, e.g. ${written(
      ast.name.span,
      `\`${ast.name.text} uuid belongs_to ${target.text} primary\``,
      `\`${ast.name.text}: { type: 'uuid', belongsTo: '${target.text}', primary: true }\``,
    )}`,
  );
}

function modifierWord(kind: string): string {
  return kind === 'belongsTo' ? 'belongs_to' : kind;
}
