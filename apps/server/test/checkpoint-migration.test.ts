import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import * as compactCheckpoints from '../src/adapters/db/migrations/0010_compact_checkpoints.ts';
import type { AccountState } from '../src/risk/domain/state.ts';
import type { SeriesRecord } from '../src/storage/ports.ts';
import { backends, freshDatabase, type StorageWithDatabase } from './helpers/backends.ts';

/**
 * 0010_compact_checkpoints turns the checkpoint documents (account state, series snapshots) from
 * jsonb into JSON text. Rows written before it must read back the same after it, the devices and
 * sessions views must still see them, and `down` must give the jsonb columns back.
 */

const baseMs = Date.parse('2026-11-20T09:00:00Z');

const account: AccountState = {
  accountId: 'mig-1',
  firstSeenAt: baseMs,
  lastSeenAt: baseMs + 60_000,
  eventCount: 3,
  risk: 35,
  devices: [
    {
      key: 'id:dev-1',
      deviceId: 'dev-1',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
      firstSeenAt: baseMs,
      lastSeenAt: baseMs + 60_000,
      seenCount: 2,
      trusted: true,
    },
  ],
  networks: [{ ip: '2001:db8::7', firstSeenAt: baseMs, lastSeenAt: baseMs, seenCount: 1 }],
  sessions: [
    { sessionId: 's-1', issuedAt: baseMs, lastSeenAt: baseMs, ip: '2001:db8::7', deviceKey: 'id:dev-1' },
  ],
  pendingChallenges: [],
  openCaseId: 'case-9',
  login: {
    profile: { logins: 1, values: { country: [{ value: 'JP', count: 1, lastSeenAt: baseMs }] } },
    recent: [],
    consecutiveFailures: 0,
    bindings: [],
    pending: [],
  },
};
const series: SeriesRecord[] = [
  { key: 'mig:fail', snapshot: { t: [baseMs, baseMs + 1], v: [1, 1], k: ['mig-1', null] } },
  { key: 'mig:amount', snapshot: { t: [baseMs], v: [12.5], droppedUpToMs: baseMs - 1 } },
];

for (const backend of backends()) {
  describe(`compact checkpoints (0010) on ${backend}`, () => {
    let under: StorageWithDatabase;
    before(async () => {
      under = await freshDatabase(backend);
    });
    after(async () => {
      await under.close();
    });

    test('checkpoint rows written as jsonb read back the same once migrated; down and up again', async () => {
      const { db, storage } = under;
      // The schema before 0010, with rows as the old checkpoint wrote them.
      await compactCheckpoints.down(db as unknown as Kysely<unknown>);
      await sql`
        insert into accounts (account_id, state, first_seen_at, last_seen_at, risk, open_case_id, updated_at)
        values (${account.accountId}, ${JSON.stringify(account)}::jsonb, now(), now(), 35, 'case-9', now())`.execute(
        db,
      );
      for (const s of series) {
        await sql`insert into velocity_series (key, snapshot, updated_at)
                  values (${s.key}, ${JSON.stringify(s.snapshot)}::jsonb, now())`.execute(db);
      }
      const types = async (): Promise<string[]> =>
        (
          await sql<{ data_type: string }>`
            select data_type from information_schema.columns
            where (table_name = 'accounts' and column_name = 'state')
               or (table_name = 'velocity_series' and column_name = 'snapshot')
            order by table_name`.execute(db)
        ).rows.map((row) => row.data_type);
      assert.deepEqual(await types(), ['jsonb', 'jsonb']);

      await compactCheckpoints.up(db as unknown as Kysely<unknown>);
      assert.deepEqual(await types(), ['text', 'text']);
      assert.deepEqual(await storage.state.loadAccounts(['mig-1']), [account]);
      const loaded = await storage.state.loadSeries(['mig:fail', 'mig:amount']);
      assert.deepEqual(
        loaded.sort((x, y) => x.key.localeCompare(y.key)),
        [...series].sort((x, y) => x.key.localeCompare(y.key)),
      );
      const devices = await db.selectFrom('devices').selectAll().where('account_id', '=', 'mig-1').execute();
      assert.deepEqual(
        devices.map((d) => [d.device_key, d.seen_count, d.trusted, d.last_seen_at.getTime()]),
        [['id:dev-1', 2, true, baseMs + 60_000]],
      );
      const sessions = await db
        .selectFrom('sessions')
        .selectAll()
        .where('account_id', '=', 'mig-1')
        .execute();
      assert.deepEqual(
        sessions.map((s) => [s.session_id, s.ip, s.device_key]),
        [['s-1', '2001:db8::7', 'id:dev-1']],
      );

      // A checkpoint after the migration replaces the converted rows.
      const later: AccountState = { ...account, eventCount: 4, risk: 10, lastSeenAt: baseMs + 120_000 };
      await storage.state.writeCheckpoint({
        seq: 7,
        accounts: [later],
        series: [{ key: 'mig:fail', snapshot: { t: [baseMs + 1], v: [1], k: [null] } }],
      });
      assert.deepEqual(await storage.state.loadAccounts(['mig-1']), [later]);

      // Down converts back to jsonb with the data intact; up again leaves the schema as it was.
      await compactCheckpoints.down(db as unknown as Kysely<unknown>);
      assert.deepEqual(await types(), ['jsonb', 'jsonb']);
      const back = await sql<{
        state: AccountState;
      }>`select state from accounts where account_id = 'mig-1'`.execute(db);
      assert.deepEqual(back.rows[0]?.state, later);
      await compactCheckpoints.up(db as unknown as Kysely<unknown>);
      assert.deepEqual(await storage.state.loadAccounts(['mig-1']), [later]);
    });

    test('a checkpoint larger than one statement round-trips whole, text as written', async () => {
      const { storage } = under;
      const many: AccountState[] = Array.from({ length: 2500 }, (_, i) => ({
        ...account,
        accountId: `many-${String(i)}`,
        eventCount: i,
        risk: i % 100,
        ...(i % 7 === 0 ? { openCaseId: `case-${String(i)}` } : { openCaseId: undefined }),
      })).map((a) => JSON.parse(JSON.stringify(a)) as AccountState);
      const awkward: SeriesRecord[] = Array.from({ length: 2100 }, (_, i) => ({
        key: `many:${String(i)}`,
        snapshot: { t: [baseMs + i], v: [i + 0.25], k: [`quote ' double " backslash \\ ${String(i)}`] },
      }));
      await storage.state.writeCheckpoint({ seq: 99, accounts: many, series: awkward });
      assert.equal(await storage.state.readCheckpointSeq(), 99);
      const byId = (x: AccountState, y: AccountState): number => x.accountId.localeCompare(y.accountId);
      const byKey = (x: SeriesRecord, y: SeriesRecord): number => x.key.localeCompare(y.key);
      assert.deepEqual(
        (await storage.state.loadAccounts(many.map((a) => a.accountId))).sort(byId),
        [...many].sort(byId),
      );
      assert.deepEqual(
        (await storage.state.loadSeries(awkward.map((s) => s.key))).sort(byKey),
        [...awkward].sort(byKey),
      );
    });
  });
}
