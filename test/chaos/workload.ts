/**
 * The publisher's workload: first the whole of Chinook created again through the hooks
 * (parents before children, a hundred rows a transaction), then random transactions from
 * several concurrent clients across the foreign-key chains (artist > album > track >
 * invoice_line and playlist_track, customer > invoice > invoice_line, employee > customer,
 * employee > employee, playlist > playlist_track): creates, updates, deletes of whole
 * subtrees, moves of children between parents, and some transactions rolled back on purpose,
 * their rows marked so that the checker can prove none arrived.
 *
 * Every transaction locks the parents it writes under (`find(id, { lock: true })`): a
 * concurrent delete then waits for it, as in an application that keeps its invariants. Reads
 * of children by foreign key go through Knex outside the transaction (the hooks read by key
 * only); the parent's lock keeps that set stable.
 */
import type { Knex } from 'knex';
import type { ModelHooks, Publisher } from '../../src/runtime/index.js';
import { type Hooks, models, type Virtuals } from '../fixtures/chinook/generated/store/publisher.js';
import type { FaultPoints } from './fault-points.js';
import type { Random } from './random.js';
import { rollbackMarker, seedOrder } from './world.js';

/** Thrown by a transaction body that found its rows gone: it rolls back, nothing is wrong. */
class Skip extends Error {}

/** Thrown to roll back a transaction on purpose. */
class RollBack extends Error {}

export interface WorkloadStats {
  committed: number;
  rolledBack: number;
  skipped: number;
  conflicts: number;
}

const operations = {
  newAlbum: 8,
  sale: 12,
  newCustomer: 3,
  hire: 1,
  newPlaylist: 2,
  playlistAdd: 5,
  playlistRemove: 4,
  updates: 22,
  moveTrack: 5,
  moveLine: 4,
  deleteInvoice: 5,
  deleteTrack: 4,
  deleteAlbum: 2,
  deleteCustomer: 1,
  deletePlaylist: 1,
  chain: 5,
} as const;
type Operation = keyof typeof operations;

const words = ['Rock', 'Ação', 'Björk', "O'Neil", 'Noite', 'Blue', 'Zürich', 'Jazz', 'Fado', 'Live', 'Ôba', 'Tour'];

type AnyHooks = ModelHooks<Record<string, unknown>, Record<string, unknown>, Record<string, unknown>>;

/** One transaction's helpers: fresh ids, and strings that carry the marker when it is doomed. */
interface Scope {
  readonly tx: Hooks;
  readonly doomed: boolean;
  /** A new id, never used before by any table. */
  id(): Promise<number>;
  /** Counts rows about to be written; a transaction past the workload's `maxRows` is skipped. */
  rows(n: number): void;
  text(label: string, max?: number): string;
}

export class Workload {
  readonly stats: WorkloadStats = { committed: 0, rolledBack: 0, skipped: 0, conflicts: 0 };
  private stopping = false;

  constructor(
    private readonly publisher: Publisher<Hooks, Virtuals>,
    private readonly db: Knex,
    private readonly seedSchema: string,
    private readonly rng: Random,
    private readonly points: FaultPoints,
    private readonly report: (message: string) => void,
    /** The most rows one random transaction may write (0: no limit, a whole Chinook playlist). */
    private readonly maxRows = 0,
  ) {}

  /** While set, clients wait between transactions: the orchestrator's back-pressure. */
  paused = false;

  stop(): void {
    this.stopping = true;
  }

  get stopped(): boolean {
    return this.stopping;
  }

  private async whilePaused(): Promise<void> {
    while (this.paused && !this.stopping) await new Promise((r) => setTimeout(r, 100));
  }

