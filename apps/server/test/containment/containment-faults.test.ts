import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runFaultSimulation } from '../../src/sim/faults/simulate.ts';
import { freshDatabase, type StorageWithDatabase } from '../helpers/backends.ts';

/**
 * The deterministic fault simulation, a small seed set (the full run: `npm run sim:faults`).
 * FAULT_SEEDS=7,8 replays other seeds; a violation names its seed.
 */
const seeds = (process.env.FAULT_SEEDS ?? '11,12,13')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n));

describe('containment under injected faults (seeded simulation)', () => {
  let database: StorageWithDatabase | undefined;
  before(async () => {
    database = await freshDatabase('pglite');
  });
  after(async () => {
    await database?.close();
  });

  for (const seed of seeds) {
    test(`seed ${String(seed)}: crashes, timeouts after effect, 5xx, rate limits, failing refunds — no invariant broken`, async () => {
      assert.ok(database);
      const stats = await runFaultSimulation(database.storage, database.db, {
        seed,
        incidents: 2,
        ordersPerIncident: 8,
      });
      assert.deepEqual(stats.violations, []);
      assert.equal(stats.incidents, 2);
      assert.equal(stats.orders, 16);
      assert.equal(stats.runsCompleted + stats.runsEscalated, 2, 'every run terminal (L1)');
      assert.ok(stats.maxEffectsPerAction <= 1, 'at most one effect per (case, payment, action)');
      const injected = Object.values(stats.faults).reduce((a, b) => a + b, 0);
      assert.ok(injected > 0, 'faults were injected');
    });
  }

  test('incidents interleaved on coarse event time (the large-run mode): no invariant broken', async () => {
    assert.ok(database);
    const stats = await runFaultSimulation(database.storage, database.db, {
      seed: 21,
      incidents: 4,
      ordersPerIncident: 6,
      concurrency: 4,
      quantumMs: 1000,
    });
    assert.deepEqual(stats.violations, []);
    assert.equal(stats.incidents, 4);
    assert.equal(stats.orders, 24);
    assert.equal(stats.runsCompleted + stats.runsEscalated, 4, 'every run terminal (L1)');
    assert.ok(stats.maxEffectsPerAction <= 1);
  });

  test('the same seed gives the same run', async () => {
    const first = await freshDatabase('pglite');
    const second = await freshDatabase('pglite');
    try {
      const a = await runFaultSimulation(first.storage, first.db, {
        seed: 5,
        incidents: 1,
        ordersPerIncident: 6,
      });
      const b = await runFaultSimulation(second.storage, second.db, {
        seed: 5,
        incidents: 1,
        ordersPerIncident: 6,
      });
      assert.deepEqual(b, a);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
