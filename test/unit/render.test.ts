/**
 * The pretty form of a diagnostic on a very long line: the line is shown once, cut to a
 * readable width around the error with `…` where text was left out, the caret under the
 * spot, and the message quotes no more than the start of a long token.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type CompileOutput, compile, renderPretty } from '../../src/compiler/index.js';
import { sourceWidth } from '../../src/compiler/diagnostics/render.js';

/** Compiles one `.prom` text held in memory. */
function compileText(text: string): CompileOutput {
  return compile(
    { prom: ['routes.prom'] },
    { readFile: (path) => (path === 'routes.prom' ? text : undefined), resolvePath: (_, specifier) => specifier },
  );
}

const long = `${'x'.repeat(2500)} @ ${'y'.repeat(2500)}`;
const text = `app blog\npublish posts as Post {\n  id integer primary\n  title string ${long}\n}\n`;
const output = compileText(text);
const rendered = output.diagnostics.map((d) => renderPretty(d, output.sources));

/** The source line and the caret line of a rendered diagnostic. */
function excerpt(pretty: string): { shown: string; caret: string } {
  const lines = pretty.split('\n');
  const at = lines.findIndex((l) => /^\d+ \| /.test(l));
  return { shown: (lines[at] ?? '').replace(/^\d+ \| /, ''), caret: (lines[at + 1] ?? '').replace(/^\s+\| /, '') };
}

test('a 5,000-character line gives two diagnostics, each a few short lines', () => {
  assert.is(rendered.length, 2, rendered.join('\n\n'));
  for (const pretty of rendered) {
    const longest = Math.max(...pretty.split('\n').map((l) => l.length));
    assert.ok(longest <= sourceWidth + 30, `no line much longer than the source shown (${longest})`);
    assert.ok(pretty.length < 1_000, `${pretty.length} characters`);
  }
});

test('the message quotes only the start of a long token', () => {
  const first = rendered[0] ?? '';
  assert.match(first.split('\n')[0] ?? '', `found \`${'x'.repeat(40)}…\``);
});

test('the source line is cut around the error, with an ellipsis each side text was left out', () => {
  const { shown, caret } = excerpt(rendered[1] ?? '');
  assert.is(shown.length, sourceWidth + 2);
  assert.ok(shown.startsWith('…x') && shown.endsWith('y…'), shown);
  assert.is(caret.trim(), '^');
  assert.is(shown[caret.indexOf('^')], '@', 'the caret is under the character it reports');
});

test('near the start of the line, the cut keeps the start and underlines what is shown of the token', () => {
  const { shown, caret } = excerpt(rendered[0] ?? '');
  assert.ok(shown.startsWith('  title string x') && shown.endsWith('x…'), shown);
  const start = caret.indexOf('^');
  assert.is(shown.slice(0, start), '  title string ');
  assert.is(caret.length, shown.length - 1, 'the caret runs to the cut, not 2,500 characters');
});

test('a short line is shown whole, as before', () => {
  const short = compileText('app blog\npublish posts as Post {\n  id integer primary\n  title string @\n}\n');
  const [pretty = ''] = short.diagnostics.map((d) => renderPretty(d, short.sources));
  assert.equal(excerpt(pretty), { shown: '  title string @', caret: '               ^' });
});

test.run();
