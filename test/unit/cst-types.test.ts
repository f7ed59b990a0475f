/** The CST types that the `.prom` front end's visitor is checked against are those of the grammar. */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cstTypes, cstTypesPath } from '../../grammar/generate-cst.js';

test('grammar/cst.ts is what the grammar generates (regenerate with grammar/generate-cst.ts)', async () => {
  assert.fixture(readFileSync(cstTypesPath, 'utf8'), await cstTypes());
});

test.run();
