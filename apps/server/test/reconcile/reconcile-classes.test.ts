import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MismatchClass } from '../../src/reconcile/domain/classify.ts';
import { hourMs, minuteMs } from '../../src/core/time.ts';
import { backends } from '../helpers/backends.ts';
import { ReconcileHarness } from './setup.ts';

/**
 * One injected discrepancy per mismatch class, each found by ONE reconciliation pass and either
 * repaired (the containment step re-run under its own key, the provider's books then right) or
 * escalated with what a person needs. The suite shares one database; each test has its own account.
 */
for (const backend of backends()) {
  describe(`reconciliation: every mismatch class (${backend})`, () => {
    let shared: ReconcileHarness | undefined;
    before(async () => {
      shared = await ReconcileHarness.open(backend, { interceptSuccessRate: 1 });
    });
    after(async () => {
      await shared?.close();
    });
    const r = (): ReconcileHarness => {
      if (shared === undefined) throw new Error('harness not open');
      return shared;
    };
    const payment = async (paymentId: string) => {
      const read = await r().h.world.payments.getPayment(paymentId);
      assert.ok(read.ok);
      return read.value;
    };
    const onePass = async (orderOrPayment: string, cls: MismatchClass) => {
      const pass = await r().reconciler.run();
      assert.ok(pass.mismatches >= 1, 'the pass found something');
      const found = (await r().mismatchesOf(orderOrPayment)).filter((m) => m.class === cls);
      assert.equal(
        found.length,
        1,
        `one ${cls} for ${orderOrPayment}: ${JSON.stringify(await r().mismatchesOf(orderOrPayment))}`,
      );
      const [mismatch] = found;
      assert.ok(mismatch);
      return { pass, mismatch };
    };

    test('cancelled but still capturable: the void is re-run under its key and the provider voids', async () => {
      const { h } = r();
      await h.placeOrder('acct-c1', 'o-c1', [{ category: 'physical', value: 5000 }]);
      const caseId = await r().openCaseUpToSweep('acct-c1');
      await r().forgeStep(caseId, 'void-authorization:o-c1', { provider: 'sandbox', action: 'voided' });
      await r().forgeStep(caseId, 'confirm-payment-outcome:o-c1', { confirmed: 'unconfirmed' });
      await h.engine.drain();
      const paymentId = await r().paymentOf('o-c1');
      assert.equal((await payment(paymentId)).status, 'authorized', 'injected: still capturable');
      const { mismatch } = await onePass('o-c1', 'cancelled_but_capturable');
      assert.equal(mismatch.status, 'repaired');
      assert.equal(mismatch.caseId, caseId);
      assert.match(mismatch.action, new RegExp(`bulwark:${caseId}:void-authorization:o-c1`));
      await h.engine.drain();
      const after = await payment(paymentId);
      assert.equal(after.status, 'voided');
      assert.equal(after.capturableMinor, 0);
      await r().reconciler.run();
      const again = (await r().mismatchesOf('o-c1')).find((m) => m.class === 'cancelled_but_capturable');
      assert.ok(again?.resolvedAtMs !== undefined, 'resolved on the next pass');
    });

    test('captured after the fraud decision: the payment step refunds under its key', async () => {
      const { h } = r();
      await h.placeOrder('acct-c2', 'o-c2', [{ category: 'physical', value: 7000 }]);
      const caseId = await r().openCaseUpToSweep('acct-c2');
      await r().forgeStep(caseId, 'void-authorization:o-c2', { provider: 'sandbox', action: 'voided' });
      await r().forgeStep(caseId, 'confirm-payment-outcome:o-c2', { confirmed: 'unconfirmed' });
      await h.engine.drain();
      h.clock.advance(minuteMs);
      const paymentId = await r().paymentOf('o-c2');
      await r().rogueCapture(paymentId);
      assert.equal((await payment(paymentId)).capturedMinor, 7000, 'injected: captured past the fence');
      const { mismatch } = await onePass('o-c2', 'captured_after_decision');
      assert.equal(mismatch.status, 'repaired');
      await h.engine.drain();
      const after = await payment(paymentId);
      assert.equal(after.refundedMinor, 7000);
      const refunds = await h.world.payments.listRefunds(paymentId);
      assert.ok(refunds.ok);
      assert.equal(refunds.value.length, 1, 'one refund: S4');
    });

    test('refund recorded here but absent at the provider: the refund step runs for real', async () => {
      const { h } = r();
      await h.placeOrder('acct-c3', 'o-c3', [{ category: 'gift_card', value: 5000 }]);
      await h.passTime(h.clock.now() + 15 * minuteMs);
      const paymentId = await r().paymentOf('o-c3');
      assert.equal((await payment(paymentId)).status, 'captured');
      const caseId = await r().openCaseUpToSweep('acct-c3');
      await r().forgeStep(caseId, 'refund-capture:o-c3', {
        provider: 'sandbox',
        action: 'refunded',
        refundId: 're_forged_c3',
      });
      await r().forgeStep(caseId, 'confirm-payment-outcome:o-c3', { confirmed: 'unconfirmed' });
      await h.engine.drain();
      const { mismatch } = await onePass('o-c3', 'refund_not_at_provider');
      assert.equal(mismatch.status, 'repaired');
      assert.match(mismatch.actual, /re_forged_c3/);
      await h.engine.drain();
      assert.equal((await payment(paymentId)).refundedMinor, 5000);
    });

    test('provider refund unknown here: recorded and linked to the case', async () => {
      const { h } = r();
      await h.placeOrder('acct-c4', 'o-c4', [{ category: 'gift_card', value: 5000 }]);
      await h.passTime(h.clock.now() + 15 * minuteMs);
      const caseId = await h.openCase('acct-c4');
      await h.engine.drain();
      const paymentId = await r().paymentOf('o-c4');
      const p = await payment(paymentId);
      assert.equal(p.refundedMinor, 5000);
      // Our records lose the refund's reference (a write that never landed).
      await r().forgeStep(caseId, 'refund-capture:o-c4', { provider: 'sandbox', action: 'refunded' });
      await r().forgeStep(caseId, 'confirm-payment-outcome:o-c4', {
        confirmed: 'refunded',
        confirmedMinor: 5000,
        refundIds: [],
      });
      const { mismatch } = await onePass('o-c4', 'provider_refund_unknown');
      assert.equal(mismatch.status, 'repaired');
      assert.equal(mismatch.caseId, caseId);
      const refunds = await h.world.payments.listRefunds(paymentId);
      assert.ok(refunds.ok);
      assert.equal(mismatch.detail.refundId, refunds.value[0]?.refundId);
    });

    test('amounts differ: our confirmation says less than the provider voided — escalated', async () => {
      const { h } = r();
      await h.placeOrder('acct-c5', 'o-c5', [{ category: 'physical', value: 5000 }]);
      const caseId = await h.openCase('acct-c5');
      await h.engine.drain();
      await r().forgeStep(caseId, 'confirm-payment-outcome:o-c5', {
        confirmed: 'voided',
        confirmedMinor: 4000,
      });
      const { mismatch } = await onePass('o-c5', 'amounts_differ');
      assert.equal(mismatch.status, 'escalated');
      assert.equal(mismatch.detail.ours, 4000);
      assert.equal(mismatch.detail.provider, 5000);
    });

    test('shipped after the decision: the shipment step is re-run and the carrier intercepts', async () => {
      const { h } = r();
      const t0 = h.clock.now();
      await h.placeOrder('acct-c6', 'o-c6', [{ category: 'physical', value: 9000 }]);
      await h.passTime(t0 + 5 * hourMs);
      const caseId = await r().openCaseUpToSweep('acct-c6');
      const stopKey = (await h.steps(caseId)).find(
        (s) => s.target === 'o-c6' && s.name === 'cancel-shipment',
      )?.stepKey;
      assert.equal(stopKey, 'cancel-shipment:o-c6', 'the sweep saw a labelled parcel');
      await r().forgeStep(caseId, stopKey, { actions: [] });
      await r().forgeStep(caseId, 'confirm-shipment-outcome:o-c6', { confirmed: 'cancelled', shipments: [] });
      await h.engine.drain();
      h.clock.set(t0 + 6 * hourMs + 1);
      await r().rogueWarehouse(1).tick();
      const { mismatch } = await onePass('o-c6', 'shipped_after_decision');
      assert.equal(mismatch.status, 'repaired');
      assert.equal(mismatch.shipmentId, 'o-c6-physical');
      await h.engine.drain();
      const tracking = await h.world.fulfilment.port.getTracking('o-c6', 'o-c6-physical');
      assert.ok(tracking.ok);
      assert.ok(tracking.value.events.some((e) => e.type === 'intercept_requested'));
      await h.passTime(h.clock.now() + 3 * hourMs);
      const after = await h.world.fulfilment.port.getTracking('o-c6', 'o-c6-physical');
      assert.ok(after.ok);
      assert.equal(after.value.status, 'returned');
    });

    test('intercept failed: escalated with the parcel state', async () => {
      const { h } = r();
      const t0 = h.clock.now();
      await h.placeOrder('acct-c7', 'o-c7', [{ category: 'physical', value: 9000 }]);
      await h.passTime(t0 + 5 * hourMs);
      const caseId = await r().openCaseUpToSweep('acct-c7');
      await r().forgeStep(caseId, 'cancel-shipment:o-c7', { actions: [] });
      await r().forgeStep(caseId, 'confirm-shipment-outcome:o-c7', { confirmed: 'cancelled', shipments: [] });
      await h.engine.drain();
      h.clock.set(t0 + 6 * hourMs + 1);
      const rogue = r().rogueWarehouse(0);
      await rogue.tick();
      const asked = await rogue.port.requestIntercept({
        orderId: 'o-c7',
        shipmentId: 'o-c7-physical',
        idempotencyKey: 'carrier-desk-c7',
      });
      assert.ok(asked.ok);
      h.clock.set(h.clock.now() + 2 * hourMs + 1);
      await rogue.tick();
      const { mismatch } = await onePass('o-c7', 'intercept_failed');
      assert.equal(mismatch.status, 'escalated');
      assert.equal(mismatch.shipmentId, 'o-c7-physical');
    });

    test('dispute on an order already refunded: evidence package assembled and stored', async () => {
      const { h } = r();
      await h.placeOrder('acct-c8', 'o-c8', [{ category: 'gift_card', value: 5000 }]);
      await h.passTime(h.clock.now() + 15 * minuteMs);
      await h.openCase('acct-c8');
      await h.engine.drain();
      const paymentId = await r().paymentOf('o-c8');
      const p = await payment(paymentId);
      assert.equal(p.refundedMinor, 5000);
      const dispute = await h.world.payments.openDispute({
        paymentId,
        despiteRefund: true,
        stage: 'chargeback',
      });
      assert.ok(dispute.ok);
      const { mismatch } = await onePass(paymentId, 'dispute_on_refunded_order');
      assert.equal(mismatch.status, 'escalated');
      const stored = await r().store.dispute(dispute.value.disputeId);
      assert.equal(stored?.action, 'evidence');
      const refunds = await h.world.payments.listRefunds(paymentId);
      assert.ok(refunds.ok);
      const evidence = stored.evidence as {
        refunds: { refundId: string }[];
        timeline: unknown[];
        notifications: { messageId?: string }[];
      };
      assert.deepEqual(
        evidence.refunds.map((x) => x.refundId),
        refunds.value.map((x) => x.refundId),
      );
      assert.ok(evidence.timeline.length >= 3);
      assert.equal(evidence.notifications.length, 1);
      assert.ok(evidence.notifications[0]?.messageId);
    });

    test('money unmatched: a charge on no mirrored order is escalated', async () => {
      const { h } = r();
      const stray = await h.world.payments.authorize({
        amount: { value: 777, currency: 'JPY' },
        idempotencyKey: 'stray-1',
      });
      assert.ok(stray.ok);
      await h.world.payments.capture({ paymentId: stray.value.paymentId, idempotencyKey: 'stray-capture-1' });
      const { mismatch } = await onePass(stray.value.paymentId, 'money_unmatched');
      assert.equal(mismatch.status, 'escalated');
    });

    test('a fraud dispute on an account in containment is accepted at the provider', async () => {
      const { h } = r();
      await h.placeOrder('acct-d1', 'o-d1', [{ category: 'gift_card', value: 5000 }]);
      await h.passTime(h.clock.now() + 15 * minuteMs);
      const paymentId = await r().paymentOf('o-d1');
      const dispute = await h.world.payments.openDispute({
        paymentId,
        stage: 'chargeback',
        reason: 'fraudulent',
      });
      assert.ok(dispute.ok);
      await h.openCase('acct-d1');
      await h.engine.drain();
      await r().reconciler.run();
      const stored = await r().store.dispute(dispute.value.disputeId);
      assert.equal(stored?.action, 'accepted');
      assert.ok(stored.caseId);
      const listed = await h.world.payments.listDisputes({ paymentId, limit: 10 });
      assert.ok(listed.ok);
      assert.equal(listed.value.items[0]?.status, 'lost');
    });

    test('early fraud warning on an unshipped captured order: refunded within the hour', async () => {
      const { h } = r();
      await h.placeOrder('acct-e1', 'o-e1', [{ category: 'physical', value: 6000 }]);
      const paymentId = await r().paymentOf('o-e1');
      await h.world.payments.capture({ paymentId, idempotencyKey: 'capture-at-checkout-e1' });
      const warning = await h.world.payments.raiseEarlyFraudWarning({ paymentId });
      assert.ok(warning.ok);
      h.clock.advance(10 * minuteMs);
      await r().reconciler.run();
      const decided = await r().store.warning(warning.value.warningId);
      assert.equal(decided?.decision, 'refund');
      assert.equal(decided.reason, 'unshipped');
      assert.ok(decided.decidedAtMs - warning.value.createdAtMs <= hourMs);
      assert.equal((await payment(paymentId)).refundedMinor, 6000);
      // The refund Bulwark made on the warning is known: no "provider refund unknown".
      assert.equal((await r().mismatchesOf('o-e1')).length, 0);
    });

    test('early fraud warning on a delivered order: kept, nothing refunded', async () => {
      const { h } = r();
      await h.placeOrder('acct-e2', 'o-e2', [{ category: 'gift_card', value: 5000 }]);
      await h.passTime(h.clock.now() + 15 * minuteMs);
      const paymentId = await r().paymentOf('o-e2');
      const warning = await h.world.payments.raiseEarlyFraudWarning({ paymentId });
      assert.ok(warning.ok);
      await r().reconciler.run();
      const decided = await r().store.warning(warning.value.warningId);
      assert.equal(decided?.decision, 'keep');
      assert.equal((await payment(paymentId)).refundedMinor, 0);
    });
  });
}
