/**
 * Where a value of an evaluated config is written: the config file's syntax tree is walked
 * along the value's path (`apps.crowdtap.publish[2].fields.email`), so that a message points
 * at the value itself, or at its nearest ancestor when it is computed (a constant, a spread).
 */
import { type Node, Project, SyntaxKind, ts } from 'ts-morph';
import { LineIndex, type Span } from '../source/source-file.js';

/** A place in the config: its path, and the syntax node found for it (or its nearest ancestor's). */
export class Loc {
  constructor(
    readonly path: string,
    private readonly node: Node | undefined,
    private readonly keyNode: Node | undefined,
    private readonly exact: boolean,
    private readonly lines: LineIndex,
  ) {}

  key(name: string): Loc {
    const dotted = this.path === '' ? name : `${this.path}.${name}`;
    const path = /^[A-Za-z_$][\w$]*$/.test(name) ? dotted : `${this.path}[${JSON.stringify(name)}]`;
    const object = this.exact ? unwrap(this.node) : undefined;
    if (object?.getKind() === SyntaxKind.ObjectLiteralExpression) {
      for (const property of object.asKindOrThrow(SyntaxKind.ObjectLiteralExpression).getProperties()) {
        if (property.isKind(SyntaxKind.PropertyAssignment) && propertyName(property.getNameNode()) === name) {
          return new Loc(path, property.getInitializer(), property.getNameNode(), true, this.lines);
        }
        if (property.isKind(SyntaxKind.ShorthandPropertyAssignment) && property.getName() === name) {
          return new Loc(path, resolveIdentifier(property.getNameNode()), property.getNameNode(), true, this.lines);
        }
      }
    }
    return new Loc(path, this.node, this.keyNode, false, this.lines);
  }

  index(i: number): Loc {
    const path = `${this.path}[${i}]`;
    const array = this.exact ? unwrap(this.node) : undefined;
    if (array?.getKind() === SyntaxKind.ArrayLiteralExpression) {
      const element = array.asKindOrThrow(SyntaxKind.ArrayLiteralExpression).getElements()[i];
      if (element && !element.isKind(SyntaxKind.SpreadElement))
        return new Loc(path, element, undefined, true, this.lines);
    }
    return new Loc(path, this.node, this.keyNode, false, this.lines);
  }

  /** The value's span; inside a string literal, `offset` and `length` pick a part of its text. */
  span(offset?: number, length?: number): Span {
    const node = this.node;
    if (!node) return this.lines.span(0, 0, this.path);
    const literal = this.exact && isStringLiteral(node);
    if (literal && offset !== undefined) return this.lines.span(node.getStart() + 1 + offset, length ?? 0, this.path);
    return this.lines.span(node.getStart(), node.getWidth(), this.path);
  }

  /** The property name's span (where a key such as a field name is written). */
  keySpan(): Span {
    if (this.keyNode && this.exact) return this.lines.span(this.keyNode.getStart(), this.keyNode.getWidth(), this.path);
    return this.span();
  }

  /** Whether the value is written as a plain string literal, so that offsets inside it are exact. */
  isLiteral(): boolean {
    return this.exact && this.node !== undefined && isStringLiteral(this.node);
  }
}

function isStringLiteral(node: Node): boolean {
  return node.isKind(SyntaxKind.StringLiteral) || node.isKind(SyntaxKind.NoSubstitutionTemplateLiteral);
}

function propertyName(node: Node): string {
  if (node.isKind(SyntaxKind.StringLiteral) || node.isKind(SyntaxKind.NumericLiteral)) return node.getLiteralText();
  return node.getText();
}

/** Looks through `as const`, `satisfies`, parentheses, `defineConfig(...)` and local constants. */
function unwrap(node: Node | undefined): Node | undefined {
  let current = node;
  for (let i = 0; current && i < 16; i++) {
    if (current.isKind(SyntaxKind.AsExpression) || current.isKind(SyntaxKind.SatisfiesExpression)) {
      current = current.getExpression();
    } else if (current.isKind(SyntaxKind.ParenthesizedExpression)) current = current.getExpression();
    else if (current.isKind(SyntaxKind.CallExpression)) current = current.getArguments()[0];
    else if (current.isKind(SyntaxKind.Identifier)) current = resolveIdentifier(current);
    else return current;
  }
  return current;
}

function resolveIdentifier(node: Node): Node | undefined {
  const name = node.getText();
  const declaration = node.getSourceFile().getVariableDeclaration(name);
  return declaration?.getInitializer() ?? node;
}

/** The location of the config's default export, the root of every path. */
export function rootLoc(path: string, text: string): Loc {
  const project = new Project({
    useInMemoryFileSystem: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, noLib: true },
  });
  const file = project.createSourceFile('config.ts', text);
  const exported = file.getFirstDescendantByKind(SyntaxKind.ExportAssignment)?.getExpression();
  return new Loc('', exported, undefined, exported !== undefined, new LineIndex(path, text));
}
