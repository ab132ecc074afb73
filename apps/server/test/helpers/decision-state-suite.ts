import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import type {
  DecisionCommit,
  DecisionStateLoad,
  DecisionStateStore,
  SeriesOp,
} from '../../src/cluster/ports.ts';
import { ManualClock } from '../../src/core/clock.ts';
import type { AccountState } from '../../src/risk/domain/state.ts';
import { WindowSeries, type SeriesLimits, type SeriesSnapshot } from '../../src/risk/domain/velocity.ts';
import type { PriorOutcome } from '../../src/storage/ports.ts';
import { propertyParams } from './fast-check.ts';

/**
 * Two clients of one fresh store: for the in-process implementation both are the same object;
 * for Redis, two connections (as two API nodes would have). Both read time from `clock`.
 */
export interface DecisionStatePair {
  readonly a: DecisionStateStore;
  readonly b: DecisionStateStore;
}

export interface DecisionStateHarness {
  /** A fresh, empty store (fresh keys) whose commit times come from `clock`. */
  make(clock: ManualClock): Promise<DecisionStatePair>;
  /** Removes what the run left. */
  close(): Promise<void>;
}

/** Event time of the fixtures: 13-digit epoch milliseconds, as in production. */
export const baseMs = 1_764_000_000_000;

const seriesLimits: SeriesLimits = { retentionMs: 86_400_000, entriesMax: 2000 };

/** A plausible account state, with empty lists and decimals (the JSON pitfalls of Redis' cjson). */
export function accountFixture(accountId: string, eventCount = 1): AccountState {
  return {
    accountId,
    email: `${accountId}@example.com`,
    firstSeenAt: baseMs,
    lastSeenAt: baseMs + 1_234,
    eventCount,
    risk: 37,
    devices: [],
    networks: [{ ip: '203.0.113.7', firstSeenAt: baseMs, lastSeenAt: baseMs + 1_234, seenCount: 2 }],
    sessions: [],
    pendingChallenges: [],
    orderHistory: { count: 3, sum: 100.3, max: 0.1 + 0.2 },
    recentOrders: [],
  };
}

export function outcomeFixture(eventId: string): PriorOutcome {
  return {
    contentHash: `hash-${eventId}`,
    decision: { eventId, decision: 'challenge', score: 71, reasons: [{ code: 'new_device' }] },
  };
}

const emptyCommit = (): DecisionCommit => ({ accounts: [], series: [], outcomes: [], pending: [] });

const loadAll = (
  store: DecisionStateStore,
  query: { accountIds?: string[]; seriesKeys?: string[]; eventIds?: string[] },
): Promise<DecisionStateLoad> =>
  store.load({
    accountIds: query.accountIds ?? [],
    seriesKeys: query.seriesKeys ?? [],
    eventIds: query.eventIds ?? [],
  });

