/** How the AMQP transport groups messages published together into frames. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type Frame,
  frameBody,
  frameHeader,
  frames,
  signatureLineHeader,
  unframe,
} from '../../src/transport/amqp/frames.js';

const message = (id: string, keys: string[], body = `{"id":"${id}"}`) => ({
  routingKeys: keys,
  messageId: id,
  body: Buffer.from(body),
});
const ids = (list: ReturnType<typeof frames>) => list.map((f) => f.messages.map((m) => m.messageId).join(' '));

test('messages under the same keys share a frame, in their order, whatever the order of their keys', () => {
  const grouped = frames(
    [
      message('a', ['x.user.create']),
      message('b', ['x.user.update', 'x.org.update']),
      message('c', ['x.user.create']),
      message('d', ['x.org.update', 'x.user.update']),
      message('e', ['x.user.update']),
    ],
    50,
  );
  assert.equal(ids(grouped), ['a c', 'b d', 'e']);
  assert.equal(grouped[1]?.routingKeys, ['x.org.update', 'x.user.update']);
});

test('a frame holds at most the given count, and 1 turns framing off', () => {
  const five = ['1', '2', '3', '4', '5'].map((id) => message(id, ['x.user.create']));
  assert.equal(ids(frames(five, 2)), ['1 2', '3 4', '5']);
  assert.equal(ids(frames(five, 1)), ['1', '2', '3', '4', '5']);
});

test('a frame stops growing at 512 KiB', () => {
  const big = 'x'.repeat(200 * 1024);
  const list = ['1', '2', '3', '4'].map((id) => message(id, ['x.user.create'], big));
  assert.equal(ids(frames(list, 50)), ['1 2', '3 4']);
});

test("a frame stops growing when its messages' ids reach 64 KiB, the header's share", () => {
  const list = Array.from({ length: 100 }, (_, i) => message(String(i).padStart(1_000, '0'), ['k']));
  assert.equal(
    frames(list, 500).map((f) => f.messages.length),
    [65, 35],
  );
});

test("signatures travel on a frame's last line, not in its header, and each message gets its own back", () => {
  const list = ['1', '2', '3'].map((id) => ({ ...message(id, ['k']), signature: `key.sig.3.${id}.path` }));
  const [frame] = frames([...list, message('4', ['k'])], 50);
  const content = frameBody(frame as Frame);
  const lines = content.toString().split('\n');
  assert.equal(lines.at(-1), JSON.stringify(['key.sig.3.1.path', 'key.sig.3.2.path', 'key.sig.3.3.path', '']));
  const headers = { [frameHeader]: ['1', '2', '3', '4'], [signatureLineHeader]: 1 };
  const back = unframe({ content, properties: { headers } as never });
  assert.equal(
    back.map((m) => [m.body.toString(), m.messageId, m.signature]),
    [
      ['{"id":"1"}', '1', 'key.sig.3.1.path'],
      ['{"id":"2"}', '2', 'key.sig.3.2.path'],
      ['{"id":"3"}', '3', 'key.sig.3.3.path'],
      ['{"id":"4"}', '4', undefined],
    ],
  );
  const unsigned = frames([message('5', ['k']), message('6', ['k'])], 50)[0] as Frame;
  assert.is(frameBody(unsigned).toString(), '{"id":"5"}\n{"id":"6"}', 'no signature, no last line');
});

test('a body with a newline of its own travels alone', () => {
  const list = [message('1', ['k']), message('2', ['k'], '{\n}'), message('3', ['k'])];
  assert.equal(ids(frames(list, 50)), ['1 3', '2']);
});

test.run();
