/**
 * The runtime compiles the generated JSON Schemas with Ajv on first use: nothing is compiled
 * when the validators are created (when a generated `validators.js` is imported), each
 * validator is compiled by its own first call, and `errors` describes the last call.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lazyValidators, validateEnvelope } from '../../src/runtime/index.js';

const schemas = [
  {
    $id: 'urn:test:user',
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string' }, address: { $ref: 'urn:test:address' } },
    $defs: { Tag: { type: 'string', pattern: '^[a-z]+$' } },
  },
  { $id: 'urn:test:address', type: 'object', required: ['zipcode'], properties: { zipcode: { type: 'string' } } },
  // Strict mode rejects the unknown keyword, but only when this schema is compiled.
  { $id: 'urn:test:broken', type: 'object', colour: 'red' },
];

test('creating validators compiles nothing; each is compiled by its first call', () => {
  const validator = lazyValidators(schemas);
  const validateBroken = validator('urn:test:broken');
  const validateUser = validator('urn:test:user');
  assert.ok(validateUser({ name: 'Yoda' }), 'a schema compiles while another one is broken');
  assert.throws(() => validateBroken({}), /unknown keyword: "colour"/);
});

test('a validator rejects a bad payload, accepts a good one, and errors describe the last call', () => {
  const validateUser = lazyValidators(schemas)('urn:test:user');
  assert.is(validateUser.errors, null);
  assert.not.ok(validateUser({ name: 1 }));
  assert.equal(
    validateUser.errors?.map((e) => [e.instancePath, e.message]),
    [['/name', 'must be string']],
  );
  assert.not.ok(validateUser({ name: 'Yoda', address: {} }), 'a reference to another schema by $id is followed');
  assert.match(validateUser.errors?.[0]?.message ?? '', 'zipcode');
  assert.ok(validateUser({ name: 'Yoda', address: { zipcode: '1' }, extra: true }));
  assert.is(validateUser.errors, null);
});

test('a reference may point into a schema', () => {
  const validateTag = lazyValidators(schemas)('urn:test:user#/$defs/Tag');
  assert.ok(validateTag('jedi'));
  assert.not.ok(validateTag('Jedi'));
});

test('an unknown reference throws on first call, naming it', () => {
  const validateNothing = lazyValidators(schemas)('urn:test:nothing');
  assert.throws(() => validateNothing({}), /urn:test:nothing/);
});

test('the shared envelope validator accepts a message and names what a bad one misses', () => {
  const message = {
    format: 1,
    id: 'm1',
    app: 'crowdtap',
    host: 'h',
    generation: 0,
    timestamp: 0,
    context: null,
    operations: [
      { endpoint: 'crowdtap/user', types: ['User'], id: '1', operation: 'create', version: 1, attributes: {} },
    ],
    dependencies: [],
  };
  assert.ok(validateEnvelope(message), JSON.stringify(validateEnvelope.errors));
  const { operations: _operations, ...withoutOperations } = message;
  assert.not.ok(validateEnvelope(withoutOperations));
  assert.match(JSON.stringify(validateEnvelope.errors), 'operations');
  assert.not.ok(validateEnvelope({ ...message, operations: [{ ...message.operations[0], operation: 'upsert' }] }));
  assert.equal(validateEnvelope.errors?.[0]?.instancePath, '/operations/0/operation');
});

test.run();
