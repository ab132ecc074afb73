import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { BulwarkEvent } from '@bulwark/contracts';
import fc from 'fast-check';
import { sql } from 'kysely';
import type { NatsConnection } from 'nats';
import { connectNats, JetStreamEventStream } from '../src/adapters/nats/jetstream-event-stream.ts';
import { PostgresPartitionLeases } from '../src/adapters/db/partition-leases.ts';
import { parseClusterMessage, StreamPersister, type PersistedBatch } from '../src/cluster/persister.ts';
import type { ClusterMessage } from '../src/cluster/ports.ts';
import type { AccountState } from '../src/risk/domain/state.ts';
import type { CaseRecord, EventRecord } from '../src/storage/ports.ts';
import { MemoryEventStream } from '../src/stream/memory-event-stream.ts';
import { partitionOf, type EventStream } from '../src/stream/port.ts';
import pg from 'pg';
import {
  backends,
  freshDatabase,
  postgresAdminUrl,
  type Backend,
  type StorageWithDatabase,
} from './helpers/backends.ts';
import { loggedRecord } from './helpers/log-records.ts';
import { until } from './helpers/event-stream-suite.ts';
import { propertyParams } from './helpers/fast-check.ts';

/**
 * The worker side of cluster mode: the idempotent write (`EventLog.appendDecided`) on PGlite and
 * PostgreSQL, and `StreamPersister` over the in-process stream with PGlite and over NATS
 * JetStream with PostgreSQL (the production pair).
 */

const natsUrl = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const baseMs = Date.parse('2026-11-26T09:00:00Z');

function record(eventId: string, accountId: string, offsetMs: number): EventRecord {
  const atMs = baseMs + offsetMs;
  const event: BulwarkEvent = {
    id: eventId,
    type: 'login.succeeded',
    at: new Date(atMs).toISOString(),
    accountId,
    context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Macintosh)', deviceId: 'dev-home' },
    method: 'password',
  };
  return loggedRecord(event, { eventId, accountId, decision: 'allow', score: 10, reasons: [] }, atMs, {
    receivedAtMs: atMs + 3,
    decidedAtMs: atMs + 5,
    contentHash: `hash-${eventId}`,
    policyVersion: 'baseline-1',
  });
}

function accountState(accountId: string, eventCount: number): AccountState {
  return {
    accountId,
    firstSeenAt: baseMs,
    lastSeenAt: baseMs + eventCount * 1000,
    eventCount,
    risk: eventCount % 100,
    devices: [],
    networks: [],
    sessions: [],
    pendingChallenges: [],
  };
}

function openedCase(caseId: string, accountId: string, eventId: string): CaseRecord {
  return {
    caseId,
    accountId,
    status: 'open',
    reportedBy: 'owner',
    openedAtMs: baseMs,
    sinceMs: baseMs - 3_600_000,
    openedByEventId: eventId,
    run: { playbook: 'ato-lockdown' },
  };
}

/** A message as an API node publishes it: the record, the account's state after it (version n). */
function message(
  eventId: string,
  accountId: string,
  version: number,
  extra: Partial<ClusterMessage> = {},
): ClusterMessage {
  return {
    v: 1,
    record: record(eventId, accountId, version * 1000),
    account: { state: accountState(accountId, version), version },
    ...extra,
  };
}

async function publish(stream: EventStream, messages: readonly ClusterMessage[]): Promise<void> {
  for (const m of messages)
    await stream.publish({
      eventId: m.record.eventId,
      accountId: m.record.accountId ?? m.record.eventId,
      body: m,
    });
}

async function countRows(
  under: StorageWithDatabase,
  table: 'events' | 'containment_runs' | 'cases',
  where: string,
): Promise<number> {
  const column = table === 'events' ? 'event_id' : table === 'cases' ? 'case_id' : 'run_id';
  const { rows } = await sql<{
    n: string | number;
  }>`select count(*) as n from ${sql.table(table)} where ${sql.ref(column)} like ${where}`.execute(under.db);
  return Number(rows[0]?.n ?? 0);
}

