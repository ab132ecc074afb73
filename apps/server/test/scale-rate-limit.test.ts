import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { ConfigError } from '../src/config/config.ts';
import {
  connectRedis,
  degradedRetryAfterMs,
  redactUrl,
  RedisRateLimiter,
} from '../src/adapters/redis/redis-rate-limiter.ts';
import {
  MemoryRateLimiter,
  PeekCachingLimiter,
  type DegradedMode,
  type LimiterName,
} from '../src/ratelimit/port.ts';
import { runRateLimiterSuite } from './helpers/rate-limiter-suite.ts';
import { deleteKeys, freePort, OwnRedis, testRedisUrl, uniquePrefix, untilReady } from './helpers/redis.ts';

runRateLimiterSuite('in-process', () =>
  Promise.resolve({
    kind: 'fixed',
    make: (policy) => {
      const shared = new MemoryRateLimiter(policy);
      return Promise.resolve({ a: shared, b: shared });
    },
    close: () => Promise.resolve(),
  }),
);

runRateLimiterSuite('Redis', async () => {
  const prefix = uniquePrefix('rl-suite');
  const one = await connectRedis(testRedisUrl, { commandTimeoutMs: 2000 });
  const two = await connectRedis(testRedisUrl, { commandTimeoutMs: 2000 });
  let made = 0;
  const failOnDegraded = (_name: LimiterName, _mode: DegradedMode, error: unknown): never => {
    throw error;
  };
  return {
    kind: 'sliding',
    make: (policy) => {
      made += 1;
      const keyPrefix = `${prefix}:${String(made)}`;
      const of = (client: Redis) =>
        new RedisRateLimiter({
          client,
          name: 'verify-ip',
          policy,
          keyPrefix,
          degraded: 'closed',
          onDegraded: failOnDegraded,
        });
      return Promise.resolve({ a: of(one), b: of(two) });
    },
    close: async () => {
      await deleteKeys(one, prefix);
      one.disconnect();
      two.disconnect();
    },
  };
});

describe('Redis rate limiter: memory, start-up and degraded mode', () => {
  let client: Redis;
  const prefix = uniquePrefix('rl');
  before(async () => {
    client = await connectRedis(testRedisUrl, { commandTimeoutMs: 2000 });
  });
  after(async () => {
    const left = await deleteKeys(client, prefix);
    assert.ok(left >= 0);
    client.disconnect();
  });

  test('keys expire one window after the last hit and hold at most `limit` hits', async () => {
    const limiter = new RedisRateLimiter({
      client,
      name: 'verify-account',
      policy: { limit: 5, windowMs: 30_000, keysMax: 1 },
      keyPrefix: prefix,
      degraded: 'closed',
      onDegraded: () => assert.fail('no outage here'),
    });
    for (let i = 0; i < 50; i += 1) await limiter.take('acct_1', 1_000 + i * 100);
    const [log, seq] = limiter.keysOf('acct_1');
    assert.equal(await client.zcard(log), 5);
    for (const key of [log, seq]) {
      const ttl = await client.pttl(key);
      assert.ok(ttl > 0 && ttl <= 30_000, `${key} ttl ${String(ttl)}`);
    }
    // Both keys carry the same hash tag, so Redis Cluster keeps them in one slot.
    assert.match(log, /\{acct_1\}$/);
    assert.match(seq, /\{acct_1\}:seq$/);
    // A peek of an idle key creates nothing.
    await limiter.peek('acct_idle', 1_000);
    assert.equal(await client.exists(...limiter.keysOf('acct_idle')), 0);
  });

  test('an unreachable server at start is a ConfigError naming the URL without its password', async () => {
    const port = await freePort();
    const url = `redis://bulwark:s3cret-pass@127.0.0.1:${String(port)}/0`;
    await assert.rejects(
      connectRedis(url, { commandTimeoutMs: 200, connectTimeoutMs: 500 }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(
          error.message,
          new RegExp(`redis://bulwark:\\*\\*\\*@127\\.0\\.0\\.1:${String(port)}/0`),
        );
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      },
    );
    assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  });

  test('server stopped while running: each limiter answers in its degraded mode; restarted: shared again', async () => {
    const own = new OwnRedis(await freePort());
    await own.start();
    const ownClient = await connectRedis(own.url, { commandTimeoutMs: 500 });
    try {
      const degraded: { name: LimiterName; mode: DegradedMode }[] = [];
      const make = (name: LimiterName, mode: DegradedMode) =>
        new RedisRateLimiter({
          client: ownClient,
          name,
          policy: { limit: 1, windowMs: 60_000, keysMax: 1 },
          keyPrefix: prefix,
          degraded: mode,
          onDegraded: (n, m) => degraded.push({ name: n, mode: m }),
        });
      const open = make('failed-auth', 'open');
      const closed = make('verify-account', 'closed');
      assert.deepEqual(await open.take('k', 0), { allowed: true, remaining: 0 });
      assert.deepEqual(await open.take('k', 1), { allowed: false, retryAfterMs: 59_999 });
      assert.equal(degraded.length, 0);

      await own.stop();
      // The limit was reached, but without Redis the open limiter lets the request through…
      assert.deepEqual(await open.take('k', 2), { allowed: true, remaining: 0 });
      // …and the closed one refuses even a fresh key.
      assert.deepEqual(await closed.take('fresh', 2), { allowed: false, retryAfterMs: degradedRetryAfterMs });
      assert.deepEqual(degraded, [
        { name: 'failed-auth', mode: 'open' },
        { name: 'verify-account', mode: 'closed' },
      ]);

      await own.start();
      await untilReady(ownClient);
      // A fresh server (it keeps nothing on disk): the counts start again, decided by Redis.
      assert.deepEqual(await closed.take('fresh', 3), { allowed: true, remaining: 0 });
      assert.deepEqual(await closed.take('fresh', 4), { allowed: false, retryAfterMs: 59_999 });
      assert.equal(degraded.length, 2);
    } finally {
      ownClient.disconnect();
      await own.stop();
    }
  });
});

describe('failed-API-key peeks answered from memory while far from the limit', () => {
  test('one shared look per address per second; near the limit every peek is shared; a take always is', async () => {
    const policy = { limit: 4, windowMs: 60_000, keysMax: 100 };
    const shared = new MemoryRateLimiter(policy);
    const nodeA = new PeekCachingLimiter(shared, policy, 1_000);
    const nodeB = new PeekCachingLimiter(shared, policy, 1_000);
    assert.equal((await nodeA.peek('ip', 0)).allowed, true);
    // Another node sees four failures: the address is blocked in the shared limiter.
    for (let i = 0; i < 4; i += 1) await nodeB.take('ip', 10);
    assert.equal((await nodeB.peek('ip', 20)).allowed, false, 'the node that counted sees it at once');
    assert.equal((await nodeA.peek('ip', 500)).allowed, true, 'within a second node A answers from memory');
    assert.equal((await nodeA.peek('ip', 1_000)).allowed, false, 'after it, node A looks again');
    // Near the limit nothing is remembered: two failures left of four is the edge.
    const near = new PeekCachingLimiter(new MemoryRateLimiter(policy), policy, 1_000);
    await near.take('ip2', 0);
    await near.take('ip2', 0);
    await near.take('ip2', 0);
    assert.equal((await near.peek('ip2', 1)).allowed, true);
    await near.take('ip2', 2);
    assert.equal((await near.peek('ip2', 3)).allowed, false, 'a peek near the limit was not remembered');
  });
});
