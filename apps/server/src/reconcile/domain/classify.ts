import type { Dispute, PaymentState, RefundState } from '../../connectors/domain/payments.ts';
import type { InterceptState, ShipmentKind, ShipmentStatus } from '../../connectors/domain/fulfilment.ts';
import type { StepName } from '../../containment/domain/model.ts';
import { mismatchClasses } from '@bulwark/contracts';
import { keptMinor } from './ledger.ts';

/**
 * Reconciliation as pure functions: what the providers' books say (payment, refunds, disputes,
 * balance-transaction capture time, carrier tracking) against what Bulwark recorded (the case's
 * decision, the containment steps' outcomes, the mirrored store order). Each divergence is one
 * finding of a closed class, with the remedy: re-run a containment step under its own idempotency
 * key (repair), or hand it to a person with what they need (escalate).
 */
// The closed list lives in the contract (the API answers it); the classifier names the same.
export { mismatchClasses };
export type MismatchClass = (typeof mismatchClasses)[number];

export type Remedy =
  /** Re-run these containment steps of the case's run, each under its own (unchanged) key. */
  | { readonly kind: 'repair'; readonly steps: readonly { name: StepName; target: string }[] }
  /** Bulwark's records take in what the provider did (a refund made elsewhere); no provider call. */
  | { readonly kind: 'record' }
  | { readonly kind: 'escalate'; readonly reason: string };

export interface Finding {
  readonly class: MismatchClass;
  /** Stable across passes: the same divergence found again has the same key. */
  readonly key: string;
  readonly orderId?: string | undefined;
  readonly paymentId?: string | undefined;
  readonly shipmentId?: string | undefined;
  readonly expected: string;
  readonly actual: string;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly remedy: Remedy;
}

/** What Bulwark recorded about one order under a fraud decision. */
export interface RecordedOrder {
  readonly caseId: string;
  readonly accountId: string;
  readonly decidedAtMs: number;
  readonly orderId: string;
  readonly placedAtMs: number;
  readonly amountMinor: number;
  readonly currency: string;
  readonly paymentId: string | undefined;
  /** The name of the run's payment step for this order, if it has one. */
  readonly paymentStep: StepName | undefined;
  /** The shipment step's name for this order, if it has one. */
  readonly shipmentStep: StepName | undefined;
  /** Refund ids our steps say the provider accepted or confirmed. */
  readonly recordedRefundIds: readonly string[];
  /** True when our steps say the money came back (a refund confirmed or requested). */
  readonly recordedRefund: boolean;
  /** The amount our confirmation step says the provider confirmed (voided or refunded), if any. */
  readonly confirmedMinor: number | undefined;
  readonly confirmedOutcome: string | undefined;
  /** Refund ids Bulwark made outside containment (early-fraud-warning refunds). */
  readonly otherKnownRefundIds: readonly string[];
}

export interface ProviderShipment {
  readonly shipmentId: string;
  readonly kind: ShipmentKind;
  readonly status: ShipmentStatus;
  readonly intercept: InterceptState;
  readonly events: readonly { readonly type: string; readonly atMs: number }[];
}

/** What the providers' books say about the same order. */
export interface ProviderOrder {
  readonly payment: PaymentState | undefined;
  readonly refunds: readonly RefundState[];
  readonly disputes: readonly Dispute[];
  /** When the provider's balance shows the capture, if it does. */
  readonly capturedAtMs: number | undefined;
  readonly shipments: readonly ProviderShipment[] | undefined;
}

const isMoving = (s: ProviderShipment): boolean => s.status === 'in_transit' || s.status === 'intercepting';

/** The payment step to re-run for this order (the one the sweep chose, or a void that turns into a refund). */
function paymentRepair(r: RecordedOrder): Remedy {
  return {
    kind: 'repair',
    steps: [
      { name: r.paymentStep ?? 'void-authorization', target: r.orderId },
      { name: 'confirm-payment-outcome', target: r.orderId },
    ],
  };
}