/** The conformance suite every DecisionStateStore implementation passes. */
export function runDecisionStateSuite(name: string, harness: () => Promise<DecisionStateHarness>): void {
  describe(`DecisionStateStore conformance: ${name}`, () => {
    let opened: DecisionStateHarness | undefined;
    const open = async (): Promise<DecisionStateHarness> => (opened ??= await harness());
    after(async () => opened?.close());
    const fresh = async (clock = new ManualClock(baseMs)): Promise<DecisionStatePair> =>
      (await open()).make(clock);

    test('absent accounts, series, outcomes and pending messages load as empty', async () => {
      const { a } = await fresh();
      const load = await loadAll(a, {
        accountIds: ['acct_none'],
        seriesKeys: ['fail:ip:x'],
        eventIds: ['evt_x'],
      });
      assert.deepEqual([...load.accounts], [['acct_none', { state: undefined, version: 0 }]]);
      assert.equal(load.series.size, 0);
      assert.equal(load.prior.size, 0);
      assert.deepEqual(await a.pendingOlderThan(0, 10), []);
      const nothing = await loadAll(a, {});
      assert.equal(nothing.accounts.size + nothing.series.size + nothing.prior.size, 0);
    });

    test('a commit is read back whole by another client, and each commit adds one to the version', async () => {
      const { a, b } = await fresh();
      const state = accountFixture('acct_1');
      const commit: DecisionCommit = {
        accounts: [{ state, expectedVersion: 0 }],
        series: [
          {
            key: 'fail:acct:acct_1',
            limits: seriesLimits,
            ops: [
              { op: 'record', t: baseMs + 5, v: 1 },
              { op: 'record', t: baseMs + 2, v: 19.99, k: 'card "a", [b]' },
              { op: 'bucket', t: baseMs + 5, v: 0.1 },
            ],
          },
          { key: 'unused', limits: seriesLimits, ops: [] },
        ],
        outcomes: [{ eventId: 'evt_1', outcome: outcomeFixture('evt_1') }],
        pending: [{ eventId: 'evt_1', message: '{"v":1}' }],
      };
      assert.deepEqual(await a.commit(commit), { ok: true });
      const load = await loadAll(b, {
        accountIds: ['acct_1'],
        seriesKeys: ['fail:acct:acct_1', 'unused'],
        eventIds: ['evt_1'],
      });
      assert.deepEqual(load.accounts.get('acct_1'), { state, version: 1 });
      // The bucket at baseMs + 5 held one unlabelled entry: 1 + 0.1 in place (exactly 1.1).
      assert.deepEqual(load.series.get('fail:acct:acct_1'), {
        t: [baseMs + 2, baseMs + 5],
        v: [19.99, 1.1],
        k: ['card "a", [b]', null],
      });
      // A change without ops creates nothing.
      assert.equal(load.series.has('unused'), false);
      assert.deepEqual(load.prior.get('evt_1'), outcomeFixture('evt_1'));
      assert.deepEqual(await b.pendingOlderThan(0, 10), [{ eventId: 'evt_1', message: '{"v":1}' }]);

      const next = accountFixture('acct_1', 2);
      assert.deepEqual(
        await b.commit({ ...emptyCommit(), accounts: [{ state: next, expectedVersion: 1 }] }),
        { ok: true },
      );
      const again = await loadAll(a, { accountIds: ['acct_1'] });
      assert.deepEqual(again.accounts.get('acct_1'), { state: next, version: 2 });
    });

    test('a version conflict writes nothing at all', async () => {
      const { a, b } = await fresh();
      await seed(a);
      const before = await snapshotOfSeeded(b);
      const result = await b.commit({
        accounts: [
          { state: accountFixture('acct_new'), expectedVersion: 0 },
          { state: accountFixture('acct_seed', 9), expectedVersion: 0 },
        ],
        series: [
          { key: 'shared', limits: seriesLimits, ops: [{ op: 'record', t: baseMs + 50, v: 1 }] },
          { key: 'new-series', limits: seriesLimits, ops: [{ op: 'bucket', t: baseMs, v: 1 }] },
        ],
        outcomes: [{ eventId: 'evt_new', outcome: outcomeFixture('evt_new') }],
        pending: [{ eventId: 'evt_new', message: 'm-new' }],
      });
      assert.deepEqual(result, { ok: false, conflictedAccounts: ['acct_seed'], decidedEventIds: [] });
      assert.deepEqual(await snapshotOfSeeded(a), before);
    });

    test('an event id already decided writes nothing at all', async () => {
      const { a, b } = await fresh();
      await seed(a);
      const before = await snapshotOfSeeded(b);
      const result = await b.commit({
        accounts: [{ state: accountFixture('acct_seed', 2), expectedVersion: 1 }],
        series: [{ key: 'shared', limits: seriesLimits, ops: [{ op: 'remove', t: baseMs + 10, v: 1 }] }],
        outcomes: [
          { eventId: 'evt_new', outcome: outcomeFixture('evt_new') },
          { eventId: 'evt_seed', outcome: outcomeFixture('evt_seed') },
        ],
        pending: [{ eventId: 'evt_new', message: 'm-new' }],
      });
      assert.deepEqual(result, { ok: false, conflictedAccounts: [], decidedEventIds: ['evt_seed'] });
      assert.deepEqual(await snapshotOfSeeded(a), before);
      // Both reasons at once are both reported.
      const both = await b.commit({
        ...emptyCommit(),
        accounts: [{ state: accountFixture('acct_seed', 2), expectedVersion: 7 }],
        outcomes: [{ eventId: 'evt_seed', outcome: outcomeFixture('evt_seed') }],
      });
      assert.deepEqual(both, { ok: false, conflictedAccounts: ['acct_seed'], decidedEventIds: ['evt_seed'] });
    });

    test('a malformed commit is refused whole with the offending field named', async () => {
      const { a } = await fresh();
      await assert.rejects(
        a.commit({
          ...emptyCommit(),
          accounts: [{ state: accountFixture('acct_bad'), expectedVersion: 0 }],
          series: [
            { key: 's', limits: { retentionMs: 10, entriesMax: 0 }, ops: [{ op: 'record', t: 1, v: 1 }] },
          ],
        }),
        (error: unknown) => {
          assert.ok(error instanceof RangeError);
          assert.equal((error as RangeError & { field: string }).field, 'series[0].limits.entriesMax');
          return true;
        },
      );
      await assert.rejects(
        a.commit({
          ...emptyCommit(),
          series: [{ key: 's', limits: seriesLimits, ops: [{ op: 'record', t: Number.NaN, v: 1 }] }],
        }),
        /series\[0\]\.ops\[0\]\.t/,
      );
      await assert.rejects(
        a.commit({
          ...emptyCommit(),
          outcomes: [
            { eventId: 'evt_twice', outcome: outcomeFixture('evt_twice') },
            { eventId: 'evt_twice', outcome: outcomeFixture('evt_twice') },
          ],
        }),
        /evt_twice/,
      );
      const load = await loadAll(a, { accountIds: ['acct_bad'], seriesKeys: ['s'], eventIds: ['evt_twice'] });
      assert.equal(load.accounts.get('acct_bad')?.version, 0);
      assert.equal(load.series.size + load.prior.size, 0);
    });

    test('50 parallel commits from two clients to one global series lose no op; one account version wins once', async () => {
      const { a, b } = await fresh();
      const key = 'rba:global:asn:64500';
      const limits: SeriesLimits = { retentionMs: 180 * 86_400_000, entriesMax: 500 };
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? a : b).commit({
            accounts: [{ state: accountFixture(`acct_p${String(i)}`), expectedVersion: 0 }],
            series: [
              {
                key,
                limits,
                ops: [
                  { op: 'record', t: baseMs + ((i * 7) % 50), v: 1, k: `acct_p${String(i)}` },
                  { op: 'bucket', t: baseMs - 1_000, v: 1 },
                ],
              },
            ],
            outcomes: [{ eventId: `evt_p${String(i)}`, outcome: outcomeFixture(`evt_p${String(i)}`) }],
            pending: [],
          }),
        ),
      );
      assert.ok(results.every((result) => result.ok));
      const series = (await loadAll(a, { seriesKeys: [key] })).series.get(key);
      assert.ok(series !== undefined);
      // The bucket got all 50 additions, and every record is there once, in time order.
      assert.equal(series.t[0], baseMs - 1_000);
      assert.equal(series.v[0], 50);
      assert.equal(series.t.length, 51);
      assert.deepEqual(
        series.t.slice(1),
        [...series.t.slice(1)].sort((x, y) => x - y),
      );
      assert.deepEqual(
        new Set(series.k?.slice(1)),
        new Set(Array.from({ length: 50 }, (_, i) => `acct_p${String(i)}`)),
      );

      // Optimistic concurrency: ten nodes that all loaded version 0 of one account: one wins.
      const racing = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? a : b).commit({
            ...emptyCommit(),
            accounts: [{ state: accountFixture('acct_race', i), expectedVersion: 0 }],
          }),
        ),
      );
      assert.equal(racing.filter((result) => result.ok).length, 1);
      for (const result of racing) {
        if (!result.ok) assert.deepEqual(result.conflictedAccounts, ['acct_race']);
      }
      const winner = racing.findIndex((result) => result.ok);
      const stored = (await loadAll(b, { accountIds: ['acct_race'] })).accounts.get('acct_race');
      assert.deepEqual(stored, { state: accountFixture('acct_race', winner), version: 1 });
    });

    test('pending messages: oldest first by the injected clock, limited, forgotten once published', async () => {
      const clock = new ManualClock(baseMs);
      const { a, b } = await fresh(clock);
      const pend = (eventId: string) =>
        a.commit({ ...emptyCommit(), pending: [{ eventId, message: `message of ${eventId}` }] });
      await pend('evt_c');
      clock.advance(10);
      // Two in one commit (one millisecond): event id order.
      await a.commit({
        ...emptyCommit(),
        pending: [
          { eventId: 'evt_z', message: 'message of evt_z' },
          { eventId: 'evt_a', message: 'message of evt_a' },
        ],
      });
      clock.advance(10);
      await pend('evt_b');
      const ids = async (olderThanMs: number, limit: number) =>
        (await b.pendingOlderThan(olderThanMs, limit)).map((message) => message.eventId);
      assert.deepEqual(await ids(0, 10), ['evt_c', 'evt_a', 'evt_z', 'evt_b']);
      assert.deepEqual(await ids(0, 2), ['evt_c', 'evt_a']);
      assert.deepEqual(await ids(10, 10), ['evt_c', 'evt_a', 'evt_z']);
      assert.deepEqual(await ids(11, 10), ['evt_c']);
      assert.deepEqual(await ids(21, 10), []);
      assert.deepEqual(await ids(0, 0), []);
      assert.deepEqual((await b.pendingOlderThan(20, 1))[0], {
        eventId: 'evt_c',
        message: 'message of evt_c',
      });
      // Time passes (by the store's clock, not Redis'): everything is old enough.
      clock.advance(1_000);
      assert.deepEqual(await ids(1_000, 10), ['evt_c', 'evt_a', 'evt_z', 'evt_b']);
      await b.published(['evt_c', 'evt_z', 'evt_unknown']);
      await b.published([]);
      assert.deepEqual(await b.pendingOlderThan(0, 10), [
        { eventId: 'evt_a', message: 'message of evt_a' },
        { eventId: 'evt_b', message: 'message of evt_b' },
      ]);
    });

    test('a full 2,000-entry series: appends, a deep out-of-order insert, a bucket and a removal match WindowSeries', async () => {
      const { a, b } = await fresh();
      const key = 'fail:ip:203.0.113.9';
      const reference = new WindowSeries(seriesLimits);
      const commitOps = async (store: DecisionStateStore, ops: SeriesOp[]) => {
        for (const op of ops) applyTo(reference, op);
        assert.deepEqual(
          await store.commit({ ...emptyCommit(), series: [{ key, limits: seriesLimits, ops }] }),
          {
            ok: true,
          },
        );
        const loaded = (await loadAll(store, { seriesKeys: [key] })).series.get(key);
        assert.ok(loaded !== undefined);
        assert.deepEqual(withoutSurplusLabel(loaded), withoutSurplusLabel(reference.snapshot()));
      };
      await commitOps(
        a,
        Array.from({ length: 2_100 }, (_, i): SeriesOp => ({
          op: 'record',
          t: baseMs + i * 10,
          v: 1 + (i % 3) / 10,
        })),
      );
      await commitOps(b, [{ op: 'record', t: baseMs + 21_000, v: 1, k: 'late label' }]);
      // Older than all but the newest 1,500 entries: 1,500 entries move.
      await commitOps(a, [{ op: 'record', t: baseMs + 6_005, v: 2 }]);
      await commitOps(b, [
        { op: 'bucket', t: baseMs + 15_000, v: 0.2 },
        { op: 'remove', t: baseMs + 10_000, v: 1.1 },
        { op: 'record', t: baseMs + 86_400_000 + 5_000, v: 1 },
      ]);
      const snapshot = reference.snapshot();
      assert.ok(snapshot.droppedUpToMs !== undefined && snapshot.t.length < 2_000);
    });

    test('bucket paths: in place, beside a label, over several entries, over a fractional time', async () => {
      const { a } = await fresh();
      const limits: SeriesLimits = { retentionMs: 1_000, entriesMax: 10 };
      const cases: [string, SeriesOp[]][] = [
        [
          'in place',
          [
            { op: 'record', t: baseMs, v: 2 },
            { op: 'bucket', t: baseMs, v: 0.5 },
          ],
        ],
        [
          'beside a label',
          [
            { op: 'record', t: baseMs, v: 2, k: 'x' },
            { op: 'bucket', t: baseMs, v: 1 },
          ],
        ],
        // Two entries at t (0 and 5): their sum (5) is taken back, and 5 + 1 recorded after the 0.
        [
          'several',
          [
            { op: 'record', t: baseMs, v: 0 },
            { op: 'record', t: baseMs, v: 5 },
            { op: 'record', t: baseMs + 1, v: 7 },
            { op: 'bucket', t: baseMs, v: 1 },
          ],
        ],
        [
          'fractional',
          [
            { op: 'record', t: baseMs - 0.5, v: 3 },
            { op: 'bucket', t: baseMs, v: 1 },
          ],
        ],
      ];
      for (const [name, ops] of cases) {
        const reference = new WindowSeries(limits);
        for (const op of ops) applyTo(reference, op);
        assert.deepEqual(await a.commit({ ...emptyCommit(), series: [{ key: name, limits, ops }] }), {
          ok: true,
        });
        const loaded = (await loadAll(a, { seriesKeys: [name] })).series.get(name);
        assert.ok(loaded !== undefined);
        assert.deepEqual(withoutSurplusLabel(loaded), withoutSurplusLabel(reference.snapshot()), name);
      }
      const several = (await loadAll(a, { seriesKeys: ['several'] })).series.get('several');
      assert.deepEqual(several?.v, [0, 6, 7]);
    });

    test('runs of one bucket op (a batch of sign-ins counting this week) match WindowSeries wherever the bucket is', async () => {
      const { a } = await fresh();
      const run = (t: number, v: number, count: number): SeriesOp[] =>
        Array.from({ length: count }, () => ({ op: 'bucket', t, v }));
      const cases: [string, SeriesLimits, SeriesOp[]][] = [
        ['newest', seriesLimits, [{ op: 'record', t: baseMs - 5, v: 1 }, ...run(baseMs, 1, 6)]],
        // 0.5 + 0.2 + 0.2 + 0.2 is not 0.5 + 0.2 + 0.4: the sums must come in order.
        [
          'fractions',
          seriesLimits,
          [{ op: 'record', t: baseMs, v: 0.5 }, ...run(baseMs, 0.2, 3), ...run(baseMs, 0.1, 6)],
        ],
        ['not the newest', seriesLimits, [{ op: 'record', t: baseMs + 5, v: 1 }, ...run(baseMs, 1, 4)]],
        ['beside a label', seriesLimits, [{ op: 'record', t: baseMs, v: 2, k: 'x' }, ...run(baseMs, 1, 3)]],
        [
          'trimmed on the way',
          { retentionMs: 10, entriesMax: 2 },
          [
            { op: 'record', t: baseMs - 20, v: 1 },
            { op: 'record', t: baseMs - 1, v: 1 },
            ...run(baseMs, 1, 3),
            { op: 'record', t: baseMs + 1, v: 1 },
            ...run(baseMs + 1, 2, 2),
            ...run(baseMs, 1, 2),
          ],
        ],
      ];
      for (const [name, limits, ops] of cases) {
        const reference = new WindowSeries(limits);
        for (const op of ops) applyTo(reference, op);
        // In two commits, so a run also meets a stored bucket.
        const half = Math.ceil(ops.length / 2);
        for (const part of [ops.slice(0, half), ops.slice(half)]) {
          assert.deepEqual(await a.commit({ ...emptyCommit(), series: [{ key: name, limits, ops: part }] }), {
            ok: true,
          });
        }
        const loaded = (await loadAll(a, { seriesKeys: [name] })).series.get(name);
        assert.ok(loaded !== undefined);
        assert.deepEqual(withoutSurplusLabel(loaded), withoutSurplusLabel(reference.snapshot()), name);
      }
    });

    test('property: ops committed through the store give the same series as WindowSeries', async () => {
      // Brackets, escapes and non-ASCII text inside labels; a long one makes the Redis script read
      // larger windows of a series.
      const labels = ['a', 'b', 'é,"]', '', '[x]\\', '\\u005b', 'long '.repeat(70)];
      // Zero and negative values let a bucket's "take back the sum" actually find an entry.
      const values = [1, 2, 3, 0, -1, 0.1, 0.2, 0.7, 19.99, 1e-7];
      const opArb = fc.oneof(
        fc.record({
          kind: fc.constantFrom('record', 'bucket', 'remove'),
          offsetMs: fc.integer({ min: 0, max: 12 }),
          halfMs: fc.boolean(),
          value: fc.constantFrom(...values),
          label: fc.option(fc.constantFrom(...labels), { nil: undefined }),
        }),
        fc.record({ kind: fc.constant('remove-existing'), index: fc.nat() }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            retentionMs: fc.integer({ min: 1, max: 15 }),
            entriesMax: fc.integer({ min: 1, max: 6 }),
            commits: fc.array(fc.array(opArb, { minLength: 1, maxLength: 8 }), {
              minLength: 1,
              maxLength: 5,
            }),
          }),
          async ({ retentionMs, entriesMax, commits }) => {
            const { a, b } = await fresh();
            const limits = { retentionMs, entriesMax };
            const reference = new WindowSeries(limits);
            for (const [index, generated] of commits.entries()) {
              const ops: SeriesOp[] = [];
              for (const step of generated) {
                const op = resolveOp(step, reference);
                applyTo(reference, op);
                ops.push(op);
              }
              const store = index % 2 === 0 ? a : b;
              const result = await store.commit({ ...emptyCommit(), series: [{ key: 'prop', limits, ops }] });
              assert.deepEqual(result, { ok: true });
              const loaded = (await loadAll(store, { seriesKeys: ['prop'] })).series.get('prop');
              assert.deepEqual(
                loaded === undefined ? undefined : withoutSurplusLabel(loaded),
                withoutSurplusLabel(reference.snapshot()),
                `after commit ${String(index)}: ${JSON.stringify(ops)}`,
              );
            }
          },
        ),
        propertyParams(200),
      );
    });
  });
}

