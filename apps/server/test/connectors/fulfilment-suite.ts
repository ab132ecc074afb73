import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { ManualClock } from '../../src/core/clock.ts';
import { hourMs, minuteMs } from '../../src/core/time.ts';
import type {
  FulfilmentPort,
  NewFulfilmentOrder,
  ShipmentEventType,
} from '../../src/connectors/domain/fulfilment.ts';
import type { CommandFault } from '../../src/adapters/sandbox/faults.ts';
import { verifySignature } from '../../src/adapters/sandbox/webhook-signature.ts';
import { signatureHeader, type WebhookRequest } from '../../src/adapters/sandbox/signed-webhooks.ts';
import { untilFinal, valueOf } from './until-final.ts';

/** One implementation of the fulfilment port, with the handles a test needs around it. */
export interface FulfilmentHarness {
  /** The port as Bulwark gets it: configured faults apply. */
  readonly port: FulfilmentPort;
  readonly clock: ManualClock;
  /** The store hands an order to the warehouse. */
  placeOrder(order: NewFulfilmentOrder): Promise<void>;
  /** Moves time on and lets the provider do what fell due. */
  advance(byMs: number): Promise<void>;
  /** The next call of `command` meets this fault. */
  scriptFault(fault: CommandFault, command: string): void;
  /** Sends what the provider has queued to the test's webhook receiver. */
  deliverWebhooks(): Promise<void>;
  /** Every request the receiver got, in arrival order; `failNext` makes it answer 500. */
  readonly received: WebhookRequest[];
  failNextDeliveries(count: number): void;
  readonly webhookSecret: string;
  close(): Promise<void>;
}

export type MakeFulfilment = (options: { interceptSuccessRate: number }) => Promise<FulfilmentHarness>;

const giftCards = (orderId: string): NewFulfilmentOrder => ({
  orderId,
  accountId: 'acct-1',
  items: [{ category: 'gift_card', quantity: 2 }],
});
const parcel = (orderId: string): NewFulfilmentOrder => ({
  orderId,
  accountId: 'acct-1',
  items: [{ category: 'physical', quantity: 1 }],
});

/**
 * The behaviour every fulfilment implementation owes its callers: the schedule, holds, cancels
 * before pickup, intercepts after, one effect per idempotency key through every fault, and signed
 * webhooks. Every command goes through `untilFinal` (retry with the same key), so the suite also
 * passes against an implementation with random faults switched on.
 */
