import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { BulwarkEvent, Decision, DecisionOutcome } from '@bulwark/contracts';
import type { AccountState, DeviceRecord, SessionRecord } from '../src/risk/domain/state.ts';
import type { AnalystRecord, AuditEntry, ConsoleSessionRecord } from '../src/storage/console-ports.ts';
import type {
  ApiKeyRecord,
  CaseRecord,
  EventRecord,
  SeriesRecord,
  Storage,
  StoredEvent,
} from '../src/storage/ports.ts';
import {
  backends,
  freshDatabase,
  freshStorage,
  type Backend,
  type StorageWithDatabase,
} from './helpers/backends.ts';
import { propertyParams } from './helpers/fast-check.ts';
import { loggedRecord } from './helpers/log-records.ts';

const baseMs = Date.parse('2026-11-25T09:00:00Z');
const minuteMs = 60_000;

function loginRecord(
  eventId: string,
  accountId: string,
  offsetMs: number,
  outcome: DecisionOutcome = 'allow',
): EventRecord {
  const atMs = baseMs + offsetMs;
  const event: BulwarkEvent = {
    id: eventId,
    type: 'login.succeeded',
    at: new Date(atMs).toISOString(),
    accountId,
    context: {
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (Macintosh)',
      deviceId: 'dev-home',
      sessionId: `s-${eventId}`,
    },
    method: 'password',
    secondFactor: 'totp',
  };
  const decision: Decision = {
    eventId,
    accountId,
    decision: outcome,
    score: outcome === 'challenge' ? 65 : 10,
    reasons:
      outcome === 'challenge' ? [{ code: 'new_device' }, { code: 'new_network', detail: '203.0.113.7' }] : [],
  };
  if (outcome === 'challenge')
    decision.challenge = { id: `ch_${eventId}`, methods: ['passkey', 'email_otp'] };
  return loggedRecord(event, decision, atMs, {
    receivedAtMs: atMs + 5,
    decidedAtMs: atMs + 7,
    contentHash: `hash-${eventId}`,
    policyVersion: 'baseline-1',
  });
}

/** A failed sign-in for an unknown account: the one kind of event without an account id. */
function anonymousFailureRecord(eventId: string, offsetMs: number): EventRecord {
  const atMs = baseMs + offsetMs;
  const event: BulwarkEvent = {
    id: eventId,
    type: 'login.failed',
    at: new Date(atMs).toISOString(),
    context: { ip: '198.51.100.9', userAgent: 'curl/8.0' },
    reason: 'unknown_account',
    username: 'nobody@example.com',
  };
  return loggedRecord(event, { eventId, decision: 'allow', score: 0, reasons: [] }, atMs, {
    decidedAtMs: atMs + 1,
    contentHash: `hash-${eventId}`,
    policyVersion: 'baseline-1',
  });
}

function compromisedRecord(
  eventId: string,
  accountId: string,
  offsetMs: number,
  caseId: string,
): EventRecord {
  const atMs = baseMs + offsetMs;
  const event: BulwarkEvent = {
    id: eventId,
    type: 'account.compromised',
    at: new Date(atMs).toISOString(),
    accountId,
    reportedBy: 'owner',
  };
  const decision: Decision = {
    eventId,
    accountId,
    decision: 'allow',
    score: 100,
    reasons: [{ code: 'containment_opened', detail: 'owner' }],
    caseId,
  };
  return loggedRecord(event, decision, atMs, { contentHash: `hash-${eventId}`, policyVersion: 'baseline-1' });
}

function openCase(caseId: string, accountId: string, openedByEventId: string, sinceMs?: number): CaseRecord {
  return {
    caseId,
    accountId,
    status: 'open',
    reportedBy: 'owner',
    openedAtMs: baseMs + 30 * minuteMs,
    sinceMs,
    openedByEventId,
  };
}

function device(deviceId: string, overrides: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    key: `id:${deviceId}`,
    deviceId,
    userAgent: `Mozilla/5.0 (${deviceId})`,
    firstSeenAt: baseMs,
    lastSeenAt: baseMs + minuteMs,
    seenCount: 2,
    trusted: true,
    ...overrides,
  };
}

