import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisDecisionState } from '../src/adapters/redis/redis-decision-state.ts';
import { connectRedis } from '../src/adapters/redis/redis-rate-limiter.ts';
import { MemoryDecisionState } from '../src/cluster/memory-decision-state.ts';
import { ManualClock } from '../src/core/clock.ts';
import {
  accountFixture,
  baseMs,
  outcomeFixture,
  runDecisionStateSuite,
  type DecisionStateHarness,
} from './helpers/decision-state-suite.ts';
import { deleteKeys, freePort, OwnRedis, testRedisUrl, uniquePrefix } from './helpers/redis.ts';

runDecisionStateSuite('in-process', () =>
  Promise.resolve({
    make: (clock) => {
      const shared = new MemoryDecisionState(clock);
      return Promise.resolve({ a: shared, b: shared });
    },
    close: () => Promise.resolve(),
  }),
);

/**
 * The Redis store reads and writes small series whole and edits large ones in place: the suite
 * runs with the default size between the two, and with each path for every series.
 */
const redisSuite = (seriesRewriteBelowBytes?: number) => async (): Promise<DecisionStateHarness> => {
  const prefix = uniquePrefix('decision-suite');
  const one = await connectRedis(testRedisUrl, { commandTimeoutMs: 2000 });
  const two = await connectRedis(testRedisUrl, { commandTimeoutMs: 2000 });
  let made = 0;
  return {
    make: (clock) => {
      made += 1;
      const keyPrefix = `${prefix}:${String(made)}`;
      const of = (client: Redis) =>
        new RedisDecisionState(
          seriesRewriteBelowBytes === undefined
            ? { client, keyPrefix, clock }
            : { client, keyPrefix, clock, seriesRewriteBelowBytes },
        );
      return Promise.resolve({ a: of(one), b: of(two) });
    },
    close: async () => {
      await deleteKeys(one, prefix);
      one.disconnect();
      two.disconnect();
    },
  };
};

runDecisionStateSuite('Redis', redisSuite());
runDecisionStateSuite('Redis, every series edited in place', redisSuite(0));
runDecisionStateSuite('Redis, every series rewritten whole', redisSuite(1 << 30));

