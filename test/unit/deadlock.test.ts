import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { asDeadlock, Deadlock } from '../../src/runtime/db/deadlock.js';

/** An error as Knex rejects with it: the statement, then the database's message. */
function driverError(code: string, statement: string, message: string): Error {
  return Object.assign(new Error(`${statement} - ${message}`), { code });
}

test('a deadlock names the table of its statement, never the statement', () => {
  const statement = `insert into \`promiscuous_versions\` (\`destroyed\`, \`endpoint\`) values ${"(false, 'crowdtap/user'), ".repeat(100)}`;
  const error = driverError('ER_LOCK_DEADLOCK', statement, 'Deadlock found when trying to get lock');
  const deadlock = asDeadlock(error);
  assert.instance(deadlock, Deadlock);
  assert.is((deadlock as Deadlock).message, 'deadlock on promiscuous_versions');
  assert.is((deadlock as Deadlock).cause, error);
});

test('the table is found whatever the statement', () => {
  const tableOf = (statement: string) =>
    (asDeadlock(driverError('40P01', statement, 'deadlock detected')) as Deadlock).table;
  assert.is(tableOf('update "public"."members" set "name" = $1'), 'members');
  assert.is(tableOf('DELETE FROM `promiscuous_versions` WHERE version = -1'), 'promiscuous_versions');
  assert.is(tableOf('select `a`, `b` from `organizations` where `id` = 1 for update'), 'organizations');
  assert.is(tableOf('SAVEPOINT trx2'), undefined);
});

test('any other error is left as it is', () => {
  const error = driverError('ER_DUP_ENTRY', 'insert into `members` (`id`) values (1)', 'Duplicate entry');
  assert.is(asDeadlock(error), error);
  assert.is(asDeadlock(undefined), undefined);
});

test.run();
