import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AccountView, CaseView, Decision, ReviewList, ReviewView } from '@bulwark/contracts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

/**
 * The review queue end to end: held orders listed, approved (the warehouse releases the hold),
 * declined (an `order.cancelled` for fraud opens `order-fraud` containment that voids the
 * authorization) and cancelled on their deadline (`review-timeout`, the account left alone),
 * each resolved once. The embedded sandbox store, provider and carrier play the other side.
 */
const hourMs = 3_600_000;

/** Polls until `check` answers something (the sandbox follower and the engine run on timers). */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, waitMs = 30_000): Promise<T> {
  const until = Date.now() + waitMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const backend of backends()) {
  describe(`review queue on ${backend}`, () => {
    let t: TestService;
    let n = 0;
    before(async () => {
      t = await startTestService(backend, { BULWARK_REVIEW_SWEEP_INTERVAL_MS: '3600000' });
    });
    after(async () => {
      await t.close();
    });

    const send = async (event: Record<string, unknown>): Promise<Decision> => {
      const answer = await t.request('POST', '/v1/events', event);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body as Decision;
    };

    /**
     * A card seen on several accounts within a day is held (`card_many_accounts`): orders from
     * fresh accounts with one card until one is decided `review`. Answers its order id.
     */
    const heldOrder = async (label: string): Promise<{ orderId: string; accountId: string }> => {
      n += 1;
      const card = `card-shared-${label}-${String(n)}`;
      for (let i = 0; i < 6; i += 1) {
        const accountId = `acct-${label}-${String(n)}-${String(i)}`;
        const atIso = new Date(t.clock.now() - 1000).toISOString();
        await send({
          id: `${accountId}-created`,
          type: 'account.created',
          at: atIso,
          accountId,
          email: `${accountId}@example.jp`,
        });
        const orderId = `order-${accountId}`;
        const decision = await send({
          id: `${orderId}-placed`,
          type: 'order.placed',
          at: atIso,
          accountId,
          context: {
            ip: `203.0.113.${String(10 + i)}`,
            userAgent: 'Mozilla/5.0 (Macintosh)',
            deviceId: `dev-${accountId}`,
          },
          orderId,
          amount: { value: 12000, currency: 'JPY' },
          items: [{ category: 'physical', quantity: 1, unitPrice: { value: 12000, currency: 'JPY' } }],
          payment: { method: 'card', cardFingerprint: card, cardCountry: 'JP' },
        });
        if (decision.decision === 'review') return { orderId, accountId };
      }
      throw new Error('no order was held for review');
    };

    /** Waits until the sandbox store has the order and the warehouse holds it. */
    const heldInWarehouse = (orderId: string) =>
      eventually(`the warehouse to hold ${orderId}`, async () => {
        const order = await t.service.sandbox?.fulfilment.inspect(orderId);
        const shipments = order?.shipments ?? [];
        return shipments.length > 0 && shipments.every((s) => s.status === 'held') ? order : undefined;
      });

    const paymentOf = async (orderId: string) => {
      const order = (await t.service.sandbox?.store.allOrders())?.find((o) => o.orderId === orderId);
      if (order?.paymentId === undefined) return undefined;
      const read = await t.service.sandbox?.payments.getPayment(order.paymentId);
      return read?.ok === true ? read.value : undefined;
    };

    test('a held order is listed with its reasons and deadline; approving releases the hold, once', async () => {
      const { orderId, accountId } = await heldOrder('approve');
      const list = await t.request('GET', '/v1/reviews');
      assert.equal(list.status, 200);
      const listed = (list.body as ReviewList).reviews.find((r) => r.orderId === orderId);
      assert.ok(listed, 'the held order is in the queue');
      assert.equal(listed.accountId, accountId);
      assert.equal(listed.status, 'pending');
      assert.deepEqual(listed.amount, { value: 12000, currency: 'JPY' });
      assert.ok(listed.reasons.some((r) => r.code.length > 0));
      assert.equal(Date.parse(listed.deadlineAt) - Date.parse(listed.decidedAt), 144 * hourMs);

      await heldInWarehouse(orderId);
      const approved = await t.request('POST', `/v1/reviews/${orderId}/approve`, { note: 'known customer' });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      const view = approved.body as ReviewView;
      assert.equal(view.status, 'approved');
      assert.equal(view.resolvedBy, 'api');
      assert.equal(view.note, 'known customer');
      assert.equal(view.caseId, undefined);
      const released = await t.service.sandbox?.fulfilment.inspect(orderId);
      assert.ok(released !== undefined && released.shipments.length > 0);
      assert.ok(
        released.shipments.every((s) => s.status === 'pending'),
        'the warehouse released the hold',
      );
      assert.equal(
        (await paymentOf(orderId))?.status,
        'authorized',
        'payment still authorized, for capture at shipping',
      );

      const again = await t.request('POST', `/v1/reviews/${orderId}/decline`, {});
      assert.equal(again.status, 409);
      assert.equal((again.body as { error: { code: string } }).error.code, 'REVIEW_RESOLVED');
      const pending = (await t.request('GET', '/v1/reviews')).body as ReviewList;
      assert.ok(!pending.reviews.some((r) => r.orderId === orderId), 'no longer pending');
      const approvedList = (await t.request('GET', '/v1/reviews?status=approved')).body as ReviewList;
      assert.ok(approvedList.reviews.some((r) => r.orderId === orderId));
    });

    test('declining cancels the order for fraud: order-fraud containment voids the authorization', async () => {
      const { orderId, accountId } = await heldOrder('decline');
      await heldInWarehouse(orderId);
      const declined = await t.request('POST', `/v1/reviews/${orderId}/decline`, {
        note: 'card on three accounts',
      });
      assert.equal(declined.status, 200, JSON.stringify(declined.body));
      const view = declined.body as ReviewView;
      assert.equal(view.status, 'declined');
      assert.ok(view.caseId, 'a containment case was opened');
      const caseView = (await t.request('GET', `/v1/cases/${view.caseId}`)).body as CaseView;
      assert.equal(caseView.accountId, accountId);
      assert.equal(caseView.run?.playbook, 'order-fraud');
      const voided = await eventually('the authorization to be voided', async () => {
        const payment = await paymentOf(orderId);
        return payment?.status === 'voided' ? payment : undefined;
      });
      assert.equal(voided.capturedMinor, 0);
      // The log says why: the cancellation went through the pipeline.
      const account = (await t.request('GET', `/v1/accounts/${accountId}`)).body as AccountView;
      const cancelled = account.timeline.entries.find((e) => e.type === 'order.cancelled');
      assert.equal(cancelled?.event.reason, 'review_declined');
      assert.equal(cancelled.event.by, 'fraud');
      assert.equal(cancelled.decision, 'allow');
      assert.equal(account.openCaseId, view.caseId, 'a reviewer found fraud: the account is in containment');
    });

    test('approve and decline at once: exactly one wins', async () => {
      const { orderId } = await heldOrder('race');
      await heldInWarehouse(orderId);
      const answers = await Promise.all([
        t.request('POST', `/v1/reviews/${orderId}/approve`, {}),
        t.request('POST', `/v1/reviews/${orderId}/decline`, {}),
      ]);
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [200, 409], JSON.stringify(answers.map((a) => a.body)));
    });

    test('nobody reviewed it before the deadline: review-timeout cancels it; the account is not locked', async () => {
      const { orderId, accountId } = await heldOrder('timeout');
      await heldInWarehouse(orderId);
      assert.equal(await t.service.reviews?.sweepTimeouts(), 0, 'not yet due');
      t.clock.advance(145 * hourMs);
      assert.ok(((await t.service.reviews?.sweepTimeouts()) ?? 0) >= 1);
      const view = (await t.request('GET', `/v1/reviews/${orderId}`)).body as ReviewView;
      assert.equal(view.status, 'timed_out');
      assert.equal(view.resolvedBy, 'timeout');
      assert.ok(view.caseId);
      const caseView = (await t.request('GET', `/v1/cases/${view.caseId}`)).body as CaseView;
      assert.equal(caseView.run?.playbook, 'review-timeout');
      await eventually('the authorization to be voided', async () => {
        const payment = await paymentOf(orderId);
        return payment?.status === 'voided' ? payment : undefined;
      });
      // Nobody found fraud: the account carries on (its next sign-in is not refused for containment).
      const next = await send({
        id: `${accountId}-later-login`,
        type: 'login.succeeded',
        at: new Date(t.clock.now() - 1000).toISOString(),
        accountId,
        context: { ip: '203.0.113.99', userAgent: 'Mozilla/5.0 (Macintosh)', deviceId: `dev-${accountId}` },
        method: 'password',
      });
      assert.ok(!next.reasons.some((r) => r.code === 'account_in_containment'), JSON.stringify(next));
      assert.equal(await t.service.reviews?.sweepTimeouts(), 0, 'each order is cancelled once');
    });

    test('bad input: unknown order, bad status, bad body — each with its code and field', async () => {
      const unknown = await t.request('POST', '/v1/reviews/no-such-order/approve', {});
      assert.equal(unknown.status, 404);
      assert.equal((unknown.body as { error: { field?: string } }).error.field, 'orderId');
      const badStatus = await t.request('GET', '/v1/reviews?status=maybe');
      assert.equal(badStatus.status, 400);
      assert.deepEqual(
        [
          (badStatus.body as { error: { code: string; field?: string } }).error.code,
          (badStatus.body as { error: { field?: string } }).error.field,
        ],
        ['INVALID_PARAMETER', 'status'],
      );
      const badBody = await t.request('POST', '/v1/reviews/no-such-order/decline', { note: 42 });
      assert.equal(badBody.status, 400);
      assert.equal((badBody.body as { error: { field?: string } }).error.field, 'note');
    });
  });
}