describe('Redis decision state: memory bounds and outages', () => {
  let client: Redis;
  const prefix = uniquePrefix('decision');
  before(async () => {
    client = await connectRedis(testRedisUrl, { commandTimeoutMs: 2000 });
  });
  after(async () => {
    await deleteKeys(client, prefix);
    client.disconnect();
  });

  test('every key but the spool expires; series keys by their retention plus the margin', async () => {
    const dayMs = 86_400_000;
    const store = new RedisDecisionState({
      client,
      keyPrefix: prefix,
      clock: new ManualClock(baseMs),
      accountTtlMs: 200 * dayMs,
      outcomeTtlMs: 7 * dayMs,
      seriesTtlMarginMs: 3_600_000,
    });
    const result = await store.commit({
      accounts: [{ state: accountFixture('acct_ttl'), expectedVersion: 0 }],
      series: [
        {
          key: 'fail:ip:198.51.100.1',
          limits: { retentionMs: dayMs, entriesMax: 10 },
          ops: [{ op: 'record', t: baseMs, v: 1 }],
        },
      ],
      outcomes: [{ eventId: 'evt_ttl', outcome: outcomeFixture('evt_ttl') }],
      pending: [{ eventId: 'evt_ttl', message: 'm' }],
    });
    assert.deepEqual(result, { ok: true });
    const ttlWithin = async (key: string, lowMs: number, highMs: number) => {
      const ttl = await client.pttl(key);
      assert.ok(ttl > lowMs && ttl <= highMs, `${key} ttl ${String(ttl)}`);
    };
    await ttlWithin(store.accountKey('acct_ttl'), 199 * dayMs, 200 * dayMs);
    await ttlWithin(store.outcomeKey('evt_ttl'), 6 * dayMs, 7 * dayMs);
    for (const key of store.seriesRedisKeys('fail:ip:198.51.100.1')) {
      await ttlWithin(key, dayMs, dayMs + 3_600_000);
    }
    // The spool is kept until published: no TTL.
    for (const key of store.pendingKeys()) assert.equal(await client.pttl(key), -1);
    // Each key carries its own hash tag.
    assert.match(store.accountKey('acct_ttl'), /:acct:\{acct_ttl\}$/);
    assert.deepEqual(store.seriesRedisKeys('k'), [`${prefix}:window:{k}`]);
  });

  test('expiries are set again only when due, and never leave a key less than its TTL less the allowance', async () => {
    const dayMs = 86_400_000;
    const marginMs = 3_600_000;
    const store = new RedisDecisionState({
      client,
      keyPrefix: `${prefix}:refresh`,
      clock: new ManualClock(baseMs),
      accountTtlMs: 10 * dayMs,
      seriesTtlMarginMs: marginMs,
    });
    const seriesKey = 'fail:ip:198.51.100.2';
    const [redisKey] = store.seriesRedisKeys(seriesKey);
    const accountKey = store.accountKey('acct_refresh');
    let version = 0;
    const commitOne = async (t: number) => {
      const result = await store.commit({
        accounts: [{ state: accountFixture('acct_refresh', version + 1), expectedVersion: version }],
        series: [
          {
            key: seriesKey,
            limits: { retentionMs: dayMs, entriesMax: 10 },
            ops: [{ op: 'record', t, v: 1 }],
          },
        ],
        outcomes: [],
        pending: [],
      });
      assert.deepEqual(result, { ok: true });
      version += 1;
    };
    await commitOne(baseMs);
    // Expiries far enough off are left alone (no PEXPIRE per commit): shortened by hand within
    // the allowance, they stay shortened.
    await client.pexpire(redisKey, dayMs + marginMs - 600_000);
    await client.pexpire(accountKey, 9.5 * dayMs);
    await commitOne(baseMs + 1);
    assert.ok((await client.pttl(redisKey)) <= dayMs + marginMs - 600_000);
    assert.ok((await client.pttl(accountKey)) <= 9.5 * dayMs);
    // Expiries due sooner than the allowance (as if written long ago: the expiry each key records
    // is moved back too) are set again to the full TTL.
    const header = await client.getrange(redisKey, 0, 127);
    const fields = header.trimEnd().split(',');
    fields[7] = String(Date.now() + dayMs);
    await client.setrange(redisKey, 0, fields.join(',').padEnd(128, ' '));
    await client.pexpire(redisKey, dayMs);
    await client.hset(accountKey, 'x', String(Date.now() + 8 * dayMs));
    await client.pexpire(accountKey, 8 * dayMs);
    await commitOne(baseMs + 2);
    const seriesTtl = await client.pttl(redisKey);
    assert.ok(seriesTtl > dayMs + marginMs / 2 && seriesTtl <= dayMs + marginMs, String(seriesTtl));
    const accountTtl = await client.pttl(accountKey);
    assert.ok(accountTtl > 9 * dayMs && accountTtl <= 10 * dayMs, String(accountTtl));
    // Nothing else changed.
    const load = await store.load({ accountIds: ['acct_refresh'], seriesKeys: [seriesKey], eventIds: [] });
    assert.deepEqual(load.series.get(seriesKey), { t: [baseMs, baseMs + 1, baseMs + 2], v: [1, 1, 1] });
    assert.deepEqual(load.accounts.get('acct_refresh'), {
      state: accountFixture('acct_refresh', 3),
      version: 3,
    });
  });

  test('Redis stopped: load, commit and the spool reject with the client error, and do not hang', async () => {
    const own = new OwnRedis(await freePort());
    await own.start();
    const ownClient = await connectRedis(own.url, { commandTimeoutMs: 300 });
    try {
      const store = new RedisDecisionState({
        client: ownClient,
        keyPrefix: prefix,
        clock: new ManualClock(baseMs),
      });
      const query = { accountIds: ['acct_x'], seriesKeys: ['s'], eventIds: ['evt_x'] };
      assert.equal((await store.load(query)).accounts.get('acct_x')?.version, 0);
      await own.stop();
      await assert.rejects(store.load(query), Error);
      await assert.rejects(
        store.commit({
          accounts: [{ state: accountFixture('acct_x'), expectedVersion: 0 }],
          series: [],
          outcomes: [],
          pending: [],
        }),
        Error,
      );
      await assert.rejects(store.pendingOlderThan(0, 10), Error);
      await assert.rejects(store.published(['evt_x']), Error);
    } finally {
      ownClient.disconnect();
      await own.stop();
    }
  });
});
