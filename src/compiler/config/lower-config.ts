import type {
  AppAst,
  AttributeRefAst,
  DeclAst,
  Discriminator,
  FieldAst,
  ModifierAst,
  Name,
  SubscribeAst,
  TypeAst,
} from '../ast/ast.js';
import { optional } from '../ast/optional.js';
import { DiagnosticBag, type Result } from '../diagnostics/diagnostic.js';
import { closest, didYouMean } from '../diagnostics/suggest.js';
import { parseField, parseType } from '../parse/parse-prom.js';
import type { SourceFile, Span } from '../source/source-file.js';
import { type Loc, rootLoc } from './config-loc.js';
import { type ConfigReader, derivedKeys, derivedModifiers, pathOf } from './lower-derived.js';
import { runtimeKeys } from '../../common/define-config.js';

/** A loaded `promiscuous.config.ts`: its text (for positions) and its evaluated default export. */
export interface ConfigSource extends SourceFile {
  readonly value: unknown;
}

/**
 * Lowers an evaluated `defineConfig({...})` to the same AST as a `.prom` file. Values come from
 * the evaluated object (so constants and spreads work); positions come from the config file's
 * syntax tree, found by walking it along the same path (`apps.crowdtap.publish[2].fields.email`).
 */
export function lowerConfig(source: ConfigSource): Result<readonly AppAst[]> {
  const bag = new DiagnosticBag();
  const lowering = new Lowering(source, bag);
  return { value: lowering.workspace(), diagnostics: bag.items };
}

type Obj = Record<string, unknown>;

/** Config keys whose values are names (of models, tables, columns), not free text. */
const nameKeys = new Set(['as', 'extends', 'type', 'table', 'into', 'column', 'foreignKey', 'via']);

class Lowering implements ConfigReader {
  private readonly root: Loc;
  /** Paths of keys reported as misspelled (`fileds` -> `...fields`): not reported missing too. */
  private readonly misspelled = new Set<string>();

  constructor(
    private readonly source: ConfigSource,
    readonly bag: DiagnosticBag,
  ) {
    this.root = rootLoc(source.path, source.text);
  }

  workspace(): AppAst[] {
    const config = this.object(this.source.value, this.root, ['apps', ...runtimeKeys], 'the default export');
    if (!config) return [];
    const appsLoc = this.root.key('apps');
    const apps = this.object(config.apps, appsLoc, undefined, '`apps`', true);
    if (!apps) return [];
    return Object.entries(apps).flatMap(([name, value]) => {
      const loc = appsLoc.key(name);
      const app = this.object(
        value,
        loc,
        ['publish', 'ephemerals', 'embedded', 'subscribe', 'observe'],
        `app \`${name}\``,
      );
      if (!app) return [];
      const decls: DeclAst[] = [
        ...this.list(app.embedded, loc.key('embedded'), 'named', (v, l, key) => this.embedded(v, l, key)),
        ...this.list(app.publish, loc.key('publish'), 'array', (v, l) => this.publish(v, l)),
        ...this.list(app.ephemerals, loc.key('ephemerals'), 'named', (v, l, key) => this.ephemeral(v, l, key)),
        ...this.list(app.subscribe, loc.key('subscribe'), 'array', (v, l) => this.subscribe(v, l)),
        ...this.list(app.observe, loc.key('observe'), 'array', (v, l) => this.observe(v, l)),
      ];
      return [{ kind: 'app' as const, name: { text: name, span: loc.keySpan() }, decls }];
    });
  }

  private list<T>(
    value: unknown,
    loc: Loc,
    shape: 'array' | 'named',
    each: (value: unknown, loc: Loc, key: Name) => T | undefined,
  ): T[] {
    if (value === undefined) return [];
    if (shape === 'array') {
      if (!Array.isArray(value)) {
        const key = lastKey(loc.path);
        this.bag.error('P005', loc.span(), `\`${key}\` must be an array`, `wrap it in a list: \`${key}: [{ ... }]\``);
        return [];
      }
      return value.flatMap((item, i) => {
        const itemLoc = loc.index(i);
        const out = each(item, itemLoc, { text: String(i), span: itemLoc.span() });
        return out === undefined ? [] : [out];
      });
    }
    const object = this.object(value, loc, undefined, `\`${lastKey(loc.path)}\``, true);
    if (!object) return [];
    return Object.entries(object).flatMap(([key, item]) => {
      const itemLoc = loc.key(key);
      const name = { text: key, span: itemLoc.keySpan() };
      const out = this.isName(name, 'model') ? each(item, itemLoc, name) : undefined;
      return out === undefined ? [] : [out];
    });
  }

