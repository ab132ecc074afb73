import type { Dispute, EarlyFraudWarning, PaymentState } from '../../connectors/domain/payments.ts';
import { hourMs } from '../../core/time.ts';

/**
 * Early fraud warnings and disputes, as decisions. A warning is the network telling the merchant
 * that a chargeback is likely; refunding first avoids the chargeback and its fee. The decision is
 * due within the hour of the warning's own time.
 */
export const warningDecisionWithinMs = hourMs;

export type WarningDecision =
  | { readonly action: 'refund'; readonly reason: WarningReason }
  | { readonly action: 'void'; readonly reason: WarningReason }
  | { readonly action: 'keep'; readonly reason: string }
  | { readonly action: 'none'; readonly reason: string };

export type WarningReason = 'order_cancelled' | 'unshipped' | 'account_in_containment';

export interface WarningFacts {
  readonly warning: EarlyFraudWarning;
  readonly payment: PaymentState;
  readonly orderCancelled: boolean;
  /** True when nothing of the order left the warehouse or was delivered as codes. */
  readonly unshipped: boolean;
  readonly accountInContainment: boolean;
}

/**
 * Refund (or void, when nothing was captured) when keeping the money cannot be defended: the
 * order is cancelled, nothing shipped, or the account is in containment. Otherwise keep it — the
 * goods went out, and the evidence answers a dispute.
 */
export function decideWarning(f: WarningFacts): WarningDecision {
  if (!f.warning.actionable) return { action: 'none', reason: 'the warning is not actionable' };
  if (f.payment.disputed) return { action: 'none', reason: 'the charge is disputed: the dispute answers it' };
  const reason: WarningReason | undefined = f.accountInContainment
    ? 'account_in_containment'
    : f.orderCancelled
      ? 'order_cancelled'
      : f.unshipped
        ? 'unshipped'
        : undefined;
  if (reason === undefined) return { action: 'keep', reason: 'the order shipped and is not cancelled' };
  if (f.payment.status === 'authorized') return { action: 'void', reason };
  if (f.payment.status !== 'captured')
    return { action: 'none', reason: `the payment is ${f.payment.status}` };
  const refundable = f.payment.capturedMinor - f.payment.refundedMinor - f.payment.refundPendingMinor;
  if (refundable <= 0) return { action: 'none', reason: 'nothing left to refund' };
  return { action: 'refund', reason };
}

/** Network reason codes for card-absent fraud (Visa 10.4, Mastercard 4837, Amex F29, JCB 547 …). */
const fraudReasonCodes = new Set([
  '10.4',
  '10.5',
  '4837',
  '4863',
  '4870',
  '4871',
  'F24',
  'F29',
  '547',
  'UA02',
]);

export const isFraudDispute = (d: Pick<Dispute, 'reason' | 'networkReasonCode'>): boolean =>
  d.reason === 'fraudulent' ||
  (d.networkReasonCode !== undefined && fraudReasonCodes.has(d.networkReasonCode));

export const isOpenDispute = (d: Pick<Dispute, 'status'>): boolean =>
  d.status === 'needs_response' ||
  d.status === 'warning_needs_response' ||
  d.status === 'under_review' ||
  d.status === 'warning_under_review';

export type DisputeDecision =
  | { readonly action: 'accept'; readonly reason: string }
  | { readonly action: 'evidence'; readonly reason: string }
  | { readonly action: 'link'; readonly reason: string };

/**
 * A fraud dispute on an account in containment is accepted: the shopper is right, and contesting
 * would only add fees. A dispute on an order Bulwark already refunded is answered with evidence
 * (the refund reached the card). Any other dispute is linked to its case for a person.
 */
export function decideDispute(f: {
  readonly dispute: Dispute;
  readonly accountInContainment: boolean;
  readonly refundedMinor: number;
}): DisputeDecision {
  if (f.refundedMinor > 0)
    return {
      action: 'evidence',
      reason: 'the order was already refunded: answer with the refund as evidence',
    };
  if (isFraudDispute(f.dispute) && f.accountInContainment && isOpenDispute(f.dispute))
    return { action: 'accept', reason: 'fraud dispute on an account in containment: the shopper is right' };
  return { action: 'link', reason: 'linked to its case for a person to answer' };
}
