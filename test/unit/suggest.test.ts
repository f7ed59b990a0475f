import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closest, didYouMean, editDistance } from '../../src/compiler/diagnostics/suggest.js';

test('edit distance counts insertions, deletions and substitutions', () => {
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('same', 'same'), 0);
});

test('closest picks a near name and ignores far ones', () => {
  assert.is(closest('emial', ['email', 'name', 'points']), 'email');
  assert.is(closest('strng', ['string', 'integer']), 'string');
  assert.is(closest('zzzzzz', ['email', 'name']), undefined);
});

test('didYouMean lists the allowed names when none is close', () => {
  assert.is(didYouMean('emial', ['email']), 'did you mean `email`?');
  assert.is(didYouMean('qqqq', ['b', 'a'], 'one of'), 'use one of `a`, `b`');
  assert.is(didYouMean('qqqq', []), undefined);
});

test.run();
