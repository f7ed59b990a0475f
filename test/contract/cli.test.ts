/**
 * `promiscuous contract check` from the command line: against a folder and against a git ref
 * (a repository made in a temporary folder), its exit codes, and its output forms.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/cli/index.js';
import type { Output } from '../../src/cli/output.js';

const released = `app blog
publish posts as Post {
  id     integer primary
  title  string
  tags   string[]
}
app reader
subscribe Post from "blog/post" { title }
`;

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { info: (l) => out.push(l), error: (l) => err.push(l) };
  const code = await runCli(['node', 'promiscuous', ...args], output);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A folder with the released routes, generated into `generated/` beside them (in `sub`, when given). */
async function project(sub = ''): Promise<{ dir: string; routes: string; generated: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'promiscuous-contract-'));
  mkdirSync(join(dir, sub), { recursive: true });
  const routes = join(dir, sub, 'routes.prom');
  writeFileSync(routes, released);
  const generated = join(dir, sub, 'generated');
  const run = await cli('generate', '--config', routes, '--out', generated);
  assert.is(run.code, 0, run.err);
  return { dir, routes, generated };
}

function git(dir: string, ...args: string[]): string {
  const identity = ['-c', 'user.name=Promiscuous', '-c', 'user.email=promiscuous@example.com'];
  return execFileSync('git', [...identity, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

test('--against a folder: a breaking change exits 1 and names who breaks', async () => {
  const p = await project();
  const release = join(p.dir, 'release');
  cpSync(p.generated, release, { recursive: true });
  writeFileSync(p.routes, released.replace('  title  string\n', '  title  string?\n'));
  const run = await cli('contract', 'check', '--config', p.routes, '--against', release);
  assert.is(run.code, 1, run.err);
  assert.match(run.err, 'error[P605]: `Post.title` may now be null on `blog/post`');
  assert.match(run.err, /--> .*generated\/blog\/schemas\/blog\.post\.schema\.json:\d+:\d+/);
  assert.match(run.err, "reader's subscription Post (as released: ");
  assert.match(run.err, 'stores `title` in the column `title` and requires a value');
  assert.match(run.err, 'second endpoint (`publish <table> as PostV2 to "blog/post_v2" { ... }`)');
  assert.match(run.out, '1 endpoint compared with');
  assert.match(run.out, '1 breaking change, 0 warnings, 0 safe changes');
  rmSync(p.dir, { recursive: true });
});

test('--against a folder: safe changes and warnings exit 0', async () => {
  const p = await project();
  // Nothing changed yet: the generated folder itself is the release.
  const same = await cli('contract', 'check', '--config', p.routes, '--against', p.generated);
  assert.is(same.code, 0, same.err);
  assert.match(same.out, '0 breaking changes, 0 warnings, 0 safe changes');
  const release = join(p.dir, 'release');
  cpSync(p.generated, release, { recursive: true });
  writeFileSync(p.routes, released.replace('  tags   string[]\n', '  body   text?\n'));
  const run = await cli('contract', 'check', '--config', p.routes, '--against', release, '--format', 'compact');
  assert.is(run.code, 0, run.err);
  const lines = run.err.split('\n');
  assert.equal(
    lines.map((l) => l.replace(/^.*?: /, '').replace(/ at [^ )]+/g, ' at <file>')),
    [
      'warning[P603] `Post.tags` is no longer published on `blog/post`' +
        ' (note: no known subscriber uses it; one outside these routes may: give its exported requirements with `--schemas` to check it)' +
        ' (note: released here at <file>)' +
        ' (help: keep publishing `tags`; or publish the new shape on a second endpoint (`publish <table> as PostV2 to "blog/post_v2" { ... }`),' +
        ' keep `blog/post` as released until none of its subscribers uses it, then retire it (docs/guide.md, "Several endpoints for one table"))',
      'note[P613] `Post.body` (`string?`) is a new attribute on `blog/post`',
    ],
  );
  assert.match(lines[0] as string, /generated\/blog\/schemas\/blog\.post\.schema\.json:\d+:\d+: warning/);
  rmSync(p.dir, { recursive: true });
});

test('--against a git ref reads the generated folder committed at it', async () => {
  const p = await project();
  git(p.dir, 'init', '-q');
  git(p.dir, 'add', '.');
  git(p.dir, 'commit', '-q', '-m', 'release');
  git(p.dir, 'tag', 'v1');
  writeFileSync(
    p.routes,
    released.replace('{ title }', '{ title, tags }').replace('tags   string[]', 'tags   integer[]'),
  );
  assert.is((await cli('generate', '--config', p.routes, '--out', p.generated)).code, 0);
  const run = await cli('contract', 'check', '--config', p.routes, '--against', 'v1', '--format', 'compact');
  assert.is(run.code, 0, run.err);
  assert.match(run.err, 'warning[P604] `Post.tags` changes on `blog/post`: its items: `string` becomes `integer`');
  assert.match(run.err, 'released as `string[]` at v1:generated/blog/schemas/blog.post.schema.json:');
  assert.match(run.out, 'compared with v1:generated:');
  // The working tree's generated folder holds the new schemas: what was compared is v1's.
  // The same release, named by its commit:
  const head = git(p.dir, 'rev-parse', 'HEAD').trim();
  const byCommit = await cli('contract', 'check', '--config', p.routes, '--against', head, '--format', 'compact');
  assert.is(byCommit.code, 0, byCommit.err);
  assert.match(byCommit.err, `released as \`string[]\` at ${head}:generated/blog/schemas/blog.post.schema.json:`);
  rmSync(p.dir, { recursive: true });
});

test('--against: a clear error for a ref that does not exist, no repository, or no generated folder at the ref', async () => {
  const p = await project();
  const outside = await cli('contract', 'check', '--config', p.routes, '--against', 'v1');
  assert.is(outside.code, 64);
  assert.match(outside.err, '`v1` is not a folder, and');
  assert.match(outside.err, 'is not in a git repository to read it as a ref from');
  git(p.dir, 'init', '-q');
  git(p.dir, 'add', 'routes.prom');
  git(p.dir, 'commit', '-q', '-m', 'routes only');
  const unknown = await cli('contract', 'check', '--config', p.routes, '--against', 'v9');
  assert.is(unknown.code, 64);
  assert.match(unknown.err, '`v9` is neither a folder nor a commit of the git repository at');
  const uncommitted = await cli('contract', 'check', '--config', p.routes, '--against', 'HEAD');
  assert.is(uncommitted.code, 64);
  assert.match(
    uncommitted.err,
    '`generated/` holds no `*.schema.json` file at `HEAD`: was the generated folder committed there?',
  );
  const option = await cli('contract', 'check', '--config', p.routes, '--against', '--help=x');
  assert.is(option.code, 64);
  rmSync(p.dir, { recursive: true });
});

test('exit codes: 78 when the routes do not compile, 64 on bad usage', async () => {
  const p = await project();
  writeFileSync(p.routes, released.replace('{ title }', '{ titel }'));
  const broken = await cli('contract', 'check', '--config', p.routes, '--against', p.generated);
  assert.is(broken.code, 78);
  assert.match(broken.err, 'error[P404]');
  assert.match(broken.err, '1 error: the routes do not compile, nothing was compared');
  writeFileSync(p.routes, released);
  assert.is((await cli('contract', 'check', '--config', p.routes)).code, 64, 'no --against');
  const format = await cli('contract', 'check', '--config', p.routes, '--against', p.generated, '--format', 'xml');
  assert.is(format.code, 64);
  assert.match(format.err, 'xml');
  assert.is((await cli('contract', 'check', '--against', p.generated, '--bogus')).code, 64);
  const empty = join(p.dir, 'empty');
  mkdirSync(empty);
  const nothing = await cli('contract', 'check', '--config', p.routes, '--against', empty);
  assert.is(nothing.code, 64);
  assert.match(nothing.err, 'holds no `*.schema.json` file');
  // The subscriber's folder alone: nothing in it is a release of what the routes publish.
  const wrong = await cli('contract', 'check', '--config', p.routes, '--against', join(p.generated, 'reader'));
  assert.is(wrong.code, 64);
  assert.match(wrong.err, 'holds no released schema of `blog`: check --against');
  writeFileSync(join(empty, 'blog.post.schema.json'), '{ "$id": "urn:promiscuous:endpoint:blog/post", ');
  const unreadable = await cli('contract', 'check', '--config', p.routes, '--against', empty, '--format', 'compact');
  assert.is(unreadable.code, 78);
  assert.match(unreadable.err, 'blog.post.schema.json:1:1: error[P501] not JSON');
  rmSync(p.dir, { recursive: true });
});

test('--format github prints workflow annotations on stdout, paths from the repository root', async () => {
  const p = await project('services/blog');
  git(p.dir, 'init', '-q');
  git(p.dir, 'add', '.');
  git(p.dir, 'commit', '-q', '-m', 'release');
  writeFileSync(
    p.routes,
    released.replace('  title  string\n', '  title  string?\n').replace('  tags   string[]\n', '  body   text\n'),
  );
  const run = await cli('contract', 'check', '--config', p.routes, '--against', 'HEAD', '--format', 'github');
  assert.is(run.code, 1, run.err);
  const lines = run.out.split('\n');
  const error = lines.find((l) => l.startsWith('::error '));
  assert.ok(error, run.out);
  assert.match(
    error,
    /^::error file=services\/blog\/generated\/blog\/schemas\/blog\.post\.schema\.json,line=\d+,col=\d+,title=P605 breaking change::`Post\.title` may now be null on `blog\/post`%0Anote: reader's subscription Post \(as released: HEAD:services\/blog\/generated\/reader\/schemas\/requires\/Post\.schema\.json\) stores `title`/,
  );
  assert.not.match(error, '\n');
  assert.match(error, '%0Ahelp: keep `title` non-null');
  assert.ok(
    lines.some((l) =>
      /^::warning file=services\/blog\/generated\/[^,]+,line=\d+,col=\d+,title=P603 breaking change::`Post\.tags`/.test(
        l,
      ),
    ),
  );
  assert.ok(
    lines.some(
      (l) =>
        l.startsWith('::notice file=services/blog/generated/blog/schemas/blog.post.schema.json,') && l.includes('P613'),
    ),
  );
  assert.match(lines[lines.length - 1] as string, '1 breaking change, 1 warning, 1 safe change');
  assert.is(run.err, '');
  rmSync(p.dir, { recursive: true });
});

test('--schemas: a subscriber outside the routes, known from its exported requirements', async () => {
  const p = await project();
  const release = join(p.dir, 'release');
  cpSync(p.generated, release, { recursive: true });
  const outside = join(p.dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'routes.prom'), 'app search\nsubscribe Post from "blog/post" { tags }\n');
  const exported = await cli(
    'generate',
    '--config',
    join(outside, 'routes.prom'),
    '--out',
    join(outside, 'generated'),
    '--schemas',
    join(release, 'blog', 'schemas'),
  );
  assert.is(exported.code, 0, exported.err);
  writeFileSync(p.routes, released.replace('  tags   string[]\n', ''));
  const run = await cli(
    'contract',
    'check',
    '--config',
    p.routes,
    '--against',
    release,
    '--schemas',
    join(outside, 'generated', 'search', 'schemas'),
    '--format',
    'compact',
  );
  assert.is(run.code, 1, run.err);
  assert.match(run.err, 'error[P603] `Post.tags` is no longer published on `blog/post`');
  rmSync(p.dir, { recursive: true });
});

test.run();
