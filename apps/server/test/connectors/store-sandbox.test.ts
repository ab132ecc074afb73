import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clockDelay, noFaults, type FaultConfigInput } from '../../src/adapters/sandbox/faults.ts';
import type { WebhookRequest } from '../../src/adapters/sandbox/signed-webhooks.ts';
import { StoreSandbox } from '../../src/adapters/sandbox/store/sandbox.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { backends, type Backend } from '../helpers/backends.ts';
import { sandboxDatabase, type SandboxDatabase } from './fulfilment-store-db.ts';
import { runStoreConformance, type MakeStore } from './store-suite.ts';
import { valueOf } from './until-final.ts';

const startMs = Date.parse('2026-11-25T09:00:00Z');
const webhookSecret = 'whsec_test_store';
/** Seed of the faulty runs; FAULT_SEED=<n> replays another. */
const faultSeed = Number(process.env.FAULT_SEED ?? 20261125);

const seededFaults: FaultConfigInput = {
  seed: faultSeed,
  timeoutBeforeEffectRate: 0.1,
  timeoutAfterEffectRate: 0.15,
  unavailableRate: 0.1,
  rateLimitedRate: 0.05,
  latencyMaxMs: 1500,
  webhookDuplicateRate: 0.3,
  webhookReorderRate: 0.5,
};

function sandboxOn(backend: Backend, faults: FaultConfigInput): MakeStore {
  return async () => {
    const database = await sandboxDatabase(backend);
    const clock = new ManualClock(startMs);
    const received: WebhookRequest[] = [];
    const sandbox = new StoreSandbox({
      db: database.db,
      clock,
      faults,
      delay: clockDelay(clock),
      webhooks: {
        url: 'http://127.0.0.1:9/hooks',
        secret: webhookSecret,
        transport: (request) => {
          received.push(request);
          return Promise.resolve(204);
        },
      },
    });
    return {
      port: sandbox.port,
      world: sandbox,
      clock,
      scriptFault: (fault, command) => {
        sandbox.faults.script(fault, command);
      },
      deliverWebhooks: async () => {
        await sandbox.deliverWebhooks();
      },
      received,
      webhookSecret,
      close: () => database.close(),
    };
  };
}

for (const backend of backends()) {
  runStoreConformance(`sandbox on ${backend}`, sandboxOn(backend, noFaults));
  runStoreConformance(
    `sandbox on ${backend} with seeded faults (FAULT_SEED=${String(faultSeed)})`,
    sandboxOn(backend, seededFaults),
  );

  describe(`store sandbox on ${backend}`, () => {
    test('survives a restart: accounts, archived orders, dead codes and kept answers', async () => {
      let database: SandboxDatabase = await sandboxDatabase(backend, { onDisk: true });
      try {
        const clock = new ManualClock(startMs);
        const first = new StoreSandbox({ db: database.db, clock });
        await first.createAccount({ accountId: 'a-1' });
        await first.signIn({ accountId: 'a-1', sessionId: 's-1' });
        await first.placeOrder({
          orderId: 'o-1',
          accountId: 'a-1',
          items: [{ category: 'gift_card', quantity: 2, unitPrice: { value: 5000, currency: 'JPY' } }],
        });
        await first.archiveOrder('o-1');
        const revoked = valueOf(
          await first.port.revokeSessions({ accountId: 'a-1', idempotencyKey: 'k-rev' }),
        );
        valueOf(await first.port.deactivateGiftCards({ orderId: 'o-1', idempotencyKey: 'k-gc' }));

        database = await database.reopen();
        const second = new StoreSandbox({ db: database.db, clock });
        const orders = valueOf(await second.port.listOrders({ accountId: 'a-1', sinceMs: startMs }));
        assert.deepEqual(
          orders.map((o) => [o.orderId, o.archived]),
          [['o-1', true]],
        );
        assert.equal(await second.isSessionActive('s-1'), false);
        for (const code of await second.giftCardCodes('o-1'))
          assert.equal((await second.redeemGiftCard(code)).ok, false);
        await second.signIn({ accountId: 'a-1', sessionId: 's-2' });
        assert.deepEqual(
          valueOf(await second.port.revokeSessions({ accountId: 'a-1', idempotencyKey: 'k-rev' })),
          revoked,
        );
        assert.equal(await second.isSessionActive('s-2'), true);
      } finally {
        await database.close();
      }
    });

    test('an unknown account is not_found for every account command', async () => {
      const database = await sandboxDatabase(backend);
      try {
        const sandbox = new StoreSandbox({ db: database.db, clock: new ManualClock(startMs) });
        for (const answer of [
          await sandbox.port.lockAccount({ accountId: 'nobody', idempotencyKey: 'k1' }),
          await sandbox.port.revokeSessions({ accountId: 'nobody', idempotencyKey: 'k2' }),
          await sandbox.port.forcePasswordReset({ accountId: 'nobody', idempotencyKey: 'k3' }),
          await sandbox.port.deactivateGiftCards({ orderId: 'nothing', idempotencyKey: 'k4' }),
        ])
          assert.equal(!answer.ok && answer.error.kind, 'not_found');
      } finally {
        await database.close();
      }
    });
  });
}