  /**
   * Creates every Chinook row again through the hooks, table by table, a hundred rows a
   * transaction. Resumable after a kill: a table is done once marked in `chaos_seeded`, and a
   * batch takes only the rows not created yet.
   */
  async seed(): Promise<void> {
    const done = new Set(
      ((await this.db('chaos_seeded').select('table_name')) as { table_name: string }[]).map((r) => r.table_name),
    );
    for (const name of seedOrder) {
      const model = models[name];
      if (done.has(model.table)) continue;
      const key = model.primaryKey.column;
      for (;;) {
        await this.whilePaused();
        if (this.stopping) return;
        const rows = (await this.db
          .withSchema(this.seedSchema)
          .from(model.table)
          .whereNotIn(key, this.db(model.table).select(key))
          .orderBy(key)
          .limit(100)) as Record<string, unknown>[];
        if (rows.length === 0) break;
        await this.publisher.transaction(async (tx) => {
          const hooks = tx[name] as unknown as AnyHooks;
          for (const row of rows) await hooks.create(row);
          this.points.reached('before-commit');
        });
        this.stats.committed += 1;
      }
      await this.db('chaos_seeded').insert({ table_name: model.table }).onConflict('table_name').ignore();
    }
  }

  async seeded(): Promise<boolean> {
    const [row] = (await this.db('chaos_seeded').count({ n: '*' })) as { n: string | number }[];
    return Number(row?.n) === seedOrder.length;
  }

  /**
   * One client: requests until `stop()`, each one to three random transactions in a context
   * of its own, as a web request or a job would run them (each transaction of a context
   * depends on the one before).
   */
  async client(name: string): Promise<void> {
    for (let request = 1; !this.stopping; request++) {
      await this.publisher.context({ name: `${name}-${request}` }, async () => {
        for (let i = this.rng.int(1, 3); i > 0 && !this.stopping; i--) {
          await this.whilePaused();
          await this.run(this.rng.weighted(operations), this.rng.chance(0.08));
        }
      });
    }
  }

  private async run(operation: Operation, doomed: boolean): Promise<void> {
    const ids: number[] = [];
    let rows = 0;
    const scope = (tx: Hooks): Scope => ({
      tx,
      doomed,
      id: async () => {
        const id = await this.nextId();
        ids.push(id);
        return id;
      },
      rows: (n) => {
        rows += n;
        if (this.maxRows > 0 && rows > this.maxRows) throw new Skip();
      },
      text: (label, max = 40) => {
        const text = `${label} ${this.rng.pick(words)} ${this.rng.int(1, 9999)}`;
        return (doomed ? `${rollbackMarker} ${text}` : text).slice(0, max);
      },
    });
    try {
      await this.publisher.transaction(async (tx) => {
        const s = scope(tx);
        if (doomed) await tx.Artist.create({ artist_id: await s.id(), name: s.text('Ghost') });
        await this[operation](s);
        if (doomed) throw new RollBack();
        this.points.reached('before-commit');
      });
      this.stats.committed += 1;
    } catch (error) {
      if (error instanceof RollBack) {
        this.stats.rolledBack += 1;
        const tx = `${process.pid}:${this.stats.rolledBack}`;
        await this.db('chaos_rolled_back').insert(ids.map((id) => ({ tx, object_id: String(id) })));
      } else if (error instanceof Skip) {
        this.stats.skipped += 1;
      } else {
        // Deadlocks, and foreign keys or unique pairs a concurrent client got to first: rolled back.
        this.stats.conflicts += 1;
        if (this.stats.conflicts % 50 === 1) this.report(`${operation} rolled back: ${(error as Error).message}`);
      }
    }
  }

  private async nextId(): Promise<number> {
    const result = (await this.db.raw("SELECT nextval('chaos_ids') AS id")) as { rows: { id: string }[] };
    return Number(result.rows[0]?.id);
  }

  /** A random existing row's key, read outside the transaction. */
  private async any(table: string, key: string, where?: Record<string, unknown>): Promise<number | undefined> {
    const query = this.db(table).select(key).orderByRaw('random()').first();
    if (where) query.where(where);
    const row = (await query) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : Number(row[key]);
  }

  private async keys(table: string, key: string, where: Record<string, unknown>): Promise<number[]> {
    const rows = (await this.db(table).select(key).where(where).orderBy(key)) as Record<string, unknown>[];
    return rows.map((r) => Number(r[key]));
  }

