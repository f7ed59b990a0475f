/** Keys, signing and verification on their own, the signature settings, and `promiscuous keys generate`. */
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/cli/index.js';
import type { Output } from '../../src/cli/output.js';
import { parseTrust, signatureSettings } from '../../src/common/signature-settings.js';
import { generateKeyPair, keyId, privateKey, publicKey, Signer } from '../../src/runtime/index.js';
import { leafHash, merkleRoot, merkleTree } from '../../src/runtime/signatures/merkle.js';
import { Verifier } from '../../src/runtime/signatures/verifier.js';

const shop = generateKeyPair();
const billing = generateKeyPair();
const body = Buffer.from('{"format":1,"app":"shop"}');

/** The text of what a function throws. */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return 'nothing thrown';
}

test("a key's id is a fingerprint of its public key, the same from the private key, the base64 and the PEM", () => {
  const fromPrivate = keyId(createPublicKey(privateKey(shop.privatePem)));
  const pem = createPublicKey(privateKey(shop.privatePem)).export({ format: 'pem', type: 'spki' }) as string;
  assert.is(fromPrivate, shop.keyId);
  assert.is(keyId(publicKey(shop.publicText)), shop.keyId);
  assert.is(keyId(publicKey(pem)), shop.keyId);
  assert.match(shop.keyId, /^[0-9a-f]{16}$/);
  assert.is.not(shop.keyId, billing.keyId);
});

test('a key that does not parse is refused without being quoted', () => {
  const secret = shop.privatePem.replace('MC4CAQAw', 'MC4CAQAx');
  const refused = thrown(() => privateKey(secret, 'PROMISCUOUS_SIGNING_KEY'));
  assert.match(refused, 'PROMISCUOUS_SIGNING_KEY is not');
  assert.not.match(refused, secret.split('\n')[1] as string);
  assert.match(
    thrown(() => publicKey('c2hvcnQ=', 'trusted key 1 of shop')),
    'trusted key 1 of shop is not a public key',
  );
  assert.match(
    thrown(() => privateKey(shop.publicText)),
    'not a private key',
  );
});

test('a signature verifies against its body and its key alone, and says which app signed', async () => {
  const verifier = new Verifier({ trust: { shop: [shop.publicText], billing: [billing.publicText] } });
  const signature = await new Signer(shop.privatePem).sign(body);
  assert.ok(signature.startsWith(`${shop.keyId}.`));
  assert.equal(await verifier.check(body, signature), { signer: 'shop' });
  assert.equal(await verifier.check(Buffer.from('{"format":1,"app":"shoP"}'), signature), {
    failure: 'tampered',
    reason: `tampered: the signature of shop's key ${shop.keyId} does not match the body`,
  });
  const forged = `${billing.keyId}.${signature.split('.')[1]}`;
  assert.is(((await verifier.check(body, forged)) as { failure?: string }).failure, 'tampered');
  assert.is(((await verifier.check(body, 'nonsense')) as { failure?: string }).failure, 'unknown-key');
  assert.equal(await verifier.check(body, undefined), { signer: undefined }, 'unsigned accepted unless required');
  const strict = new Verifier({ trust: { shop: [shop.publicText] }, require: true });
  assert.is(((await strict.check(body, undefined)) as { failure?: string }).failure, 'unsigned');
});

test('a signature claiming a count no signer makes is refused, never thrown', async () => {
  const verifier = new Verifier({ trust: { shop: [shop.publicText] } });
  const [id, sig] = (await new Signer(shop.privatePem).sign(body)).split('.');
  const path = Buffer.alloc(33 * 32).toString('base64');
  for (const count of [2 ** 33, 0, -1, 1.5, Number.NaN]) {
    const checked = await verifier.check(body, `${id}.${sig}.${count}.0.${path}`);
    assert.is('failure' in checked && checked.failure, 'tampered', `count ${count}`);
  }
});

test("every leaf's path reaches the root, whatever the count, and no other place or path does", () => {
  for (let count = 1; count <= 40; count++) {
    const leaves = Array.from({ length: count }, (_, i) => leafHash(Buffer.from(`body ${i}`)));
    const { root, paths } = merkleTree(leaves);
    for (const [i, leaf] of leaves.entries()) {
      assert.equal(merkleRoot(leaf, i, count, paths[i] ?? []), root, `leaf ${i} of ${count}`);
      if (count > 1) assert.not.equal(merkleRoot(leaf, (i + 1) % count, count, paths[i] ?? []), root);
    }
  }
  assert.is(merkleRoot(leafHash(Buffer.from('x')), 3, 3, []), undefined, 'an index beyond the count');
});

