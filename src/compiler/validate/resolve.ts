import type {
  AppAst,
  AttributeRefAst,
  DeclAst,
  EmbeddedAst,
  EphemeralAst,
  FieldAst,
  Name,
  ObserveAst,
  PublishAst,
  SubscribeAst,
  TypeAst,
  WorkspaceAst,
} from '../ast/ast.js';
import { DiagnosticBag, type Result } from '../diagnostics/diagnostic.js';
import { closest, didYouMean } from '../diagnostics/suggest.js';
import {
  type App,
  type EmbeddedModel,
  type Endpoint,
  type Ephemeral,
  type Field,
  type FieldType,
  type Observer,
  type Publication,
  type Resolution,
  type ScalarName,
  type SubscribedAttribute,
  type Subscription,
  scalarNames,
  type Workspace,
} from '../ir/ir.js';
import { pascalCase, pluralize, singularize, snakeCase } from '../ir/names.js';
import type { Span } from '../source/source-file.js';
import { Catalog, type CatalogEndpoint, type CatalogType, endpointsMatching, parseSource } from './catalog.js';
import { formatType, sameType } from './types.js';

/**
 * Checks a workspace and lowers it to the IR. Every problem becomes a diagnostic; a node with
 * an error is left out of the IR, and the CLI writes nothing when any error was found.
 */
export function resolve(ast: WorkspaceAst, external: readonly CatalogEndpoint[] = []): Result<Workspace> {
  const bag = new DiagnosticBag();
  const apps = mergeApps(ast.apps);
  const built = new Map<string, AppBuilder>();
  for (const [name, sections] of apps) built.set(name, new AppBuilder(name, sections, bag));
  for (const app of built.values()) app.resolvePublishers();

  const catalog = new Map<string, CatalogEndpoint>();
  for (const endpoint of external) catalog.set(endpoint.name, endpoint);
  checkEndpoints([...built.values()], catalog);

  const known = new Set([...built.keys(), ...external.map((e) => e.app)]);
  const broken = [...built.values()].flatMap((app) => app.brokenTypes());
  const index = new Catalog(catalog);
  for (const app of built.values()) app.resolveSubscribers(index, known, broken);
  const value: Workspace = {
    apps: [...built.values()].map((app) => app.result()).sort((a, b) => compare(a.name, b.name)),
  };
  return { value, diagnostics: bag.items };
}

function mergeApps(sections: readonly AppAst[]): Map<string, AppAst[]> {
  const apps = new Map<string, AppAst[]>();
  for (const section of sections) {
    const list = apps.get(section.name.text) ?? [];
    list.push(section);
    apps.set(section.name.text, list);
  }
  return apps;
}

interface Located<T> {
  readonly value: T;
  readonly span: Span;
  /** The AST node, for messages that point inside it. */
  readonly decl: DeclAst;
}

const appName = /^[a-z][a-z0-9_]*$/;

class AppBuilder {
  private readonly decls: DeclAst[];
  private readonly names = new Map<string, { span: Span; viaAs: boolean }>();
  private readonly embedded = new Map<string, Located<EmbeddedModel>>();
  /** Every embedded model and publication declared, resolved or not, by name. */
  private readonly embeddedNames = new Set<string>();
  private readonly publishDecls = new Map<string, PublishAst>();
  private readonly publications = new Map<string, Located<Publication>>();
  private readonly ephemerals = new Map<string, Located<Ephemeral>>();
  private readonly subscriptions = new Map<string, Located<Subscription>>();
  private readonly observers = new Map<string, Located<Observer>>();
  private readonly localNames = new Map<string, Span>();
  private knownApps: ReadonlySet<string> = new Set();
  private broken: readonly BrokenType[] = [];
  private readonly resolutions: Resolution[] = [];

  constructor(
    readonly name: string,
    sections: readonly AppAst[],
    private readonly bag: DiagnosticBag,
  ) {
    this.decls = sections.flatMap((s) => s.decls);
    const first = sections[0];
    if (first && !appName.test(name)) {
      bag.error(
        'P106',
        first.name.span,
        `app name \`${name}\` must be lowercase letters, digits and \`_\`, starting with a letter`,
        `rename it \`${snakeCase(name).replace(/[^a-z0-9_]/g, '_')}\``,
      );
    }
  }

  // ---- publishers ---------------------------------------------------------------------------

  resolvePublishers(): void {
    for (const decl of this.decls) if (decl.kind === 'embedded') this.addEmbedded(decl);
    const publishes = this.decls.filter((d): d is PublishAst => d.kind === 'publish');
    this.addPublications(publishes);
    for (const decl of this.decls) if (decl.kind === 'ephemeral') this.addEphemeral(decl);
  }

  private claimName(name: Name, viaAs: boolean): boolean {
    const previous = this.names.get(name.text);
    if (previous) {
      const code = viaAs || previous.viaAs ? 'P214' : 'P101';
      const message = `\`${name.text}\` is already a model of app \`${this.name}\``;
      const fix = viaAs
        ? `choose another name after \`as\``
        : `rename one of them (a publication takes another name with \`as <Name>\`)`;
      this.bag.error(code, name.span, message, fix, [{ message: 'first declared here', span: previous.span }]);
      return false;
    }
    this.names.set(name.text, { span: name.span, viaAs });
    return true;
  }

  private addEmbedded(decl: EmbeddedAst): void {
    if (!this.claimName(decl.name, false)) return;
    this.embeddedNames.add(decl.name.text);
    const fields = this.fields(decl.fields, 'embedded', []);
    const primaryKey = this.primaryKey(fields, decl.name, decl.span);
    if (!fields.ok || primaryKey === undefined) return;
    this.embedded.set(decl.name.text, {
      value: { kind: 'embedded', name: decl.name.text, fields: fields.fields, primaryKey },
      span: decl.name.span,
      decl,
    });
  }

  private addEphemeral(decl: EphemeralAst): void {
    if (!this.claimName(decl.name, false)) return;
    const endpoint = this.endpoint(decl.to, decl.name.text);
    const fields = this.fields(decl.fields, 'ephemeral', []);
    if (!fields.ok || !endpoint) return;
    this.ephemerals.set(decl.name.text, {
      value: { kind: 'ephemeral', name: decl.name.text, endpoint, fields: fields.fields },
      span: decl.name.span,
      decl,
    });
  }

