import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { clockDelay, type FaultConfigInput } from '../../src/adapters/sandbox/faults.ts';
import { defaultSandboxPaymentSettings } from '../../src/adapters/sandbox/payments/machine.ts';
import {
  sandboxPayments,
  type SandboxPayments,
  type WebhookDelivery,
} from '../../src/adapters/sandbox/payments/sandbox-payments.ts';
import { signWebhook } from '../../src/adapters/sandbox/webhook-signature.ts';
import type { ProviderResult } from '../../src/connectors/domain/provider-result.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { derivedIds } from '../../src/core/ids.ts';
import { dayMs, hourMs } from '../../src/core/time.ts';
import { backends } from '../helpers/backends.ts';
import { runPaymentsConformance, type PaymentsHarness } from './payments-conformance.ts';
import { freshSandboxDatabase, type SandboxDatabase } from './payments-db.ts';

const startMs = Date.parse('2026-11-25T09:00:00Z');
const webhookSecret = 'whsec_sandbox_test';

function value<T>(result: ProviderResult<T>): T {
  if (!result.ok) assert.fail(`expected ok, got ${result.error.kind}: ${result.error.message}`);
  return result.value;
}

function sandboxOn(
  database: SandboxDatabase,
  clock: ManualClock,
  faults?: FaultConfigInput,
): SandboxPayments {
  return sandboxPayments({
    db: database.db,
    clock,
    webhookSecret,
    ids: derivedIds(),
    delay: clockDelay(clock),
    ...(faults === undefined ? {} : { faults }),
  });
}

/** Checkout keys unique across the suite's sandboxes, which share one database. */
const run = randomBytes(4).toString('hex');
let authorizations = 0;

function harness(sandbox: SandboxPayments, clock: ManualClock): PaymentsHarness {
  return {
    port: sandbox,
    async authorize(amount, options = {}) {
      const scenario =
        options.refunds === 'settle_later'
          ? 'refunds_settle_later'
          : options.refunds === 'fail_later'
            ? 'refunds_fail_later'
            : 'ok';
      return value(
        await sandbox.authorize({
          idempotencyKey: `auth-${run}-${String((authorizations += 1))}`,
          amount,
          card: { scenario },
        }),
      ).paymentId;
    },
    injectFault(fault, command) {
      sandbox.faults.script(fault, command);
    },
    async settlePendingRefunds() {
      clock.advance(defaultSandboxPaymentSettings.refundSettleMs);
      await sandbox.runDue();
    },
    async expireAuthorization(paymentId) {
      const p = value(await sandbox.getPayment(paymentId));
      if (p.authorizationExpiresAtMs !== undefined)
        clock.set(Math.max(clock.now(), p.authorizationExpiresAtMs));
      await sandbox.runDue();
    },
    async openDispute(paymentId, stage) {
      value(await sandbox.openDispute({ paymentId, stage, reason: 'fraudulent', networkReasonCode: '10.4' }));
    },
    async raiseWarning(paymentId, fraudType) {
      value(await sandbox.raiseEarlyFraudWarning({ paymentId, fraudType }));
    },
    async refundWebhook(refundId) {
      const seen: WebhookDelivery[] = [];
      await sandbox.deliverWebhooks((delivery) => {
        seen.push(delivery);
        return Promise.resolve({ status: 200 });
      });
      const delivery = seen.find(
        (d) => d.body.includes(`"refundId":"${refundId}"`) && d.body.includes('"refund.created"'),
      );
      if (delivery === undefined) throw new Error(`no webhook for ${refundId}`);
      const header = delivery.headers['stripe-signature'];
      if (header === undefined) throw new Error('unsigned delivery');
      return { rawBody: delivery.body, header, sentAtMs: clock.now() };
    },
    nowMs: () => clock.now(),
  };
}

