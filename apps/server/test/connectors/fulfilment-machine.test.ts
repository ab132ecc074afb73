import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { FulfilmentSandbox } from '../../src/adapters/sandbox/fulfilment/sandbox.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { hourMs, minuteMs } from '../../src/core/time.ts';
import {
  advanceOrder,
  cancelShipment,
  createOrder,
  defaultFulfilmentSchedule,
  executeOnOrder,
  holdOrder,
  orderView,
  releaseOrder,
  requestIntercept,
  shipmentView,
  type FulfilmentOrder,
  type ItemCategory,
  type Shipment,
  type ShipmentEventType,
} from '../../src/connectors/domain/fulfilment.ts';
import {
  decideForKey,
  fingerprintOf,
  isKeptAnswer,
  type KeptAnswer,
} from '../../src/connectors/domain/idempotent-command.ts';
import type { ProviderResult } from '../../src/connectors/domain/provider-result.ts';
import { backends } from '../helpers/backends.ts';
import { propertyParams } from '../helpers/fast-check.ts';
import { sandboxDatabase, type SandboxDatabase } from './fulfilment-store-db.ts';
import { untilFinal } from './until-final.ts';

const schedule = defaultFulfilmentSchedule;
const startMs = Date.parse('2026-11-25T09:00:00Z');
const orderId = 'o-prop';

type Step =
  | { readonly type: 'advance'; readonly byMs: number }
  | { readonly type: 'hold' | 'release'; readonly key: string }
  | {
      readonly type: 'cancelShipment' | 'requestIntercept';
      readonly kind: 'digital' | 'physical';
      readonly key: string;
    };

// A small pool of keys, so the same key comes back for the same and for different requests.
const key = fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5');
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      type: fc.constant('advance' as const),
      byMs: fc.oneof(
        fc.integer({ min: 0, max: 10 * minuteMs }),
        fc.integer({ min: 0, max: 8 * hourMs }),
        fc.constant(24 * hourMs),
      ),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ type: fc.constantFrom('hold' as const, 'release' as const), key }), weight: 3 },
  {
    arbitrary: fc.record({
      type: fc.constantFrom('cancelShipment' as const, 'requestIntercept' as const),
      kind: fc.constantFrom('digital' as const, 'physical' as const),
      key,
    }),
    weight: 3,
  },
);
const items = fc.constantFrom<{ category: ItemCategory; quantity: number }[][]>(
  [{ category: 'gift_card', quantity: 2 }],
  [{ category: 'physical', quantity: 1 }],
  [
    { category: 'digital', quantity: 1 },
    { category: 'physical', quantity: 3 },
  ],
);

interface Answer {
  readonly step: Step;
  readonly atMs: number;
  /** False when the answer was replayed or refused under a used key. */
  readonly executed: boolean;
  readonly answer: ProviderResult<unknown>;
}

/** The provider as pure functions: the same domain code and key rules the sandbox runs. */
class Model {
  order: FulfilmentOrder;
  nowMs = startMs;
  readonly kept = new Map<string, KeptAnswer>();
  readonly answers: Answer[] = [];
  constructor(
    categories: readonly { category: ItemCategory; quantity: number }[],
    readonly interceptSucceeds: boolean,
  ) {
    this.order = createOrder(
      { orderId, accountId: 'a', items: categories },
      startMs,
      schedule,
      (id) => `T-${id}`,
    );
  }

  run(s: Step): void {
    if (s.type === 'advance') {
      this.nowMs += s.byMs;
      this.order = advanceOrder(this.order, this.nowMs, schedule).order;
      return;
    }
    const shipmentId = 'kind' in s ? `${orderId}-${s.kind}` : undefined;
    const fingerprint = fingerprintOf(
      s.type,
      shipmentId === undefined ? { orderId } : { orderId, shipmentId },
    );
    const decision = decideForKey(this.kept.get(s.key), fingerprint);
    if (decision.action !== 'execute') {
      this.answers.push({ step: s, atMs: this.nowMs, executed: false, answer: decision.answer });
      return;
    }
    const now = this.nowMs;
    const { transition, answer } = executeOnOrder(
      this.order,
      now,
      schedule,
      (o) => {
        switch (s.type) {
          case 'hold':
            return { ok: true, value: holdOrder(o, now, s.key) };
          case 'release':
            return { ok: true, value: releaseOrder(o, now, s.key) };
          case 'cancelShipment':
            return cancelShipment(o, `${orderId}-${s.kind}`, now, s.key);
          case 'requestIntercept':
            return requestIntercept(o, `${orderId}-${s.kind}`, now, s.key, schedule, this.interceptSucceeds);
        }
      },
      (o) => {
        if (!('kind' in s)) return orderView(o);
        const shipment = o.shipments.find((x) => x.kind === s.kind);
        return shipment === undefined ? undefined : shipmentView(shipment);
      },
    );
    this.order = transition.order;
    if (isKeptAnswer(answer)) this.kept.set(s.key, { fingerprint, answer });
    this.answers.push({ step: s, atMs: now, executed: true, answer });
  }
}