test('messages signed together each verify alone; an altered body, or a path of another message, does not', async () => {
  const verifier = new Verifier({ trust: { shop: [shop.publicText] } });
  const messages = Array.from({ length: 70 }, (_, i) => ({
    routingKeys: ['shop.customer.create'],
    messageId: String(i),
    body: Buffer.from(`{"n":${i}}`),
  }));
  const signedMessages = await new Signer(shop.privatePem).signAll(messages);
  const roots = new Set(signedMessages.map((m) => m.signature?.split('.')[1]));
  assert.is(roots.size, 3, 'one Ed25519 signature per 32 messages');
  for (const m of signedMessages.reverse()) assert.equal(await verifier.check(m.body, m.signature), { signer: 'shop' });
  const [a, b] = signedMessages;
  // Known parts of the tree spare hashes and checks, never the check of a body that is not one of its leaves.
  const altered = Buffer.from((b?.body.toString() ?? '').replace('}', ',"x":1}'));
  assert.is(((await verifier.check(altered, b?.signature)) as { failure?: string }).failure, 'tampered');
  const cold = new Verifier({ trust: { shop: [shop.publicText] } });
  assert.is(((await cold.check(a?.body as Buffer, b?.signature)) as { failure?: string }).failure, 'tampered');
  const parts = (a?.signature ?? '').split('.');
  const path = Buffer.from(parts[4] ?? '', 'base64');
  path[0] = (path[0] ?? 0) ^ 1;
  const wrongPath = [...parts.slice(0, 4), path.toString('base64')].join('.');
  assert.is(((await cold.check(a?.body as Buffer, wrongPath)) as { failure?: string }).failure, 'tampered');
  assert.equal(await cold.check(a?.body as Buffer, a?.signature), { signer: 'shop' });
});

test('a trust that cannot work is refused when the app starts', () => {
  assert.match(
    thrown(() => new Verifier({ require: true })),
    'no key is trusted',
  );
  assert.match(
    thrown(() => new Verifier({ trust: { shop: [shop.publicText], billing: [shop.publicText] } })),
    `key ${shop.keyId} is trusted for both shop and billing`,
  );
  assert.is(Verifier.of(undefined), undefined);
  assert.is(Verifier.of({ key: shop.privatePem }), undefined, 'a key alone signs, and checks nothing');
});

test('the settings: the key read from its file relative to the config, each overridden by the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'promiscuous-keys-'));
  writeFileSync(join(dir, 'shop.key'), shop.privatePem);
  const config = { keyFile: (app: string) => `${app}.key`, trust: { billing: [billing.publicText] } };
  assert.equal(signatureSettings(config, 'shop', dir, {}), { key: shop.privatePem, trust: config.trust });
  const env = {
    PROMISCUOUS_SIGNING_KEY: billing.privatePem,
    PROMISCUOUS_TRUST: `shop=${shop.publicText} billing=${billing.publicText},shop=${billing.publicText}`,
    PROMISCUOUS_REQUIRE_SIGNATURES: 'true',
  };
  assert.equal(signatureSettings(config, 'shop', dir, env), {
    key: billing.privatePem,
    trust: { shop: [shop.publicText, billing.publicText], billing: [billing.publicText] },
    require: true,
  });
  assert.is(signatureSettings(undefined, 'shop', dir, {}), undefined, 'nothing set: no signatures');
  const missing = thrown(() =>
    signatureSettings(undefined, 'shop', dir, { PROMISCUOUS_SIGNING_KEY_FILE: '/no/such.key' }),
  );
  assert.is(missing, 'PROMISCUOUS_SIGNING_KEY_FILE names /no/such.key, which cannot be read: ENOENT');
  assert.match(
    thrown(() => parseTrust('shop')),
    'PROMISCUOUS_TRUST has an entry that is not',
  );
  assert.match(
    thrown(() => signatureSettings(undefined, 'shop', dir, { PROMISCUOUS_REQUIRE_SIGNATURES: 'yes' })),
    'use true or false',
  );
  rmSync(dir, { recursive: true });
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { info: (l) => out.push(l), error: (l) => err.push(l) };
  const code = await runCli(['node', 'promiscuous', ...args], output);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('`keys generate` writes a private key only its owner reads and prints the trust of its public half', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'promiscuous-keys-'));
  const file = join(dir, 'keys', 'shop.key');
  const run = await cli('keys', 'generate', '--app', 'shop', '--out', file);
  assert.is(run.code, 0, run.err);
  assert.is(statSync(file).mode & 0o777, 0o600);
  const pem = readFileSync(file, 'utf8');
  assert.not.match(run.out, pem.split('\n')[1] as string, 'the private key is never printed');
  const id = /key id ([0-9a-f]{16})/.exec(run.out)?.[1];
  const trust = /PROMISCUOUS_TRUST='([^']+)'/.exec(run.out)?.[1] ?? '';
  assert.match(run.out, `signatures: { trust: { shop: ['${parseTrust(trust).shop?.[0]}'] } }`);
  // What it prints is what the trust takes, and verifies what the key signs.
  const verifier = new Verifier({ trust: parseTrust(trust) });
  const signature = await new Signer(pem).sign(body);
  assert.is(signature.split('.')[0], id);
  assert.equal(await verifier.check(body, signature), { signer: 'shop' });

  const again = await cli('keys', 'generate', '--app', 'shop', '--out', file);
  assert.is(again.code, 1);
  assert.match(again.err, 'it exists (keys are never overwritten');
  assert.is(readFileSync(file, 'utf8'), pem, 'the key in use is left alone');
  assert.is((await cli('keys', 'generate', '--app', 'Shop!', '--out', join(dir, 'x.key'))).code, 64);
  rmSync(dir, { recursive: true });
});

test.run();
