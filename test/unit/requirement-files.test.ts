/**
 * `generate` writes what each subscription and observer requires as a schema file of its own,
 * and `generate --schemas` given a whole generated folder reads only its endpoint schemas.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/cli/index.js';
import type { Output } from '../../src/cli/output.js';

const routes = `app blog
publish posts as Post {
  id     integer primary
  title  string
  state  enum(draft, live)?
}
ephemeral Viewed to "blog/viewed" { post_id integer belongs_to Post }
app reader
subscribe Post from "blog/post" { title, state as status }
observe Viewed as Views from "blog.viewed.*" { post_id }
`;

async function cli(...args: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const output: Output = { info: () => undefined, error: (l) => err.push(l) };
  const code = await runCli(['node', 'promiscuous', ...args], output);
  return { code, err: err.join('\n') };
}

function workspace(text: string): { dir: string; file: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'promiscuous-requires-'));
  const file = join(dir, 'routes.prom');
  writeFileSync(file, text);
  return { dir, file, out: join(dir, 'generated') };
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

test('generate writes one requirement schema per subscription and observer', async () => {
  const ws = workspace(routes);
  const run = await cli('generate', '--config', ws.file, '--out', ws.out);
  assert.is(run.code, 0, run.err);
  const post = readJson(join(ws.out, 'reader', 'schemas', 'requires', 'Post.schema.json'));
  assert.is(post.$id, 'urn:promiscuous:subscription:reader/Post');
  assert.is(post.title, 'Post (Post from blog/post)');
  // `state` is nullable at the publisher: a message of an older publisher may lack it.
  assert.equal(post.required, ['title']);
  assert.equal((post.properties as Record<string, unknown>).state, {
    anyOf: [{ type: 'string', enum: ['draft', 'live'] }, { type: 'null' }],
  });
  const views = readJson(join(ws.out, 'reader', 'schemas', 'requires', 'Views.schema.json'));
  assert.is(views.$id, 'urn:promiscuous:observer:reader/Views');
  assert.is(views.title, 'Views (Viewed from blog.viewed.*)');
  // The file is the schema the subscriber's validator checks: the same one validators.js inlines.
  const validators = readFileSync(join(ws.out, 'reader', 'validators.js'), 'utf8');
  const { $comment: _comment, ...inlined } = post;
  assert.ok(validators.includes(JSON.stringify(inlined, null, 2).split('\n').join('\n  ')), 'inlined as is');
  const ajv = new Ajv2020({ strict: true });
  const validate = ajv.compile(post);
  assert.ok(validate({ title: 'Hi', state: null, extra: 1 }), 'other attributes are allowed');
  assert.not.ok(validate({ title: 'Hi', state: 'gone' }));
  rmSync(ws.dir, { recursive: true });
});

test('generate --schemas given a whole generated folder skips the requirement files', async () => {
  const released = workspace(routes);
  assert.is((await cli('generate', '--config', released.file, '--out', released.out)).code, 0);
  // `Post` is also a requirement file's name there: read as an endpoint, it would not resolve.
  const other = workspace('app archive\nsubscribe Post from "blog/post" foreign_key post_id integer { title }\n');
  const run = await cli(
    'generate',
    '--config',
    other.file,
    '--out',
    other.out,
    '--schemas',
    released.out,
    '--format',
    'compact',
  );
  assert.is(run.code, 0, run.err);
  assert.is(run.err, '');
  assert.match(readFileSync(join(other.out, 'archive', 'subscriber.ts'), 'utf8'), "'blog/post': { Post: 'Post' }");
  for (const ws of [released, other]) rmSync(ws.dir, { recursive: true });
});

test.run();