async function storedVersion(
  under: StorageWithDatabase,
  accountId: string,
): Promise<{ version: number; eventCount: number } | undefined> {
  const row = await under.db
    .selectFrom('accounts')
    .select(['version', 'state'])
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return { version: Number(row.version), eventCount: (JSON.parse(row.state) as AccountState).eventCount };
}

for (const backend of backends()) {
  describe(`EventLog.appendDecided on ${backend}`, () => {
    const opened: StorageWithDatabase[] = [];
    const fresh = async (): Promise<StorageWithDatabase> => {
      const under = await freshDatabase(backend);
      opened.push(under);
      return under;
    };
    after(async () => {
      for (const under of opened) await under.close();
    });

    test('skips records already stored (or repeated in the call) and answers the new ones', async () => {
      const under = await fresh();
      const { events } = under.storage;
      const first = await events.appendDecided([record('d-1', 'a-1', 0), record('d-2', 'a-1', 1)], [], []);
      assert.deepEqual([...first.appended.keys()], ['d-1', 'd-2']);
      const second = await events.appendDecided(
        [record('d-2', 'a-1', 1), record('d-3', 'a-1', 2), record('d-3', 'a-1', 2), record('d-4', 'a-2', 3)],
        [],
        [],
      );
      assert.deepEqual([...second.appended.keys()].sort(), ['d-3', 'd-4']);
      const seqs = [...first.appended.values(), ...second.appended.values()];
      assert.deepEqual(
        [...seqs].sort((a, b) => a - b),
        seqs,
        'sequence numbers increase in record order',
      );
      const log = await events.readAfter(0, 10);
      assert.deepEqual(
        log.map((e) => e.eventId),
        ['d-1', 'd-2', 'd-3', 'd-4'],
      );
      assert.deepEqual(log[1], { ...record('d-2', 'a-1', 1), seq: first.appended.get('d-2') });
    });

    test('a case stored again starts no second run; a second open case of an account is skipped, its event kept', async () => {
      const under = await fresh();
      const { events } = under.storage;
      const opening = record('c-1', 'acct-c', 0);
      const theCase = openedCase('case-c-1', 'acct-c', 'c-1');
      const first = await events.appendDecided([opening], [theCase], []);
      assert.deepEqual(first.openedCases, ['case-c-1']);
      const steps = await countSteps(under, 'run_case-c-1');
      assert.ok(steps > 0, 'the run was planned');
      const again = await events.appendDecided([opening], [theCase], []);
      assert.deepEqual(again, { appended: new Map(), openedCases: [], updatedAccounts: [] });
      assert.equal(await countRows(under, 'containment_runs', 'run_case-c-1'), 1);
      assert.equal(await countSteps(under, 'run_case-c-1'), steps, 'no step planned twice');

      const other = await events.appendDecided(
        [record('c-2', 'acct-c', 1)],
        [openedCase('case-c-2', 'acct-c', 'c-2')],
        [],
      );
      assert.deepEqual([...other.appended.keys()], ['c-2']);
      assert.deepEqual(other.openedCases, []);
      assert.equal(await countRows(under, 'cases', 'case-c-2'), 0);
      assert.equal(await countRows(under, 'containment_runs', 'run_case-c-2'), 0);
    });

    test('an account keeps the newest version whatever order the writes come in (property)', async () => {
      const under = await fresh();
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 40 })), {
            minLength: 1,
            maxLength: 30,
          }),
          fc.integer({ min: 1, max: 8 }),
          async (writes, perCall) => {
            run += 1;
            const id = (n: number): string => `prop-${String(run)}-${String(n)}`;
            const states = writes.map(([account, version]) => ({
              state: accountState(id(account), version),
              version,
            }));
            for (let i = 0; i < states.length; i += perCall)
              await under.storage.events.appendDecided([], [], states.slice(i, i + perCall));
            for (const account of [0, 1, 2]) {
              const versions = writes.filter(([a]) => a === account).map(([, v]) => v);
              const stored = await storedVersion(under, id(account));
              if (versions.length === 0) assert.equal(stored, undefined);
              else
                assert.deepEqual(stored, {
                  version: Math.max(...versions),
                  eventCount: Math.max(...versions),
                });
            }
          },
        ),
        propertyParams(25),
      );
    });

    test('a state written by a single-node checkpoint (no version) is replaced by a versioned one', async () => {
      const under = await fresh();
      await under.storage.state.writeCheckpoint({ seq: 1, accounts: [accountState('cp-1', 9)], series: [] });
      const written = await under.storage.events.appendDecided(
        [],
        [],
        [{ state: accountState('cp-1', 2), version: 1 }],
      );
      assert.deepEqual(written.updatedAccounts, ['cp-1']);
      assert.deepEqual(await storedVersion(under, 'cp-1'), { version: 1, eventCount: 2 });
      const [loaded] = await under.storage.state.loadAccounts(['cp-1']);
      assert.deepEqual(loaded, accountState('cp-1', 2));
    });
  });
}