  /** Locks a row in the transaction; a row deleted meanwhile ends the transaction. */
  private async lock<Row>(hooks: ModelHooks<Row, never, never>, id: number | undefined): Promise<Row> {
    const row = id === undefined ? undefined : await hooks.find(id, { lock: true });
    if (!row) throw new Skip();
    return row;
  }

  private async newTrack(s: Scope, albumId: number | null): Promise<number> {
    const mediaType = await this.lock(s.tx.MediaType, await this.any('media_type', 'media_type_id'));
    const genre = this.rng.chance(0.9) ? await this.lock(s.tx.Genre, await this.any('genre', 'genre_id')) : undefined;
    const track = await s.tx.Track.create({
      track_id: await s.id(),
      name: s.text('Track', 200),
      album_id: albumId,
      media_type_id: mediaType.media_type_id,
      genre_id: genre?.genre_id ?? null,
      composer: this.rng.chance(0.7) ? s.text('Composer', 220) : null,
      milliseconds: this.rng.int(30_000, 600_000),
      bytes: this.rng.chance(0.9) ? this.rng.int(1_000_000, 20_000_000) : null,
      unit_price: this.rng.pick(['0.99', '1.99', '0.49', '12.50']),
    });
    return track.track_id;
  }

  private async newInvoice(s: Scope, customerId: number, trackIds: readonly number[]): Promise<number> {
    const customer = await this.lock(s.tx.Customer, customerId);
    const lines: { track: number; price: string; quantity: number }[] = [];
    for (const id of trackIds) {
      const track = await this.lock(s.tx.Track, id);
      lines.push({ track: id, price: String(track.unit_price), quantity: this.rng.int(1, 3) });
    }
    const total = lines.reduce((sum, l) => sum + Math.round(Number(l.price) * 100) * l.quantity, 0) / 100;
    // Sometimes the total is set by an update after the lines: two versions of one object in one message.
    const later = this.rng.chance(0.2);
    const invoice = await s.tx.Invoice.create({
      invoice_id: await s.id(),
      customer_id: customer.customer_id,
      invoice_date: new Date(Date.UTC(2025, this.rng.int(0, 11), this.rng.int(1, 28), this.rng.int(0, 23))),
      billing_address: customer.address,
      billing_city: customer.city,
      billing_state: customer.state,
      billing_country: customer.country,
      billing_postal_code: customer.postal_code,
      total: later ? '0.00' : total.toFixed(2),
    });
    for (const line of lines) {
      await s.tx.InvoiceLine.create({
        invoice_line_id: await s.id(),
        invoice_id: invoice.invoice_id,
        track_id: line.track,
        unit_price: line.price,
        quantity: line.quantity,
      });
    }
    if (later) await s.tx.Invoice.update(invoice.invoice_id, { total: total.toFixed(2) });
    return invoice.invoice_id;
  }

  private async someTracks(n: number): Promise<number[]> {
    const ids = new Set<number>();
    for (let i = 0; i < n; i++) {
      const id = await this.any('track', 'track_id');
      if (id !== undefined) ids.add(id);
    }
    return [...ids];
  }

  // The operations, by the names in `operations`.

  private async newAlbum(s: Scope): Promise<void> {
    const existing = this.rng.chance(0.5) ? await this.any('artist', 'artist_id') : undefined;
    const artistId =
      existing !== undefined
        ? (await this.lock(s.tx.Artist, existing)).artist_id
        : (await s.tx.Artist.create({ artist_id: await s.id(), name: s.text('Artist', 120) })).artist_id;
    const album = await s.tx.Album.create({ album_id: await s.id(), title: s.text('Album', 160), artist_id: artistId });
    for (let i = this.rng.int(1, 4); i > 0; i--) await this.newTrack(s, album.album_id);
  }

  private async sale(s: Scope): Promise<void> {
    const customer = await this.any('customer', 'customer_id');
    if (customer === undefined) throw new Skip();
    await this.newInvoice(s, customer, await this.someTracks(this.rng.int(1, 4)));
  }