export function classifyOrder(r: RecordedOrder, p: ProviderOrder): Finding[] {
  const findings: Finding[] = [];
  const base = { orderId: r.orderId, paymentId: r.paymentId };
  const pay = p.payment;
  if (pay !== undefined) {
    const disputedMinor = p.disputes
      .filter((d) => d.stage === 'chargeback' && d.status !== 'won')
      .reduce((s, d) => s + d.amountMinor, 0);
    const kept = keptMinor({ ...pay, disputedMinor });
    if (pay.status === 'authorized' && pay.capturableMinor > 0) {
      findings.push({
        ...base,
        class: 'cancelled_but_capturable',
        key: `cancelled_but_capturable:${pay.paymentId}`,
        expected: 'nothing capturable after the fraud decision',
        actual: `${String(pay.capturableMinor)} ${pay.currency} capturable until ${
          pay.authorizationExpiresAtMs === undefined
            ? '?'
            : new Date(pay.authorizationExpiresAtMs).toISOString()
        }`,
        detail: { status: pay.status, capturableMinor: pay.capturableMinor, recorded: r.confirmedOutcome },
        remedy: paymentRepair(r),
      });
    }
    if (
      pay.status === 'captured' &&
      p.capturedAtMs !== undefined &&
      p.capturedAtMs > r.decidedAtMs &&
      kept > 0
    ) {
      findings.push({
        ...base,
        class: 'captured_after_decision',
        key: `captured_after_decision:${pay.paymentId}`,
        expected: 'no capture after the fraud decision',
        actual: `captured ${String(pay.capturedMinor)} ${pay.currency} at ${new Date(p.capturedAtMs).toISOString()}, ${String(kept)} kept`,
        detail: { capturedAtMs: p.capturedAtMs, decidedAtMs: r.decidedAtMs, keptMinor: kept },
        remedy: pay.disputed
          ? { kind: 'escalate', reason: 'the charge is disputed: the dispute answers it' }
          : paymentRepair(r),
      });
    }
    const providerRefunds = new Map(p.refunds.map((x) => [x.refundId, x]));
    const missing = r.recordedRefundIds.filter((id) => !providerRefunds.has(id));
    const failed = r.recordedRefundIds
      .map((id) => providerRefunds.get(id))
      .filter((x): x is RefundState => x !== undefined && (x.status === 'failed' || x.status === 'canceled'));
    if (r.recordedRefund && (missing.length > 0 || failed.length > 0) && kept > 0) {
      findings.push({
        ...base,
        class: 'refund_not_at_provider',
        key: `refund_not_at_provider:${pay.paymentId}`,
        expected: `refund${r.recordedRefundIds.length === 1 ? '' : 's'} ${r.recordedRefundIds.join(', ')} succeeded at the provider`,
        actual:
          missing.length > 0
            ? `absent at the provider: ${missing.join(', ')}`
            : `failed at the provider: ${failed.map((f) => `${f.refundId} (${f.failureReason ?? f.status})`).join(', ')}`,
        detail: {
          missing,
          failed: failed.map((f) => ({ refundId: f.refundId, reason: f.failureReason })),
          keptMinor: kept,
        },
        remedy: pay.disputed
          ? { kind: 'escalate', reason: 'the charge is disputed: the dispute answers it' }
          : paymentRepair(r),
      });
    }
    const known = new Set([...r.recordedRefundIds, ...r.otherKnownRefundIds]);
    for (const refund of p.refunds) {
      if (refund.status === 'failed' || refund.status === 'canceled' || known.has(refund.refundId)) continue;
      findings.push({
        ...base,
        class: 'provider_refund_unknown',
        key: `provider_refund_unknown:${refund.refundId}`,
        expected: 'every refund at the provider is one Bulwark made or knows',
        actual: `refund ${refund.refundId} of ${String(refund.amountMinor)} ${refund.currency} (${refund.status}) unknown here`,
        detail: {
          refundId: refund.refundId,
          amountMinor: refund.amountMinor,
          status: refund.status,
          reason: refund.reason,
        },
        remedy: { kind: 'record' },
      });
    }
    if (pay.authorizedMinor > 0 && pay.authorizedMinor !== r.amountMinor) {
      findings.push({
        ...base,
        class: 'amounts_differ',
        key: `amounts_differ:authorized:${pay.paymentId}`,
        expected: `authorized ${String(r.amountMinor)} ${r.currency} (the order)`,
        actual: `authorized ${String(pay.authorizedMinor)} ${pay.currency} at the provider`,
        detail: { field: 'authorized', ours: r.amountMinor, provider: pay.authorizedMinor },
        remedy: {
          kind: 'escalate',
          reason: 'the order and the payment disagree on the amount: check the checkout',
        },
      });
    }
    if (r.confirmedMinor !== undefined && r.confirmedOutcome !== undefined) {
      const providerMinor =
        r.confirmedOutcome === 'voided'
          ? pay.status === 'voided'
            ? pay.authorizedMinor
            : 0
          : r.confirmedOutcome === 'refunded'
            ? pay.refundedMinor
            : undefined;
      if (providerMinor !== undefined && providerMinor !== r.confirmedMinor) {
        findings.push({
          ...base,
          class: 'amounts_differ',
          key: `amounts_differ:confirmed:${pay.paymentId}`,
          expected: `${r.confirmedOutcome} ${String(r.confirmedMinor)} ${r.currency} (our confirmation)`,
          actual: `${r.confirmedOutcome} ${String(providerMinor)} ${pay.currency} at the provider`,
          detail: { field: r.confirmedOutcome, ours: r.confirmedMinor, provider: providerMinor },
          remedy:
            kept > 0 && !pay.disputed
              ? paymentRepair(r)
              : {
                  kind: 'escalate',
                  reason: 'our confirmation and the provider disagree: correct the receipt',
                },
        });
      }
    }
    for (const d of p.disputes) {
      if (pay.refundedMinor > 0 || pay.refundPendingMinor > 0) {
        findings.push({
          ...base,
          class: 'dispute_on_refunded_order',
          key: `dispute_on_refunded_order:${d.disputeId}`,
          expected: 'no dispute on an order Bulwark refunded',
          actual: `dispute ${d.disputeId} (${d.reason}, ${d.status}) of ${String(d.amountMinor)} ${d.currency}; refunded ${String(pay.refundedMinor)}`,
          detail: {
            disputeId: d.disputeId,
            status: d.status,
            reason: d.reason,
            refundedMinor: pay.refundedMinor,
          },
          remedy: {
            kind: 'escalate',
            reason: 'submit the evidence package (refund reference, timeline, notifications)',
          },
        });
      }
    }
  }
  for (const s of p.shipments ?? []) {
    const shippedAt = s.events.find((e) => e.type === 'picked_up' || e.type === 'digital_delivered')?.atMs;
    if (shippedAt !== undefined && shippedAt > r.decidedAtMs) {
      const canStop = s.kind === 'physical' && isMoving(s) && s.intercept === 'none';
      findings.push({
        ...base,
        shipmentId: s.shipmentId,
        class: 'shipped_after_decision',
        key: `shipped_after_decision:${s.shipmentId}`,
        expected: 'nothing ships after the fraud decision',
        actual: `${s.kind === 'digital' ? 'codes delivered' : 'picked up'} at ${new Date(shippedAt).toISOString()}, now ${s.status}`,
        detail: { shippedAtMs: shippedAt, decidedAtMs: r.decidedAtMs, status: s.status },
        remedy: canStop
          ? {
              kind: 'repair',
              steps: [
                { name: r.shipmentStep ?? 'request-intercept', target: r.orderId },
                { name: 'confirm-shipment-outcome', target: r.orderId },
              ],
            }
          : {
              kind: 'escalate',
              reason: `the shipment is ${s.status}: ask the shopper to refuse or return it`,
            },
      });
    }
    if (s.intercept === 'failed') {
      findings.push({
        ...base,
        shipmentId: s.shipmentId,
        class: 'intercept_failed',
        key: `intercept_failed:${s.shipmentId}`,
        expected: 'the carrier stops the parcel',
        actual: `intercept failed; the parcel is ${s.status}`,
        detail: { status: s.status },
        remedy: {
          kind: 'escalate',
          reason: 'the carrier could not intercept: contact the shopper and the carrier',
        },
      });
    }
  }
  return findings;
}