  /** Publications are resolved parents first, so that a subtype sees its parent's fields. */
  private addPublications(decls: readonly PublishAst[]): void {
    const byName = new Map<string, PublishAst>();
    for (const decl of decls) {
      const name = this.publicationName(decl);
      if (this.claimName(name, decl.as !== undefined)) byName.set(name.text, decl);
    }
    for (const [name, decl] of byName) this.publishDecls.set(name, decl);
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, decl: PublishAst): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') return;
      state.set(name, 'visiting');
      const parentName = decl.extends?.text;
      const parentDecl = parentName === undefined ? undefined : byName.get(parentName);
      if (parentName !== undefined && parentDecl) {
        if (state.get(parentName) === 'visiting') {
          const chain = cycle(name, byName);
          this.bag.error(
            'P202',
            decl.extends?.span ?? decl.span,
            `\`${name}\` extends itself through ${chain}`,
            'remove one `extends` so that the chain ends at a root model',
          );
          state.set(name, 'done');
          return;
        }
        visit(parentName, parentDecl);
      }
      this.addPublication(name, decl);
      state.set(name, 'done');
    };
    for (const [name, decl] of byName) visit(name, decl);
  }

  private publicationName(decl: PublishAst): Name {
    return decl.as ?? { text: pascalCase(singularize(decl.table.text)), span: decl.table.span };
  }

  private addPublication(name: string, decl: PublishAst): void {
    let parent: Publication | undefined;
    if (decl.extends) {
      parent = this.publications.get(decl.extends.text)?.value;
      if (!parent) {
        if (!this.names.has(decl.extends.text) || this.embedded.has(decl.extends.text)) {
          this.bag.error(
            'P201',
            decl.extends.span,
            `\`${decl.extends.text}\` is not a published model of app \`${this.name}\``,
            didYouMean(
              decl.extends.text,
              [...this.publishDecls.keys()].filter((n) => n !== name),
              'a published model:',
            ) ??
              written(
                decl.extends.span,
                `publish it from the same table: \`publish ${decl.table.text} as ${decl.extends.text} { id integer primary ... }\`, or remove \`extends\``,
                `publish it from the same table: \`{ table: '${decl.table.text}', as: '${decl.extends.text}', fields: { ... } }\`, or remove \`extends\``,
              ),
          );
        }
        return;
      }
      if (parent.table !== decl.table.text) {
        this.bag.error(
          'P203',
          decl.table.span,
          `\`${name}\` extends \`${parent.name}\` but is published from table \`${decl.table.text}\`, not \`${parent.table}\``,
          `a subtype lives in its parent's table (single-table inheritance): write \`publish ${parent.table} as ${name} extends ${parent.name}\``,
        );
        return;
      }
      if (decl.to) {
        this.bag.error(
          'P301',
          decl.to.span,
          `\`${name}\` is published on its root's endpoint \`${parent.endpoint.name}\``,
          'remove `to` from the subtype; subscribers of the root receive it there',
        );
        return;
      }
    } else if (decl.when) {
      this.bag.error(
        'P212',
        decl.when.column.span,
        `\`when\` belongs on a subtype; \`${name}\` extends nothing`,
        'remove `when`, or add `extends <Parent>`',
      );
    }

    const inherited = parent ? parent.fields.map((f) => ({ ...f, own: false })) : [];
    const fields = this.fields(decl.fields, 'publication', inherited);
    if (!fields.ok) return;
    const primaryKey = parent ? parent.primaryKey : this.primaryKey(fields, decl.table, decl.span);
    if (primaryKey === undefined) return;
    if (parent) {
      const extraPrimary = decl.fields.find((f) => f.modifiers.some((m) => m.kind === 'primary'));
      if (extraPrimary) {
        this.bag.error(
          'P205',
          extraPrimary.name.span,
          `\`${name}\` inherits its primary key \`${parent.primaryKey}\` from \`${parent.name}\``,
          'remove `primary` from the subtype',
        );
        return;
      }
    }
    const endpoint = parent ? parent.endpoint : this.endpoint(decl.to, name);
    if (!endpoint) return;

    let discriminator: Publication['discriminator'];
    if (parent) {
      const column = decl.when?.column.text ?? parent.discriminator?.column ?? 'type';
      const value = decl.when?.value.text ?? name;
      const root = this.root(parent);
      const rootColumn = root.discriminator?.column;
      if (rootColumn !== undefined && rootColumn !== column) {
        this.bag.error(
          'P212',
          decl.when?.column.span ?? decl.span,
          `subtypes of \`${root.name}\` are told apart by \`${rootColumn}\`, not \`${column}\``,
          written(
            decl.when?.column.span ?? decl.span,
            `write \`when ${rootColumn} = "${value}"\``,
            `write \`when: { column: '${rootColumn}', value: '${value}' }\``,
          ),
        );
        return;
      }
      const clash = [...this.publications.values()].find(
        (p) => this.root(p.value).name === root.name && p.value.discriminator?.value === value,
      );
      if (clash) {
        this.bag.error(
          'P212',
          decl.when?.value.span ?? decl.span,
          `\`${clash.value.name}\` already uses \`${column} = "${value}"\``,
          'give each subtype its own discriminator value',
          [{ message: 'used here', span: clash.span }],
        );
        return;
      }
      discriminator = { column, value };
      if (!root.discriminator) this.setDiscriminator(root.name, { column, value: root.name });
    }

    this.publications.set(name, {
      value: {
        kind: 'publication',
        name,
        table: decl.table.text,
        endpoint,
        ...(parent ? { parent: parent.name } : {}),
        ancestors: [name, ...(parent?.ancestors ?? [])],
        ...(discriminator ? { discriminator } : {}),
        fields: fields.fields,
        primaryKey,
      },
      span: (decl.as ?? decl.table).span,
      decl,
    });
  }

  /**
   * The key of the model a `belongs_to` names. A model not resolved yet (the field's own model,
   * one declared later or in an included file) is read from its declaration. `'broken'`: the
   * model is declared but its key cannot be known for an error of its own, reported there;
   * `'loop'`: keys that are relations lead back to `target`, so none has a type.
   */
  private relationKey(
    target: string,
    visiting: Set<string>,
  ): { name: string; type: FieldType } | 'broken' | 'loop' | undefined {
    const resolved = this.publications.get(target)?.value;
    if (resolved) {
      const key = resolved.fields.find((f) => f.name === resolved.primaryKey);
      return key ? { name: key.name, type: key.type } : 'broken';
    }
    let decl = this.publishDecls.get(target);
    if (!decl) return undefined;
    if (visiting.has(target)) return 'loop';
    visiting.add(target);
    const chain = new Set([target]);
    while (decl.extends) {
      const parent: PublishAst | undefined = this.publishDecls.get(decl.extends.text);
      if (!parent || chain.has(decl.extends.text)) return 'broken';
      chain.add(decl.extends.text);
      decl = parent;
    }
    const primaries = decl.fields.filter((f) => f.modifiers.some((m) => m.kind === 'primary'));
    const field = primaries.length > 0 ? primaries[0] : decl.fields.find((f) => f.name.text === 'id');
    if (!field || primaries.length > 1) return 'broken';
    const type = field.type;
    if (type === undefined) {
      // A key that is itself a relation (`user_id belongs_to User primary`) has that model's key type.
      const relation = field.modifiers.find((m) => m.kind === 'belongsTo');
      if (relation?.kind !== 'belongsTo') return 'broken';
      const key = this.relationKey(relation.target.text, visiting);
      if (key === 'loop') return key;
      return key === undefined || key === 'broken' ? 'broken' : { name: field.name.text, type: key.type };
    }
    if (type.array || type.nullable || type.args.length > 0 || !keyTypes.includes(type.name.text)) return 'broken';
    return { name: field.name.text, type: { kind: 'scalar', name: type.name.text as ScalarName } };
  }

  /** The types this app declares but could not publish, and where they would have been published. */
  brokenTypes(): BrokenType[] {
    const at = (name: string): CatalogEndpoint => {
      const [app = '', model = ''] = name.split('/');
      return { name, app, model, types: [] };
    };
    const out: BrokenType[] = [];
    for (const [name, decl] of this.publishDecls) {
      if (this.publications.has(name)) continue;
      let root = decl;
      const chain = new Set([name]);
      while (root.extends && !chain.has(root.extends.text)) {
        const parent = this.publishDecls.get(root.extends.text);
        if (!parent) break;
        chain.add(root.extends.text);
        root = parent;
      }
      const rootName = this.publicationName(root).text;
      out.push({ type: name, endpoint: at(root.to?.text ?? `${this.name}/${snakeCase(rootName)}`) });
    }
    for (const decl of this.decls) {
      if (decl.kind !== 'ephemeral' || this.ephemerals.has(decl.name.text)) continue;
      out.push({ type: decl.name.text, endpoint: at(decl.to?.text ?? `${this.name}/${snakeCase(decl.name.text)}`) });
    }
    return out;
  }

  private root(publication: Publication): Publication {
    const rootName = publication.ancestors.at(-1) ?? publication.name;
    return this.publications.get(rootName)?.value ?? publication;
  }

  private setDiscriminator(name: string, discriminator: { column: string; value: string }): void {
    const entry = this.publications.get(name);
    if (entry) this.publications.set(name, { ...entry, value: { ...entry.value, discriminator } });
  }

  private endpoint(to: Name | undefined, model: string): Endpoint | undefined {
    if (!to) return { name: `${this.name}/${snakeCase(model)}`, app: this.name, model: snakeCase(model) };
    const [app, modelPart, ...rest] = to.text.split('/');
    if (app === undefined || modelPart === undefined || rest.length > 0 || !/^[a-z0-9_]+$/.test(modelPart)) {
      this.bag.error(
        'P301',
        to.span,
        `\`${to.text}\` is not an endpoint`,
        `write ${written(to.span, `\`to "${this.name}/${snakeCase(model)}"\``, `\`to: '${this.name}/${snakeCase(model)}'\``)}: the app, a slash, then lowercase letters, digits and \`_\``,
      );
      return undefined;
    }
    if (app !== this.name) {
      this.bag.error(
        'P302',
        to.span,
        `app \`${this.name}\` cannot publish to \`${to.text}\`: endpoints under \`${app}/\` belong to app \`${app}\``,
        `publish to \`${this.name}/${modelPart}\`, or move this declaration into app \`${app}\``,
      );
      return undefined;
    }
    return { name: to.text, app, model: modelPart };
  }

  private primaryKey(fields: FieldsResult, owner: Name, span: Span): string | undefined {
    const primaries = fields.fields.filter((f) => f.primary);
    if (primaries.length > 1) {
      const second = fields.spans.get(primaries[1]?.name ?? '') ?? span;
      this.bag.error(
        'P205',
        second,
        `\`${owner.text}\` has more than one primary key`,
        'keep `primary` on one field; composite keys are not supported',
      );
      return undefined;
    }
    const primary = primaries[0] ?? fields.fields.find((f) => f.name === 'id' && f.own);
    if (!primary) {
      this.bag.error(
        'P204',
        owner.span,
        `\`${owner.text}\` has no primary key`,
        written(
          owner.span,
          'add a field `id integer primary` (or mark the key field `primary`)',
          "add `id: 'integer primary'` to `fields` (or mark the key field `primary`)",
        ),
      );
      return undefined;
    }
    const scalar = primary.type.kind === 'scalar' ? primary.type.name : undefined;
    const fieldSpan = fields.spans.get(primary.name) ?? span;
    if (scalar === undefined || !keyTypes.includes(scalar) || primary.nullable) {
      this.bag.error(
        'P206',
        fieldSpan,
        `primary key \`${primary.name}\` is \`${formatType(primary.type, primary.nullable)}\``,
        'a primary key is a non-null `integer`, `bigint`, `uuid` or `string`',
      );
      return undefined;
    }
    if (primary.virtual || primary.private) {
      this.bag.error(
        'P208',
        fieldSpan,
        `primary key \`${primary.name}\` cannot be ${primary.virtual ? 'virtual' : 'private'}`,
        `drop \`${primary.virtual ? 'virtual' : 'private'}\`: subscribers match rows by the key, so it is published as a column`,
      );
      return undefined;
    }
    return primary.name;
  }

  private fields(asts: readonly FieldAst[], owner: FieldOwner, inherited: readonly Field[]): FieldsResult {
    const result: FieldsResult = { ok: true, fields: [...inherited], spans: new Map() };
    const byName = new Map(inherited.map((f) => [f.name, f]));
    const columns = new Map<string, Span | undefined>(
      inherited.filter((f) => f.column !== undefined).map((f) => [f.column as string, undefined]),
    );
    const pending: { field: Field; ast: FieldAst }[] = [];
    for (const ast of asts) {
      if (byName.has(ast.name.text)) {
        const inheritedField = inherited.some((f) => f.name === ast.name.text);
        this.bag.error(
          inheritedField ? 'P213' : 'P102',
          ast.name.span,
          inheritedField
            ? `\`${ast.name.text}\` is already published by the parent model`
            : `field \`${ast.name.text}\` is declared twice`,
          inheritedField ? "remove it here; a subtype publishes its parent's fields" : 'remove one of them',
          inheritedField ? [] : [{ message: 'first declared here', span: result.spans.get(ast.name.text) ?? ast.span }],
        );
        result.ok = false;
        continue;
      }
      const field = this.field(ast, owner);
      if (!field) {
        result.ok = false;
        continue;
      }
      if (field.column !== undefined) {
        if (columns.has(field.column)) {
          this.bag.error(
            'P102',
            ast.name.span,
            `column \`${field.column}\` is published twice`,
            'map one of the fields to another column with `column <name>`',
          );
          result.ok = false;
          continue;
        }
        columns.set(field.column, ast.name.span);
      }
      byName.set(field.name, field);
      result.spans.set(field.name, ast.name.span);
      result.fields.push(field);
      pending.push({ field, ast });
    }
    for (const { field, ast } of pending) {
      for (const use of field.virtual?.uses ?? []) {
        const target = byName.get(use);
        if (target && target.column !== undefined) continue;
        const useName = ast.modifiers.flatMap((m) => (m.kind === 'virtual' ? m.uses : [])).find((u) => u.text === use);
        const candidates = [...byName.values()].filter((f) => f.column !== undefined).map((f) => f.name);
        this.bag.error(
          'P207',
          useName?.span ?? ast.span,
          target
            ? `\`${use}\` is itself virtual; a virtual attribute uses columns`
            : `virtual attribute \`${field.name}\` uses \`${use}\`, which is not a field of this model`,
          target
            ? 'list the columns it is computed from'
            : (didYouMean(use, candidates, 'a field:') ??
                `declare it: ${written(ast.name.span, `\`${use} string private\``, `\`${use}: 'string private'\``)}`),
        );
        result.ok = false;
      }
    }
    return result;
  }

  private field(ast: FieldAst, owner: FieldOwner): Field | undefined {
    let ok = true;
    const fail = (span: Span, message: string, fix: string): void => {
      this.bag.error('P208', span, message, fix);
      ok = false;
    };
    const seen = new Set<string>();
    let primary = false;
    let isPrivate = false;
    let column: string | undefined = ast.name.text;
    let virtual: Field['virtual'];
    let relation: { target: Name; nullable: boolean } | undefined;
    let embeds: { target: Name; many: boolean; nullable: boolean } | undefined;
    for (const m of ast.modifiers) {
      if (seen.has(m.kind)) {
        fail(m.span, `\`${modifierWord(m.kind)}\` is given twice`, 'keep one');
        continue;
      }
      seen.add(m.kind);
      if (m.kind === 'primary') primary = true;
      else if (m.kind === 'private') isPrivate = true;
      else if (m.kind === 'virtual') virtual = { uses: m.uses.map((u) => u.text) };
      else if (m.kind === 'column') column = m.column.text;
      else if (m.kind === 'belongsTo') relation = { target: m.target, nullable: m.nullable };
      else embeds = { target: m.target, many: m.many, nullable: m.nullable };
    }
    const where = ownerWords[owner];
    if (owner !== 'publication') {
      for (const m of ast.modifiers) {
        if (m.kind === 'virtual' || m.kind === 'private' || m.kind === 'column') {
          fail(m.span, `\`${modifierWord(m.kind)}\` has no meaning in ${where}`, `remove \`${modifierWord(m.kind)}\``);
        }
      }
    }
    if (owner === 'embedded' && (relation || embeds)) {
      const m = ast.modifiers.find((x) => x.kind === 'belongsTo' || x.kind === 'embeds');
      fail(
        m?.span ?? ast.span,
        `${where} cannot hold relations or further embedded documents`,
        'publish it as a model',
      );
    }
    if (owner === 'ephemeral' && (embeds || primary)) {
      const m = ast.modifiers.find((x) => x.kind === 'embeds' || x.kind === 'primary');
      fail(m?.span ?? ast.span, `\`${modifierWord(m?.kind ?? 'embeds')}\` has no meaning in ${where}`, 'remove it');
    }
    if (relation && embeds)
      fail(ast.span, 'a field cannot both belong to a model and embed one', 'split it in two fields');
    if (virtual && (primary || isPrivate || relation || embeds)) {
      fail(
        ast.span,
        'a virtual attribute is computed: it cannot be a key, private, a relation or embedded',
        'drop `virtual` or the other modifier',
      );
    }
    if (isPrivate && (relation || embeds)) {
      const m = ast.modifiers.find((x) => x.kind === 'private');
      fail(
        m?.span ?? ast.span,
        'a private column is not published, so it cannot be a relation or hold documents',
        'drop `private`',
      );
    }
    if (!ok) return undefined;

    let type: FieldType | undefined;
    let nullable = false;
    if (embeds) {
      if (ast.type) {
        fail(
          ast.type.span,
          'an embedded field takes its type from the embedded model',
          `remove \`${ast.type.name.text}\``,
        );
        return undefined;
      }
      const target = this.embedded.get(embeds.target.text);
      if (!target) {
        // Declared, but with an error of its own (reported there).
        if (this.embeddedNames.has(embeds.target.text)) return undefined;
        this.bag.error(
          'P209',
          embeds.target.span,
          `\`${embeds.target.text}\` is not an embedded model of app \`${this.name}\``,
          didYouMean(embeds.target.text, [...this.embedded.keys()], 'an embedded model:') ??
            written(
              embeds.target.span,
              `declare it: \`embedded ${embeds.target.text} { id uuid primary ... }\``,
              `declare it under \`embedded\`: \`${embeds.target.text}: { fields: { id: 'uuid primary', ... } }\``,
            ),
        );
        return undefined;
      }
      type = { kind: 'embedded', model: target.value.name, many: embeds.many };
      nullable = embeds.nullable;
    } else if (ast.type) {
      type = this.type(ast.type);
      nullable = ast.type.nullable;
      if (!type) return undefined;
    }
    if (relation) {
      const key = this.relationKey(relation.target.text, new Set());
      if (key === undefined) {
        this.bag.error(
          'P210',
          relation.target.span,
          `\`${relation.target.text}\` is not a published model of app \`${this.name}\``,
          didYouMean(relation.target.text, [...this.publishDecls.keys()], 'a published model:') ??
            written(
              relation.target.span,
              `publish it: \`publish <table> as ${relation.target.text} { ... }\``,
              `publish it: \`{ table: '<table>', as: '${relation.target.text}', fields: { ... } }\``,
            ),
        );
        return undefined;
      }
      // The target's declaration has an error of its own, reported there.
      if (key === 'broken') return undefined;
      if (key === 'loop') {
        // Reported on the keys in the loop; a field that only points into it waits for them.
        const isKey = ast.modifiers.some((m) => m.kind === 'primary') || ast.name.text === 'id';
        if (isKey && !type) {
          this.bag.error(
            'P206',
            ast.name.span,
            `primary key \`${ast.name.text}\` belongs to \`${relation.target.text}\`, whose key leads back here: it has no type`,
            `give it the type the keys hold, e.g. ${written(
              ast.name.span,
              `\`${ast.name.text} uuid belongs_to ${relation.target.text} primary\``,
              `\`${ast.name.text}: { type: 'uuid', belongsTo: '${relation.target.text}', primary: true }\``,
            )}`,
          );
        }
        return undefined;
      }
      if (type && !sameType(type, key.type)) {
        this.bag.error(
          'P211',
          ast.type?.span ?? ast.span,
          `\`${ast.name.text}\` is \`${formatType(type, false)}\` but \`${relation.target.text}.${key.name}\` is \`${formatType(key.type, false)}\``,
          `declare it \`${formatType(key.type, false)}\`, or leave the type out to take the key's`,
        );
        return undefined;
      }
      type = key.type;
      nullable = nullable || relation.nullable;
    }
    if (!type) {
      this.bag.error(
        'P103',
        ast.name.span,
        `field \`${ast.name.text}\` has no type`,
        written(
          ast.name.span,
          `write \`${ast.name.text} string\` (or another type)`,
          "add `type: 'string'` (or another type) to it",
        ),
      );
      return undefined;
    }
    return {
      name: ast.name.text,
      ...(column !== undefined && !virtual && owner === 'publication' ? { column } : {}),
      type,
      nullable,
      primary,
      private: isPrivate,
      ...(virtual ? { virtual } : {}),
      ...(relation ? { relation: { model: relation.target.text } } : {}),
      own: true,
    };
  }

  private type(ast: TypeAst): FieldType | undefined {
    const base = this.baseType(ast);
    if (!base) return undefined;
    return ast.array ? { kind: 'array', of: base } : base;
  }

  private baseType(ast: TypeAst): FieldType | undefined {
    const name = ast.name.text;
    if (name === 'enum') {
      const values = ast.args.map((a) => a.text);
      const duplicate = ast.args.find((a, i) => values.indexOf(a.text) !== i);
      if (values.length === 0 || duplicate) {
        this.bag.error(
          'P104',
          duplicate?.span ?? ast.span,
          duplicate ? `enum value \`${duplicate.text}\` is listed twice` : 'an enum needs at least one value',
          duplicate ? 'remove the second one' : 'list the values: `enum(active, banned)`',
        );
        return undefined;
      }
      return { kind: 'enum', values };
    }
    if (!(scalarNames as readonly string[]).includes(name)) {
      this.bag.error(
        'P103',
        ast.name.span,
        `unknown type \`${name}\``,
        didYouMean(name, [...scalarNames, 'enum'], 'a type:'),
      );
      return undefined;
    }
    const scalar = name as ScalarName;
    if (scalar === 'decimal' && ast.args.length > 0) {
      const [p, s] = ast.args.map((a) => Number(a.text));
      if (ast.args.length !== 2 || !Number.isInteger(p) || !Number.isInteger(s) || (p ?? 0) < 1 || (s ?? 0) < 0) {
        this.bag.error('P105', ast.span, '`decimal` takes a precision and a scale', 'write `decimal(12, 2)`');
        return undefined;
      }
      if ((s ?? 0) > (p ?? 0)) {
        this.bag.error(
          'P105',
          ast.args[1]?.span ?? ast.span,
          `the scale (${s}) of \`decimal(${p}, ${s})\` is larger than its precision (${p})`,
          `the precision comes first: \`decimal(${s}, ${p})\``,
        );
        return undefined;
      }
      return { kind: 'scalar', name: scalar, precision: p as number, scale: s as number };
    }
    if (ast.args.length > 0) {
      this.bag.error('P105', ast.args[0]?.span ?? ast.span, `\`${name}\` takes no arguments`, `write \`${name}\``);
      return undefined;
    }
    return { kind: 'scalar', name: scalar };
  }

  // ---- subscribers --------------------------------------------------------------------------

  resolveSubscribers(catalog: Catalog, knownApps: ReadonlySet<string>, broken: readonly BrokenType[]): void {
    this.knownApps = knownApps;
    this.broken = broken;
    const subscribes = this.decls.filter((d): d is SubscribeAst => d.kind === 'subscribe');
    const byName = new Map<string, SubscribeAst>();
    for (const decl of subscribes) {
      const name = decl.as ?? decl.type;
      if (this.claimLocal(name)) byName.set(name.text, decl);
    }
    for (const decl of this.decls) {
      if (decl.kind === 'observe' && this.claimLocal(decl.as ?? decl.type)) this.addObserver(decl, catalog);
    }
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, decl: SubscribeAst): void => {
      if (state.has(name)) return;
      state.set(name, 'visiting');
      const parent = decl.extends ? byName.get(decl.extends.text) : undefined;
      if (decl.extends && parent) {
        if (state.get(decl.extends.text) === 'visiting') {
          this.bag.error(
            'P202',
            decl.extends.span,
            `\`${name}\` extends itself through ${cycle(name, byName)}`,
            'remove one `extends` so that the chain ends at a root subscription',
          );
          state.set(name, 'done');
          return;
        }
        visit(decl.extends.text, parent);
      }
      this.addSubscription(name, decl, catalog);
      state.set(name, 'done');
    };
    for (const [name, decl] of byName) visit(name, decl);
    this.checkTables();
    this.resolveTypes(catalog);
  }

  /** The nearest-ancestor table: where each known published type lands in this app. */
  private resolveTypes(catalog: Catalog): void {
    const subscriptions = [...this.subscriptions.values()].map((s) => s.value).sort((a, b) => compare(a.name, b.name));
    const byType = new Map<string, Subscription[]>();
    const endpoints = new Map<string, CatalogEndpoint>();
    const reaches = new Map<string, Set<string>>();
    for (const s of subscriptions) {
      byType.set(s.type, [...(byType.get(s.type) ?? []), s]);
      const matched = catalog.matching(s.source.binding);
      reaches.set(s.name, new Set(matched.map((e) => e.name)));
      for (const e of matched) endpoints.set(e.name, e);
    }
    for (const endpoint of [...endpoints.values()].sort((a, b) => compare(a.name, b.name))) {
      for (const type of [...endpoint.types].sort((a, b) => compare(a.name, b.name))) {
        for (const ancestor of type.ancestors) {
          const found = byType.get(ancestor)?.find((s) => reaches.get(s.name)?.has(endpoint.name));
          if (found) {
            this.resolutions.push({ endpoint: endpoint.name, type: type.name, subscription: found.name });
            break;
          }
        }
      }
    }
  }

  private claimLocal(name: Name): boolean {
    const previous = this.localNames.get(name.text);
    if (previous) {
      this.bag.error(
        'P101',
        name.span,
        `app \`${this.name}\` already subscribes to something named \`${name.text}\``,
        'give one of them a local name with `as <Name>`',
        [{ message: 'first declared here', span: previous }],
      );
      return false;
    }
    this.localNames.set(name.text, name.span);
    return true;
  }

  /** Finds what is published under `from` and checks the requested type against it. */
  private source(
    decl: SubscribeAst | ObserveAst,
    catalog: Catalog,
    inheritedFrom?: string,
  ): { from: string; binding: string; type?: CatalogType; publisher?: string } | undefined {
    const from = decl.from?.text ?? inheritedFrom ?? `*/${snakeCase(decl.type.text)}`;
    const parsed = parseSource(from);
    if ('error' in parsed) {
      this.bag.error(
        'P401',
        decl.from?.span ?? decl.type.span,
        `\`${from}\` is not a subscription source`,
        parsed.error,
      );
      return undefined;
    }
    const matches = catalog.matching(parsed.binding);
    // What a publisher meant to publish but could not, for an error of its own (reported there).
    const broken =
      this.broken.length === 0
        ? []
        : this.broken.filter((b) => endpointsMatching(parsed.binding, [b.endpoint]).length > 0);
    if (matches.length === 0) {
      if (broken.length > 0) return undefined;
      const appPart = parsed.binding.split('.')[0] ?? '*';
      const published = [...catalog.values()].filter((e) => e.app === appPart);
      if (published.length > 0 || this.appKnown(appPart)) {
        this.bag.error(
          'P402',
          decl.from?.span ?? decl.type.span,
          `app \`${appPart}\` publishes nothing that \`${from}\` matches`,
          didYouMean(
            from.includes('/') ? from : parsed.binding,
            published.map((e) => (from.includes('/') ? e.name : `${e.app}.${e.model}.*`)),
            'an endpoint it publishes:',
          ) ??
            `app \`${appPart}\` publishes nothing yet: ${written(
              decl.type.span,
              `add \`publish <table> as ${decl.type.text} { ... }\` to it`,
              `add \`{ table: '<table>', as: '${decl.type.text}', fields: { ... } }\` to its \`publish\``,
            )}`,
        );
        return undefined;
      }
      this.warnIfMisspelt(decl, parsed.binding, catalog);
      return { from, binding: parsed.binding };
    }
    const types = matches.flatMap((e) => e.types.map((t) => ({ endpoint: e, type: t })));
    const found = types.find((t) => t.type.name === decl.type.text);
    if (!found) {
      if (broken.some((b) => b.type === decl.type.text)) return undefined;
      this.bag.error(
        'P403',
        decl.type.span,
        `\`${decl.type.text}\` is not published on ${matches.map((e) => `\`${e.name}\``).join(', ')}`,
        didYouMean(
          decl.type.text,
          types.map((t) => t.type.name),
          'a type published there:',
        ),
      );
      return undefined;
    }
    if (decl.kind === 'subscribe' && found.type.ephemeral) {
      this.bag.error(
        'P403',
        decl.type.span,
        `\`${decl.type.text}\` is an ephemeral: it has no rows to store`,
        written(
          decl.type.span,
          `observe it instead: \`observe ${decl.type.text} ...\``,
          'observe it instead: move it to `observe`',
        ),
      );
      return undefined;
    }
    return { from, binding: parsed.binding, type: found.type, publisher: found.endpoint.app };
  }

  /**
   * A source that matches nothing known is assumed to be published outside the workspace; when
   * it is one edit away from a known app or endpoint, it is more likely a typo, worth a warning.
   */
  private warnIfMisspelt(decl: SubscribeAst | ObserveAst, binding: string, catalog: Catalog): void {
    const [app = '*', model = '*'] = binding.split('.');
    const span = decl.from?.span ?? decl.type.span;
    const nearApp = app === '*' ? undefined : closest(app, this.knownApps);
    if (nearApp !== undefined) {
      this.bag.warning(
        'P402',
        span,
        `no app \`${app}\` is known here: it is assumed to publish outside this workspace`,
        `did you mean \`${nearApp}\`? If not, pass its schemas with \`--schemas <dir>\` to check this subscription`,
      );
      return;
    }
    const models = [...new Set([...catalog.values()].map((e) => e.model))];
    const nearModel = model === '*' || model === '#' ? undefined : closest(model, models);
    if (nearModel !== undefined) {
      this.bag.warning(
        'P402',
        span,
        `no known app publishes a \`${model}\` endpoint: it is assumed to be published outside this workspace`,
        `did you mean \`${nearModel}\`?`,
      );
    }
  }

  private appKnown(app: string): boolean {
    return this.knownApps.has(app);
  }

  private attributes(
    refs: readonly AttributeRefAst[],
    type: CatalogType | undefined,
    typeName: string,
  ): SubscribedAttribute[] | undefined {
    let ok = true;
    const out: SubscribedAttribute[] = [];
    const listed = new Map<string, Span>();
    for (const ref of refs) {
      const first = listed.get(ref.name.text);
      if (first) {
        this.bag.error(
          'P102',
          ref.name.span,
          `attribute \`${ref.name.text}\` is listed twice`,
          'remove one of them; an attribute is received once',
          [{ message: 'first listed here', span: first }],
        );
        ok = false;
        continue;
      }
      listed.set(ref.name.text, ref.name.span);
      const published = type?.attributes.find((a) => a.name === ref.name.text);
      if (type?.privateFields?.includes(ref.name.text)) {
        this.bag.error(
          'P404',
          ref.name.span,
          `\`${typeName}\` does not publish \`${ref.name.text}\`: it is private`,
          'remove it here; a `private` field is read by its publisher only (drop `private` there to publish it)',
        );
        ok = false;
        continue;
      }
      if (type && !published) {
        this.bag.error(
          'P404',
          ref.name.span,
          `\`${typeName}\` does not publish \`${ref.name.text}\``,
          didYouMean(
            ref.name.text,
            type.attributes.map((a) => a.name),
            'an attribute it publishes:',
          ) ??
            `\`${typeName}\` publishes no attributes yet: publish \`${ref.name.text}\` there first, or remove it here`,
        );
        ok = false;
        continue;
      }
      out.push({
        name: ref.name.text,
        column: ref.column?.text ?? ref.name.text,
        ...(published ? { type: published.type, nullable: published.nullable } : {}),
        ...(published?.relation ? { references: published.relation } : {}),
        own: true,
      });
    }
    return ok ? out : undefined;
  }

  private addObserver(decl: ObserveAst, catalog: Catalog): void {
    const source = this.source(decl, catalog);
    if (!source) return;
    const attributes = this.attributes(decl.attributes, source.type, decl.type.text);
    if (!attributes) return;
    const name = (decl.as ?? decl.type).text;
    this.observers.set(name, {
      value: {
        kind: 'observer',
        name,
        type: decl.type.text,
        source: { from: source.from, binding: source.binding },
        attributes,
        ...(source.publisher ? { publisher: source.publisher } : {}),
      },
      span: (decl.as ?? decl.type).span,
      decl,
    });
  }

  private addSubscription(name: string, decl: SubscribeAst, catalog: Catalog): void {
    let parent: Subscription | undefined;
    if (decl.extends) {
      parent = this.subscriptions.get(decl.extends.text)?.value;
      if (!parent) {
        if (!this.localNames.has(decl.extends.text) || this.observers.has(decl.extends.text)) {
          this.bag.error(
            'P408',
            decl.extends.span,
            `\`${decl.extends.text}\` is not a subscription of app \`${this.name}\``,
            didYouMean(decl.extends.text, [...this.subscriptions.keys()], 'a subscription:') ??
              written(
                decl.extends.span,
                `subscribe to it too: \`subscribe ${decl.extends.text} from "<app>/<model>" { ... }\`, or remove \`extends\``,
                `subscribe to it too: \`{ type: '${decl.extends.text}', from: '<app>/<model>', attributes: [...] }\`, or remove \`extends\``,
              ),
          );
        }
        return;
      }
    }
    const source = this.source(decl, catalog, parent?.source.from);
    if (!source) return;
    if (parent && source.type && !source.type.ancestors.includes(parent.type)) {
      this.bag.error(
        'P409',
        decl.extends?.span ?? decl.span,
        `\`${decl.type.text}\` does not extend \`${parent.type}\` on the publisher (its ancestors: ${source.type.ancestors.map((a) => `\`${a}\``).join(', ')})`,
        'extend the subscription of one of its ancestors, or none',
      );
      return;
    }
    // Attributes and key are checked independently, so that both mistakes show at once.
    const own = this.attributes(decl.attributes, source.type, decl.type.text);
    const table = decl.into?.text ?? parent?.table ?? pluralize(snakeCase(name));
    const keyType = decl.foreignKey?.type ? this.type(decl.foreignKey.type) : undefined;
    if (decl.foreignKey?.type && !keyType) return;
    const key = decl.foreignKey
      ? { column: decl.foreignKey.column.text, ...(keyType ? { type: keyType } : {}) }
      : (parent?.key ?? { column: 'id' });
    if (keyType && source.type?.idType && !sameType(keyType, source.type.idType)) {
      this.bag.error(
        'P405',
        decl.foreignKey?.type?.span ?? decl.span,
        `\`${key.column}\` is \`${formatType(keyType, false)}\` but \`${decl.type.text}\` ids are \`${formatType(source.type.idType, false)}\``,
        written(
          decl.foreignKey?.type?.span ?? decl.span,
          `declare \`foreign_key ${key.column} ${formatType(source.type.idType, false)}\``,
          `declare \`foreignKey: { column: '${key.column}', type: '${formatType(source.type.idType, false)}' }\``,
        ),
      );
      return;
    }
    if (!own) return;
    const sameTable = parent !== undefined && parent.table === table;
    let discriminator: Subscription['discriminator'];
    if (sameTable && parent) {
      discriminator = {
        column: decl.when?.column.text ?? parent.discriminator?.column ?? 'type',
        value: decl.when?.value.text ?? name,
      };
      if (!parent.discriminator) {
        const entry = this.subscriptions.get(parent.name);
        if (entry) {
          const root = { column: discriminator.column, value: parent.name };
          this.subscriptions.set(parent.name, { ...entry, value: { ...entry.value, discriminator: root } });
          parent = { ...parent, discriminator: root };
        }
      }
    } else if (decl.when) {
      this.bag.error(
        'P212',
        decl.when.column.span,
        "`when` applies to a subtype stored in its parent's table",
        'remove `when`, or add `extends <Parent>` without `into`',
      );
      return;
    }
    const inherited = sameTable && parent ? parent.attributes.map((a) => ({ ...a, own: false })) : [];
    const publisher = source.publisher ?? parent?.publisher;
    this.subscriptions.set(name, {
      value: {
        kind: 'subscription',
        name,
        type: decl.type.text,
        source: { from: source.from, binding: source.binding },
        table,
        key,
        ...(parent ? { parent: parent.name } : {}),
        ...(discriminator ? { discriminator } : {}),
        attributes: [...inherited, ...own],
        ...(publisher ? { publisher } : {}),
      },
      span: (decl.as ?? decl.type).span,
      decl,
    });
  }

  /**
   * A table fed by several subscriptions: one row per shared key, each column written by one
   * publisher only (a subtype may add columns to its parent's).
   */
  private checkTables(): void {
    const tables = new Map<string, { sub: Located<Subscription>; root: string }[]>();
    for (const entry of this.subscriptions.values()) {
      const list = tables.get(entry.value.table) ?? [];
      list.push({ sub: entry, root: this.subscriptionRoot(entry.value) });
      tables.set(entry.value.table, list);
    }
    for (const [table, entries] of tables) {
      const first = entries[0];
      if (!first) continue;
      for (const { sub } of entries.slice(1)) {
        if (sub.value.key.column !== first.sub.value.key.column) {
          const decl = sub.decl as SubscribeAst;
          this.bag.error(
            'P407',
            decl.foreignKey?.column.span ?? sub.span,
            `\`${table}\` is keyed by \`${first.sub.value.key.column}\` for \`${first.sub.value.name}\` but by \`${sub.value.key.column}\` here`,
            `subscriptions into one table share the key column: write ${written(
              decl.foreignKey?.column.span ?? sub.span,
              `\`foreign_key ${first.sub.value.key.column}\``,
              `\`foreignKey: '${first.sub.value.key.column}'\``,
            )}`,
            [{ message: `\`${first.sub.value.name}\` subscribed here`, span: first.sub.span }],
          );
        }
      }
      const claims = new Map<string, { sub: Located<Subscription>; root: string; attribute: string }>();
      for (const entry of entries) {
        const decl = entry.sub.decl as SubscribeAst;
        for (const attribute of entry.sub.value.attributes.filter((a) => a.own)) {
          const ref = decl.attributes.find((a) => a.name.text === attribute.name);
          const span = ref?.column?.span ?? ref?.name.span ?? entry.sub.span;
          const elsewhere = written(span, `\`${attribute.name} as <column>\``, `\`{ ${attribute.name}: '<column>' }\``);
          if (attribute.column === entry.sub.value.key.column) {
            this.bag.error(
              'P410',
              span,
              `\`${attribute.column}\` is the key column of \`${table}\`; it holds the publisher's id`,
              `store \`${attribute.name}\` in another column: ${elsewhere}`,
            );
            continue;
          }
          const previous = claims.get(attribute.column);
          if (!previous) {
            claims.set(attribute.column, { ...entry, attribute: attribute.name });
            continue;
          }
          const note = [{ message: `\`${previous.sub.value.name}\` writes it here`, span: previous.sub.span }];
          if (previous.root !== entry.root) {
            this.bag.error(
              'P406',
              span,
              `column \`${attribute.column}\` of \`${table}\` is already written by \`${previous.sub.value.name}\` (from \`${previous.sub.value.source.from}\`)`,
              `each publisher owns its columns: store it elsewhere with ${elsewhere}`,
              note,
            );
          } else if (previous.attribute === attribute.name) {
            this.bag.error(
              'P410',
              span,
              `column \`${attribute.column}\` of \`${table}\` is written twice`,
              "subscribe each attribute once (a subtype inherits its parent's attributes)",
              note,
            );
          } else {
            this.bag.error(
              'P410',
              span,
              `column \`${attribute.column}\` of \`${table}\` already holds \`${previous.attribute}\``,
              `store \`${attribute.name}\` in another column: ${elsewhere}`,
              note,
            );
          }
        }
      }
    }
  }

  private subscriptionRoot(subscription: Subscription): string {
    let current = subscription;
    while (current.parent !== undefined) {
      const parent = this.subscriptions.get(current.parent)?.value;
      if (!parent || parent.table !== current.table) break;
      current = parent;
    }
    return current.name;
  }

  // ---- output -------------------------------------------------------------------------------

  catalogEndpoints(): CatalogEndpoint[] {
    const endpoints = new Map<string, CatalogType[]>();
    const add = (endpoint: Endpoint, type: CatalogType): void => {
      const list = endpoints.get(endpoint.name) ?? [];
      list.push(type);
      endpoints.set(endpoint.name, list);
    };
    for (const { value: p } of this.publications.values()) {
      const id = p.fields.find((f) => f.name === p.primaryKey);
      add(p.endpoint, {
        name: p.name,
        ancestors: p.ancestors,
        ephemeral: false,
        ...(id ? { idType: id.type } : {}),
        attributes: publishedFields(p.fields),
        privateFields: p.fields.filter((f) => f.private).map((f) => f.name),
      });
    }
    for (const { value: e } of this.ephemerals.values()) {
      add(e.endpoint, { name: e.name, ancestors: [e.name], ephemeral: true, attributes: publishedFields(e.fields) });
    }
    return [...endpoints].map(([name, types]) => {
      const [app = '', model = ''] = name.split('/');
      return { name, app, model, types };
    });
  }

  /** Spans of each endpoint's first publisher, for ownership messages. */
  endpointSpans(): Map<string, { span: Span; root: string }> {
    const spans = new Map<string, { span: Span; root: string }>();
    for (const { value, span } of [...this.publications.values(), ...this.ephemerals.values()]) {
      const root = value.kind === 'publication' ? (value.ancestors.at(-1) ?? value.name) : value.name;
      const previous = spans.get(value.endpoint.name);
      if (!previous) spans.set(value.endpoint.name, { span, root });
      else if (previous.root !== root) {
        this.bag.error(
          'P303',
          span,
          `\`${value.endpoint.name}\` is already published by \`${previous.root}\``,
          `publish \`${value.name}\` to its own endpoint with ${written(span, `\`to "${this.name}/${snakeCase(value.name)}"\``, `\`to: '${this.name}/${snakeCase(value.name)}'\``)} (one endpoint carries one model and its subtypes)`,
          [{ message: 'first published here', span: previous.span }],
        );
      }
    }
    return spans;
  }

  result(): App {
    const sorted = <T extends { name: string }>(m: Map<string, Located<T>>): T[] =>
      [...m.values()].map((l) => l.value).sort((a, b) => compare(a.name, b.name));
    return {
      name: this.name,
      publications: sorted(this.publications),
      ephemerals: sorted(this.ephemerals),
      embedded: sorted(this.embedded),
      subscriptions: sorted(this.subscriptions),
      observers: sorted(this.observers),
      resolutions: this.resolutions,
    };
  }
}

type FieldOwner = 'publication' | 'ephemeral' | 'embedded';
const ownerWords: Record<FieldOwner, string> = {
  publication: 'a published model',
  ephemeral: 'an ephemeral (it has no table)',
  embedded: "an embedded document (it lives in its owner's row)",
};

interface FieldsResult {
  ok: boolean;
  fields: Field[];
  spans: Map<string, Span>;
}

function modifierWord(kind: string): string {
  return kind === 'belongsTo' ? 'belongs_to' : kind;
}

function publishedFields(fields: readonly Field[]): CatalogType['attributes'] {
  return fields
    .filter((f) => !f.private)
    .map((f) => ({
      name: f.name,
      type: f.type,
      nullable: f.nullable,
      ...(f.relation ? { relation: f.relation.model } : {}),
    }));
}

/** Checks that each endpoint carries one model tree, then adds the workspace's endpoints to the catalog. */
function checkEndpoints(apps: readonly AppBuilder[], catalog: Map<string, CatalogEndpoint>): void {
  for (const app of apps) {
    app.endpointSpans();
    // A publisher in the workspace is newer than any schemas exported from it: it wins.
    for (const endpoint of app.catalogEndpoints()) catalog.set(endpoint.name, endpoint);
  }
}

/** A type that a publisher declared but could not publish: subscribers to it are not checked. */
interface BrokenType {
  readonly type: string;
  readonly endpoint: CatalogEndpoint;
}

/** The types a primary key may have (P206). */
const keyTypes: readonly string[] = ['string', 'integer', 'bigint', 'uuid'];

/** The fix in the user's own syntax: a span with a config path comes from `defineConfig`. */
function written(span: Span, prom: string, config: string): string {
  return span.path === undefined ? prom : config;
}

/** `\`A\` -> \`B\` -> \`A\``: the `extends` chain from `start` back to where it loops. */
function cycle(start: string, byName: ReadonlyMap<string, { readonly extends?: Name }>): string {
  const seen = [start];
  let current = byName.get(start)?.extends?.text;
  while (current !== undefined && !seen.includes(current)) {
    seen.push(current);
    current = byName.get(current)?.extends?.text;
  }
  return [...seen, current ?? start].map((n) => `\`${n}\``).join(' -> ');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
