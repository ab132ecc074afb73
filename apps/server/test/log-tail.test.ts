import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/adapters/db/schema.ts';
import { kyselyStorage } from '../src/adapters/db/kysely-storage.ts';
import { TailedEventLog } from '../src/ingest/log-tail.ts';
import type { EventRecord, Storage } from '../src/storage/ports.ts';
import { backends, freshDatabase } from './helpers/backends.ts';
import { accountCreatedRecord } from './helpers/log-records.ts';
import { propertyParams } from './helpers/fast-check.ts';

/**
 * The log's tail in memory (ingest/log-tail.ts): followers read what was just appended without
 * reading it back from the database, and never get anything but what the database holds — also
 * when another writer appended beside this one or the reader is behind the tail.
 */
const baseMs = Date.parse('2026-11-26T09:00:00Z');
let made = 0;

function record(accountId: string): EventRecord {
  made += 1;
  return accountCreatedRecord(`lt_${String(made)}`, accountId, baseMs + made, made % 100);
}

function tailOf(storage: Storage): TailedEventLog {
  const events = storage.events;
  assert.ok(events instanceof TailedEventLog, 'storage reads its log through the tail');
  return events;
}

/** The database's own answer, read past every cache. */
async function reference(
  db: Kysely<Database>,
  afterSeq: number,
  limit: number,
): Promise<{ seq: number; eventId: string }[]> {
  const { rows } = await sql<{ seq: string | number; event_id: string }>`
    select seq, event_id from events where seq > ${afterSeq} order by seq limit ${limit}`.execute(db);
  return rows.map((row) => ({ seq: Number(row.seq), eventId: row.event_id }));
}

const brief = (page: readonly { seq: number; eventId: string }[]): { seq: number; eventId: string }[] =>
  page.map((stored) => ({ seq: stored.seq, eventId: stored.eventId }));

for (const backend of backends()) {
  describe(`the log tail on ${backend}`, () => {
    test('pages just appended come from memory, equal to the database; a reader behind the tail reads the database', async () => {
      const under = await freshDatabase(backend);
      try {
        const tail = tailOf(under.storage);
        const seqs = await under.storage.events.append(
          Array.from({ length: 40 }, (_u, i) => record(`acct_${String(i % 7)}`)),
          [],
        );
        const before = tail.stats();
        const first = seqs[0] ?? 0;
        const page = await under.storage.events.readAfter(first - 1, 25);
        assert.deepEqual(brief(page), await reference(under.db, first - 1, 25));
        const head = page.at(0);
        assert.ok(head !== undefined);
        assert.equal(head.event.type, 'account.created');
        assert.equal(head.decision.eventId, head.eventId);
        const rest = await under.storage.events.readAfter(page.at(-1)?.seq ?? 0, 25);
        assert.deepEqual(brief(rest), await reference(under.db, page.at(-1)?.seq ?? 0, 25));
        assert.equal(rest.length, 15);
        assert.equal(tail.stats().served - before.served, 2, 'both pages came from memory');

        // A new tail (as after a restart) holds nothing older than what it appended: reading
        // from the start goes to the database, and still gets everything.
        const restarted = kyselyStorage({ db: under.db, kind: backend, close: () => Promise.resolve() });
        await restarted.events.append([record('acct_x')], []);
        const fromStart = await restarted.events.readAfter(0, 100);
        assert.deepEqual(brief(fromStart), await reference(under.db, 0, 100));
        assert.equal(fromStart.length, 41);
        assert.equal(tailOf(restarted).stats().fellBack, 1);
        assert.equal(tailOf(restarted).stats().served, 0);
      } finally {
        await under.close();
      }
    });

    test('another writer on the same database: memory is not trusted where it lacks their events', async () => {
      const under = await freshDatabase(backend);
      try {
        const tail = tailOf(under.storage);
        // A second storage on the same database appends too (another process, a tool).
        const other = kyselyStorage({ db: under.db, kind: backend, close: () => Promise.resolve() });
        const mine = await under.storage.events.append([record('a'), record('b')], []);
        await other.events.append([record('c')], []);
        await under.storage.events.append([record('d')], []);
        const from = (mine[0] ?? 1) - 1;
        const before = tail.stats();
        const page = await under.storage.events.readAfter(from, 10);
        assert.deepEqual(brief(page), await reference(under.db, from, 10));
        assert.equal(page.length, 4, "the other writer's event is in the page");
        assert.equal(tail.stats().fellBack - before.fellBack, 1);
        // Past the other writer's event, memory holds everything again.
        const after = await under.storage.events.readAfter(page.at(-2)?.seq ?? 0, 10);
        assert.deepEqual(brief(after), await reference(under.db, page.at(-2)?.seq ?? 0, 10));
        assert.equal(tail.stats().served - before.served, 1);
      } finally {
        await under.close();
      }
    });

    test('property: with appends through this tail and beside it, every page read equals the database', async () => {
      const under = await freshDatabase(backend);
      try {
        const other = kyselyStorage({ db: under.db, kind: backend, close: () => Promise.resolve() });
        const known: number[] = [0];
        const step = fc.oneof(
          fc.record({ kind: fc.constant('mine' as const), count: fc.integer({ min: 1, max: 12 }) }),
          fc.record({ kind: fc.constant('other' as const), count: fc.integer({ min: 1, max: 3 }) }),
          fc.record({
            kind: fc.constant('read' as const),
            cursor: fc.nat(),
            limit: fc.integer({ min: 1, max: 30 }),
          }),
        );
        await fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
            for (const s of steps) {
              if (s.kind === 'read') {
                const cursor = known[s.cursor % known.length] ?? 0;
                const page = await under.storage.events.readAfter(cursor, s.limit);
                assert.deepEqual(brief(page), await reference(under.db, cursor, s.limit));
                continue;
              }
              const writer = s.kind === 'mine' ? under.storage : other;
              const seqs = await writer.events.append(
                Array.from({ length: s.count }, () => record('acct_p')),
                [],
              );
              known.push(...seqs);
            }
          }),
          propertyParams(30),
        );
        // The property exercised both paths, not only the database one.
        const stats = tailOf(under.storage).stats();
        assert.ok(stats.served > 0 && stats.fellBack > 0, JSON.stringify(stats));
      } finally {
        await under.close();
      }
    });
  });
}

describe('the log tail stays bounded', () => {
  test('beyond its bound the oldest events are forgotten and read from the database', async () => {
    const under = await freshDatabase('pglite');
    try {
      const small = new TailedEventLog(under.storage.events, 10);
      const seqs = await small.append(
        Array.from({ length: 25 }, () => record('acct_b')),
        [],
      );
      assert.ok(small.size <= 10, `holds ${String(small.size)}`);
      const all = await small.readAfter((seqs[0] ?? 1) - 1, 100);
      assert.equal(all.length, 25);
      assert.equal(small.stats().fellBack, 1);
      const newest = await small.readAfter(seqs.at(-3) ?? 0, 100);
      assert.equal(newest.length, 2);
      assert.equal(small.stats().served, 1);
    } finally {
      await under.close();
    }
  });
});
