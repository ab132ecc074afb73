import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { connectRedis, deleteKeysUnder } from '../../src/adapters/redis/redis-rate-limiter.ts';
import { OwnServerProcess } from './own-server.ts';

/** The shared Redis of this machine (CI starts it: .ci/run); REDIS_URL may point elsewhere. */
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other run (CI shares the server) can collide with. */
export function uniquePrefix(what: string): string {
  return `bulwark-test:${what}:${String(process.pid)}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS, so a shared server is not blocked). */
export const deleteKeys = deleteKeysUnder;

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * A Redis server process of the test's own (Debian's redis-server), so a test can stop and start
 * it without touching the shared one.
 */
export class OwnRedis extends OwnServerProcess {
  constructor(readonly port: number) {
    super(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      async () => {
        const probe = await connectRedis(`redis://127.0.0.1:${String(port)}`, {
          commandTimeoutMs: 500,
          connectTimeoutMs: 500,
        });
        probe.disconnect();
      },
    );
  }

  get url(): string {
    return `redis://127.0.0.1:${String(this.port)}`;
  }
}

/** Waits (bounded) until `client` has reconnected after its server came back. */
export async function untilReady(client: Redis): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (client.status === 'ready') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the Redis client did not reconnect (status ${client.status})`);
}
