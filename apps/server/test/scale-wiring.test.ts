import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { backends } from './helpers/backends.ts';
import { runBulwark } from './helpers/processes.ts';
import { freePort, OwnRedis, uniquePrefix } from './helpers/redis.ts';
import { startTestService } from './helpers/service.ts';

describe('scale-out configuration', () => {
  test('REDIS_URL and NATS_URL are read, the BULWARK_ names win, bad URLs and roles are refused', () => {
    const plain = loadConfig({ REDIS_URL: 'redis://a:6379', NATS_URL: 'nats://a:4222' });
    assert.equal(plain.redisUrl, 'redis://a:6379');
    assert.equal(plain.natsUrl, 'nats://a:4222');
    const both = loadConfig({ REDIS_URL: 'redis://a:6379', BULWARK_REDIS_URL: 'redis://b:6379' });
    assert.equal(both.redisUrl, 'redis://b:6379');
    assert.equal(loadConfig({}).redisUrl, undefined);
    assert.equal(loadConfig({}).verifyLimitDegraded, 'open');
    assert.throws(
      () => loadConfig({ REDIS_URL: 'http://a' }),
      /BULWARK_REDIS_URL \(or REDIS_URL\): must be a redis/,
    );
    assert.throws(() => loadConfig({ BULWARK_NATS_URL: 'redis://a' }), /BULWARK_NATS_URL \(or NATS_URL\)/);
    assert.throws(() => loadConfig({ BULWARK_AUTH_LIMIT_DEGRADED: 'maybe' }), /BULWARK_AUTH_LIMIT_DEGRADED/);
    assert.throws(() => loadConfig({}, { role: 'leader' }), /BULWARK_ROLE \(--role\)/);
    // A cluster role needs every shared engine, and says which are missing.
    assert.throws(
      () => loadConfig({ REDIS_URL: 'redis://a:6379' }, { role: 'api' }),
      /--role api shares state through PostgreSQL, Redis and NATS JetStream: set DATABASE_URL, NATS_URL/,
    );
    const worker = loadConfig(
      { DATABASE_URL: 'postgres://a/b', REDIS_URL: 'redis://a:6379', NATS_URL: 'nats://a:4222' },
      { role: 'worker' },
    );
    assert.equal(worker.role, 'worker');
    assert.equal(worker.streamPartitions, 16);
    assert.equal(worker.clusterLoginDegraded, 'closed');
  });

  test('bulwark start refuses an unreachable Redis or NATS (exit 78, URL without password) and a role without its engines', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'bulwark-scale-'));
    try {
      const data = join(scratch, 'never-created');
      const port = await freePort();
      const [redis, nats, role] = await Promise.all([
        runBulwark(['start', '--data', data], {
          env: { REDIS_URL: `redis://:pa55word@127.0.0.1:${String(port)}` },
        }),
        runBulwark(['start', '--data', data], {
          env: { NATS_URL: `nats://u:pa55word@127.0.0.1:${String(port)}` },
        }),
        runBulwark(['start', '--data', data, '--role', 'worker']),
      ]);
      assert.equal(redis.status, 78, redis.stderr);
      assert.match(redis.stderr, new RegExp(`Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${String(port)}`));
      assert.equal(nats.status, 78, nats.stderr);
      assert.match(nats.stderr, new RegExp(`NATS at nats://u:\\*\\*\\*@127\\.0\\.0\\.1:${String(port)}`));
      assert.equal(role.status, 78, role.stderr);
      assert.match(role.stderr, /--role worker shares state .*: set DATABASE_URL, REDIS_URL, NATS_URL/);
      for (const refused of [redis, nats, role]) {
        assert.doesNotMatch(refused.stderr, /pa55word/);
        assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
      }
      assert.ok(!existsSync(data), 'nothing was opened');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

for (const backend of backends().filter((b) => b === 'pglite')) {
  describe(`failed-auth limit through Redis (${backend})`, () => {
    const prefix = uniquePrefix('wiring');
    let redis: OwnRedis | undefined;
    // The keys live in a Redis of the test's own, gone when it stops.
    after(async () => redis?.stop());

    test('two services share the count; Redis stopped: fail open, counted in the metric', async () => {
      redis = new OwnRedis(await freePort());
      await redis.start();
      const env = { BULWARK_REDIS_URL: redis.url, BULWARK_REDIS_KEY_PREFIX: prefix };
      const one = await startTestService(backend, env);
      const two = await startTestService(backend, env);
      try {
        const badKey = { authorization: 'Bearer not-a-key' };
        // 30 failures a minute per address, spread over both nodes.
        for (let i = 0; i < 30; i += 1) {
          const node = i % 2 === 0 ? one : two;
          assert.equal((await node.request('GET', '/v1/decisions', undefined, badKey)).status, 401);
        }
        const blocked = await two.request('GET', '/v1/decisions', undefined, badKey);
        assert.equal(blocked.status, 429);
        assert.equal(
          (await one.request('GET', '/v1/decisions')).status,
          429,
          'the address is blocked on both nodes',
        );

        await redis.stop();
        // Fail open (the default): the key is checked as usual, the limit is not.
        assert.equal((await one.request('GET', '/v1/decisions', undefined, badKey)).status, 401);
        assert.equal((await one.request('GET', '/v1/decisions')).status, 200);
        const metrics = await one.service.app.inject({ method: 'GET', url: '/metrics' });
        assert.match(
          metrics.body,
          /bulwark_rate_limit_degraded_total\{limiter="failed-auth",mode="open"\} [1-9]/,
        );
      } finally {
        await one.close();
        await two.close();
        await redis.stop();
      }
    });
  });
}