  private async newCustomer(s: Scope): Promise<void> {
    const rep = await this.lock(s.tx.Employee, await this.any('employee', 'employee_id'));
    const customer = await s.tx.Customer.create({
      customer_id: await s.id(),
      first_name: s.text('Ana', 40),
      last_name: s.text('Silva', 20),
      company: this.rng.chance(0.3) ? s.text('Company', 80) : null,
      address: s.text('Rua', 70),
      city: s.text('City', 40),
      state: null,
      country: this.rng.pick(['Brazil', 'Germany', 'Portugal', 'USA']),
      postal_code: String(this.rng.int(10000, 99999)),
      phone: `+55 ${this.rng.int(1000000, 9999999)}`,
      fax: null,
      email: `c${this.rng.int(1, 1e9)}@example.com`,
      support_rep_id: rep.employee_id,
    });
    if (this.rng.chance(0.5)) await this.newInvoice(s, customer.customer_id, await this.someTracks(this.rng.int(1, 3)));
  }

  private async hire(s: Scope): Promise<void> {
    const boss = await this.lock(s.tx.Employee, await this.any('employee', 'employee_id'));
    const employee = await s.tx.Employee.create({
      employee_id: await s.id(),
      last_name: s.text('Souza', 20),
      first_name: s.text('Rui', 20),
      title: s.text('Sales Agent', 30),
      reports_to: boss.employee_id,
      birth_date: new Date(Date.UTC(this.rng.int(1960, 2000), this.rng.int(0, 11), this.rng.int(1, 28))),
      hire_date: new Date(),
      address: null,
      city: boss.city,
      state: boss.state,
      country: boss.country,
      postal_code: null,
      phone: null,
      fax: null,
      email: `e${this.rng.int(1, 1e9)}@example.com`,
    });
    // The new employee takes over a customer in the same transaction.
    const customer = await this.lock(s.tx.Customer, await this.any('customer', 'customer_id'));
    await s.tx.Customer.update(customer.customer_id, { support_rep_id: employee.employee_id });
  }

  private async newPlaylist(s: Scope): Promise<void> {
    const playlist = await s.tx.Playlist.create({ playlist_id: await s.id(), name: s.text('Mix', 120) });
    for (const track of await this.someTracks(this.rng.int(1, 5))) {
      await this.lock(s.tx.Track, track);
      await s.tx.PlaylistTrack.create({
        playlist_track_id: await s.id(),
        playlist_id: playlist.playlist_id,
        track_id: track,
      });
    }
  }

  private async playlistAdd(s: Scope): Promise<void> {
    const playlist = await this.lock(s.tx.Playlist, await this.any('playlist', 'playlist_id'));
    for (const track of await this.someTracks(this.rng.int(1, 3))) {
      await this.lock(s.tx.Track, track);
      const there = await this.keys('playlist_track', 'playlist_track_id', {
        playlist_id: playlist.playlist_id,
        track_id: track,
      });
      if (there.length > 0) continue;
      await s.tx.PlaylistTrack.create({
        playlist_track_id: await s.id(),
        playlist_id: playlist.playlist_id,
        track_id: track,
      });
    }
  }

  private async playlistRemove(s: Scope): Promise<void> {
    for (let i = this.rng.int(1, 3); i > 0; i--) {
      const entry = await this.any('playlist_track', 'playlist_track_id');
      if (entry !== undefined) await s.tx.PlaylistTrack.destroy(entry);
    }
  }

