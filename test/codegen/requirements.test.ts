/**
 * What a subscriber's validators require of the attributes it subscribes to: those its
 * publisher declares non-null, and those of a publisher it does not know; one its publisher
 * declares nullable may be absent, so that messages of a publisher older than the attribute
 * still apply. Nullability is known from the publisher in the workspace or from its exported
 * schemas (`--schemas`).
 */
import { posix } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type CompileInput, compile, emitWorkspace, renderCompact } from '../../src/compiler/index.js';

const publisher = `
app blog
publish posts as Post {
  id     integer primary
  title  string
  body   text?
}
`;
const subscriber = `
app reader
subscribe Post from "blog/post" { title, body }
subscribe Note from "wiki/note" { text, summary }
`;

/** The `required` list of each requirement schema of `reader`, by schema id. */
function required(prom: string, schemas: CompileInput['schemas'] = []): Record<string, unknown> {
  const files = new Map([['routes.prom', prom]]);
  const output = compile(
    { prom: ['routes.prom'], schemas },
    { readFile: (path) => files.get(path), resolvePath: (from, to) => posix.join(posix.dirname(from), to) },
  );
  assert.ok(output.workspace, output.diagnostics.map(renderCompact).join('\n'));
  const js = emitWorkspace(output.workspace).find((f) => f.path === 'reader/validators.js')?.content ?? '';
  const data = js.slice(js.indexOf('lazyValidators(') + 'lazyValidators('.length, js.lastIndexOf(']);') + 1);
  const parsed = JSON.parse(data) as { $id: string; required: unknown }[];
  return Object.fromEntries(parsed.map((schema) => [schema.$id, schema.required]));
}

test("a nullable attribute of a publisher in the workspace may be absent; a non-null one, or an unknown publisher's, is required", () => {
  assert.equal(required(publisher + subscriber), {
    'urn:promiscuous:subscription:reader/Note': ['text', 'summary'],
    'urn:promiscuous:subscription:reader/Post': ['title'],
  });
});

test('the same holds when the publisher is known from its exported schemas', () => {
  const files = new Map([['blog.prom', publisher]]);
  const blog = compile(
    { prom: ['blog.prom'] },
    { readFile: (path) => files.get(path), resolvePath: (from, to) => posix.join(posix.dirname(from), to) },
  );
  assert.ok(blog.workspace);
  const schema = emitWorkspace(blog.workspace).find((f) => f.path === 'blog/schemas/blog.post.schema.json');
  assert.ok(schema);
  assert.equal(required(subscriber, [{ path: 'blog.post.schema.json', text: schema.content }]), {
    'urn:promiscuous:subscription:reader/Note': ['text', 'summary'],
    'urn:promiscuous:subscription:reader/Post': ['title'],
  });
});

test.run();
