/**
 * The attributes a subscription or observer lists: each once (P102), and each published by the
 * type when its publisher is known (P404).
 */
import type { AttributeRefAst } from '../ast/ast.js';
import { didYouMean } from '../diagnostics/suggest.js';
import type { SubscribedAttribute } from '../ir/ir.js';
import type { Span } from '../source/source-file.js';
import type { CatalogType } from './catalog.js';
import type { AppContext } from './context.js';

export function attributes(
  app: AppContext,
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
      app.bag.error(
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
    if (type && !published) {
      reportUnpublished(app, ref, type, typeName);
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

function reportUnpublished(app: AppContext, ref: AttributeRefAst, type: CatalogType, typeName: string): void {
  if (type.privateFields?.includes(ref.name.text)) {
    app.bag.error(
      'P404',
      ref.name.span,
      `\`${typeName}\` does not publish \`${ref.name.text}\`: it is private`,
      'remove it here; a `private` field is read by its publisher only (drop `private` there to publish it)',
    );
    return;
  }
  app.bag.error(
    'P404',
    ref.name.span,
    `\`${typeName}\` does not publish \`${ref.name.text}\``,
    didYouMean(
      ref.name.text,
      type.attributes.map((a) => a.name),
      'an attribute it publishes:',
    ) ?? `\`${typeName}\` publishes no attributes yet: publish \`${ref.name.text}\` there first, or remove it here`,
  );
}