  /** One to four updates of random rows of random tables; sometimes the same row twice. */
  private async updates(s: Scope): Promise<void> {
    for (let i = this.rng.int(1, 4); i > 0; i--) {
      const kind = this.rng.int(0, 10);
      if (kind === 0) {
        const artist = await this.lock(s.tx.Artist, await this.any('artist', 'artist_id'));
        await s.tx.Artist.update(artist.artist_id, { name: s.text('Artist', 120) });
      } else if (kind === 1) {
        const album = await this.lock(s.tx.Album, await this.any('album', 'album_id'));
        const artist = this.rng.chance(0.3)
          ? (await this.lock(s.tx.Artist, await this.any('artist', 'artist_id'))).artist_id
          : album.artist_id;
        await s.tx.Album.update(album.album_id, { title: s.text('Album', 160), artist_id: artist });
      } else if (kind === 2) {
        const genre = await this.lock(s.tx.Genre, await this.any('genre', 'genre_id'));
        await s.tx.Genre.update(genre.genre_id, { name: s.text('Genre', 120) });
        const mediaType = await this.lock(s.tx.MediaType, await this.any('media_type', 'media_type_id'));
        await s.tx.MediaType.update(mediaType.media_type_id, { name: s.text('Format', 120) });
      } else if (kind <= 4) {
        const track = await this.lock(s.tx.Track, await this.any('track', 'track_id'));
        await s.tx.Track.update(track.track_id, {
          composer: this.rng.chance(0.2) ? null : s.text('Composer', 220),
          unit_price: this.rng.pick(['0.99', '1.99', '2.49']),
        });
        if (this.rng.chance(0.3))
          await s.tx.Track.update(track.track_id, { milliseconds: this.rng.int(1_000, 900_000) });
      } else if (kind === 5) {
        const employee = await this.lock(s.tx.Employee, await this.any('employee', 'employee_id'));
        const boss = await this.any('employee', 'employee_id', { reports_to: employee.reports_to ?? 1 });
        await s.tx.Employee.update(employee.employee_id, {
          title: s.text('Manager', 30),
          reports_to:
            boss === undefined || boss === employee.employee_id
              ? employee.reports_to
              : (await this.lock(s.tx.Employee, boss)).employee_id,
        });
      } else if (kind === 6) {
        const customer = await this.lock(s.tx.Customer, await this.any('customer', 'customer_id'));
        const rep = await this.lock(s.tx.Employee, await this.any('employee', 'employee_id'));
        await s.tx.Customer.update(customer.customer_id, {
          address: s.text('Avenida', 70),
          phone: `+49 ${this.rng.int(1000000, 9999999)}`,
          support_rep_id: this.rng.chance(0.2) ? null : rep.employee_id,
        });
      } else if (kind === 7) {
        const invoice = await this.lock(s.tx.Invoice, await this.any('invoice', 'invoice_id'));
        await s.tx.Invoice.update(invoice.invoice_id, {
          billing_city: s.text('City', 40),
          total: (this.rng.int(0, 5000) / 100).toFixed(2),
        });
      } else if (kind <= 9) {
        const line = await this.lock(s.tx.InvoiceLine, await this.any('invoice_line', 'invoice_line_id'));
        await s.tx.InvoiceLine.update(line.invoice_line_id, { quantity: this.rng.int(1, 9) });
      } else {
        const playlist = await this.lock(s.tx.Playlist, await this.any('playlist', 'playlist_id'));
        await s.tx.Playlist.update(playlist.playlist_id, { name: s.text('Playlist', 120) });
      }
    }
  }

  /** A track moves to another album, a new one sometimes, or to none. */
  private async moveTrack(s: Scope): Promise<void> {
    const track = await this.lock(s.tx.Track, await this.any('track', 'track_id'));
    let album: number | null = null;
    if (this.rng.chance(0.3)) {
      const artist = await this.lock(s.tx.Artist, await this.any('artist', 'artist_id'));
      album = (
        await s.tx.Album.create({ album_id: await s.id(), title: s.text('Album', 160), artist_id: artist.artist_id })
      ).album_id;
    } else if (this.rng.chance(0.9)) {
      album = (await this.lock(s.tx.Album, await this.any('album', 'album_id'))).album_id;
    }
    await s.tx.Track.update(track.track_id, { album_id: album });
  }

  /** An invoice line is corrected to another track, a new one sometimes. */
  private async moveLine(s: Scope): Promise<void> {
    const line = await this.lock(s.tx.InvoiceLine, await this.any('invoice_line', 'invoice_line_id'));
    const trackId = this.rng.chance(0.3) ? await this.newTrack(s, null) : await this.any('track', 'track_id');
    const track = await this.lock(s.tx.Track, trackId);
    await s.tx.InvoiceLine.update(line.invoice_line_id, { track_id: track.track_id, unit_price: track.unit_price });
  }