  /** Checks that a value is a plain object with only known keys (`allowed` undefined: any key). */
  private object(
    value: unknown,
    loc: Loc,
    allowed: readonly string[] | undefined,
    what: string,
    anyKeys = false,
  ): Obj | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      // `defineConfig<RuntimeHooks>()` returns the function that takes the config.
      const help =
        typeof value === 'function' && loc === this.root
          ? 'call the function `defineConfig<RuntimeHooks>()` returns with the config: `defineConfig<RuntimeHooks>()({ ... })`'
          : 'write `{ ... }`';
      this.bag.error('P005', loc.span(), `${what} must be an object`, help);
      return undefined;
    }
    const object = value as Obj;
    if (allowed && !anyKeys) {
      for (const key of Object.keys(object)) {
        if (!allowed.includes(key)) {
          const keyLoc = loc.key(key);
          const meant = closest(key, allowed);
          if (meant !== undefined) this.misspelled.add(loc.key(meant).path);
          this.bag.error(
            'P005',
            keyLoc.keySpan(),
            `unknown key \`${key}\` in ${what}`,
            didYouMean(key, allowed, 'one of'),
          );
        }
      }
    }
    return object;
  }

  string(object: Obj, key: string, loc: Loc, required: boolean): Name | undefined {
    const value = object[key];
    const at = loc.key(key);
    if (value === undefined) {
      if (required && !this.misspelled.has(at.path))
        this.bag.error('P005', loc.span(), `\`${key}\` is missing`, `add \`${key}: '...'\``);
      return undefined;
    }
    if (typeof value !== 'string' || value === '') {
      this.bag.error('P005', at.span(), `\`${key}\` must be a non-empty string`, `write \`${key}: '...'\``);
      return undefined;
    }
    const name = { text: value, span: at.isLiteral() ? at.span(0, value.length) : at.span() };
    return nameKeys.has(key) && !this.isName(name, `\`${key}\``) ? undefined : name;
  }

  /**
   * A `.prom` file can only spell names with letters, digits and `_`; a config string can hold
   * anything, so names are checked here before they reach generated code.
   */
  isName(name: Name, what: string): boolean {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name.text)) return true;
    const fixed =
      name.text
        .replace(/[^A-Za-z0-9_]+/g, '_')
        .replace(/^_+|_+$/g, '')
        .replace(/^(?=[0-9])/, '_') || 'name';
    this.bag.error(
      'P106',
      name.span,
      `${what} ${JSON.stringify(name.text)} is not a name: use letters, digits and \`_\`, not starting with a digit`,
      `write \`${fixed}\``,
    );
    return false;
  }

  private when(object: Obj, loc: Loc): Discriminator | undefined {
    if (object.when === undefined) return undefined;
    const at = loc.key('when');
    const when = this.object(object.when, at, ['column', 'value'], '`when`');
    if (!when) return undefined;
    const column = this.string(when, 'column', at, true);
    const value = this.string(when, 'value', at, true);
    return column && value ? { column, value } : undefined;
  }

  private publish(value: unknown, loc: Loc): DeclAst | undefined {
    const keys = ['table', 'as', 'extends', 'when', 'to', 'coalesce', 'fields'];
    const object = this.object(value, loc, keys, 'a publication');
    if (!object) return undefined;
    const table = this.string(object, 'table', loc, true);
    if (!table) return undefined;
    return {
      kind: 'publish',
      span: loc.span(),
      table,
      ...optional('as', this.string(object, 'as', loc, false)),
      ...optional('extends', this.string(object, 'extends', loc, false)),
      ...optional('when', this.when(object, loc)),
      ...optional('to', this.string(object, 'to', loc, false)),
      ...optional('coalesce', this.string(object, 'coalesce', loc, false)),
      fields: this.fields(object.fields, loc.key('fields')),
    };
  }

  private ephemeral(value: unknown, loc: Loc, name: Name): DeclAst | undefined {
    const object = this.object(value, loc, ['to', 'fields'], `ephemeral \`${name.text}\``);
    if (!object) return undefined;
    return {
      kind: 'ephemeral',
      span: loc.keySpan(),
      name,
      ...optional('to', this.string(object, 'to', loc, false)),
      fields: this.fields(object.fields, loc.key('fields')),
    };
  }

  private embedded(value: unknown, loc: Loc, name: Name): DeclAst | undefined {
    const object = this.object(value, loc, ['fields'], `embedded model \`${name.text}\``);
    if (!object) return undefined;
    return { kind: 'embedded', span: loc.keySpan(), name, fields: this.fields(object.fields, loc.key('fields')) };
  }

  private fields(value: unknown, loc: Loc): FieldAst[] {
    if (value === undefined) {
      if (!this.misspelled.has(loc.path))
        this.bag.error('P005', loc.span(), '`fields` is missing', "add `fields: { id: 'integer primary', ... }`");
      return [];
    }
    const fields = this.object(value, loc, undefined, '`fields`', true);
    if (!fields) return [];
    return Object.entries(fields).flatMap(([name, spec]) => {
      const field = this.field(name, spec, loc.key(name));
      return field ? [field] : [];
    });
  }

  private field(name: string, spec: unknown, loc: Loc): FieldAst | undefined {
    const nameSpan = loc.keySpan();
    if (!this.isName({ text: name, span: nameSpan }, 'field')) return undefined;
    if (typeof spec === 'string') {
      // `email: 'string? primary'` is the `.prom` field `email string? primary`.
      const text = `${name} ${spec}`;
      const spanAt = (offset: number, length: number): Span =>
        offset <= name.length ? nameSpan : loc.isLiteral() ? loc.span(offset - name.length - 1, length) : loc.span();
      return parseField(text, spanAt, this.bag);
    }
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      this.bag.error(
        'P005',
        loc.span(),
        `field \`${name}\` must be a type string or an object`,
        `write \`${name}: 'string'\` (or another type), or \`${name}: { type: 'string', ... }\``,
      );
      return undefined;
    }
    const allowed = [
      ...['type', 'primary', 'private', 'column', 'virtual', 'belongsTo', 'embedsOne', 'embedsMany'],
      ...derivedKeys,
    ];
    const object = this.object(spec, loc, allowed, `field \`${name}\``);
    if (!object) return undefined;
    const modifiers = this.modifiers(object, loc);
    const type = object.type === undefined ? undefined : this.type(object.type, loc.key('type'));
    if (object.type !== undefined && !type) return undefined;
    const base = { kind: 'field' as const, span: nameSpan, name: { text: name, span: nameSpan }, modifiers };
    return type ? { ...base, type } : base;
  }

  /** The keys of a field object that are modifiers in a `.prom` field, in the order they are read. */
  private modifiers(object: Obj, loc: Loc): ModifierAst[] {
    const modifiers: ModifierAst[] = [];
    for (const flag of ['primary', 'private'] as const) {
      const value = object[flag];
      if (value === undefined || value === false) continue;
      if (value !== true)
        this.bag.error('P005', loc.key(flag).span(), `\`${flag}\` must be \`true\``, `write \`${flag}: true\``);
      else modifiers.push({ kind: flag, span: loc.key(flag).keySpan() });
    }
    const column = this.string(object, 'column', loc, false);
    if (column) modifiers.push({ kind: 'column', span: loc.key('column').keySpan(), column });
    if (object.virtual !== undefined) {
      const at = loc.key('virtual');
      const virtual = this.object(object.virtual, at, ['use'], '`virtual`');
      const names = virtual ? this.names(virtual.use, at.key('use')) : undefined;
      // `customer.first_name` reads across a relation, as it does in a `.prom` file.
      const uses = names?.map((name, i) => pathOf(this, name.text, at.key('use').index(i)));
      if (uses?.every((path) => path !== undefined)) modifiers.push({ kind: 'virtual', span: at.keySpan(), uses });
    }
    modifiers.push(...derivedModifiers(this, object, loc));
    const belongsTo = this.string(object, 'belongsTo', loc, false);
    if (belongsTo) {
      const nullable = belongsTo.text.endsWith('?');
      const target = { text: belongsTo.text.replace(/\?$/, ''), span: belongsTo.span };
      modifiers.push({ kind: 'belongsTo', span: loc.key('belongsTo').keySpan(), target, nullable });
    }
    for (const key of ['embedsOne', 'embedsMany'] as const) {
      const embeds = this.string(object, key, loc, false);
      if (!embeds) continue;
      const target = { text: embeds.text.replace(/\?$/, ''), span: embeds.span };
      const nullable = embeds.text.endsWith('?');
      modifiers.push({ kind: 'embeds', span: loc.key(key).keySpan(), many: key === 'embedsMany', target, nullable });
    }
    return modifiers;
  }

  private type(value: unknown, loc: Loc): TypeAst | undefined {
    if (typeof value !== 'string') {
      this.bag.error('P005', loc.span(), 'a type must be a string', "write `type: 'string'`");
      return undefined;
    }
    const spanAt = (offset: number, length: number): Span => (loc.isLiteral() ? loc.span(offset, length) : loc.span());
    return parseType(value, spanAt, this.bag);
  }

  private names(value: unknown, loc: Loc): Name[] | undefined {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      const key = lastKey(loc.path);
      this.bag.error(
        'P005',
        loc.span(),
        `\`${key}\` must be a list of field names`,
        `write \`${key}: ['first_name', 'last_name']\``,
      );
      return undefined;
    }
    return value.map((text: string, i) => {
      const at = loc.index(i);
      return { text, span: at.isLiteral() ? at.span(0, text.length) : at.span() };
    });
  }

  private subscribe(value: unknown, loc: Loc): DeclAst | undefined {
    const keys = ['type', 'as', 'extends', 'when', 'from', 'into', 'foreignKey', 'unmanaged', 'attributes'];
    const object = this.object(value, loc, keys, 'a subscription');
    if (!object) return undefined;
    const type = this.string(object, 'type', loc, true);
    if (!type) return undefined;
    const attributes = this.attributes(object.attributes, loc.key('attributes'));
    let foreignKey: SubscribeAst['foreignKey'];
    if (typeof object.foreignKey === 'string' || object.foreignKey === undefined) {
      const column = this.string(object, 'foreignKey', loc, false);
      if (column) foreignKey = { column };
    } else {
      const at = loc.key('foreignKey');
      const fk = this.object(object.foreignKey, at, ['column', 'type'], '`foreignKey`');
      const column = fk ? this.string(fk, 'column', at, true) : undefined;
      const fkType = fk?.type === undefined ? undefined : this.type(fk.type, at.key('type'));
      if (column) foreignKey = fkType ? { column, type: fkType } : { column };
    }
    return {
      kind: 'subscribe',
      span: loc.span(),
      type,
      ...optional('as', this.string(object, 'as', loc, false)),
      ...optional('extends', this.string(object, 'extends', loc, false)),
      ...optional('when', this.when(object, loc)),
      ...optional('from', this.string(object, 'from', loc, false)),
      ...optional('into', this.string(object, 'into', loc, false)),
      ...optional('foreignKey', foreignKey),
      ...optional('unmanaged', this.flag(object, 'unmanaged', loc)),
      attributes,
    };
  }

  /** A flag that is either absent (or `false`) or `true`: the span of its key when `true`. */
  private flag(object: Obj, key: string, loc: Loc): Span | undefined {
    const value = object[key];
    if (value === undefined || value === false) return undefined;
    if (value === true) return loc.key(key).keySpan();
    this.bag.error('P005', loc.key(key).span(), `\`${key}\` must be \`true\``, `write \`${key}: true\``);
    return undefined;
  }

  private observe(value: unknown, loc: Loc): DeclAst | undefined {
    const object = this.object(value, loc, ['type', 'as', 'from', 'attributes'], 'an observer');
    if (!object) return undefined;
    const type = this.string(object, 'type', loc, true);
    if (!type) return undefined;
    return {
      kind: 'observe',
      span: loc.span(),
      type,
      ...optional('as', this.string(object, 'as', loc, false)),
      ...optional('from', this.string(object, 'from', loc, false)),
      attributes: this.attributes(object.attributes, loc.key('attributes')),
    };
  }

  private attributes(value: unknown, loc: Loc): AttributeRefAst[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.bag.error(
        'P005',
        loc.span(),
        '`attributes` must be an array',
        "write `attributes: ['name', { email: 'contact_email' }]`",
      );
      return [];
    }
    return value.flatMap((item: unknown, i): AttributeRefAst[] => {
      const at = loc.index(i);
      if (typeof item === 'string') {
        const name = { text: item, span: at.isLiteral() ? at.span(0, item.length) : at.span() };
        return this.isName(name, 'attribute') ? [{ name }] : [];
      }
      const entries = typeof item === 'object' && item !== null ? Object.entries(item) : [];
      const [entry] = entries;
      if (!entry || entries.length !== 1 || typeof entry[1] !== 'string') {
        const split = entries.length > 1 && entries.every(([, column]) => typeof column === 'string');
        this.bag.error(
          'P005',
          at.span(),
          split ? 'an attribute object renames one attribute' : 'an attribute is a name or `{ attribute: column }`',
          split
            ? `give each attribute its own entry: ${entries.map(([a, c]) => `\`{ ${a}: '${String(c)}' }\``).join(', ')}`
            : "write `'email'` or `{ email: 'contact_email' }`",
        );
        return [];
      }
      const [attribute, column] = entry;
      const keyLoc = at.key(attribute);
      const name = { text: attribute, span: keyLoc.keySpan() };
      const into = { text: column, span: keyLoc.isLiteral() ? keyLoc.span(0, column.length) : keyLoc.span() };
      return this.isName(name, 'attribute') && this.isName(into, 'column') ? [{ name, column: into }] : [];
    });
  }
}

/** `apps.shop.publish` -> `publish`: the key as the user wrote it, for messages. */
function lastKey(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}
