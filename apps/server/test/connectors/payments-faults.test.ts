import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clockDelay,
  faultConfigSchema,
  faultInjector,
  type FaultRecord,
} from '../../src/adapters/sandbox/faults.ts';
import { providerOk, type ProviderResult } from '../../src/connectors/domain/provider-result.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { seededRandom } from '../../src/core/random.ts';

/** A stand-in provider effect that counts how often it really ran. */
function counter(): { effect: () => Promise<ProviderResult<number>>; runs: () => number } {
  let runs = 0;
  return {
    effect: () => {
      runs += 1;
      return Promise.resolve(providerOk(runs));
    },
    runs: () => runs,
  };
}

test('the same seed gives the same faults in the same order', async () => {
  const outcomes = async (seed: number) => {
    const faults = faultInjector({
      seed,
      timeoutAfterEffectRate: 0.2,
      unavailableRate: 0.2,
      rateLimitedRate: 0.2,
    });
    const seen: string[] = [];
    const { effect } = counter();
    for (let i = 0; i < 50; i += 1) {
      const r = await faults.run('refund', effect);
      seen.push(r.ok ? 'ok' : r.error.kind);
    }
    return seen;
  };
  assert.deepEqual(await outcomes(11), await outcomes(11));
  assert.notDeepEqual(await outcomes(11), await outcomes(12));
  const kinds = new Set(await outcomes(11));
  for (const kind of ['ok', 'timeout', 'unavailable', 'rate_limited']) assert.ok(kinds.has(kind), kind);
});

test('a timeout after the effect runs it and loses the answer; before the effect it never runs', async () => {
  const faults = faultInjector({ seed: 0 });
  const c = counter();
  faults.script({ kind: 'timeout', when: 'after_effect' }, 'capture');
  const after = await faults.run('capture', c.effect);
  assert.equal(after.ok ? 'ok' : after.error.kind, 'timeout');
  assert.equal(after.ok ? false : after.error.retryable, true);
  assert.equal(c.runs(), 1);
  faults.script({ kind: 'timeout', when: 'before_effect' });
  await faults.run('capture', c.effect);
  assert.equal(c.runs(), 1);
  faults.script({ kind: 'rate_limited', retryAfterMs: 2500 }, 'capture');
  const limited = await faults.run('capture', c.effect);
  assert.equal(limited.ok ? undefined : limited.error.retryAfterMs, 2500);
  assert.equal(c.runs(), 1);
  assert.deepEqual(await faults.run('capture', c.effect), { ok: true, value: 2 });
});

test('scripted faults wait for their command; rolled ones only hit the configured commands', async () => {
  const records: FaultRecord[] = [];
  const faults = faultInjector(
    { seed: 3, unavailableRate: 1, commands: ['refund'] },
    { onFault: (r) => records.push(r) },
  );
  const c = counter();
  faults.script({ kind: 'unavailable' }, 'capture');
  assert.ok((await faults.run('getPayment', c.effect)).ok);
  assert.equal((await faults.run('refund', c.effect)).ok, false);
  assert.equal((await faults.run('capture', c.effect)).ok, false);
  assert.deepEqual(
    records.map((r) => r.command),
    ['refund', 'capture'],
  );
});

test('latency is spent on the injected clock, never by sleeping', async () => {
  const clock = new ManualClock(1000);
  const faults = faultInjector(
    { seed: 5, latencyMinMs: 200, latencyMaxMs: 200 },
    { delay: clockDelay(clock) },
  );
  await faults.run('getPayment', counter().effect);
  assert.equal(clock.now(), 1200);
});

test('webhook faults drop, duplicate and shuffle, reproducibly', () => {
  const items = Array.from({ length: 200 }, (_, i) => i);
  const batch = (seed: number) =>
    faultInjector({
      seed,
      webhookDropRate: 0.1,
      webhookDuplicateRate: 0.1,
      webhookReorderRate: 1,
    }).webhookBatch(items);
  const a = batch(9);
  assert.deepEqual(a, batch(9));
  assert.ok(a.dropped.length > 0);
  assert.ok(a.deliver.length > new Set(a.deliver).size, 'duplicates');
  assert.equal(new Set(a.deliver).size + a.dropped.length, items.length, 'each item delivered or dropped');
  assert.notDeepEqual(
    [...new Set(a.deliver)],
    [...new Set(a.deliver)].sort((x, y) => x - y),
    'reordered',
  );
  const calm = faultInjector({ seed: 9 }).webhookBatch(items);
  assert.deepEqual(calm.deliver, items);
});

test('configuration is validated: rates are probabilities that add up to at most 1', () => {
  assert.equal(faultConfigSchema.safeParse({ seed: 1, unavailableRate: 1.5 }).success, false);
  assert.equal(
    faultConfigSchema.safeParse({ seed: 1, unavailableRate: 0.6, rateLimitedRate: 0.6 }).success,
    false,
  );
  assert.equal(faultConfigSchema.safeParse({ seed: 1, latencyMinMs: 5, latencyMaxMs: 1 }).success, false);
  assert.equal(faultConfigSchema.safeParse({ seed: 1 }).success, true);
});

test('the seeded source is uniform enough to trust rates', () => {
  const random = seededRandom(42);
  let below = 0;
  for (let i = 0; i < 10_000; i += 1) if (random() < 0.25) below += 1;
  assert.ok(below > 2300 && below < 2700, String(below));
});