for (const backend of backends()) {
  // One database per backend for the whole suite (loading one takes seconds); every test makes
  // its own payments and keys, as tenants of one provider account would.
  runPaymentsConformance(`sandbox on ${backend}`, async () => {
    const database = await freshSandboxDatabase(backend);
    const clock = new ManualClock(startMs);
    return {
      make: () => Promise.resolve(harness(sandboxOn(database, clock), clock)),
      close: () => database.close(),
    };
  });

  describe(`sandbox payment provider on ${backend}`, () => {
    test('customer-initiated holds last 7 days, merchant-initiated ones the shorter configured window', async () => {
      const database = await freshSandboxDatabase(backend);
      try {
        const clock = new ManualClock(startMs);
        const s = sandboxOn(database, clock);
        const cit = value(
          await s.authorize({ idempotencyKey: `auth-2`, amount: { value: 5000, currency: 'JPY' } }),
        );
        const mit = value(
          await s.authorize({
            idempotencyKey: `auth-3`,
            amount: { value: 5000, currency: 'JPY' },
            initiator: 'merchant',
          }),
        );
        assert.equal(cit.authorizationExpiresAtMs, startMs + 7 * dayMs);
        assert.equal(
          mit.authorizationExpiresAtMs,
          startMs + defaultSandboxPaymentSettings.merchantInitiatedValidityMs,
        );
        clock.set(startMs + 7 * dayMs - 1);
        assert.equal(value(await s.getPayment(cit.paymentId)).status, 'authorized');
        value(
          await s.capture({
            paymentId: cit.paymentId,
            amount: { value: 100, currency: 'JPY' },
            idempotencyKey: 'cit-capture',
          }),
        );
        assert.equal(value(await s.getPayment(mit.paymentId)).status, 'expired');
      } finally {
        await database.close();
      }
    });

    test('a declined card leaves an incomplete payment and answers declined', async () => {
      const database = await freshSandboxDatabase(backend);
      try {
        const s = sandboxOn(database, new ManualClock(startMs));
        const result = await s.authorize({
          idempotencyKey: 'auth-declined',
          amount: { value: 5000, currency: 'JPY' },
          card: { scenario: 'declined' },
        });
        assert.equal(result.ok ? 'ok' : result.error.kind, 'declined');
        assert.equal(result.ok ? true : result.error.retryable, false);
      } finally {
        await database.close();
      }
    });

    test('idempotency keys are honoured for 24 hours, then forgotten', async () => {
      const database = await freshSandboxDatabase(backend);
      try {
        const clock = new ManualClock(startMs);
        const s = sandboxOn(database, clock);
        const p = value(
          await s.authorize({ idempotencyKey: `auth-4`, amount: { value: 9000, currency: 'JPY' } }),
        );
        value(await s.capture({ paymentId: p.paymentId, idempotencyKey: 'cap' }));
        const command = {
          paymentId: p.paymentId,
          amount: { value: 1000, currency: 'JPY' },
          reason: 'fraudulent' as const,
          idempotencyKey: 'r1',
        };
        const first = value(await s.refund(command));
        clock.advance(24 * hourMs - 1);
        assert.deepEqual(value(await s.refund(command)), first);
        assert.equal(value(await s.listRefunds(p.paymentId)).length, 1);
        clock.advance(1);
        const later = value(await s.refund(command));
        assert.notEqual(later.refundId, first.refundId);
        assert.equal(value(await s.listRefunds(p.paymentId)).length, 2);
      } finally {
        await database.close();
      }
    });

    test('an unanswered inquiry escalates to a chargeback that withdraws the money; a won one returns it', async () => {
      const database = await freshSandboxDatabase(backend);
      try {
        const clock = new ManualClock(startMs);
        const s = sandboxOn(database, clock);
        const p = value(
          await s.authorize({ idempotencyKey: `auth-5`, amount: { value: 5000, currency: 'JPY' } }),
        );
        value(await s.capture({ paymentId: p.paymentId, idempotencyKey: 'cap' }));
        const inquiry = value(await s.openDispute({ paymentId: p.paymentId, stage: 'inquiry' }));
        assert.equal(inquiry.status, 'warning_needs_response');
        clock.advance(defaultSandboxPaymentSettings.inquiryEscalationMs);
        const [escalated] = value(await s.listDisputes({ paymentId: p.paymentId, limit: 10 })).items;
        assert.equal(escalated?.stage, 'chargeback');
        assert.equal(escalated.status, 'needs_response');
        value(await s.resolveDispute(inquiry.disputeId, 'won'));
        const ledger = value(await s.listBalanceTransactions({ limit: 100 })).items;
        assert.deepEqual(
          ledger.map((t) => [t.reportingCategory, t.amountMinor]),
          [
            ['charge', 5000],
            ['dispute', -5000],
            ['dispute_reversal', 5000],
          ],
        );
      } finally {
        await database.close();
      }
    });

    test('an early fraud warning stops being actionable once the charge is fully refunded', async () => {
      const database = await freshSandboxDatabase(backend);
      try {
        const clock = new ManualClock(startMs);
        const s = sandboxOn(database, clock);
        const p = value(
          await s.authorize({ idempotencyKey: `auth-6`, amount: { value: 5000, currency: 'JPY' } }),
        );
        value(await s.capture({ paymentId: p.paymentId, idempotencyKey: 'cap' }));
        value(await s.raiseEarlyFraudWarning({ paymentId: p.paymentId, fraudType: 'made_with_stolen_card' }));
        value(
          await s.refund({
            paymentId: p.paymentId,
            amount: { value: 2000, currency: 'JPY' },
            reason: 'fraudulent',
            idempotencyKey: 'r1',
          }),
        );
        assert.equal(
          value(await s.listEarlyFraudWarnings({ paymentId: p.paymentId, limit: 5 })).items[0]?.actionable,
          true,
        );
        value(
          await s.refund({
            paymentId: p.paymentId,
            amount: { value: 3000, currency: 'JPY' },
            reason: 'fraudulent',
            idempotencyKey: 'r2',
          }),
        );
        assert.equal(
          value(await s.listEarlyFraudWarnings({ paymentId: p.paymentId, limit: 5 })).items[0]?.actionable,
          false,
        );
      } finally {
        await database.close();
      }
    });

    test('state survives a restart: payments, keys, ledger and undelivered webhooks', async () => {
      const first = await freshSandboxDatabase(backend, { onDisk: true });
      let database = first;
      try {
        const clock = new ManualClock(startMs);
        const before = sandboxOn(database, clock);
        const p = value(
          await before.authorize({
            idempotencyKey: 'auth-restart',
            amount: { value: 5000, currency: 'JPY' },
            card: { scenario: 'refunds_settle_later' },
          }),
        );
        value(await before.capture({ paymentId: p.paymentId, idempotencyKey: 'cap' }));
        const refund = value(
          await before.refund({
            paymentId: p.paymentId,
            amount: { value: 5000, currency: 'JPY' },
            reason: 'fraudulent',
            idempotencyKey: 'r1',
          }),
        );
        database = await database.reopen();
        const after = sandboxOn(database, clock);
        assert.equal(value(await after.getPayment(p.paymentId)).refundPendingMinor, 5000);
        assert.deepEqual(
          value(
            await after.refund({
              paymentId: p.paymentId,
              amount: { value: 5000, currency: 'JPY' },
              reason: 'fraudulent',
              idempotencyKey: 'r1',
            }),
          ),
          refund,
        );
        clock.advance(defaultSandboxPaymentSettings.refundSettleMs);
        assert.equal(value(await after.getPayment(p.paymentId)).refundedMinor, 5000);
        const sent: string[] = [];
        const report = await after.deliverWebhooks((d) => {
          sent.push((JSON.parse(d.body) as { type: string }).type);
          return Promise.resolve({ status: 200 });
        });
        assert.deepEqual(sent, [
          'payment_intent.amount_capturable_updated',
          'charge.captured',
          'payment_intent.succeeded',
          'refund.created',
          'charge.refunded',
          'refund.updated',
          'charge.refund.updated',
        ]);
        assert.equal(report.dropped.length, 0);
        assert.equal((await after.deliverWebhooks(() => Promise.resolve({ status: 200 }))).sent.length, 0);
      } finally {
        await database.close();
      }
    });

    test('webhook faults by seed: dropped, duplicated and reordered deliveries, reproducibly; refused ones are retried', async () => {
      const outcome = async (seed: number) => {
        const database = await freshSandboxDatabase(backend);
        try {
          const clock = new ManualClock(startMs);
          const s = sandboxOn(database, clock, {
            seed,
            webhookDropRate: 0.2,
            webhookDuplicateRate: 0.3,
            webhookReorderRate: 1,
          });
          for (let i = 0; i < 5; i += 1) {
            const p = value(
              await s.authorize({
                idempotencyKey: `auth-7-${String(i)}`,
                amount: { value: 1000 + i, currency: 'JPY' },
              }),
            );
            value(await s.capture({ paymentId: p.paymentId, idempotencyKey: `cap-${String(i)}` }));
          }
          const received: string[] = [];
          const report = await s.deliverWebhooks((d) => {
            const verified = s.verifyWebhook(d.body, d.headers['stripe-signature'], clock.now());
            assert.ok(verified.ok);
            received.push(verified.event.eventId);
            return Promise.resolve({ status: 200 });
          });
          return { received, report };
        } finally {
          await database.close();
        }
      };
      const a = await outcome(7);
      const b = await outcome(7);
      assert.deepEqual(a, b, 'the same seed gives the same deliveries');
      const total = 15;
      assert.ok(a.report.dropped.length > 0, 'some deliveries dropped');
      assert.equal(
        new Set(a.received).size + a.report.dropped.length,
        total,
        'every event delivered or dropped',
      );
      assert.ok(a.received.length > new Set(a.received).size, 'some deliveries duplicated');
      for (const id of a.report.dropped) assert.ok(!a.received.includes(id));
    });

    test('a refused delivery is retried later with a fresh signature', async () => {
      const database = await freshSandboxDatabase(backend);
      try {
        const clock = new ManualClock(startMs);
        const s = sandboxOn(database, clock);
        value(await s.authorize({ idempotencyKey: `auth-8`, amount: { value: 1000, currency: 'JPY' } }));
        const refused = await s.deliverWebhooks(() => Promise.resolve({ status: 500 }));
        assert.equal(refused.sent.length, 1);
        assert.equal(
          (await s.deliverWebhooks(() => Promise.resolve({ status: 200 }))).sent.length,
          0,
          'not due yet',
        );
        clock.advance(hourMs);
        const headers: string[] = [];
        const retried = await s.deliverWebhooks((d) => {
          headers.push(d.headers['stripe-signature'] ?? '');
          return Promise.resolve({ status: 204 });
        });
        assert.deepEqual(retried.sent, refused.sent);
        assert.match(
          headers[0] ?? '',
          new RegExp(`^t=${String(Math.floor(clock.now() / 1000))},v1=[0-9a-f]{64}$`),
        );
      } finally {
        await database.close();
      }
    });

    test('latency is waited on the injected clock; beyond the client timeout the effect happens and the answer is lost', async () => {
      const database = await freshSandboxDatabase(backend);
      try {
        const clock = new ManualClock(startMs);
        const s = sandboxOn(database, clock, {
          seed: 1,
          latencyMinMs: 5000,
          latencyMaxMs: 5000,
          clientTimeoutMs: 3000,
          commands: ['capture'],
        });
        const p = value(
          await s.authorize({ idempotencyKey: `auth-9`, amount: { value: 1000, currency: 'JPY' } }),
        );
        const result = await s.capture({ paymentId: p.paymentId, idempotencyKey: 'slow' });
        assert.equal(result.ok ? 'ok' : result.error.kind, 'timeout');
        assert.equal(clock.now(), startMs + 3000, 'waited the client timeout, on the manual clock');
        assert.equal((await s.inspect(p.paymentId))?.status, 'captured');
      } finally {
        await database.close();
      }
    });
  });
}

test('webhook signatures match the Stripe scheme (worked test vector)', () => {
  const body = '{"id":"evt_test_webhook","object":"event"}';
  assert.equal(
    signWebhook('whsec_test_secret', body, 1700000000),
    't=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990',
  );
});
