import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { loadRiskPolicy } from '../../src/main.ts';
import { originIncidentEvents, toJsonLines } from '../../src/sim/incidents/origin.ts';
import { replayWithStore, type StoreReport } from '../../src/sim/store-replay.ts';

/**
 * The acceptance test of the brief: the origin incident replayed with the sandbox store.
 * With the detectors switched off (`observe`) every attacker order is placed, codes are delivered
 * and captured, parcels wait to ship; then the owner reports. Containment must leave nothing
 * capturable, refund what was captured, ship nothing after the decision, deactivate the codes and
 * tell the owner once — each void confirmed within 2 s of event time of the decision.
 */
async function run(enforcement: 'enforce' | 'observe'): Promise<{ report: StoreReport; decisions: string }> {
  const loaded = loadRiskPolicy();
  const policy = enforcement === 'observe' ? { ...loaded, enforcement } : loaded;
  const output = new PassThrough();
  let decisions = '';
  output.on('data', (chunk: Buffer) => (decisions += chunk.toString()));
  const { report } = await replayWithStore(
    Readable.from([toJsonLines(originIncidentEvents())]),
    output,
    () => undefined,
    {
      policy,
    },
  );
  return { report, decisions };
}

const attackerOrders = (report: StoreReport) => report.orders.filter((o) => o.orderId !== 'order-owner-1');

describe('the origin incident, replayed with the sandbox store', () => {
  test('detectors off: every attacker order voided or refunded with confirmation, nothing shipped, codes off, one message', async () => {
    const { report } = await run('observe');
    const orders = attackerOrders(report);
    assert.equal(orders.length, 18, 'sixteen gift cards and two parcels were placed');
    const captured = orders.filter((o) => (o.payment?.capturedMinor ?? 0) > 0);
    assert.ok(captured.length > 0, 'some codes were delivered and captured before the report');
    for (const order of orders) {
      assert.ok(order.payment, order.orderId);
      assert.equal(order.payment.capturable, false, `${order.orderId} still capturable`);
      assert.equal(
        order.payment.capturedMinor - order.payment.refundedMinor,
        0,
        `${order.orderId} kept money`,
      );
      assert.ok(
        ['voided', 'captured'].includes(order.payment.status),
        `${order.orderId}: ${order.payment.status}`,
      );
      for (const s of order.shipments)
        assert.equal(s.shippedAfterDecision, false, `${order.orderId} shipped after`);
      for (const card of order.giftCards) assert.equal(card.status, 'deactivated', `${order.orderId} code`);
    }
    assert.equal(report.notifications.length, 1);
    assert.equal(report.notifications[0]?.to, 'owner@example.jp');
    const [kase] = report.cases;
    assert.ok(kase);
    assert.equal(kase.playbook, 'ato-lockdown');
    assert.equal(kase.status, 'contained');
    assert.equal(kase.receiptComplete, true);
    const confirmations = kase.steps.filter((s) => s.step === 'confirm-payment-outcome');
    assert.equal(confirmations.length, 18);
    for (const s of confirmations) {
      assert.equal(s.state, 'done');
      assert.ok(
        (s.msAfterDecision ?? Infinity) <= 2000,
        `${s.target ?? ''}: ${String(s.msAfterDecision)} ms`,
      );
    }
    // The owner's own order before the takeover is not touched.
    const own = report.orders.find((o) => o.orderId === 'order-owner-1');
    assert.equal(own?.payment?.status, 'captured');
    assert.equal(own.payment.refundedMinor, 0);
  });

  test('detectors on: held at the first gift card, nothing captured or shipped, the same guarantees; replay is deterministic', async () => {
    const first = await run('enforce');
    const decisions = first.decisions
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { eventId: string; decision: string });
    const giftCards = decisions.filter((d) => d.eventId.startsWith('evt-order-gc-'));
    assert.notEqual(giftCards[0]?.decision, 'allow', 'the first gift card is not simply allowed');
    assert.ok(
      giftCards.slice(1).every((d) => d.decision === 'review' || d.decision === 'deny'),
      'held from the second on',
    );
    for (const order of attackerOrders(first.report)) {
      assert.equal(order.payment?.capturedMinor ?? 0, 0, `${order.orderId} captured`);
      assert.equal(order.payment?.capturable ?? false, false, `${order.orderId} capturable`);
    }
    assert.ok(first.report.notifications.length <= 1);
    const second = await run('enforce');
    assert.equal(second.decisions, first.decisions);
    assert.deepEqual(second.report, first.report);
  });
});