async function countSteps(under: StorageWithDatabase, runId: string): Promise<number> {
  const row = await under.db
    .selectFrom('containment_steps')
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where('run_id', '=', runId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

test('parseClusterMessage names the field at fault', () => {
  const good = message('p-1', 'acct-p', 1);
  assert.deepEqual(parseClusterMessage({ eventId: 'p-1', accountId: 'acct-p', body: good }), good);
  const bad: [unknown, string][] = [
    ['text', 'body'],
    [{ ...good, v: 2 }, 'v'],
    [{ ...good, record: { ...good.record, atMs: 'soon' } }, 'record.atMs'],
    [{ ...good, record: { ...good.record, eventId: 'p-2' } }, 'record.eventId'],
    [{ ...good, account: { state: good.account?.state, version: 0 } }, 'account.version'],
    [{ ...good, openedCase: { caseId: 'x' } }, 'openedCase.accountId'],
    [{ ...good, degraded: false }, 'degraded'],
  ];
  for (const [body, field] of bad)
    assert.throws(
      () => parseClusterMessage({ eventId: 'p-1', accountId: 'acct-p', body }),
      (error: unknown) => {
        assert.ok(error instanceof Error && 'field' in error && 'code' in error);
        assert.equal(error.field, field);
        assert.equal(error.code, 'INVALID_EVENT');
        return true;
      },
    );
});

/** A stream and a database for the persister, and what the stream dead-lettered. */
interface World {
  readonly stream: EventStream;
  readonly under: StorageWithDatabase;
  deadLetterReasons(): Promise<string[]>;
}

interface WorldFactory {
  readonly name: string;
  open(): Promise<World>;
  cleanup(): Promise<void>;
}

const streamOptions = { partitions: 4, deliveriesMax: 3, retryDelayMs: 20 };

const memoryWorlds: WorldFactory = (() => {
  const opened: StorageWithDatabase[] = [];
  return {
    name: 'in-process stream + PGlite',
    open: async () => {
      const under = await freshDatabase('pglite');
      opened.push(under);
      const stream = new MemoryEventStream(streamOptions);
      return {
        stream,
        under,
        deadLetterReasons: () => Promise.resolve(stream.deadLetters().map((d) => d.reason)),
      };
    },
    cleanup: async () => {
      for (const under of opened) await under.close();
    },
  };
})();

/** JetStream streams and subjects of their own, so runs sharing the server never collide. */
function jetStreamOptions(): Parameters<typeof JetStreamEventStream.open>[1] {
  const id = `${String(process.pid)}_${randomUUID().slice(0, 8)}`;
  return {
    stream: `BULWARK_PERSIST_${id}`,
    subjectPrefix: `bulwark-persist.${id}`,
    ackWaitMs: 1_000,
    pullWaitMs: 1_000,
    ...streamOptions,
  };
}

const jetStreamWorlds: WorldFactory = (() => {
  const opened: StorageWithDatabase[] = [];
  const connections: NatsConnection[] = [];
  const streams: JetStreamEventStream[] = [];
  return {
    name: 'NATS JetStream + PostgreSQL',
    open: async () => {
      const under = await freshDatabase('postgres');
      opened.push(under);
      const connection = await connectNats(natsUrl, 'bulwark-test');
      connections.push(connection);
      const stream = await JetStreamEventStream.open(connection, jetStreamOptions());
      streams.push(stream);
      return {
        stream,
        under,
        deadLetterReasons: async () => (await stream.deadLetters()).map((d) => d.reason),
      };
    },
    cleanup: async () => {
      for (const stream of streams) await stream.destroy();
      for (const connection of connections) await connection.close();
      for (const under of opened) await under.close();
    },
  };
})();

const worlds = backends().includes('postgres') ? [memoryWorlds, jetStreamWorlds] : [memoryWorlds];

/** Messages for `accounts` accounts, `perAccount` each, interleaved; every seventh opens a case. */
function traffic(prefix: string, accounts: number, perAccount: number): ClusterMessage[] {
  const out: ClusterMessage[] = [];
  for (let n = 1; n <= perAccount; n += 1) {
    for (let a = 0; a < accounts; a += 1) {
      const accountId = `${prefix}-acct-${String(a)}`;
      const eventId = `${prefix}-${String(a)}-${String(n)}`;
      const opens = n === 3 && a % 7 === 0;
      out.push(
        message(
          eventId,
          accountId,
          n,
          opens ? { openedCase: openedCase(`${prefix}-case-${String(a)}`, accountId, eventId) } : {},
        ),
      );
    }
  }
  return out;
}

/** Every message stored once, each account's events in publish order, each case with one run, newest states. */
async function assertPersisted(
  under: StorageWithDatabase,
  prefix: string,
  messages: readonly ClusterMessage[],
): Promise<void> {
  assert.equal(await countRows(under, 'events', `${prefix}-%`), messages.length, 'each event stored once');
  const byAccount = new Map<string, string[]>();
  for (const m of messages) {
    const accountId = m.record.accountId ?? '';
    byAccount.set(accountId, [...(byAccount.get(accountId) ?? []), m.record.eventId]);
  }
  for (const [accountId, ids] of byAccount) {
    const log = await under.storage.events.readAccount(accountId, { limit: 1000 });
    assert.deepEqual(log.map((e) => e.eventId).reverse(), ids, `${accountId} in publish order`);
    assert.equal((await storedVersion(under, accountId))?.version, ids.length, `${accountId} newest state`);
  }
  const cases = messages.flatMap((m) => (m.openedCase === undefined ? [] : [m.openedCase.caseId]));
  assert.equal(await countRows(under, 'cases', `${prefix}-case-%`), cases.length);
  assert.equal(
    await countRows(under, 'containment_runs', `run_${prefix}-case-%`),
    cases.length,
    'one run per case',
  );
}

const noDegraded = (): Promise<void> => Promise.reject(new Error('no degraded message was sent'));

for (const factory of worlds) {
  describe(`StreamPersister: ${factory.name}`, () => {
    after(() => factory.cleanup());

    test('persists every message once, in each account order, under repeated publishes and redelivery after commit', async () => {
      const world = await factory.open();
      const messages = traffic('rd', 12, 10);
      await publish(world.stream, messages);
      await publish(world.stream, messages.slice(0, 40)); // repeated publishes: stored once by the stream
      let failures = 0;
      let batches = 0;
      const persister = new StreamPersister({
        stream: world.stream,
        events: world.under.storage.events,
        batchMax: 16,
        applyDegraded: noDegraded,
        onError: () => {
          failures += 1;
        },
        onBatch: () => {
          batches += 1;
          // Every third batch "crashes" after its commit, before its acknowledgement.
          if (batches % 3 === 0) throw new Error('lost after commit');
        },
      });
      persister.start();
      await until(
        async () => (await countRows(world.under, 'events', 'rd-%')) >= messages.length,
        'every event',
      );
      await until(
        () => persister.stats().messages - persister.stats().duplicates >= messages.length,
        'the last commit',
      );
      await persister.stop();
      assert.ok(failures > 0, 'some batches came again');
      assert.ok(persister.stats().duplicates > 0, 'redelivered records were skipped');
      await assertPersisted(world.under, 'rd', messages);
    });

    test('states that arrive out of order keep the newest version', async () => {
      const world = await factory.open();
      // Versions 5, 3, 4, 1, 2 of one account, in that order on its partition.
      const messages = [5, 3, 4, 1, 2].map((v) => message(`oo-${String(v)}`, 'oo-acct', v));
      await publish(world.stream, messages);
      const persister = new StreamPersister({
        stream: world.stream,
        events: world.under.storage.events,
        batchMax: 2,
        applyDegraded: noDegraded,
      });
      persister.start();
      await until(() => persister.stats().appended >= 5, 'every event');
      await persister.stop();
      assert.deepEqual(await storedVersion(world.under, 'oo-acct'), { version: 5, eventCount: 5 });
      assert.equal(persister.stats().accountsUpdated, 1, 'only the first, newest state was written');
    });

    test('a malformed message is dead-lettered with its reason while the next one is persisted', async () => {
      const world = await factory.open();
      await publish(world.stream, [message('mf-1', 'mf-acct', 1)]);
      await world.stream.publish({
        eventId: 'mf-bad',
        accountId: 'mf-acct',
        body: { v: 1, record: { eventId: 'mf-bad' } },
      });
      await publish(world.stream, [message('mf-2', 'mf-acct', 2)]);
      const errors: unknown[] = [];
      const persister = new StreamPersister({
        stream: world.stream,
        events: world.under.storage.events,
        batchMax: 8,
        applyDegraded: noDegraded,
        onError: (error) => errors.push(error),
      });
      persister.start();
      await until(async () => (await world.deadLetterReasons()).length >= 1, 'the dead letter');
      await until(() => persister.stats().appended >= 2, 'the next message');
      await persister.stop();
      assert.deepEqual(await world.deadLetterReasons(), [
        'malformed cluster message: record.decision must be an object',
      ]);
      const log = await world.under.storage.events.readAccount('mf-acct', { limit: 10 });
      assert.deepEqual(
        log.map((e) => e.eventId),
        ['mf-2', 'mf-1'],
      );
      assert.ok(errors.length >= 3, 'the batch, then the message alone until it was given up');
    });

    test('a batch the database refuses fails alone: batches written together with it are stored', async () => {
      const world = await factory.open();
      // Four accounts over the partitions, and one record the database refuses (the score does
      // not fit its smallint column) on the first account, between two good ones.
      const good = [0, 1, 2, 3].flatMap((a) =>
        [1, 2, 3].map((n) => message(`gw-${String(a)}-${String(n)}`, `gw-acct-${String(a)}`, n)),
      );
      const bad = message('gw-bad', 'gw-acct-0', 9);
      bad.record.decision = { ...bad.record.decision, score: 70_000 };
      const messages = [...good.slice(0, 6), bad, ...good.slice(6)];
      await publish(world.stream, messages);
      const failedPartitions = new Set<number>();
      const persister = new StreamPersister({
        stream: world.stream,
        events: world.under.storage.events,
        batchMax: 8,
        applyDegraded: noDegraded,
        onError: (_error, partition) => failedPartitions.add(partition),
      });
      persister.start();
      await until(async () => (await world.deadLetterReasons()).length >= 1, 'the dead letter');
      await until(() => persister.stats().appended >= good.length, 'every good message');
      await persister.stop();
      const [reason] = await world.deadLetterReasons();
      assert.match(reason ?? '', /smallint/);
      assert.equal(await countRows(world.under, 'events', 'gw-bad'), 0);
      assert.deepEqual(
        [...failedPartitions],
        [partitionOf('gw-acct-0', streamOptions.partitions)],
        'no other partition saw a failure',
      );
      await assertPersisted(world.under, 'gw', good);
    });

    test('degraded messages reach applyDegraded before they are persisted; a failure there brings them again', async () => {
      const world = await factory.open();
      const messages = [
        message('dg-1', 'dg-acct', 1),
        { v: 1, record: record('dg-2', 'dg-acct', 2000), degraded: true } satisfies ClusterMessage,
        message('dg-3', 'dg-acct', 3),
        { v: 1, record: record('dg-4', 'dg-other', 4000), degraded: true } satisfies ClusterMessage,
      ];
      await publish(world.stream, messages);
      const calls: { ids: string[]; storedBefore: number }[] = [];
      const persister = new StreamPersister({
        stream: world.stream,
        events: world.under.storage.events,
        batchMax: 8,
        applyDegraded: async (degraded) => {
          const ids = degraded.map((m) => m.record.eventId);
          calls.push({ ids, storedBefore: await countRows(world.under, 'events', ids[0] ?? '') });
          // The shared state is away the first time.
          if (calls.length === 1) throw new Error('shared state unreachable');
        },
      });
      persister.start();
      await until(() => persister.stats().appended >= 4, 'every event');
      await persister.stop();
      assert.ok(
        calls.every((c) => c.storedBefore === 0),
        'applied before persisting',
      );
      assert.deepEqual(
        new Set(calls.flatMap((c) => c.ids)),
        new Set(['dg-2', 'dg-4']),
        'only the degraded ones',
      );
      assert.ok(calls.length >= 2, 'the failed call came again');
      assert.equal(persister.stats().degraded, 2);
      assert.equal(await countRows(world.under, 'events', 'dg-%'), 4);
    });

    test('stop drains: the batch in hand is written and acknowledged, nothing more is taken', async () => {
      const world = await factory.open();
      const messages = Array.from({ length: 20 }, (_, i) => message(`st-${String(i)}`, 'st-acct', i + 1));
      await publish(world.stream, messages);
      let release: (() => void) | undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const seen: PersistedBatch[] = [];
      const first = new StreamPersister({
        stream: world.stream,
        events: world.under.storage.events,
        batchMax: 5,
        applyDegraded: noDegraded,
        onBatch: (batch) => {
          seen.push(batch);
        },
      });
      // Held inside the first write: the batch is in hand when stop() is called.
      // The consumer hands over what has arrived (JetStream delivers events one by one), so the
      // batch in hand may be smaller than batchMax: count what the held write was given.
      let inHand = 0;
      let writes = 0;
      const slow = new StreamPersister({
        stream: world.stream,
        events: {
          appendDecided: async (...args) => {
            writes += 1;
            inHand += args[0].length;
            await held;
            return world.under.storage.events.appendDecided(...args);
          },
        },
        batchMax: 5,
        applyDegraded: noDegraded,
      });
      slow.start();
      await until(() => inHand > 0, 'the first batch in hand');
      const stopping = slow.stop();
      release?.();
      await stopping;
      assert.equal(writes, 1, 'one batch written after stop()');
      assert.ok(inHand >= 1 && inHand <= 5, `a batch of at most batchMax (was ${String(inHand)})`);
      assert.equal(await countRows(world.under, 'events', 'st-%'), inHand, 'the batch in hand, nothing more');
      first.start();
      await until(() => seen.reduce((n, b) => n + b.messages, 0) >= 20 - inHand, 'the rest');
      await first.stop();
      assert.equal(first.stats().duplicates, 0, 'the drained batch was acknowledged');
      assert.equal(await countRows(world.under, 'events', 'st-%'), 20);
    });
  });
}

if (backends().includes('postgres')) {
  describe('StreamPersister: a worker whose connection dies mid-batch (JetStream + PostgreSQL)', () => {
    const opened: StorageWithDatabase[] = [];
    const connections: NatsConnection[] = [];
    let destroy: (() => Promise<void>) | undefined;
    after(async () => {
      await destroy?.();
      for (const connection of connections) if (!connection.isClosed()) await connection.close();
      for (const under of opened) await under.close();
    });

    test('the batches it held come again to the next worker; every message is stored once, in order', async () => {
      const under = await freshDatabase('postgres' satisfies Backend);
      opened.push(under);
      const options = jetStreamOptions();
      const connect = async (): Promise<{ stream: JetStreamEventStream; connection: NatsConnection }> => {
        const connection = await connectNats(natsUrl, 'bulwark-test');
        connections.push(connection);
        return { stream: await JetStreamEventStream.open(connection, options), connection };
      };
      const one = await connect();
      destroy = async () => {
        const cleaner = await connect();
        await cleaner.stream.destroy();
      };
      const messages = traffic('cr', 16, 12);
      await publish(one.stream, messages);
      let release: (() => void) | undefined;
      const stuck = new Promise<void>((resolve) => {
        release = resolve;
      });
      let batches = 0;
      const dying = new StreamPersister({
        stream: one.stream,
        events: {
          // The fourth batch commits and hangs before its acknowledgement; the other partitions'
          // batches in hand at that moment may or may not have committed.
          appendDecided: async (...args) => {
            const written = await under.storage.events.appendDecided(...args);
            batches += 1;
            if (batches === 4) await stuck;
            return written;
          },
        },
        batchMax: 16,
        applyDegraded: noDegraded,
      });
      dying.start();
      await until(() => batches >= 4, 'the fourth batch');
      await one.connection.close();
      release?.();
      await dying.stop();

      const two = await connect();
      const next = new StreamPersister({
        stream: two.stream,
        events: under.storage.events,
        batchMax: 16,
        applyDegraded: noDegraded,
      });
      next.start();
      await until(async () => (await countRows(under, 'events', 'cr-%')) >= messages.length, 'every event');
      await until(() => next.stats().duplicates >= 1, 'the held batch again');
      await next.stop();
      await assertPersisted(under, 'cr', messages);
    });
  });
}

if (backends().includes('postgres')) {
  describe('StreamPersister: PostgreSQL away for a while (connections refused, then allowed again)', () => {
    test('the batch is held and written once the database is back: nothing dead-lettered, tries not spent', async () => {
      const under = await freshDatabase('postgres');
      const stream = new MemoryEventStream({ partitions: 2, deliveriesMax: 2, retryDelayMs: 10 });
      const { rows } = await sql<{ name: string }>`select current_database() as name`.execute(under.db);
      const name = rows[0]?.name ?? '';
      const admin = new pg.Client({ connectionString: postgresAdminUrl() });
      await admin.connect();
      try {
        // The outage: no new connections, and every open one of this database ended.
        await admin.query(`alter database ${name} allow_connections false`);
        await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [
          name,
        ]);
        const messages = traffic('ow', 4, 5);
        await publish(stream, messages);
        const persister = new StreamPersister({
          stream,
          events: under.storage.events,
          ping: () => under.storage.ping(),
          batchMax: 8,
          applyDegraded: noDegraded,
        });
        persister.start();
        // Far more than deliveriesMax × retryDelayMs: the old behaviour dead-lettered here.
        await until(() => persister.stats().outageRetries >= 6, 'retries during the outage');
        await admin.query(`alter database ${name} allow_connections true`);
        await until(
          async () => (await countRows(under, 'events', 'ow-%')) >= messages.length,
          'every event after the outage',
        );
        await persister.stop();
        assert.deepEqual(stream.deadLetters(), [], 'nothing was dead-lettered');
        await assertPersisted(under, 'ow', messages);
      } finally {
        await admin.query(`alter database ${name} allow_connections true`);
        await admin.end();
        await under.close();
      }
    });
  });
}

if (backends().includes('postgres')) {
  describe('StreamPersister: two workers share the partitions through PostgreSQL leases', () => {
    test('each partition is persisted by one worker; a stopped or cut-off worker hands its partitions over', async () => {
      const under = await freshDatabase('postgres');
      const { rows } = await sql<{ name: string }>`select current_database() as name`.execute(under.db);
      const url = new URL(postgresAdminUrl());
      url.pathname = `/${rows[0]?.name ?? ''}`;
      const stream = new MemoryEventStream({ partitions: 6, deliveriesMax: 3, retryDelayMs: 10 });
      const worker = (): StreamPersister =>
        new StreamPersister({
          stream,
          events: under.storage.events,
          batchMax: 8,
          applyDegraded: noDegraded,
          leases: new PostgresPartitionLeases(url.toString(), 'T_LEASES'),
          leaseRetryMs: 50,
        });
      const a = worker();
      const b = worker();
      const admin = new pg.Client({ connectionString: postgresAdminUrl() });
      await admin.connect();
      try {
        a.start();
        b.start();
        await until(() => a.partitions().length + b.partitions().length === 6, 'every partition taken');
        const shared = a.partitions().filter((p) => b.partitions().includes(p));
        assert.deepEqual(shared, [], 'no partition is consumed by both workers');
        const first = traffic('pl', 12, 5);
        await publish(stream, first);
        await until(
          async () => (await countRows(under, 'events', 'pl-%')) >= first.length,
          'the first traffic persisted',
        );
        await assertPersisted(under, 'pl', first);

        // A stops: B takes its partitions over and persists what comes next.
        await a.stop();
        await until(() => b.partitions().length === 6, 'B holds every partition');
        const second = traffic('pm', 12, 5);
        await publish(stream, second);
        await until(
          async () => (await countRows(under, 'events', 'pm-%')) >= second.length,
          'the second traffic persisted',
        );
        await assertPersisted(under, 'pm', second);

        // B's lease session is cut off (as when its worker loses PostgreSQL): it stops pulling
        // every partition, then takes them again once it can.
        const cut = await admin.query<{ pid: number }>(
          `select pid from pg_stat_activity
            where datname = $1
              and pid in (select pid from pg_locks where locktype = 'advisory' and objsubid = 2)`,
          [rows[0]?.name],
        );
        const cutPids = cut.rows.map((row) => row.pid);
        assert.equal(cutPids.length, 1, 'B holds its leases on one session');
        assert.equal(b.stats().leaseLosses, 0);
        await admin.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [cutPids]);
        // B lets its partitions go and takes them again on a new session; it may do both between
        // two polls, so the loss is read from its count rather than from an empty moment.
        await until(() => b.stats().leaseLosses === 1, 'B let its partitions go');
        await until(() => b.partitions().length === 6, 'B took them again');
        const holders = await admin.query<{ pid: number }>(
          `select distinct pid from pg_locks where locktype = 'advisory' and objsubid = 2 and database =
             (select oid from pg_database where datname = $1)`,
          [rows[0]?.name],
        );
        assert.equal(holders.rows.length, 1, 'one session holds every lease again');
        assert.notEqual(holders.rows[0]?.pid, cutPids[0], 'the leases are held by a new session');
        const third = traffic('pn', 12, 3);
        await publish(stream, third);
        await until(
          async () => (await countRows(under, 'events', 'pn-%')) >= third.length,
          'the third traffic persisted',
        );
        await assertPersisted(under, 'pn', third);
        await b.stop();
      } finally {
        await a.stop();
        await b.stop();
        await admin.end();
        await under.close();
      }
    });
  });
}