export function runFulfilmentConformance(name: string, make: MakeFulfilment): void {
  describe(`fulfilment port: ${name}`, () => {
    let h: FulfilmentHarness;
    let open: FulfilmentHarness[] = [];
    const start = async (interceptSuccessRate = 1): Promise<FulfilmentHarness> => {
      const harness = await make({ interceptSuccessRate });
      open.push(harness);
      return harness;
    };
    const wait = (ms: number) => {
      h.clock.advance(ms);
    };
    const order = async (orderId: string) => valueOf(await untilFinal(() => h.port.getOrder(orderId), wait));
    const shipment = async (orderId: string, kind: 'digital' | 'physical') => {
      const found = (await order(orderId)).shipments.find((s) => s.kind === kind);
      assert.ok(found, `order ${orderId} has a ${kind} shipment`);
      return found;
    };
    const history = async (orderId: string, shipmentId: string): Promise<ShipmentEventType[]> =>
      valueOf(await untilFinal(() => h.port.getTracking(orderId, shipmentId), wait)).events.map(
        (e) => e.type,
      );

    before(async () => {
      h = await start();
    });
    afterEach(async () => {
      // Tests that need another intercept rate open their own harness; close those.
      for (const extra of open.slice(1)) await extra.close();
      open = open.slice(0, 1);
    });
    after(async () => {
      for (const harness of open) await harness.close();
    });

    test('gift-card codes go out within minutes; a parcel is labelled, picked up and delivered hours later', async () => {
      await h.placeOrder(giftCards('o-sched-d'));
      await h.placeOrder(parcel('o-sched-p'));
      assert.equal((await shipment('o-sched-d', 'digital')).status, 'pending');
      await h.advance(5 * minuteMs);
      assert.equal((await shipment('o-sched-d', 'digital')).status, 'delivered');
      assert.equal((await shipment('o-sched-p', 'physical')).status, 'pending');
      await h.advance(4 * hourMs);
      assert.equal((await shipment('o-sched-p', 'physical')).status, 'labelled');
      await h.advance(2 * hourMs);
      assert.equal((await shipment('o-sched-p', 'physical')).status, 'in_transit');
      await h.advance(24 * hourMs);
      const delivered = await shipment('o-sched-p', 'physical');
      assert.equal(delivered.status, 'delivered');
      assert.deepEqual(await history('o-sched-p', delivered.shipmentId), [
        'labelled',
        'picked_up',
        'delivered',
      ]);
    });

    test('a confirmed hold stops everything not yet labelled until released', async () => {
      await h.placeOrder({
        orderId: 'o-hold',
        accountId: 'acct-1',
        items: [
          { category: 'gift_card', quantity: 1 },
          { category: 'physical', quantity: 1 },
        ],
      });
      const held = valueOf(
        await untilFinal(() => h.port.hold({ orderId: 'o-hold', idempotencyKey: 'k-hold' }), wait),
      );
      assert.deepEqual(
        held.shipments.map((s) => s.status),
        ['held', 'held'],
      );
      await h.advance(3 * 24 * hourMs);
      assert.deepEqual(
        (await order('o-hold')).shipments.map((s) => s.status),
        ['held', 'held'],
      );
      valueOf(
        await untilFinal(() => h.port.release({ orderId: 'o-hold', idempotencyKey: 'k-release' }), wait),
      );
      await h.advance(5 * minuteMs);
      assert.equal((await shipment('o-hold', 'digital')).status, 'delivered');
    });

    test('the warehouse does not wait to be asked: a hold after the label time finds the parcel labelled', async () => {
      await h.placeOrder(parcel('o-late'));
      // No advance(): the clock moved but nobody ticked; the provider's truth moved anyway.
      h.clock.advance(5 * hourMs);
      const answer = valueOf(
        await untilFinal(() => h.port.hold({ orderId: 'o-late', idempotencyKey: 'k-late' }), wait),
      );
      assert.equal(answer.shipments[0]?.status, 'labelled');
    });

    test('a labelled parcel can be cancelled before pickup and then never ships', async () => {
      await h.placeOrder(parcel('o-cancel'));
      await h.advance(4 * hourMs + minuteMs);
      const { shipmentId } = await shipment('o-cancel', 'physical');
      const cancelled = valueOf(
        await untilFinal(
          () => h.port.cancelShipment({ orderId: 'o-cancel', shipmentId, idempotencyKey: 'k-c' }),
          wait,
        ),
      );
      assert.equal(cancelled.status, 'cancelled');
      await h.advance(3 * 24 * hourMs);
      assert.deepEqual(await history('o-cancel', shipmentId), ['labelled', 'cancelled']);
    });

    test('after pickup a cancel is refused for good and only an intercept is possible', async () => {
      await h.placeOrder(parcel('o-picked'));
      await h.advance(6 * hourMs + minuteMs);
      const { shipmentId } = await shipment('o-picked', 'physical');
      const cancel = await untilFinal(
        () => h.port.cancelShipment({ orderId: 'o-picked', shipmentId, idempotencyKey: 'k-pc' }),
        wait,
      );
      assert.equal(!cancel.ok && cancel.error.kind, 'conflict');
      assert.equal(!cancel.ok && cancel.error.retryable, false);
      const intercept = valueOf(
        await untilFinal(
          () => h.port.requestIntercept({ orderId: 'o-picked', shipmentId, idempotencyKey: 'k-pi' }),
          wait,
        ),
      );
      assert.equal(intercept.status, 'intercepting');
      await h.advance(3 * hourMs);
      assert.equal((await shipment('o-picked', 'physical')).status, 'returned');
      await h.advance(2 * 24 * hourMs);
      const events = await history('o-picked', shipmentId);
      assert.ok(!events.includes('delivered'), `never delivered: ${events.join(',')}`);
      assert.equal(events.at(-1), 'returned_to_sender');
    });

    test('an intercept before pickup is refused: the caller must cancel instead', async () => {
      await h.placeOrder(parcel('o-early'));
      const { shipmentId } = await shipment('o-early', 'physical');
      const answer = await untilFinal(
        () => h.port.requestIntercept({ orderId: 'o-early', shipmentId, idempotencyKey: 'k-ei' }),
        wait,
      );
      assert.equal(!answer.ok && answer.error.kind, 'conflict');
      assert.equal(!answer.ok && answer.error.providerCode, 'not_picked_up');
    });

    test('a failed intercept ends in delivery, and the carrier declines to try again', async () => {
      h = await start(0);
      try {
        await h.placeOrder(parcel('o-fail'));
        await h.advance(6 * hourMs + minuteMs);
        const { shipmentId } = await shipment('o-fail', 'physical');
        valueOf(
          await untilFinal(
            () => h.port.requestIntercept({ orderId: 'o-fail', shipmentId, idempotencyKey: 'k-f1' }),
            wait,
          ),
        );
        await h.advance(3 * hourMs);
        const again = await untilFinal(
          () => h.port.requestIntercept({ orderId: 'o-fail', shipmentId, idempotencyKey: 'k-f2' }),
          wait,
        );
        assert.equal(!again.ok && again.error.kind, 'declined');
        await h.advance(24 * hourMs);
        assert.deepEqual(await history('o-fail', shipmentId), [
          'labelled',
          'picked_up',
          'intercept_requested',
          'intercept_failed',
          'delivered',
        ]);
      } finally {
        h = open[0] as FulfilmentHarness;
      }
    });

    test('digital codes cannot be intercepted once sent', async () => {
      await h.placeOrder(giftCards('o-codes'));
      await h.advance(5 * minuteMs);
      const { shipmentId } = await shipment('o-codes', 'digital');
      const answer = await untilFinal(
        () => h.port.requestIntercept({ orderId: 'o-codes', shipmentId, idempotencyKey: 'k-dc' }),
        wait,
      );
      assert.equal(!answer.ok && answer.error.kind, 'declined');
    });

    test('the same key and request answer the first answer without a second effect', async () => {
      await h.placeOrder(giftCards('o-idem'));
      const first = valueOf(
        await untilFinal(() => h.port.hold({ orderId: 'o-idem', idempotencyKey: 'k-idem' }), wait),
      );
      valueOf(
        await untilFinal(() => h.port.release({ orderId: 'o-idem', idempotencyKey: 'k-idem-r' }), wait),
      );
      // A late duplicate of the hold: answered as before, and it does not hold the order again.
      const replay = valueOf(
        await untilFinal(() => h.port.hold({ orderId: 'o-idem', idempotencyKey: 'k-idem' }), wait),
      );
      assert.deepEqual(replay, first);
      const { shipmentId, status } = await shipment('o-idem', 'digital');
      assert.equal(status, 'pending');
      assert.deepEqual(await history('o-idem', shipmentId), ['held', 'released']);
    });

    test('a key reused for a different request is refused', async () => {
      await h.placeOrder(giftCards('o-reuse'));
      valueOf(await untilFinal(() => h.port.hold({ orderId: 'o-reuse', idempotencyKey: 'k-reuse' }), wait));
      const other = await untilFinal(
        () => h.port.release({ orderId: 'o-reuse', idempotencyKey: 'k-reuse' }),
        wait,
      );
      assert.equal(!other.ok && other.error.kind, 'conflict');
      assert.equal((await shipment('o-reuse', 'digital')).status, 'held');
    });

    test('a timeout after the effect: the effect happened once, and the retry under the same key confirms it', async () => {
      await h.placeOrder(parcel('o-tae'));
      const { shipmentId } = await shipment('o-tae', 'physical');
      h.scriptFault({ kind: 'timeout', when: 'after_effect' }, 'cancelShipment');
      const command = { orderId: 'o-tae', shipmentId, idempotencyKey: 'k-tae' };
      const lost = await h.port.cancelShipment(command);
      assert.equal(!lost.ok && lost.error.kind, 'timeout');
      assert.equal(!lost.ok && lost.error.retryable, true);
      const retried = valueOf(await untilFinal(() => h.port.cancelShipment(command), wait));
      assert.equal(retried.status, 'cancelled');
      assert.deepEqual(await history('o-tae', shipmentId), ['cancelled']);
    });

    test('a timeout after a hold: the retry does not hold twice nor lose the hold', async () => {
      await h.placeOrder(giftCards('o-taeh'));
      h.scriptFault({ kind: 'timeout', when: 'after_effect' }, 'hold');
      const command = { orderId: 'o-taeh', idempotencyKey: 'k-taeh' };
      assert.equal((await h.port.hold(command)).ok, false);
      await h.advance(10 * minuteMs);
      const confirmed = valueOf(await untilFinal(() => h.port.hold(command), wait));
      assert.equal(confirmed.shipments[0]?.status, 'held');
      const { shipmentId } = await shipment('o-taeh', 'digital');
      assert.deepEqual(await history('o-taeh', shipmentId), ['held']);
    });

    for (const fault of [
      { kind: 'timeout', when: 'before_effect' },
      { kind: 'unavailable' },
      { kind: 'rate_limited' },
    ] as const) {
      test(`${fault.kind}${'when' in fault ? ` ${fault.when}` : ''}: retryable, nothing happened, the retry acts`, async () => {
        const orderId = `o-${fault.kind}-${'when' in fault ? fault.when : 'x'}`;
        await h.placeOrder(giftCards(orderId));
        h.scriptFault(fault, 'hold');
        const failed = await h.port.hold({ orderId, idempotencyKey: `k-${orderId}` });
        assert.equal(!failed.ok && failed.error.kind, fault.kind);
        assert.equal(!failed.ok && failed.error.retryable, true);
        if (fault.kind === 'rate_limited') assert.ok(!failed.ok && (failed.error.retryAfterMs ?? 0) > 0);
        assert.equal((await shipment(orderId, 'digital')).status, 'pending');
        valueOf(await untilFinal(() => h.port.hold({ orderId, idempotencyKey: `k-${orderId}` }), wait));
        assert.equal((await shipment(orderId, 'digital')).status, 'held');
      });
    }

    test('an unknown order is not_found, and the same key works once the order arrives', async () => {
      const command = { orderId: 'o-notyet', idempotencyKey: 'k-notyet' };
      const missing = await untilFinal(() => h.port.hold(command), wait);
      assert.equal(!missing.ok && missing.error.kind, 'not_found');
      assert.equal(!missing.ok && missing.error.retryable, false);
      await h.placeOrder(giftCards('o-notyet'));
      assert.equal(valueOf(await untilFinal(() => h.port.hold(command), wait)).shipments[0]?.status, 'held');
    });

    test('webhooks are signed, carry the movements in order, and are retried until accepted', async () => {
      await h.deliverWebhooks();
      h.received.length = 0;
      await h.placeOrder(parcel('o-hooks'));
      await h.advance(30 * hourMs);
      h.failNextDeliveries(1000);
      await h.deliverWebhooks();
      const refused = h.received.length;
      assert.ok(refused > 0, 'deliveries were attempted');
      h.failNextDeliveries(0);
      await h.advance(hourMs);
      await h.deliverWebhooks();
      const accepted = h.received.slice(refused);
      // Receivers dedupe by event id and order by event time: deliveries may repeat or reorder.
      const events = new Map<string, { type: string; created: number }>();
      for (const request of accepted) {
        const header = request.headers[signatureHeader];
        const check = verifySignature(request.body, header, h.webhookSecret, { receivedAtMs: h.clock.now() });
        assert.ok(check.ok, 'each delivery verifies with the shared secret');
        const body = JSON.parse(request.body) as {
          id: string;
          type: string;
          created: number;
          data: { orderId: string };
        };
        if (body.data.orderId !== 'o-hooks') continue;
        events.set(body.id, { type: body.type, created: body.created });
        const forged = verifySignature(request.body.replace('o-hooks', 'o-forged'), header, h.webhookSecret, {
          receivedAtMs: h.clock.now(),
        });
        assert.equal(forged.ok, false);
      }
      const types = [...events.values()].sort((a, b) => a.created - b.created).map((e) => e.type);
      assert.deepEqual(types, ['shipment.labelled', 'shipment.picked_up', 'shipment.delivered']);
    });
  });
}
