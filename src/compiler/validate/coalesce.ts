/**
 * `coalesce 200ms` on a `publish` line: a window, in milliseconds or seconds, after which the
 * model's derived attributes are refreshed; only on a model that has some (P224).
 */
import type { Name } from '../ast/ast.js';
import { type AppContext, written } from './context.js';

export function resolveCoalesce(app: AppContext): void {
  for (const [name, decl] of app.publishDecls) {
    const window = decl.coalesce;
    if (!window) continue;
    const ms = duration(app, window);
    // A model left out for an error of its own is reported there.
    const located = app.publications.get(name);
    if (ms === undefined || !located) continue;
    if (!located.value.fields.some((f) => f.derived)) {
      app.bag.error(
        'P224',
        window.span,
        `\`${name}\` has no derived attribute: \`coalesce\` has nothing to refresh`,
        'remove `coalesce`, or derive an attribute (`from`, `count(...)`, ...)',
      );
      continue;
    }
    app.publications.set(name, { ...located, value: { ...located.value, coalesce: ms } });
  }
}

/** `200ms` or `2s` (`1.5s` too) in whole milliseconds, at least one. */
function duration(app: AppContext, text: Name): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text.text);
  const ms = match ? Number(match[1]) * (match[2] === 's' ? 1000 : 1) : Number.NaN;
  if (Number.isInteger(ms) && ms >= 1) return ms;
  const unitless = /^\d+(?:\.\d+)?$/.test(text.text);
  app.bag.error(
    'P224',
    text.span,
    unitless ? `\`${text.text}\` has no unit` : `\`${text.text}\` is not a window of whole milliseconds`,
    written(
      text.span,
      `write milliseconds or seconds: \`coalesce ${unitless ? `${text.text}ms` : '200ms'}\`, \`coalesce 2s\``,
      `write milliseconds or seconds: \`coalesce: '${unitless ? `${text.text}ms` : '200ms'}'\`, \`coalesce: '2s'\``,
    ),
  );
  return undefined;
}
