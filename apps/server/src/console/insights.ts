import type { AccountActivity, BulwarkEvent, ModelMetrics } from '@bulwark/contracts';
import type { FulfilmentPort } from '../connectors/domain/fulfilment.ts';
import type { PaymentsPort } from '../connectors/domain/payments.ts';
import type { StorePort } from '../connectors/domain/store.ts';
import { toIso } from '../core/time.ts';
import { prAuc, rocAuc } from '../model/metrics.ts';
import { scoreModel } from '../risk/domain/orders/model.ts';
import type { RiskPolicy } from '../risk/domain/policy.ts';
import { forEachOrder } from '../rules/backtest.ts';

/** The connectors' read side: what the console shows of payments and shipments. */
export interface ConnectorReads {
  readonly store: Pick<StorePort, 'listOrders'>;
  readonly payments: Pick<PaymentsPort, 'getPayment' | 'listRefunds'>;
  readonly fulfilment: Pick<FulfilmentPort, 'getOrder' | 'getTracking'>;
}

type ActivityEntry = AccountActivity['entries'][number];

/** Orders read for one account's activity at most (the newest are kept). */
export const activityOrdersMax = 200;

/**
 * An account's payments and shipments through the connectors: the store lists its orders
 * (archived ones too), the payment provider each order's payment and refunds, the carrier each
 * shipment's tracking. A provider that refuses or fails a read is named in `problems`; the rest
 * is still answered. Entries are oldest first.
 */
export async function accountActivity(
  connectors: ConnectorReads | undefined,
  accountId: string,
): Promise<AccountActivity> {
  if (connectors === undefined) return { accountId, connected: false, entries: [], problems: [] };
  const entries: ActivityEntry[] = [];
  const problems: string[] = [];
  const listed = await connectors.store.listOrders({ accountId, sinceMs: 0 });
  if (!listed.ok) {
    return { accountId, connected: true, entries, problems: [`store: ${listed.error.message}`] };
  }
  for (const order of listed.value.slice(-activityOrdersMax)) {
    if (order.paymentId !== undefined) {
      const payment = await connectors.payments.getPayment(order.paymentId);
      if (!payment.ok) problems.push(`payments ${order.paymentId}: ${payment.error.message}`);
      else {
        const p = payment.value;
        entries.push({
          at: toIso(p.createdAtMs),
          kind: 'payment',
          orderId: order.orderId,
          status: p.status,
          reference: p.paymentId,
          amount: { value: p.authorizedMinor, currency: p.currency },
          detail: [
            p.capturedMinor > 0 ? `captured ${p.capturedMinor}` : undefined,
            p.refundedMinor > 0 ? `refunded ${p.refundedMinor}` : undefined,
            p.disputed ? 'disputed' : undefined,
            p.voidReason === undefined ? undefined : `void: ${p.voidReason}`,
          ]
            .filter((part) => part !== undefined)
            .join(', '),
        });
        const refunds = await connectors.payments.listRefunds(p.paymentId);
        if (!refunds.ok) problems.push(`refunds ${p.paymentId}: ${refunds.error.message}`);
        else {
          for (const refund of refunds.value) {
            entries.push({
              at: toIso(refund.createdAtMs),
              kind: 'refund',
              orderId: order.orderId,
              status: refund.status,
              reference: refund.refundId,
              amount: { value: refund.amountMinor, currency: refund.currency },
              ...(refund.failureReason === undefined ? {} : { detail: refund.failureReason }),
            });
          }
        }
      }
    }
    const fulfilment = await connectors.fulfilment.getOrder(order.orderId);
    if (!fulfilment.ok) {
      if (fulfilment.error.kind !== 'not_found')
        problems.push(`fulfilment ${order.orderId}: ${fulfilment.error.message}`);
      continue;
    }
    for (const shipment of fulfilment.value.shipments) {
      const tracking = await connectors.fulfilment.getTracking(order.orderId, shipment.shipmentId);
      if (!tracking.ok) {
        problems.push(`tracking ${shipment.shipmentId}: ${tracking.error.message}`);
        continue;
      }
      // A shipment the warehouse has not acted on yet shows where it stands, at the order's time.
      if (tracking.value.events.length === 0) {
        entries.push({
          at: toIso(order.placedAtMs),
          kind: 'shipment',
          orderId: order.orderId,
          status: tracking.value.status,
          reference: shipment.shipmentId,
          detail: `${shipment.kind} · ${tracking.value.trackingNumber}`,
        });
      }
      for (const event of tracking.value.events) {
        entries.push({
          at: toIso(event.atMs),
          kind: 'shipment',
          orderId: order.orderId,
          status: event.type,
          reference: shipment.shipmentId,
          detail: `${shipment.kind} · ${tracking.value.trackingNumber} · ${tracking.value.status}`,
        });
      }
    }
  }
  entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return { accountId, connected: true, entries, problems };
}

const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);
const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null);

/**
 * The active model's scores (0–100) over the orders of `events`, replayed in order so each order
 * is scored on the features it had when decided: the score distribution of fraud and legitimate
 * orders, ROC-AUC and PR-AUC, and precision and recall of holding every order at or above each
 * threshold. Orders without a label count as legitimate.
 */
export function modelMetrics(input: {
  events: readonly { event: BulwarkEvent; atMs: number }[];
  labels: ReadonlyMap<string, boolean>;
  labelSource: string;
  policy: RiskPolicy;
}): ModelMetrics {
  const { policy, labels } = input;
  const scores: number[] = [];
  const isFraud: number[] = [];
  forEachOrder(input.events, policy, (event, features) => {
    scores.push(scoreModel(policy.orders.model, features, 0).score);
    isFraud.push((labels.get(event.orderId) ?? labels.get(event.id)) === true ? 1 : 0);
  });
  const fraudOrders = isFraud.reduce((sum, y) => sum + y, 0);
  const distribution = Array.from({ length: 10 }, (_, i) => ({
    from: i * 10,
    to: i === 9 ? 100 : i * 10 + 9,
    fraud: 0,
    legitimate: 0,
  }));
  scores.forEach((score, i) => {
    const bucket = distribution[Math.min(9, Math.floor(score / 10))];
    if (bucket === undefined) return;
    if (isFraud[i] === 1) bucket.fraud += 1;
    else bucket.legitimate += 1;
  });
  const thresholds: ModelMetrics['thresholds'] = [];
  for (let threshold = 5; threshold <= 100; threshold += 5) {
    let held = 0;
    let fraudHeld = 0;
    scores.forEach((score, i) => {
      if (score < threshold) return;
      held += 1;
      fraudHeld += isFraud[i] ?? 0;
    });
    thresholds.push({
      threshold,
      held,
      precision: ratio(fraudHeld, held),
      recall: ratio(fraudHeld, fraudOrders),
    });
  }
  return {
    model: policy.orders.model.version,
    reviewScoreMin: policy.orders.modelReviewScoreMin,
    orders: scores.length,
    fraudOrders,
    labelSource: input.labelSource,
    rocAuc: finiteOrNull(rocAuc(scores, isFraud)),
    prAuc: finiteOrNull(prAuc(scores, isFraud)),
    distribution,
    thresholds,
  };
}
