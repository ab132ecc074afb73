import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { receiptOf } from '../../src/containment/domain/receipt.ts';
import { dayMs, hourMs, minuteMs } from '../../src/core/time.ts';
import { backends } from '../helpers/backends.ts';
import { Harness } from './harness.ts';

/** The payment's refunds that moved money (or may): S4 allows one per case and payment. */
async function effectiveRefunds(h: Harness, paymentId: string): Promise<number> {
  const refunds = await h.world.payments.listRefunds(paymentId);
  assert.ok(refunds.ok);
  return refunds.value.filter((r) => r.status === 'succeeded' || r.status === 'pending').length;
}

async function paymentOf(h: Harness, orderId: string) {
  const order = (await h.world.store.allOrders()).find((o) => o.orderId === orderId);
  assert.ok(order?.paymentId, `order ${orderId} has a payment`);
  const read = await h.world.payments.getPayment(order.paymentId);
  assert.ok(read.ok);
  return read.value;
}

for (const backend of backends()) {
  describe(`containment engine (${backend})`, () => {
    // One database and world for the suite (opening PGlite is the slow part); every test works
    // on accounts and orders of its own.
    let shared: Harness | undefined;
    before(async () => {
      shared = await Harness.open(backend, { interceptSuccessRate: 1 });
    });
    after(async () => {
      await shared?.close();
    });
    const harness = (): Promise<Harness> => {
      if (shared === undefined) throw new Error('harness not open');
      shared.crashHook = undefined;
      shared.newEngine();
      return Promise.resolve(shared);
    };

    test('ato-lockdown: voids, refunds, stops shipments, deactivates codes, tells the owner once — all provider-confirmed', async () => {
      const h = await harness();
      const a = 'acct-1';
      await h.world.store.createAccount({ accountId: a, email: `${a}@example.jp` });
      await h.world.store.signIn({ accountId: a, sessionId: 'attacker-session' });
      await h.placeOrder(a, 'gc-delivered', [{ category: 'gift_card', value: 5000 }]);
      await h.placeOrder(a, 'parcel-in-transit', [{ category: 'physical', value: 12800 }]);
      await h.world.store.archiveOrder('gc-delivered');
      // Codes go out after 10 minutes and are captured; the parcel is picked up after 6 hours.
      await h.passTime(h.clock.now() + 6 * hourMs + minuteMs);
      await h.placeOrder(a, 'parcel-labelled', [{ category: 'physical', value: 8000 }]);
      await h.passTime(h.clock.now() + 4 * hourMs + minuteMs);
      await h.placeOrder(a, 'gc-authorized', [{ category: 'gift_card', value: 5000 }]);
      assert.equal((await paymentOf(h, 'gc-delivered')).status, 'captured');
      assert.equal((await paymentOf(h, 'parcel-in-transit')).status, 'captured');
      assert.equal((await paymentOf(h, 'parcel-labelled')).status, 'authorized');

      const caseId = await h.openCase(a, 'ato-lockdown', { sinceMs: h.clock.now() - 12 * hourMs });
      const decidedAt = h.clock.now();
      await h.settleAll();

      const steps = await h.steps(caseId);
      const byKey = new Map(steps.map((s) => [s.stepKey, s]));
      for (const s of steps) assert.equal(s.state, 'done', `${s.stepKey}: ${s.state} ${s.lastError ?? ''}`);
      assert.equal(byKey.get('refund-capture:gc-delivered')?.name, 'refund-capture');
      assert.equal(byKey.get('void-authorization:gc-authorized')?.name, 'void-authorization');
      assert.equal(byKey.get('request-intercept:parcel-in-transit')?.name, 'request-intercept');
      assert.equal(byKey.get('cancel-shipment:parcel-labelled')?.name, 'cancel-shipment');

      // The providers' own books: nothing capturable, everything captured refunded (L2).
      for (const orderId of ['gc-delivered', 'parcel-in-transit', 'parcel-labelled', 'gc-authorized']) {
        const p = await paymentOf(h, orderId);
        assert.equal(p.capturableMinor, 0, `${orderId} capturable`);
        assert.equal(p.capturedMinor - p.refundedMinor, 0, `${orderId} kept money`);
        assert.ok((await effectiveRefunds(h, p.paymentId)) <= 1, `${orderId}: at most one refund (S4)`);
      }
      assert.equal((await paymentOf(h, 'gc-authorized')).status, 'voided');
      const cards = await h.world.store.giftCards('gc-delivered');
      assert.deepEqual(
        cards.map((c) => c.status),
        ['deactivated'],
      );
      const parcel = await h.world.fulfilment.inspect('parcel-labelled');
      assert.equal(parcel?.shipments[0]?.status, 'cancelled');
      const intercepted = await h.world.fulfilment.inspect('parcel-in-transit');
      assert.equal(intercepted?.shipments[0]?.status, 'returned');
      // Nothing left the warehouse after the decision (S2).
      for (const order of await h.world.store.allOrders()) {
        const f = await h.world.fulfilment.inspect(order.orderId);
        for (const s of f?.shipments ?? []) {
          const moved = s.history.filter(
            (e) => (e.type === 'picked_up' || e.type === 'digital_delivered') && e.atMs > decidedAt,
          );
          assert.deepEqual(moved, [], `${order.orderId} shipped after the decision`);
        }
      }
      assert.equal(await h.world.store.isSessionActive('attacker-session'), false);

      // One message, with amounts and provider references, only after the confirmations (S5).
      const messages = h.sink.messages();
      assert.equal(messages.length, 1);
      const message = messages[0];
      assert.ok(message?.channel === 'email');
      const notify = byKey.get('notify-owner');
      const lastConfirm = Math.max(
        ...steps.filter((s) => s.name.startsWith('confirm-')).map((s) => s.doneAtMs ?? Infinity),
      );
      assert.ok((notify?.doneAtMs ?? 0) >= lastConfirm);
      const voided = await paymentOf(h, 'gc-authorized');
      assert.match(message.text, new RegExp(voided.paymentId));
      assert.match(message.text, /¥5,000/);
      assert.match(message.text, /refunded in full/);
      const run = await h.database.storage.containment.runForCase(caseId);
      assert.ok(run);
      const receipt = receiptOf(run, steps);
      assert.equal(receipt.complete, true);
      assert.deepEqual(receipt.orders.map((o) => [o.orderId, o.payment.outcome, o.shipment.outcome]).sort(), [
        ['gc-authorized', 'voided', 'held'],
        ['gc-delivered', 'refunded', 'digital_delivered'],
        ['parcel-in-transit', 'refunded', 'returned'],
        ['parcel-labelled', 'voided', 'cancelled'],
      ]);
      assert.equal((await h.database.storage.cases.get(caseId))?.status, 'contained');
    });

    test('a capture after the fraud decision is refused by the fence; so is a shipment', async () => {
      const h = await harness();
      await h.placeOrder('acct-f', 'f-1', [{ category: 'gift_card', value: 5000 }]);
      await h.placeOrder('acct-f', 'f-2', [{ category: 'physical', value: 5000 }]);
      await h.openCase('acct-f');
      // No containment worker runs: only the fence stands between the store and the money.
      const p = await paymentOf(h, 'f-1');
      const capture = await h.world.payments.capture({
        paymentId: p.paymentId,
        idempotencyKey: 'late-capture',
      });
      assert.equal(capture.ok, false);
      assert.ok(!capture.ok);
      assert.equal(capture.error.providerCode, 'fraud_fence');
      h.clock.advance(7 * hourMs);
      await h.world.advance();
      for (const orderId of ['f-1', 'f-2']) {
        const f = await h.world.fulfilment.inspect(orderId);
        assert.deepEqual(
          f?.shipments.map((s) => s.status),
          ['held'],
          orderId,
        );
        assert.equal((await paymentOf(h, orderId)).capturedMinor, 0);
      }
      // An order placed after the case closes is not fenced by it.
      await h.placeOrder('acct-f', 'f-later', [{ category: 'gift_card', value: 1000 }]);
      h.clock.advance(11 * minuteMs);
      await h.world.advance();
      assert.equal((await paymentOf(h, 'f-later')).status, 'captured');
      // Let the run finish so that later tests start with nothing pending.
      await h.settleAll();
    });

    test('a carrier command catching a labelled parcel up respects the fence too', async () => {
      const h = await harness();
      await h.placeOrder('acct-g', 'g-1', [{ category: 'physical', value: 5000 }]);
      // Labelled after 4 h; pickup due 2 h later. The decision lands in between.
      await h.passTime(h.clock.now() + 4 * hourMs + minuteMs);
      assert.equal((await h.world.fulfilment.inspect('g-1'))?.shipments[0]?.status, 'labelled');
      await h.openCase('acct-g', 'order-fraud', { orderId: 'g-1' });
      const decidedAt = h.clock.now();
      // No tick in between: the next thing to touch the order is a command, after pickup was due.
      h.clock.advance(3 * hourMs);
      const view = await h.world.fulfilment.port.getOrder('g-1');
      assert.ok(view.ok);
      assert.equal(view.value.shipments[0]?.status, 'labelled', 'a read does not move it past the fence');
      const held = await h.world.fulfilment.port.hold({ orderId: 'g-1', idempotencyKey: 'any-hold' });
      assert.ok(held.ok);
      const order = await h.world.fulfilment.inspect('g-1');
      const moved = order?.shipments[0]?.history.filter((e) => e.type === 'picked_up' && e.atMs > decidedAt);
      assert.deepEqual(moved, []);
      await h.settleAll();
      assert.equal((await h.world.fulfilment.inspect('g-1'))?.shipments[0]?.status, 'cancelled');
    });

    test('a timeout after the void happened: retried under the same key, one void, step done', async () => {
      const h = await harness();
      await h.placeOrder('acct-t', 't-1', [{ category: 'gift_card', value: 5000 }]);
      h.world.payments.faults.script({ kind: 'timeout', when: 'after_effect' }, 'voidAuthorization');
      const caseId = await h.openCase('acct-t', 'order-fraud', { orderId: 't-1' });
      await h.settleAll();
      const step = (await h.steps(caseId)).find((s) => s.stepKey === 'void-authorization:t-1');
      assert.equal(step?.state, 'done');
      assert.equal(step.attempts, 2);
      const p = await h.world.payments.inspect((await paymentOf(h, 't-1')).paymentId);
      assert.equal(p?.status, 'voided');
    });

    test('a 503 then success; a rate limit waits as asked; a refusal escalates', async () => {
      const h = await harness();
      await h.placeOrder('acct-e', 'e-1', [{ category: 'physical', value: 5000 }]);
      // The sweep's read fails (it goes on without it), then the step's own read: a 503, then a 429.
      h.world.fulfilment.faults.script({ kind: 'unavailable' }, 'getOrder');
      h.world.fulfilment.faults.script({ kind: 'unavailable' }, 'getOrder');
      h.world.fulfilment.faults.script({ kind: 'rate_limited', retryAfterMs: 30_000 }, 'getOrder');
      const caseId = await h.openCase('acct-e', 'order-fraud', { orderId: 'e-1' });
      await h.settleAll();
      const hold = (await h.steps(caseId)).find((s) => s.name === 'hold-shipment');
      assert.equal(hold?.state, 'done');
      assert.equal(hold.attempts, 3);
      assert.ok((hold.doneAtMs ?? 0) - hold.createdAtMs >= 30_000, 'waited at least the Retry-After');

      // A payment the provider does not know: nothing a retry can change, a person must look.
      const h2 = h;
      await h2.world.store.createAccount({ accountId: 'acct-x' });
      await h2.world.store.placeOrder({
        orderId: 'o-x',
        accountId: 'acct-x',
        items: [{ category: 'gift_card', quantity: 1, unitPrice: { value: 100, currency: 'JPY' } }],
        paymentId: 'pi_unknown',
      });
      const case2 = await h2.openCase('acct-x', 'order-fraud', { orderId: 'o-x' });
      await h2.settleAll();
      const voidStep = (await h2.steps(case2)).find((s) => s.name === 'void-authorization');
      assert.equal(voidStep?.state, 'escalated');
      assert.match(voidStep.lastError ?? '', /not_found/);
      assert.equal((await h2.database.storage.cases.get(case2))?.status, 'escalated');
    });

    test('a refund the card refuses for good escalates at once with the reason; one refund, no retries', async () => {
      const h = await harness();
      h.cardScenarios.set('cc-1', 'refunds_fail_later');
      await h.placeOrder('acct-cc', 'cc-1', [{ category: 'gift_card', value: 5000 }]);
      await h.passTime(h.clock.now() + 11 * minuteMs);
      const p = await paymentOf(h, 'cc-1');
      assert.equal(p.status, 'captured');
      const caseId = await h.openCase('acct-cc', 'order-fraud', { orderId: 'cc-1' });
      const opened = h.clock.now();
      await h.settleAll();
      const refund = (await h.steps(caseId)).find((s) => s.name === 'refund-capture');
      assert.equal(refund?.state, 'escalated');
      assert.match(refund.lastError ?? '', /expired_or_canceled_card/);
      // The refund pends a day and fails; the step escalates when it reads that, not at its SLA.
      assert.ok(
        (refund.doneAtMs ?? Infinity) - opened < 2 * dayMs,
        'escalated within the day after the failure',
      );
      const refunds = await h.world.payments.listRefunds(p.paymentId);
      assert.ok(refunds.ok);
      assert.equal(refunds.value.length, 1, 'no second refund to a closed card');
      // The confirmation sees the money still captured and says so, rather than waiting out its SLA.
      const confirm = (await h.steps(caseId)).find((s) => s.name === 'confirm-payment-outcome');
      assert.equal(confirm?.state, 'escalated');
      assert.match(confirm.lastError ?? '', /5000 JPY still captured/);
      assert.ok((confirm.doneAtMs ?? Infinity) - opened < 2 * dayMs);
    });

    test('a disputed charge is never refunded: escalated to the dispute flow', async () => {
      const h = await harness();
      await h.placeOrder('acct-d', 'd-1', [{ category: 'gift_card', value: 5000 }]);
      await h.passTime(h.clock.now() + 11 * minuteMs);
      const p = await paymentOf(h, 'd-1');
      assert.equal(p.status, 'captured');
      const dispute = await h.world.payments.openDispute({ paymentId: p.paymentId, reason: 'fraudulent' });
      assert.ok(dispute.ok);
      const caseId = await h.openCase('acct-d', 'order-fraud', { orderId: 'd-1' });
      await h.settleAll();
      const refund = (await h.steps(caseId)).find((s) => s.name === 'refund-capture');
      assert.equal(refund?.state, 'escalated');
      assert.equal(await effectiveRefunds(h, p.paymentId), 0);
    });

    test('a crash between any invocation and its commit resumes from the database with one effect each', async () => {
      const h = await harness();
      for (const crashAt of [1, 3, 5, 7, 9, 11, 13]) {
        let invocations = 0;
        let crashed = false;
        h.crashHook = () => {
          invocations += 1;
          if (invocations === crashAt && !crashed) {
            crashed = true;
            throw new Error('simulated crash');
          }
        };
        const a = `acct-c${String(crashAt)}`;
        const sent = h.sink.messages().length;
        await h.placeOrder(a, `${a}-o1`, [{ category: 'gift_card', value: 5000 }]);
        await h.passTime(h.clock.now() + 11 * minuteMs);
        await h.placeOrder(a, `${a}-o2`, [{ category: 'physical', value: 3000 }]);
        const caseId = await h.openCase(a, 'ato-lockdown', { sinceMs: h.clock.now() - hourMs });
        await assert.rejects(h.settleAll(), /simulated crash/);
        assert.ok(crashed, `crash ${String(crashAt)} happened`);
        // The process is gone; another starts, and the lapsed lease hands it the step.
        h.crashHook = undefined;
        h.newEngine();
        h.clock.advance(60_000);
        await h.settleAll();
        const steps = await h.steps(caseId);
        for (const s of steps)
          assert.equal(
            s.state,
            'done',
            `crash at ${String(crashAt)}: ${s.stepKey} ${s.state} ${s.lastError ?? ''}`,
          );
        const p1 = await paymentOf(h, `${a}-o1`);
        assert.equal(p1.refundedMinor, 5000);
        assert.equal(await effectiveRefunds(h, p1.paymentId), 1);
        assert.equal((await paymentOf(h, `${a}-o2`)).status, 'voided');
        assert.equal(h.sink.messages().length - sent, 1, `crash at ${String(crashAt)}: one message`);
      }
    });
  });
}