function session(sessionId: string, deviceKey: string, ip = '203.0.113.7'): SessionRecord {
  return { sessionId, issuedAt: baseMs, lastSeenAt: baseMs + 2 * minuteMs, ip, deviceKey };
}

function accountState(
  accountId: string,
  devices: DeviceRecord[],
  sessions: SessionRecord[],
  overrides: Partial<AccountState> = {},
): AccountState {
  return {
    accountId,
    createdAt: baseMs - 86_400_000,
    email: `${accountId}@example.com`,
    firstSeenAt: baseMs - 86_400_000,
    lastSeenAt: baseMs + 2 * minuteMs,
    eventCount: 7,
    risk: 40,
    lastLoginAt: baseMs + minuteMs,
    devices,
    networks: [{ ip: '203.0.113.7', firstSeenAt: baseMs, lastSeenAt: baseMs + minuteMs, seenCount: 3 }],
    sessions,
    pendingChallenges: [
      {
        challengeId: 'ch_pending',
        issuedAt: baseMs + minuteMs,
        deviceKey: 'id:dev-travel',
        deviceWasNew: true,
        ip: '198.51.100.23',
        ipWasNew: true,
        sessionId: 's-travel',
      },
    ],
    ...overrides,
  };
}

const stored = (record: EventRecord, seq: number): StoredEvent => ({ ...record, seq });
const byAccountId = (a: AccountState, b: AccountState) => a.accountId.localeCompare(b.accountId);
const byKey = (a: SeriesRecord, b: SeriesRecord) => a.key.localeCompare(b.key);

function assertIncreasing(seqs: readonly number[]): void {
  for (let i = 1; i < seqs.length; i += 1) {
    assert.ok((seqs[i] ?? 0) > (seqs[i - 1] ?? 0), `seq ${String(seqs[i])} follows ${String(seqs[i - 1])}`);
  }
}

/**
 * Every storage port's contract, against one backend. Opening a store costs a second or more
 * (PGlite loads a data folder; PostgreSQL creates a database), so the tests share two stores and
 * stay independent by using their own ids and reading the log from their own first seq on.
 */