type GeneratedOp =
  | { kind: 'record' | 'bucket' | 'remove'; offsetMs: number; halfMs: boolean; value: number; label?: string }
  | { kind: 'remove-existing'; index: number };

/** Turns a generated step into an op; "remove-existing" takes back an entry the series holds. */
function resolveOp(step: GeneratedOp, reference: WindowSeries): SeriesOp {
  if (step.kind === 'remove-existing') {
    const snapshot = reference.snapshot();
    if (snapshot.t.length === 0) return { op: 'remove', t: baseMs, v: 1 };
    const at = step.index % snapshot.t.length;
    const label = snapshot.k?.[at] ?? undefined;
    const op: SeriesOp = { op: 'remove', t: snapshot.t[at] ?? 0, v: snapshot.v[at] ?? 0 };
    return label === undefined ? op : { ...op, k: label };
  }
  const t = baseMs + step.offsetMs + (step.halfMs ? 0.5 : 0);
  if (step.kind === 'bucket') return { op: 'bucket', t, v: step.value };
  return step.label === undefined
    ? { op: step.kind, t, v: step.value }
    : { op: step.kind, t, v: step.value, k: step.label };
}

/**
 * `WindowSeries.record` builds its labels array after pushing the first labelled entry's time, so
 * from then on `k` holds one null more than `t` has entries (at the end; every other label is at
 * its right index). The stores keep one label per entry. Only that trailing surplus is forgiven
 * here: any other difference in labels still fails.
 */
