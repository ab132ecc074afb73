import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { HotStateCache } from '../src/ingest/hot-state.ts';
import { seriesLimitsOf } from '../src/risk/domain/engine.ts';
import { emptyAccountState, type AccountState } from '../src/risk/domain/state.ts';
import { WindowSeries } from '../src/risk/domain/velocity.ts';
import { backends, freshDatabase } from './helpers/backends.ts';
import { propertyParams } from './helpers/fast-check.ts';

/**
 * The hot state forgets entries beyond its bounds (ingest/hot-state.ts): never one changed since
 * the last checkpoint or being written by it, so whatever it forgets can be read back from the
 * store as it was. Series used since the last eviction get a second chance.
 */
const baseMs = Date.parse('2026-11-26T09:00:00Z');
const seriesKeys = Array.from({ length: 10 }, (_u, i) => `fail:ip:198.51.100.${String(i)}`);
const accountIds = Array.from({ length: 7 }, (_u, i) => `acct_e${String(i)}`);

type Op =
  | { kind: 'record'; key: number; gapMs: number }
  | { kind: 'read'; key: number }
  | { kind: 'account'; id: number }
  | { kind: 'checkpoint'; written: boolean }
  | { kind: 'evict' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('record' as const), key: fc.nat(9), gapMs: fc.nat(5_000) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), key: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('account' as const), id: fc.nat(6) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('checkpoint' as const), written: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('evict' as const) }) },
);

for (const backend of backends()) {
  describe(`hot state eviction on ${backend}`, () => {
    test('property: nothing forgotten is lost — every entry is in memory or in the store as last changed', async () => {
      const under = await freshDatabase(backend);
      try {
        let seq = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 60 }), async (ops) => {
            // Each case starts from the store as the previous left it: the model starts from there.
            const hot = new HotStateCache({ accountsMax: 3, seriesMax: 4 }, under.storage.state);
            const stored = await under.storage.state.loadSeries(seriesKeys);
            const seriesModel = new Map<string, WindowSeries>(
              stored.map((r) => [r.key, new WindowSeries(seriesLimitsOf(r.key), r.snapshot)]),
            );
            const accountModel = new Map<string, AccountState>(
              (await under.storage.state.loadAccounts(accountIds)).map((a) => [a.accountId, a]),
            );
            await hot.ensureLoaded([]);
            let atMs = baseMs + seq * 100_000;
            const check = async (): Promise<void> => {
              for (const [key, expected] of seriesModel) {
                const held = hot.inspect(key);
                const snapshot =
                  held?.snapshot() ?? (await under.storage.state.loadSeries([key]))[0]?.snapshot;
                assert.deepEqual(snapshot, expected.snapshot(), `series ${key}`);
              }
              for (const [id, expected] of accountModel) {
                const held = hot.account(id) ?? (await under.storage.state.loadAccounts([id]))[0];
                assert.deepEqual(held, expected, `account ${id}`);
              }
            };
            for (const op of ops) {
              switch (op.kind) {
                case 'record': {
                  atMs += op.gapMs;
                  const key = seriesKeys[op.key] ?? '';
                  if (hot.peek(key) === undefined) await loadSeriesInto(hot, key);
                  hot.series(key).record(atMs);
                  hot.seriesChanged([key]);
                  let model = seriesModel.get(key);
                  if (model === undefined) {
                    model = new WindowSeries(seriesLimitsOf(key));
                    seriesModel.set(key, model);
                  }
                  model.record(atMs);
                  break;
                }
                case 'read':
                  hot.peek(seriesKeys[op.key] ?? '');
                  break;
                case 'account': {
                  const id = accountIds[op.id] ?? '';
                  const previous = accountModel.get(id) ?? emptyAccountState(id, atMs);
                  const next: AccountState = {
                    ...previous,
                    eventCount: previous.eventCount + 1,
                    lastSeenAt: atMs,
                  };
                  hot.setAccount(next);
                  accountModel.set(id, next);
                  break;
                }
                case 'checkpoint': {
                  const dirty = hot.takeDirty();
                  seq += 1;
                  if (op.written) {
                    await under.storage.state.writeCheckpoint({ seq, ...dirty });
                    hot.flushed(true);
                  } else {
                    hot.flushed(false);
                  }
                  break;
                }
                case 'evict':
                  hot.evict();
                  assert.ok(
                    hot.seriesCount <= 4 + hot.dirtyCount && hot.accountCount <= 3 + hot.dirtyCount,
                    `bounded: ${String(hot.seriesCount)} series, ${String(hot.accountCount)} accounts, ${String(hot.dirtyCount)} dirty`,
                  );
                  await check();
                  break;
              }
            }
            await check();
          }),
          propertyParams(25),
        );
      } finally {
        await under.close();
      }
    });

    test('a series used since the last eviction is kept over older unused ones (second chance)', async () => {
      const under = await freshDatabase(backend);
      try {
        const hot = new HotStateCache({ accountsMax: 10, seriesMax: 4 }, under.storage.state);
        let seq = 0;
        const add = async (keys: readonly string[], atMs: number): Promise<void> => {
          for (const key of keys) hot.series(key).record(atMs);
          hot.seriesChanged(keys);
          seq += 1;
          await under.storage.state.writeCheckpoint({ seq, ...hot.takeDirty() });
          hot.flushed(true);
        };
        const [k0, k1, k2, k3, k4, k5, k6] = seriesKeys as [
          string,
          string,
          string,
          string,
          string,
          string,
          string,
        ];
        await add([k0, k1, k2, k3, k4], baseMs);
        // Every series was used in this first round: each gets its second chance once, and the
        // oldest goes.
        hot.evict();
        assert.equal(hot.seriesCount, 4);
        // Now only k1, the oldest held, is used; two more come.
        hot.peek(k1);
        await add([k5, k6], baseMs + 1);
        hot.evict();
        assert.equal(hot.seriesCount, 4);
        const held = (key: string): boolean => hot.peek(key) !== undefined;
        assert.deepEqual(
          [k0, k1, k2, k3, k4, k5, k6].map(held),
          [false, true, false, false, true, true, true],
          'k1 was used since the last eviction and stays; k2 and k3 were not and go',
        );
        // What went is read back from the store as it was.
        const back = await under.storage.state.loadSeries([k2]);
        assert.equal(back[0]?.snapshot.t.length, 1);
      } finally {
        await under.close();
      }
    });
  });
}

/** What the processor does before deciding: a series not in memory is loaded from the store. */
async function loadSeriesInto(hot: HotStateCache, key: string): Promise<void> {
  const ip = key.slice('fail:ip:'.length);
  await hot.ensureLoaded([
    {
      id: `load-${key}`,
      type: 'login.failed',
      at: new Date(baseMs).toISOString(),
      context: { ip, userAgent: 'test' },
      reason: 'unknown_account',
      username: 'nobody',
    },
  ]);
}