const shippingEvents: ReadonlySet<ShipmentEventType> = new Set([
  'labelled',
  'picked_up',
  'digital_delivered',
  'delivered',
]);
const finalEvents: ReadonlySet<ShipmentEventType> = new Set(['delivered', 'returned_to_sender', 'cancelled']);

function checkHistory(shipment: Shipment): void {
  const types = shipment.history.map((e) => e.type);
  const where = `${shipment.kind}: ${types.join(' → ')}`;
  shipment.history.forEach((event, i) => {
    const previous = shipment.history.slice(0, i).map((e) => e.type);
    const prior = shipment.history[i - 1];
    if (prior !== undefined) assert.ok(prior.atMs <= event.atMs, `history in time order (${where})`);
    if (prior?.type === 'held')
      assert.ok(
        event.type === 'released' || event.type === 'cancelled',
        `only a release or a cancel follows a hold (${where})`,
      );
    assert.ok(!previous.some((t) => finalEvents.has(t)), `nothing after a final event (${where})`);
    if (event.type === 'intercept_requested')
      assert.ok(previous.includes('picked_up'), `an intercept only after pickup (${where})`);
    if (event.type === 'picked_up')
      assert.ok(previous.includes('labelled'), `pickup only after a label (${where})`);
    if (shipment.kind === 'digital')
      assert.ok(
        !['labelled', 'picked_up', 'intercept_requested'].includes(event.type),
        `codes have no parcel (${where})`,
      );
  });
}

/** Nothing ships after a confirmed hold, unless a release came first. */
function checkHolds(model: Model): void {
  for (const a of model.answers) {
    if (!a.executed || a.step.type !== 'hold' || !a.answer.ok) continue;
    const view = a.answer.value as ReturnType<typeof orderView>;
    for (const confirmed of view.shipments.filter((s) => s.status === 'held')) {
      const shipment = model.order.shipments.find((s) => s.shipmentId === confirmed.shipmentId);
      assert.ok(shipment);
      // The hold in force when the answer was given (an earlier hold under another key counts).
      const heldAt = shipment.history.findLastIndex((e) => e.type === 'held' && e.atMs <= a.atMs);
      assert.ok(heldAt >= 0, 'a confirmed hold is in the history');
      const later = shipment.history.slice(heldAt + 1).map((e) => e.type);
      const released = later.indexOf('released');
      const shippedAt = later.findIndex((t) => shippingEvents.has(t));
      assert.ok(
        shippedAt < 0 || (released >= 0 && released < shippedAt),
        `shipped while held: ${later.join(',')}`,
      );
    }
  }
}

/** One effect per key: every event a key caused comes from one execution, one per shipment. */
function checkKeys(model: Model): void {
  const byKey = new Map<string, { atMs: number; shipmentId: string }[]>();
  for (const shipment of model.order.shipments)
    for (const event of shipment.history)
      if (event.causedBy !== undefined) {
        const list = byKey.get(event.causedBy) ?? [];
        list.push({ atMs: event.atMs, shipmentId: shipment.shipmentId });
        byKey.set(event.causedBy, list);
      }
  for (const [k, events] of byKey) {
    assert.equal(new Set(events.map((e) => e.atMs)).size, 1, `${k} took effect once`);
    assert.equal(
      new Set(events.map((e) => e.shipmentId)).size,
      events.length,
      `${k}: one event per shipment`,
    );
  }
  // The same key and request again answer exactly the first answer.
  const first = new Map<string, ProviderResult<unknown>>();
  for (const a of model.answers) {
    if (!('key' in a.step)) continue;
    const kept = first.get(a.step.key);
    if (kept === undefined && a.executed && isKeptAnswer(a.answer)) first.set(a.step.key, a.answer);
    else if (kept !== undefined && !a.executed && a.answer.ok) assert.deepEqual(a.answer, kept);
  }
}