export function runStorageSuite(backend: Backend): void {
  describe(`storage conformance on ${backend}`, () => {
    let storage: Storage;
    let under: StorageWithDatabase;
    before(async () => {
      storage = await freshStorage(backend);
      under = await freshDatabase(backend);
    });
    after(async () => {
      await storage.close();
      await under.close();
    });

    describe('EventLog', () => {
      test('append answers increasing seqs in record order; findByIds finds hash and decision', async () => {
        const { events } = storage;
        const first = [
          loginRecord('seq-1', 'seq-acct-1', 0),
          anonymousFailureRecord('seq-2', minuteMs),
          loginRecord('seq-3', 'seq-acct-2', 2 * minuteMs, 'challenge'),
        ];
        const second = [
          loginRecord('seq-4', 'seq-acct-1', -minuteMs),
          loginRecord('seq-5', 'seq-acct-1', 3 * minuteMs),
        ];
        const firstSeqs = await events.append(first, []);
        const secondSeqs = await events.append(second, []);
        assert.equal(firstSeqs.length, 3);
        assert.equal(secondSeqs.length, 2);
        const seqs = [...firstSeqs, ...secondSeqs];
        assertIncreasing(seqs);

        // Each seq belongs to the record at the same position.
        const log = await events.readAfter((seqs[0] ?? 0) - 1, 100);
        assert.deepEqual(
          log,
          [...first, ...second].map((r, i) => stored(r, seqs[i] ?? 0)),
        );

        const found = await events.findByIds(['seq-3', 'seq-missing', 'seq-1', 'seq-2', 'seq-4', 'seq-5']);
        assert.equal(found.size, 5);
        assert.equal(found.has('seq-missing'), false);
        for (const record of [...first, ...second]) {
          assert.deepEqual(found.get(record.eventId), {
            contentHash: record.contentHash,
            decision: record.decision,
          });
        }
        assert.equal((await events.findByIds([])).size, 0);
      });

      test('append of more than 500 records keeps their order and answers every seq', async () => {
        const { events } = storage;
        const records = Array.from({ length: 1234 }, (_, i) =>
          loginRecord(`bulk-${String(i)}`, `bulk-acct-${String(i % 7)}`, i * 1000),
        );
        const seqs = await events.append(records, []);
        assert.equal(seqs.length, records.length);
        assertIncreasing(seqs);
        const log = [
          ...(await events.readAfter((seqs[0] ?? 0) - 1, 1000)),
          ...(await events.readAfter(seqs[999] ?? 0, 1000)),
        ];
        assert.deepEqual(
          log,
          records.map((r, i) => stored(r, seqs[i] ?? 0)),
        );
      });

      test('a batch holding an id already stored fails whole: no record and no case of it is stored', async () => {
        const { events, cases } = storage;
        const original = loginRecord('atomic-dup', 'atomic-acct-1', 0);
        const [originalSeq = 0] = await events.append([original], []);

        // More than 500 records: the multi-statement transaction path, failing in a later statement.
        const bulk = Array.from({ length: 720 }, (_, i) =>
          loginRecord(`atomic-bulk-${String(i)}`, 'atomic-acct-2', i * 1000),
        );
        const resent = { ...loginRecord('atomic-dup', 'atomic-acct-9', 5 * minuteMs), contentHash: 'other' };
        await assert.rejects(events.append([...bulk.slice(0, 650), resent, ...bulk.slice(650)], []));
        assert.equal((await events.findByIds(bulk.map((r) => r.eventId))).size, 0);

        // A small batch that opens a case.
        const caseRecord = openCase('atomic-case', 'atomic-acct-3', 'atomic-opens');
        await assert.rejects(
          events.append(
            [compromisedRecord('atomic-opens', 'atomic-acct-3', minuteMs, 'atomic-case'), resent],
            [caseRecord],
          ),
        );
        assert.equal((await events.findByIds(['atomic-opens'])).size, 0);
        assert.equal(await cases.get('atomic-case'), undefined);
        assert.equal(await cases.openForAccount('atomic-acct-3'), undefined);

        // The stored event is untouched and the log still takes new events after the failures.
        assert.deepEqual(await events.readAfter(originalSeq - 1, 10_000), [stored(original, originalSeq)]);
        const after = loginRecord('atomic-after', 'atomic-acct-1', minuteMs);
        const [afterSeq = 0] = await events.append([after], []);
        assert.ok(afterSeq > originalSeq);
        assert.deepEqual(await events.readAfter(originalSeq - 1, 10_000), [
          stored(original, originalSeq),
          stored(after, afterSeq),
        ]);
      });

      test('the database refuses to update or delete a logged event', async () => {
        const { db } = under;
        const record = loginRecord('frozen-1', 'frozen-acct', 0);
        const [seq = 0] = await under.storage.events.append([record], []);
        await assert.rejects(
          db
            .updateTable('events')
            .set({ outcome: 'deny', score: 99 })
            .where('event_id', '=', 'frozen-1')
            .execute(),
          /append-only/,
        );
        await assert.rejects(
          db.deleteFrom('events').where('event_id', '=', 'frozen-1').execute(),
          /append-only/,
        );
        await assert.rejects(db.deleteFrom('events').execute(), /append-only/);
        await assert.rejects(sql`truncate events`.execute(db), /append-only/);
        const rows = await db
          .selectFrom('events')
          .select(['event_id', 'outcome', 'score'])
          .where('event_id', '=', 'frozen-1')
          .execute();
        assert.deepEqual(rows, [{ event_id: 'frozen-1', outcome: 'allow', score: 10 }]);
        assert.deepEqual(await under.storage.events.readAfter(seq - 1, 10), [stored(record, seq)]);
      });

      test('readAccount pages one account newest first with beforeSeq and limit', async () => {
        const { events } = storage;
        // Event time deliberately disagrees with arrival order: pages follow the log, not `at`.
        const records = [
          loginRecord('page-a1', 'page-a', 50 * minuteMs),
          loginRecord('page-b1', 'page-b', 0),
          loginRecord('page-a2', 'page-a', 10 * minuteMs),
          anonymousFailureRecord('page-x1', minuteMs),
          loginRecord('page-a3', 'page-a', 30 * minuteMs, 'challenge'),
          loginRecord('page-b2', 'page-b', minuteMs),
          loginRecord('page-a4', 'page-a', 0),
          loginRecord('page-a5', 'page-a', 5 * minuteMs),
        ];
        const seqs = await events.append(records, []);
        const expected = new Map(records.map((r, i) => [r.eventId, stored(r, seqs[i] ?? 0)]));
        const pick = (...ids: string[]) => ids.map((id) => expected.get(id));

        assert.deepEqual(
          await events.readAccount('page-a', { limit: 100 }),
          pick('page-a5', 'page-a4', 'page-a3', 'page-a2', 'page-a1'),
        );
        const page1 = await events.readAccount('page-a', { limit: 2 });
        assert.deepEqual(page1, pick('page-a5', 'page-a4'));
        const page2 = await events.readAccount('page-a', { beforeSeq: page1.at(-1)?.seq ?? 0, limit: 2 });
        assert.deepEqual(page2, pick('page-a3', 'page-a2'));
        const page3 = await events.readAccount('page-a', { beforeSeq: page2.at(-1)?.seq ?? 0, limit: 2 });
        assert.deepEqual(page3, pick('page-a1'));
        assert.deepEqual(
          await events.readAccount('page-a', { beforeSeq: page3.at(-1)?.seq ?? 0, limit: 2 }),
          [],
        );
        assert.deepEqual(
          await events.readAccount('page-b', { beforeSeq: expected.get('page-b2')?.seq ?? 0, limit: 10 }),
          pick('page-b1'),
        );
        assert.deepEqual(await events.readAccount('page-none', { limit: 10 }), []);
      });

      test('readDecisions pages every account newest first, narrowed by outcome, reason and account', async () => {
        const { events } = storage;
        const records = [
          loginRecord('dec-1', 'dec-acct-1', 0),
          loginRecord('dec-2', 'dec-acct-2', minuteMs, 'challenge'),
          anonymousFailureRecord('dec-3', 2 * minuteMs),
          loginRecord('dec-4', 'dec-acct-1', 3 * minuteMs, 'challenge'),
          loginRecord('dec-5', 'dec-acct-1', 4 * minuteMs),
        ];
        const seqs = await events.append(records, []);
        const all = records.map((r, i) => stored(r, seqs[i] ?? 0));
        // Bounded by the seq after the last record: other tests share this database.
        const beforeSeq = (seqs[4] ?? 0) + 1;
        const newestFirst = [...all].reverse();
        assert.deepEqual(await events.readDecisions({ beforeSeq, limit: 5 }), newestFirst);
        assert.deepEqual(await events.readDecisions({ beforeSeq, limit: 2 }), newestFirst.slice(0, 2));
        assert.deepEqual(
          await events.readDecisions({ beforeSeq: seqs[3] ?? 0, limit: 2 }),
          newestFirst.slice(2, 4),
        );
        assert.deepEqual(
          await events
            .readDecisions({ beforeSeq, limit: 10, decision: 'challenge' })
            .then((r) => r.slice(0, 2)),
          [all[3], all[1]],
        );
        assert.deepEqual(await events.readDecisions({ beforeSeq, limit: 10, accountId: 'dec-acct-1' }), [
          all[4],
          all[3],
          all[0],
        ]);
        assert.deepEqual(
          await events.readDecisions({
            beforeSeq,
            limit: 10,
            accountId: 'dec-acct-1',
            reasonCode: 'new_device',
          }),
          [all[3]],
        );
        assert.deepEqual(
          await events.readDecisions({ beforeSeq, limit: 10, accountId: 'dec-acct-1', decision: 'deny' }),
          [],
        );
      });

      test('readAfter answers the events after a seq, oldest first, up to the limit', async () => {
        const { events } = storage;
        const records = [
          loginRecord('after-1', 'after-acct-1', 0),
          anonymousFailureRecord('after-2', minuteMs),
          loginRecord('after-3', 'after-acct-2', -minuteMs),
          loginRecord('after-4', 'after-acct-1', 2 * minuteMs),
          loginRecord('after-5', 'after-acct-3', 3 * minuteMs),
        ];
        const seqs = await events.append(records, []);
        const all = records.map((r, i) => stored(r, seqs[i] ?? 0));
        assert.deepEqual(await events.readAfter((seqs[0] ?? 0) - 1, 100), all);
        assert.deepEqual(await events.readAfter(seqs[1] ?? 0, 2), all.slice(2, 4));
        assert.deepEqual(await events.readAfter(seqs[3] ?? 0, 100), all.slice(4));
        assert.deepEqual(await events.readAfter(seqs[4] ?? 0, 100), []);
      });
    });

    describe('ConsoleStore', () => {
      const analyst = (analystId: string, name: string): AnalystRecord => ({
        analystId,
        name,
        role: 'admin',
        passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
        totpSecret: 'JBSWY3DPEHPK3PXP',
        createdAtMs: baseMs,
        disabledAtMs: undefined,
      });

      test('analysts: names are unique; a TOTP step is used once and never an older one', async () => {
        const store = storage.console;
        const before = await store.countAnalysts();
        assert.equal(await store.insertAnalyst(analyst('an-1', 'ana')), 'created');
        assert.equal(await store.insertAnalyst(analyst('an-2', 'ana')), 'name_taken');
        assert.deepEqual(await store.findAnalystByName('ana'), analyst('an-1', 'ana'));
        assert.deepEqual(await store.findAnalyst('an-1'), analyst('an-1', 'ana'));
        assert.equal(await store.findAnalyst('an-2'), undefined);
        assert.equal(await store.countAnalysts(), before + 1);
        assert.equal(await store.useTotpStep('an-1', 100), true);
        assert.equal(await store.useTotpStep('an-1', 100), false);
        assert.equal(await store.useTotpStep('an-1', 99), false);
        assert.equal(await store.useTotpStep('an-1', 101), true);
      });

      test('sessions round-trip, are touched and ended; link nonces are spent once', async () => {
        const store = storage.console;
        const session: ConsoleSessionRecord = {
          tokenHash: 'hash-session-1',
          kind: 'shopper',
          subjectId: 'acct-9',
          createdAtMs: baseMs,
          lastSeenAtMs: baseMs,
          expiresAtMs: baseMs + 60 * minuteMs,
          endedAtMs: undefined,
        };
        await store.insertSession(session);
        assert.deepEqual(await store.findSession('hash-session-1'), session);
        await store.touchSession('hash-session-1', baseMs + minuteMs);
        await store.endSession('hash-session-1', baseMs + 2 * minuteMs);
        await store.endSession('hash-session-1', baseMs + 3 * minuteMs);
        assert.deepEqual(await store.findSession('hash-session-1'), {
          ...session,
          lastSeenAtMs: baseMs + minuteMs,
          endedAtMs: baseMs + 2 * minuteMs,
        });
        assert.equal(await store.findSession('hash-none'), undefined);
        assert.equal(await store.useLinkNonce('nonce-1', 'acct-9', baseMs), true);
        assert.equal(await store.useLinkNonce('nonce-1', 'acct-9', baseMs), false);
      });

      test('the audit log pages newest first and refuses changes', async () => {
        // On the database the test can also reach with raw SQL.
        const store = under.storage.console;
        const entry = (action: string): AuditEntry => ({
          atMs: baseMs,
          actorKind: 'analyst',
          actorId: 'an-1',
          action,
          target: 'acct-1',
          outcome: 'ok',
          ip: '127.0.0.1',
          detail: { status: 200 },
        });
        await store.appendAudit([entry('first'), entry('second'), entry('third')]);
        const page = await store.readAudit({ limit: 2 });
        assert.deepEqual(
          page.map((e) => e.action),
          ['third', 'second'],
        );
        assert.deepEqual(page[0], { ...entry('third'), seq: page[0]?.seq });
        const next = await store.readAudit({ beforeSeq: page[1]?.seq ?? 0, limit: 1 });
        assert.deepEqual(
          next.map((e) => e.action),
          ['first'],
        );
        await assert.rejects(
          sql`update console_audit set action = 'changed'`.execute(under.db),
          /append-only/,
        );
        await assert.rejects(sql`delete from console_audit`.execute(under.db), /append-only/);
      });
    });

    describe('StateStore', () => {
      test('a checkpoint round-trips accounts, series and its seq; ids never written are absent', async () => {
        const { state } = under.storage;
        // This store's first checkpoint is written here.
        assert.equal(await state.readCheckpointSeq(), 0);
        assert.deepEqual(await state.loadAccounts(['rt-1']), []);
        assert.deepEqual(await state.loadSeries(['rt:order']), []);

        const full = accountState(
          'rt-1',
          [device('dev-home'), device('dev-old', { trusted: false, seenCount: 1 })],
          [session('s-1', 'id:dev-home')],
          { openCaseId: 'case-1' },
        );
        // The fewest fields an account can have.
        const bare: AccountState = {
          accountId: 'rt-2',
          firstSeenAt: baseMs,
          lastSeenAt: baseMs,
          eventCount: 1,
          risk: 0,
          devices: [
            {
              key: 'ua:abc',
              userAgent: 'curl/8.0',
              firstSeenAt: baseMs,
              lastSeenAt: baseMs,
              seenCount: 1,
              trusted: true,
            },
          ],
          networks: [],
          sessions: [],
          pendingChallenges: [],
        };
        const series: SeriesRecord[] = [
          { key: 'rt:fail', snapshot: { t: [baseMs, baseMs + 1], v: [1, 1], k: ['rt-1', null] } },
          { key: 'rt:order', snapshot: { t: [baseMs], v: [5000], droppedUpToMs: baseMs - 1 } },
        ];
        await state.writeCheckpoint({ seq: 42, accounts: [full, bare], series });

        assert.equal(await state.readCheckpointSeq(), 42);
        const loaded = await state.loadAccounts(['rt-2', 'rt-missing', 'rt-1']);
        assert.deepEqual(loaded.sort(byAccountId), [full, bare]);
        assert.deepEqual(await state.loadAccounts([]), []);
        assert.deepEqual(await state.loadAccounts(['rt-missing']), []);
        const loadedSeries = await state.loadSeries(['rt:order', 'rt:missing', 'rt:fail']);
        assert.deepEqual(loadedSeries.sort(byKey), series);
        assert.deepEqual(await state.loadSeries([]), []);
        assert.deepEqual(await state.loadSeries(['rt:missing']), []);
      });

      test('property: batchReads answers what findByIds, loadAccounts and loadSeries answer', async () => {
        const { batchReads } = storage;
        const ids = ['br-e1', 'br-e2', 'br-e3'];
        await storage.events.append(
          [loginRecord(ids[0] ?? '', 'br-1', 0), loginRecord(ids[1] ?? '', 'br-2', minuteMs, 'challenge')],
          [],
        );
        await storage.state.writeCheckpoint({
          seq: 1,
          accounts: [accountState('br-1', [device('dev-br')], []), accountState('br-2', [], [])],
          series: [
            { key: 'br:a', snapshot: { t: [baseMs], v: [1], k: ['br-1'] } },
            { key: 'br:b', snapshot: { t: [baseMs, baseMs + 5], v: [2, 3] } },
          ],
        });
        const accountIds = ['br-1', 'br-2', 'br-none'];
        const seriesKeys = ['br:a', 'br:b', 'br:none'];
        const pick = (items: readonly string[]) => fc.subarray([...items]);
        await fc.assert(
          fc.asyncProperty(
            pick([...ids, 'br-e-none']),
            pick(accountIds),
            pick(seriesKeys),
            async (eventIds, someAccounts, someKeys) => {
              const read = await batchReads.read({
                eventIds,
                accountIds: someAccounts,
                seriesKeys: someKeys,
              });
              assert.deepEqual(read.outcomes, await storage.events.findByIds(eventIds));
              assert.deepEqual(
                read.accounts.sort(byAccountId),
                (await storage.state.loadAccounts(someAccounts)).sort(byAccountId),
              );
              assert.deepEqual(
                read.series.sort(byKey),
                (await storage.state.loadSeries(someKeys)).sort(byKey),
              );
            },
          ),
          propertyParams(25),
        );
        // More keys than one array parameter takes: read in parts, the same answer.
        const many = Array.from({ length: 5001 }, (_u, i) => `br:many:${String(i)}`);
        const large = await batchReads.read({
          eventIds: ['br-e2'],
          accountIds: ['br-2'],
          seriesKeys: [...many, 'br:b'],
        });
        assert.deepEqual([...large.outcomes.keys()], ['br-e2']);
        assert.deepEqual(
          large.accounts.map((a) => a.accountId),
          ['br-2'],
        );
        assert.deepEqual(
          large.series.map((r) => r.key),
          ['br:b'],
        );
      });

      test('a second checkpoint replaces the state, the series and the device and session rows', async () => {
        const { storage: withDb, db } = under;
        const { state } = withDb;
        const firstA = accountState(
          'ckpt-a',
          [device('dev-home'), device('dev-old', { trusted: false })],
          [session('s-1', 'id:dev-home'), session('s-2', 'id:dev-old')],
        );
        const b = accountState('ckpt-b', [device('dev-b')], [session('s-b', 'id:dev-b', '2001:db8::1')]);
        await state.writeCheckpoint({
          seq: 100,
          accounts: [firstA, b],
          series: [
            { key: 'ckpt:1', snapshot: { t: [1, 2], v: [1, 1] } },
            { key: 'ckpt:2', snapshot: { t: [5], v: [7] } },
          ],
        });

        const secondA = accountState(
          'ckpt-a',
          [
            device('dev-home', { seenCount: 9, lastSeenAt: baseMs + 9 * minuteMs }),
            device('dev-new', { trusted: false }),
          ],
          [],
          { eventCount: 12, risk: 65, openCaseId: 'case-a' },
        );
        await state.writeCheckpoint({
          seq: 125,
          accounts: [secondA],
          series: [{ key: 'ckpt:1', snapshot: { t: [2, 3], v: [1, 4], k: [null, 'x'] } }],
        });

        assert.equal(await state.readCheckpointSeq(), 125);
        assert.deepEqual((await state.loadAccounts(['ckpt-a', 'ckpt-b'])).sort(byAccountId), [secondA, b]);
        assert.deepEqual((await state.loadSeries(['ckpt:1', 'ckpt:2'])).sort(byKey), [
          { key: 'ckpt:1', snapshot: { t: [2, 3], v: [1, 4], k: [null, 'x'] } },
          { key: 'ckpt:2', snapshot: { t: [5], v: [7] } },
        ]);

        const ours = ['ckpt-a', 'ckpt-b'];
        const deviceRows = await db
          .selectFrom('devices')
          .selectAll()
          .where('account_id', 'in', ours)
          .orderBy('account_id')
          .orderBy('device_key')
          .execute();
        assert.deepEqual(
          deviceRows.map((row) => ({
            accountId: row.account_id,
            key: row.device_key,
            deviceId: row.device_id,
            userAgent: row.user_agent,
            firstSeenAt: row.first_seen_at.getTime(),
            lastSeenAt: row.last_seen_at.getTime(),
            seenCount: row.seen_count,
            trusted: row.trusted,
          })),
          [
            ...secondA.devices.map((d) => ({ accountId: 'ckpt-a', ...d })),
            ...b.devices.map((d) => ({ accountId: 'ckpt-b', ...d })),
          ].sort((x, y) => `${x.accountId} ${x.key}`.localeCompare(`${y.accountId} ${y.key}`)),
        );
        const sessionRows = await db
          .selectFrom('sessions')
          .selectAll()
          .where('account_id', 'in', ours)
          .orderBy('account_id')
          .orderBy('session_id')
          .execute();
        assert.deepEqual(
          sessionRows.map((row) => ({
            accountId: row.account_id,
            sessionId: row.session_id,
            issuedAt: row.issued_at.getTime(),
            lastSeenAt: row.last_seen_at.getTime(),
            ip: row.ip,
            deviceKey: row.device_key,
          })),
          b.sessions.map((s) => ({ accountId: 'ckpt-b', ...s })),
        );
        const accountRows = await db
          .selectFrom('accounts')
          .select(['account_id', 'risk', 'open_case_id'])
          .where('account_id', 'in', ours)
          .orderBy('account_id')
          .execute();
        assert.deepEqual(accountRows, [
          { account_id: 'ckpt-a', risk: 65, open_case_id: 'case-a' },
          { account_id: 'ckpt-b', risk: 40, open_case_id: null },
        ]);
      });
    });

    describe('CaseStore', () => {
      test('a case opened with its event is found by id and as the account’s open case', async () => {
        const { events, cases } = storage;
        assert.equal(await cases.get('found-case-1'), undefined);
        assert.equal(await cases.openForAccount('found-acct-1'), undefined);
        const withSince = openCase('found-case-1', 'found-acct-1', 'found-1', baseMs - 3 * 86_400_000);
        const withoutSince = openCase('found-case-2', 'found-acct-2', 'found-2');
        await events.append(
          [
            compromisedRecord('found-1', 'found-acct-1', 0, 'found-case-1'),
            compromisedRecord('found-2', 'found-acct-2', 0, 'found-case-2'),
          ],
          [withSince, withoutSince],
        );
        assert.deepEqual(await cases.get('found-case-1'), withSince);
        assert.deepEqual(await cases.get('found-case-2'), withoutSince);
        assert.deepEqual(await cases.openForAccount('found-acct-1'), withSince);
        assert.deepEqual(await cases.openForAccount('found-acct-2'), withoutSince);
        assert.equal(await cases.openForAccount('found-acct-3'), undefined);
        assert.equal(await cases.get('found-case-3'), undefined);
      });

      test('the database keeps at most one open case per account', async () => {
        const { events, cases } = storage;
        const first = openCase('one-case-1', 'one-acct-1', 'one-1');
        await events.append([compromisedRecord('one-1', 'one-acct-1', 0, 'one-case-1')], [first]);

        // A second open case for the account fails, and takes its event with it.
        await assert.rejects(
          events.append(
            [compromisedRecord('one-2', 'one-acct-1', minuteMs, 'one-case-2')],
            [openCase('one-case-2', 'one-acct-1', 'one-2')],
          ),
        );
        assert.equal(await cases.get('one-case-2'), undefined);
        assert.equal((await events.findByIds(['one-2'])).size, 0);
        assert.deepEqual(await cases.openForAccount('one-acct-1'), first);

        // Cases that are not open do not count, nor do other accounts' cases.
        const closed: CaseRecord = { ...openCase('one-case-0', 'one-acct-1', 'one-0'), status: 'closed' };
        await events.append([compromisedRecord('one-0', 'one-acct-1', -minuteMs, 'one-case-0')], [closed]);
        const other = openCase('one-case-3', 'one-acct-2', 'one-3');
        await events.append([compromisedRecord('one-3', 'one-acct-2', 0, 'one-case-3')], [other]);
        assert.deepEqual(await cases.get('one-case-0'), closed);
        assert.deepEqual(await cases.openForAccount('one-acct-1'), first);
        assert.deepEqual(await cases.openForAccount('one-acct-2'), other);
      });
    });

    describe('ApiKeyStore', () => {
      test('keys round-trip; revoked keys are not counted as active', async () => {
        const { apiKeys } = storage;
        await storage.ping();
        const activeBefore = await apiKeys.countActive();
        const keys: ApiKeyRecord[] = [
          {
            keyId: 'key-1',
            name: 'store',
            secretHash: 'a'.repeat(64),
            createdAtMs: baseMs,
            revokedAtMs: undefined,
          },
          {
            keyId: 'key-2',
            name: 'old',
            secretHash: 'b'.repeat(64),
            createdAtMs: baseMs,
            revokedAtMs: baseMs + minuteMs,
          },
          {
            keyId: 'key-3',
            name: 'ci',
            secretHash: 'c'.repeat(64),
            createdAtMs: baseMs + 1,
            revokedAtMs: undefined,
          },
        ];
        for (const key of keys) await apiKeys.insert(key);
        for (const key of keys) assert.deepEqual(await apiKeys.find(key.keyId), key);
        assert.equal(await apiKeys.find('key-missing'), undefined);
        assert.equal(await apiKeys.countActive(), activeBefore + 2);

        const [active] = keys;
        assert.ok(active !== undefined);
        await assert.rejects(apiKeys.insert({ ...active, name: 'again' }));
        assert.deepEqual(await apiKeys.find('key-1'), active);
        assert.equal(await apiKeys.countActive(), activeBefore + 2);
      });
    });
  });
}

for (const backend of backends()) runStorageSuite(backend);
