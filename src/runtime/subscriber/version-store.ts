/**
 * The versions an app applied, by object: read and locked at the start of each apply
 * transaction, written at its end, through the database seam. A stored version never goes
 * back, so the versions this process saw committed are lower bounds it keeps (the last
 * 50,000 objects): a requirement one of them meets needs no read.
 */
import type { Knex } from 'knex';
import type { Database, LookupSet, VersionRow } from '../db/database.js';
import { latest, objectKey, type Stored } from './types.js';

export class VersionStore {
  /** Versions this process saw committed, by object key. */
  private readonly seen = new Map<string, Stored>();

  constructor(private readonly database: Database) {}

  /** The newest version of an object this process saw committed, if it remembers one. */
  known(key: string): Stored | undefined {
    return this.seen.get(key);
  }

  /** Remembers versions a transaction read or wrote, once it committed. */
  committed(versions: ReadonlyMap<string, Stored>): void {
    for (const [key, version] of versions) {
      const known = this.seen.get(key);
      if (known === undefined || known.version < version.version) latest(this.seen, key, version, 50_000);
    }
  }

  /** The stored versions of objects, by object key, each set locked as it says until commit. */
  async read(trx: Knex.Transaction, sets: readonly LookupSet[]): Promise<Map<string, Stored>> {
    const rows = await this.database.readVersions(trx, sets);
    return new Map(
      rows.map((r) => [
        objectKey(r.publisher, r.endpoint, r.object_id),
        { version: Number(r.version), destroyed: Boolean(r.destroyed) },
      ]),
    );
  }

  /** Writes the versions a transaction applied; `last()` announces its last statement. */
  write(trx: Knex.Transaction, versions: readonly VersionRow[], last: () => void): Promise<void> {
    return this.database.writeVersions(trx, versions, last);
  }
}
