/**
 * Where a subscription or observer reads from: its `from` parsed (P401), matched against the
 * catalog of published endpoints (P402), and the type it names found there (P403). A source
 * that matches nothing known is assumed to be published outside the workspace.
 */
import type { ObserveAst, SubscribeAst } from '../ast/ast.js';
import { closest, didYouMean } from '../diagnostics/suggest.js';
import { snakeCase } from '../ir/names.js';
import { type CatalogEndpoint, type CatalogType, endpointsMatching, parseSource } from './catalog.js';
import { type AppContext, type Published, written } from './context.js';

export interface Source {
  readonly from: string;
  readonly binding: string;
  /** The published type, when its publisher is known. */
  readonly type?: CatalogType;
  readonly publisher?: string;
}

/** Finds what is published under `from` and checks the requested type against it. */
export function resolveSource(
  app: AppContext,
  published: Published,
  decl: SubscribeAst | ObserveAst,
  inheritedFrom?: string,
): Source | undefined {
  const from = decl.from?.text ?? inheritedFrom ?? `*/${snakeCase(decl.type.text)}`;
  const parsed = parseSource(from);
  if ('error' in parsed) {
    app.bag.error('P401', decl.from?.span ?? decl.type.span, `\`${from}\` is not a subscription source`, parsed.error);
    return undefined;
  }
  const matches = published.catalog.matching(parsed.binding);
  // What a publisher meant to publish but could not, for an error of its own (reported there).
  const broken =
    published.broken.length === 0
      ? []
      : published.broken.filter((b) => endpointsMatching(parsed.binding, [b.endpoint]).length > 0);
  if (matches.length === 0) {
    if (broken.length > 0) return undefined;
    return unmatched(app, published, decl, from, parsed.binding);
  }
  const types = matches.flatMap((e) => e.types.map((t) => ({ endpoint: e, type: t })));
  const found = types.find((t) => t.type.name === decl.type.text);
  if (!found) {
    if (broken.some((b) => b.type === decl.type.text)) return undefined;
    app.bag.error(
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
    app.bag.error(
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

/** A source that matches no published endpoint: an error when its app is known, else outside. */
function unmatched(
  app: AppContext,
  published: Published,
  decl: SubscribeAst | ObserveAst,
  from: string,
  binding: string,
): Source | undefined {
  const appPart = binding.split('.')[0] ?? '*';
  const endpoints: CatalogEndpoint[] = [...published.catalog.values()].filter((e) => e.app === appPart);
  if (endpoints.length > 0 || published.knownApps.has(appPart)) {
    app.bag.error(
      'P402',
      decl.from?.span ?? decl.type.span,
      `app \`${appPart}\` publishes nothing that \`${from}\` matches`,
      didYouMean(
        from.includes('/') ? from : binding,
        endpoints.map((e) => (from.includes('/') ? e.name : `${e.app}.${e.model}.*`)),
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
  warnIfMisspelt(app, published, decl, binding);
  return { from, binding };
}

/**
 * A source that matches nothing known is assumed to be published outside the workspace; when
 * it is one edit away from a known app or endpoint, it is more likely a typo, worth a warning.
 */
function warnIfMisspelt(app: AppContext, published: Published, decl: SubscribeAst | ObserveAst, binding: string): void {
  const [appPart = '*', model = '*'] = binding.split('.');
  const span = decl.from?.span ?? decl.type.span;
  const nearApp = appPart === '*' ? undefined : closest(appPart, published.knownApps);
  if (nearApp !== undefined) {
    app.bag.warning(
      'P402',
      span,
      `no app \`${appPart}\` is known here: it is assumed to publish outside this workspace`,
      `did you mean \`${nearApp}\`? If not, pass its schemas with \`--schemas <dir>\` to check this subscription`,
    );
    return;
  }
  const models = [...new Set([...published.catalog.values()].map((e) => e.model))];
  const nearModel = model === '*' || model === '#' ? undefined : closest(model, models);
  if (nearModel !== undefined) {
    app.bag.warning(
      'P402',
      span,
      `no known app publishes a \`${model}\` endpoint: it is assumed to be published outside this workspace`,
      `did you mean \`${nearModel}\`?`,
    );
  }
}