describe('fulfilment state machine (property)', () => {
  test('holds, intercepts and idempotency keys keep their promises in any sequence', () => {
    fc.assert(
      fc.property(items, fc.boolean(), fc.array(step, { maxLength: 40 }), (categories, succeeds, steps) => {
        const model = new Model(categories, succeeds);
        for (const s of steps) model.run(s);
        model.run({ type: 'advance', byMs: 7 * 24 * hourMs });
        for (const shipment of model.order.shipments) checkHistory(shipment);
        checkHolds(model);
        checkKeys(model);
      }),
      propertyParams(400),
    );
  });
});

for (const backend of backends()) {
  describe(`fulfilment sandbox on ${backend} against the pure model (property)`, () => {
    let database: SandboxDatabase;
    before(async () => {
      database = await sandboxDatabase(backend);
    });
    after(async () => {
      await database.close();
    });

    test('with seeded faults and retries under the same key, the sandbox ends where the model does', async () => {
      await fc.assert(
        fc.asyncProperty(
          items,
          fc.boolean(),
          fc.array(step, { maxLength: 16 }),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          async (categories, succeeds, steps, seed) => {
            await database.truncate();
            const clock = new ManualClock(startMs);
            const sandbox = new FulfilmentSandbox({
              db: database.db,
              clock,
              interceptSuccessRate: succeeds ? 1 : 0,
              faults: {
                seed,
                timeoutBeforeEffectRate: 0.1,
                timeoutAfterEffectRate: 0.25,
                unavailableRate: 0.1,
                rateLimitedRate: 0.05,
              },
            });
            const model = new Model(categories, succeeds);
            await sandbox.placeOrder({ orderId, accountId: 'a', items: categories });
            for (const s of [...steps, { type: 'advance' as const, byMs: 7 * 24 * hourMs }]) {
              model.run(s);
              if (s.type === 'advance') {
                clock.advance(s.byMs);
                await sandbox.tick();
                continue;
              }
              const answer = await untilFinal<unknown>(() => {
                switch (s.type) {
                  case 'hold':
                    return sandbox.port.hold({ orderId, idempotencyKey: s.key });
                  case 'release':
                    return sandbox.port.release({ orderId, idempotencyKey: s.key });
                  case 'cancelShipment':
                    return sandbox.port.cancelShipment({
                      orderId,
                      shipmentId: `${orderId}-${s.kind}`,
                      idempotencyKey: s.key,
                    });
                  case 'requestIntercept':
                    return sandbox.port.requestIntercept({
                      orderId,
                      shipmentId: `${orderId}-${s.kind}`,
                      idempotencyKey: s.key,
                    });
                }
              });
              const { attempts, ...final } = answer;
              assert.ok(attempts < 30, 'the retries ended');
              const expected = model.answers.at(-1)?.answer;
              // The model has no tracking numbers of the sandbox's making: compare what the caller acts on.
              assert.deepEqual(summary(final), summary(expected), `answer to ${JSON.stringify(s)}`);
            }
            const stored = await sandbox.inspect(orderId);
            assert.ok(stored);
            assert.deepEqual(
              stored.shipments.map((x) => x.history),
              model.order.shipments.map((x) => x.history),
            );
            // Every movement became exactly one webhook.
            const log = await sandbox.webhookLog();
            assert.equal(
              log.length,
              model.order.shipments.reduce((n, x) => n + x.history.length, 0),
            );
          },
        ),
        propertyParams(backend === 'pglite' ? 12 : 6),
      );
    });
  });
}

function summary(answer: ProviderResult<unknown> | undefined): unknown {
  if (answer === undefined) return undefined;
  if (!answer.ok) return { error: answer.error.kind, code: answer.error.providerCode };
  const value = answer.value as { status?: string; shipments?: { status: string }[] } | undefined;
  return value?.shipments?.map((s) => s.status) ?? value?.status;
}