  private async destroyInvoice(s: Scope, invoiceId: number): Promise<void> {
    await this.lock(s.tx.Invoice, invoiceId);
    const lines = await this.keys('invoice_line', 'invoice_line_id', { invoice_id: invoiceId });
    s.rows(lines.length + 1);
    for (const line of lines) {
      await s.tx.InvoiceLine.destroy(line);
    }
    await s.tx.Invoice.destroy(invoiceId);
  }

  private async destroyTrack(s: Scope, trackId: number): Promise<void> {
    await this.lock(s.tx.Track, trackId);
    const lines = await this.keys('invoice_line', 'invoice_line_id', { track_id: trackId });
    const entries = await this.keys('playlist_track', 'playlist_track_id', { track_id: trackId });
    s.rows(lines.length + entries.length + 1);
    for (const line of lines) await s.tx.InvoiceLine.destroy(line);
    for (const entry of entries) await s.tx.PlaylistTrack.destroy(entry);
    await s.tx.Track.destroy(trackId);
  }

  private async deleteInvoice(s: Scope): Promise<void> {
    const invoice = await this.any('invoice', 'invoice_id');
    if (invoice === undefined) throw new Skip();
    await this.destroyInvoice(s, invoice);
  }

  private async deleteTrack(s: Scope): Promise<void> {
    const track = await this.any('track', 'track_id');
    if (track === undefined) throw new Skip();
    await this.destroyTrack(s, track);
  }

  /** An album with its tracks and everything that points at them; its artist too when it has no other album. */
  private async deleteAlbum(s: Scope): Promise<void> {
    const album = await this.lock(s.tx.Album, await this.any('album', 'album_id'));
    const artist = await this.lock(s.tx.Artist, album.artist_id);
    for (const track of await this.keys('track', 'track_id', { album_id: album.album_id })) {
      await this.destroyTrack(s, track);
    }
    await s.tx.Album.destroy(album.album_id);
    const others = await this.keys('album', 'album_id', { artist_id: artist.artist_id });
    if (others.every((id) => id === album.album_id)) await s.tx.Artist.destroy(artist.artist_id);
  }

  private async deleteCustomer(s: Scope): Promise<void> {
    const customer = await this.lock(s.tx.Customer, await this.any('customer', 'customer_id'));
    for (const invoice of await this.keys('invoice', 'invoice_id', { customer_id: customer.customer_id })) {
      await this.destroyInvoice(s, invoice);
    }
    await s.tx.Customer.destroy(customer.customer_id);
  }

  private async deletePlaylist(s: Scope): Promise<void> {
    const playlist = await this.lock(s.tx.Playlist, await this.any('playlist', 'playlist_id'));
    const entries = await this.keys('playlist_track', 'playlist_track_id', { playlist_id: playlist.playlist_id });
    s.rows(entries.length + 1);
    for (const entry of entries) await s.tx.PlaylistTrack.destroy(entry);
    await s.tx.Playlist.destroy(playlist.playlist_id);
  }

  /** The longest chains in one transaction: artist, album, track, into a playlist, sold. */
  private async chain(s: Scope): Promise<void> {
    const artist = await s.tx.Artist.create({ artist_id: await s.id(), name: s.text('Artist', 120) });
    const album = await s.tx.Album.create({
      album_id: await s.id(),
      title: s.text('Album', 160),
      artist_id: artist.artist_id,
    });
    const track = await this.newTrack(s, album.album_id);
    const playlist = await this.lock(s.tx.Playlist, await this.any('playlist', 'playlist_id'));
    await s.tx.PlaylistTrack.create({
      playlist_track_id: await s.id(),
      playlist_id: playlist.playlist_id,
      track_id: track,
    });
    const customer = await this.any('customer', 'customer_id');
    if (customer !== undefined) await this.newInvoice(s, customer, [track]);
  }
}