/**
 * Money matching for every order (not only those under a case): a movement on a payment no
 * mirrored order names is unmatched; a capture larger than the order is an amount difference.
 */
export function classifyMovement(
  txn: {
    readonly transactionId: string;
    readonly reportingCategory: string;
    readonly amountMinor: number;
    readonly currency: string;
    readonly paymentId: string | undefined;
  },
  order: { readonly orderId: string; readonly amountMinor: number; readonly currency: string } | undefined,
): Finding | undefined {
  if (order === undefined) {
    return {
      class: 'money_unmatched',
      key: `money_unmatched:${txn.transactionId}`,
      paymentId: txn.paymentId,
      expected: 'every balance transaction belongs to an order Bulwark mirrors',
      actual: `${txn.reportingCategory} ${txn.transactionId} of ${String(txn.amountMinor)} ${txn.currency} on ${txn.paymentId ?? 'no payment'}`,
      detail: {
        transactionId: txn.transactionId,
        category: txn.reportingCategory,
        amountMinor: txn.amountMinor,
      },
      remedy: { kind: 'escalate', reason: 'money moved that no order explains: find its origin' },
    };
  }
  if (
    txn.reportingCategory === 'charge' &&
    (txn.amountMinor > order.amountMinor || txn.currency !== order.currency)
  ) {
    return {
      class: 'amounts_differ',
      key: `amounts_differ:charge:${txn.transactionId}`,
      orderId: order.orderId,
      paymentId: txn.paymentId,
      expected: `a charge of at most ${String(order.amountMinor)} ${order.currency} (the order)`,
      actual: `charge ${txn.transactionId} of ${String(txn.amountMinor)} ${txn.currency}`,
      detail: { field: 'charge', ours: order.amountMinor, provider: txn.amountMinor },
      remedy: { kind: 'escalate', reason: 'the provider charged more than the order: refund the difference' },
    };
  }
  return undefined;
}

/**
 * What becomes of a finding: a repair is tried once; found again after a repair, it goes to a
 * person (the re-run did not fix it, so another one will not either).
 */
export function resolveRemedy(finding: Finding, repairsBefore: number): Remedy {
  if (finding.remedy.kind === 'repair' && repairsBefore > 0)
    return {
      kind: 'escalate',
      reason: `still found after ${String(repairsBefore)} repair: ${finding.actual}`,
    };
  return finding.remedy;
}