function withoutSurplusLabel(snapshot: SeriesSnapshot): SeriesSnapshot {
  const { k } = snapshot;
  if (k === undefined || k.length !== snapshot.t.length + 1 || k.at(-1) !== null) return snapshot;
  return { ...snapshot, k: k.slice(0, -1) };
}

function applyTo(series: WindowSeries, op: SeriesOp): void {
  if (op.op === 'record') series.record(op.t, op.v, op.k);
  else if (op.op === 'bucket') series.addToBucket(op.t, op.v);
  else series.remove(op.t, op.v, op.k);
}

/** Commits a known state: account acct_seed at version 1, series `shared`, outcome and pending evt_seed. */
async function seed(store: DecisionStateStore): Promise<void> {
  const result = await store.commit({
    accounts: [{ state: accountFixture('acct_seed'), expectedVersion: 0 }],
    series: [
      {
        key: 'shared',
        limits: seriesLimits,
        ops: [
          { op: 'record', t: baseMs + 10, v: 1 },
          { op: 'record', t: baseMs + 20, v: 2.5, k: 'x' },
        ],
      },
    ],
    outcomes: [{ eventId: 'evt_seed', outcome: outcomeFixture('evt_seed') }],
    pending: [{ eventId: 'evt_seed', message: 'm-seed' }],
  });
  assert.deepEqual(result, { ok: true });
}

/** Everything a refused commit after `seed` might have touched. */
async function snapshotOfSeeded(store: DecisionStateStore): Promise<unknown> {
  const load = await loadAll(store, {
    accountIds: ['acct_seed', 'acct_new'],
    seriesKeys: ['shared', 'new-series'],
    eventIds: ['evt_seed', 'evt_new'],
  });
  const pending = await store.pendingOlderThan(0, 100);
  assert.equal(load.accounts.get('acct_seed')?.version, 1);
  assert.equal(load.accounts.get('acct_new')?.version, 0);
  assert.equal(load.series.has('new-series'), false);
  assert.equal(load.prior.has('evt_new'), false);
  assert.deepEqual(
    pending.map((message) => message.eventId),
    ['evt_seed'],
  );
  return { accounts: [...load.accounts], series: [...load.series], prior: [...load.prior], pending };
}
