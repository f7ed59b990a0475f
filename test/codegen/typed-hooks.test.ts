/**
 * The generated runtime hook types at work: snippets beside the users example, type-checked
 * with the TypeScript compiler, must give exactly the errors listed, each on the line that
 * holds its marker. A misspelt or missing virtual attribute or callback is a type error in the
 * config (`defineConfig<RuntimeHooks>()`) and in `new Publisher` / `new Subscriber`.
 */
import ts from 'typescript';
import { snippetProgram } from '../helpers/typescript.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoPath } from '../helpers/corpus.js';

interface Case {
  readonly name: string;
  /** The snippet's body, after the imports every case shares. */
  readonly body: string;
  /** `TS<code>` and a text on the line it must be reported at (the body's first line holding it). */
  readonly errors: readonly (readonly [code: number, line: string])[];
}

const imports = `import { defineConfig } from 'promiscuous';
import knex from 'knex';
import { MemoryTransport, Publisher, Subscriber } from 'promiscuous/runtime';
import type { RuntimeHooks } from './generated/hooks.js';
import { schema as crowdtap } from './generated/crowdtap/publisher.js';
import { schema as sniper } from './generated/sniper/subscriber.js';
const db = knex({ client: 'better-sqlite3' });
const transport = new MemoryTransport();
void crowdtap, sniper, db, transport, Publisher, Subscriber;
`;

const cases: readonly Case[] = [
  {
    name: 'the config with every virtual and the callbacks it names type-checks',
    body: `export const config = defineConfig<RuntimeHooks>()({
  apps: {},
  database: (app: string) => ({ client: 'better-sqlite3', connection: { filename: app } }),
  virtuals: { crowdtap: { User: { full_name: (row) => row.first_name } } },
  callbacks: { sniper: { User: { afterCreate: (event) => void event.attributes?.name } } },
});
config.database('crowdtap');
new Publisher({ schema: crowdtap, knex: db, transport, virtuals: config.virtuals.crowdtap });`,
    errors: [],
  },
  {
    name: 'a misspelt virtual attribute',
    body: `defineConfig<RuntimeHooks>()({
  apps: {},
  virtuals: { crowdtap: { User: { full_name: (row) => row.name, display_nmae: (row: unknown) => String(row) } } },
});`,
    errors: [[2353, 'display_nmae']],
  },
  {
    name: 'a missing virtual attribute',
    body: `defineConfig<RuntimeHooks>()({ apps: {}, virtuals: { crowdtap: { User: {} } } });`,
    errors: [[2741, 'User: {}']],
  },
  {
    name: 'a virtual function of the wrong type',
    body: `defineConfig<RuntimeHooks>()({ apps: {}, virtuals: { crowdtap: { User: { full_name: (row) => row.tags } } } });`,
    errors: [[2322, 'full_name']],
  },
  {
    name: 'virtuals of an app that has none',
    body: `defineConfig<RuntimeHooks>()({ apps: {}, virtuals: { sniper: {} } });`,
    errors: [[2353, 'sniper']],
  },
  {
    name: 'a misspelt callback',
    body: `defineConfig<RuntimeHooks>()({
  apps: {},
  callbacks: { sniper: { User: { afterCreat: () => {} } } },
});`,
    errors: [[2561, 'afterCreat']],
  },
  {
    name: 'callbacks for a local name the app does not have',
    body: `defineConfig<RuntimeHooks>()({
  apps: {},
  callbacks: { sniper: { Usr: { afterCreate: () => {} } } },
});`,
    errors: [[2561, 'Usr']],
  },
  {
    name: 'a publisher given a misspelt virtual',
    body: `new Publisher({
  schema: crowdtap,
  knex: db,
  transport,
  virtuals: { User: { full_name: (row) => row.name, fullname: () => '' } },
});`,
    errors: [[2561, 'fullname']],
  },
  {
    name: 'a subscriber given a misspelt callback',
    body: `new Subscriber({ schema: sniper, knex: db, transport, callbacks: { Member: { afterUpdat: () => {} } } });`,
    errors: [[2561, 'afterUpdat']],
  },
  {
    name: 'sinks typed by what each target receives, in the config and the subscriber',
    body: `const config = defineConfig<RuntimeHooks>()({
  apps: {},
  sinks: { sniper: { User: async ({ payload, previous, signal }) => void [payload?.name, previous?.email, signal.aborted] } },
});
new Subscriber({
  schema: sniper,
  knex: db,
  transport,
  sinks: { ...config.sinks.sniper, Member: { send: ({ payload }) => payload?.points, timeoutMs: 2_000, attempts: 10 } },
});`,
    errors: [],
  },
  {
    name: 'a sink for a local name the app does not have',
    body: `defineConfig<RuntimeHooks>()({ apps: {}, sinks: { sniper: { Usr: () => {} } } });`,
    errors: [[2561, 'Usr']],
  },
  {
    name: 'a sink reading an attribute its target does not receive',
    body: `new Subscriber({ schema: sniper, knex: db, transport, sinks: { User: ({ payload }) => payload?.points } });`,
    errors: [[2339, 'payload?.points']],
  },
];

const folder = repoPath('examples', 'users');
const files = new Map(cases.map((c, i) => [`${folder}/typed-hooks-case-${i}.ts`, `${imports}${c.body}\n`]));

/** One program for every case: each snippet is a file beside the example's config, in memory only. */
function program(): ts.Program {
  return snippetProgram(files);
}

const checked = program();

for (const [i, c] of cases.entries()) {
  test(`${c.name}: ${c.errors.length === 0 ? 'no error' : c.errors.map(([code]) => `TS${code}`).join(', ')}`, () => {
    const [path, text] = [...files.entries()][i] as [string, string];
    const file = checked.getSourceFile(path);
    assert.ok(file, path);
    const lines = text.split('\n');
    const actual = ts.getPreEmitDiagnostics(checked, file).map((d) => {
      const line = file.getLineAndCharacterOfPosition(d.start ?? 0).line;
      return `TS${d.code} at line ${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
    const expected = c.errors.map(([code, marker]) => {
      const start = imports.split('\n').length - 1;
      const line = lines.findIndex((l, n) => n >= start && l.includes(marker)) + 1;
      assert.ok(line > 0, `marker ${marker} is in the snippet`);
      return `TS${code} at line ${line}`;
    });
    assert.equal(
      actual.map((a) => a.slice(0, a.indexOf(':'))),
      expected,
      actual.join('\n'),
    );
    // A misspelt name is named in the message; a wrong type is not, its line says where.
    for (const [k, [code, marker]] of c.errors.entries()) {
      if (code !== 2322 && /^\w+$/.test(marker)) assert.match(actual[k] ?? '', marker, 'the message names it');
    }
  });
}

test.run();
