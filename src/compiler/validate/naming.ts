/**
 * An app's names: the app's own (P106), its models' namespace (P101, P214) and the local names
 * of its subscriptions and observers (P101). A name claimed twice keeps its first declaration.
 */
import type { AppAst, Name, PublishAst } from '../ast/ast.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { Publication } from '../ir/ir.js';
import { pascalCase, singularize, snakeCase } from '../ir/names.js';
import type { AppContext } from './context.js';

const appName = /^[a-z][a-z0-9_]*$/;

export function checkAppName(name: string, sections: readonly AppAst[], bag: DiagnosticBag): void {
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

/** Claims a model name; `viaAs`: the name was given with `as`, so the fix is to choose another. */
export function claimName(app: AppContext, name: Name, viaAs: boolean): boolean {
  const previous = app.names.get(name.text);
  if (previous) {
    const code = viaAs || previous.viaAs ? 'P214' : 'P101';
    const message = `\`${name.text}\` is already a model of app \`${app.name}\``;
    const fix = viaAs
      ? `choose another name after \`as\``
      : `rename one of them (a publication takes another name with \`as <Name>\`)`;
    app.bag.error(code, name.span, message, fix, [{ message: 'first declared here', span: previous.span }]);
    return false;
  }
  app.names.set(name.text, { span: name.span, viaAs });
  return true;
}

export function claimLocal(app: AppContext, name: Name): boolean {
  const previous = app.localNames.get(name.text);
  if (previous) {
    app.bag.error(
      'P101',
      name.span,
      `app \`${app.name}\` already subscribes to something named \`${name.text}\``,
      'give one of them a local name with `as <Name>`',
      [{ message: 'first declared here', span: previous }],
    );
    return false;
  }
  app.localNames.set(name.text, name.span);
  return true;
}

/** The root of a publication's model tree, which owns its table and endpoint. */
export function rootName(publication: Publication): string {
  return publication.ancestors.at(-1) ?? publication.name;
}

/** A publication is named by `as`, or else after its table: `users` publishes `User`. */
export function publicationName(decl: PublishAst): Name {
  return decl.as ?? { text: pascalCase(singularize(decl.table.text)), span: decl.table.span };
}
