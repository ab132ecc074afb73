import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import type { RateLimiter, RateLimitPolicy } from '../../src/ratelimit/port.ts';
import { propertyParams } from './fast-check.ts';

/**
 * Two clients of one shared limit: for the in-process implementation both are the same object;
 * for Redis, two connections (as two nodes would have). `close` removes what the run left.
 */
export interface LimiterPair {
  readonly a: RateLimiter;
  readonly b: RateLimiter;
}

export interface RateLimiterHarness {
  /** `fixed` windows start at a key's first hit; `sliding` windows end at every hit. */
  readonly kind: 'fixed' | 'sliding';
  /** A fresh limit (fresh keys) with `policy`. */
  make(policy: RateLimitPolicy): Promise<LimiterPair>;
  close(): Promise<void>;
}

/** The conformance suite every RateLimiter implementation passes. */
export function runRateLimiterSuite(name: string, harness: () => Promise<RateLimiterHarness>): void {
  describe(`RateLimiter conformance: ${name}`, () => {
    let opened: RateLimiterHarness | undefined;
    const open = async (): Promise<RateLimiterHarness> => (opened ??= await harness());
    after(async () => opened?.close());
    const policy = (limit: number, windowMs: number): RateLimitPolicy => ({
      limit,
      windowMs,
      keysMax: 10_000,
    });

    test('100 parallel takes on one key from two clients allow exactly the limit', async () => {
      const { a, b } = await (await open()).make(policy(17, 60_000));
      const decisions = await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).take('hot-key', 1_000)),
      );
      const remaining = decisions.flatMap((d) => (d.allowed ? [d.remaining] : []));
      assert.equal(remaining.length, 17);
      // Each allowed hit saw a different count: no two clients shared a slot.
      remaining.sort((x, y) => x - y);
      assert.deepEqual(
        remaining,
        Array.from({ length: 17 }, (_, i) => i),
      );
      const waits = decisions.flatMap((d) => (d.allowed ? [] : [d.retryAfterMs]));
      assert.equal(waits.length, 83);
      assert.ok(waits.every((wait) => wait > 0 && wait <= 60_000));
    });

    test('a refused hit is not counted, keys are independent and peek counts nothing', async () => {
      const { a, b } = await (await open()).make(policy(2, 10_000));
      assert.deepEqual(await a.peek('k', 0), { allowed: true, remaining: 2 });
      assert.deepEqual(await a.take('k', 0), { allowed: true, remaining: 1 });
      assert.deepEqual(await b.peek('k', 1), { allowed: true, remaining: 1 });
      assert.deepEqual(await b.take('k', 1), { allowed: true, remaining: 0 });
      assert.deepEqual(await a.take('k', 2), { allowed: false, retryAfterMs: 9_998 });
      assert.deepEqual(await b.peek('k', 3), { allowed: false, retryAfterMs: 9_997 });
      assert.deepEqual(await b.take('other', 3), { allowed: true, remaining: 1 });
    });

    test('hits leave the window once it has passed', async () => {
      const { a, b } = await (await open()).make(policy(3, 5_000));
      for (let i = 0; i < 3; i += 1) assert.equal((await a.take('w', 100)).allowed, true);
      assert.equal((await b.take('w', 5_099)).allowed, false);
      assert.deepEqual(await b.take('w', 5_100), { allowed: true, remaining: 2 });
    });

    test('property: never more than the limit in a window, never a refusal without a full window', async () => {
      const { kind } = await open();
      const windowMs = 1_000;
      const limit = 4;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 700 }), client: fc.boolean() }), {
            minLength: 1,
            maxLength: 40,
          }),
          async (steps) => {
            const { a, b } = await (await open()).make(policy(limit, windowMs));
            let nowMs = 10_000;
            const allowedAt: number[] = [];
            for (const step of steps) {
              nowMs += step.gapMs;
              const decision = await (step.client ? a : b).take('p', nowMs);
              const recent = allowedAt.filter((t) => t > nowMs - windowMs).length;
              // Refused only when `limit` hits were allowed within the last window.
              if (!decision.allowed) assert.ok(recent >= limit, `refused with ${String(recent)} recent hits`);
              else allowedAt.push(nowMs);
            }
            // Fixed windows may allow two windows' worth across a boundary; sliding ones never.
            const most = kind === 'sliding' ? limit : 2 * limit;
            for (const start of allowedAt) {
              const inWindow = allowedAt.filter((t) => t >= start && t < start + windowMs).length;
              assert.ok(inWindow <= most, `${String(inWindow)} hits in one window`);
            }
          },
        ),
        propertyParams(40),
      );
    });
  });
}
