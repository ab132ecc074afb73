import { err, ok, type Result } from '../../core/result.ts';

/**
 * The ledger of one payment as the provider's books show it: authorized, captured, refunded and
 * disputed totals, and the entries they add up from. Every write goes through `applyEntry`, which
 * refuses an entry that would break S1 (refunded ≤ captured ≤ authorized) — a refusal is a
 * finding for a person, never a silent write.
 */
export type LedgerEntryKind =
  'authorization' | 'capture' | 'refund' | 'refund_failure' | 'dispute' | 'dispute_reversal';

export interface LedgerEntry {
  readonly atMs: number;
  readonly kind: LedgerEntryKind;
  /** Always positive; the kind says which way it moves the totals. */
  readonly amountMinor: number;
  /** The provider's reference: the balance transaction, refund or dispute id. */
  readonly reference: string;
}

export interface PaymentLedger {
  readonly paymentId: string;
  readonly currency: string;
  readonly authorizedMinor: number;
  readonly capturedMinor: number;
  readonly refundedMinor: number;
  readonly disputedMinor: number;
}

export interface LedgerViolation {
  readonly rule: 'refunded_le_captured' | 'captured_le_authorized' | 'non_negative' | 'currency';
  readonly message: string;
  readonly before: PaymentLedger;
  readonly entry: LedgerEntry;
}

export const emptyLedger = (paymentId: string, currency: string): PaymentLedger => ({
  paymentId,
  currency,
  authorizedMinor: 0,
  capturedMinor: 0,
  refundedMinor: 0,
  disputedMinor: 0,
});

/** S1 on a ledger: refunded ≤ captured ≤ authorized, nothing negative. */
export function ledgerHolds(l: PaymentLedger): boolean {
  return (
    l.refundedMinor >= 0 &&
    l.disputedMinor >= 0 &&
    l.refundedMinor <= l.capturedMinor &&
    l.capturedMinor <= l.authorizedMinor
  );
}

function moved(l: PaymentLedger, e: LedgerEntry): PaymentLedger {
  switch (e.kind) {
    // An authorization is known once; a later read of the same payment cannot lower it.
    case 'authorization':
      return { ...l, authorizedMinor: Math.max(l.authorizedMinor, e.amountMinor) };
    case 'capture':
      return { ...l, capturedMinor: l.capturedMinor + e.amountMinor };
    case 'refund':
      return { ...l, refundedMinor: l.refundedMinor + e.amountMinor };
    case 'refund_failure':
      return { ...l, refundedMinor: l.refundedMinor - e.amountMinor };
    case 'dispute':
      return { ...l, disputedMinor: l.disputedMinor + e.amountMinor };
    case 'dispute_reversal':
      return { ...l, disputedMinor: l.disputedMinor - e.amountMinor };
  }
}

/**
 * Applies one entry, or refuses it with the rule it would break. A capture on a payment whose
 * authorization was never seen counts as its own authorization: providers capture only what was
 * authorized, so the authorization is at least that much.
 */
export function applyEntry(
  ledger: PaymentLedger,
  entry: LedgerEntry,
  currency: string,
): Result<PaymentLedger, LedgerViolation> {
  const refuse = (rule: LedgerViolation['rule'], message: string) =>
    err({ rule, message, before: ledger, entry });
  if (currency !== ledger.currency)
    return refuse('currency', `entry in ${currency}, the payment in ${ledger.currency}`);
  if (!Number.isSafeInteger(entry.amountMinor) || entry.amountMinor < 0)
    return refuse('non_negative', `amount ${String(entry.amountMinor)} is not a non-negative integer`);
  let next = moved(ledger, entry);
  if (entry.kind === 'capture' && ledger.authorizedMinor === 0)
    next = { ...next, authorizedMinor: next.capturedMinor };
  if (next.refundedMinor < 0 || next.disputedMinor < 0)
    return refuse('non_negative', `${entry.kind} ${entry.reference} would make a total negative`);
  if (next.capturedMinor > next.authorizedMinor)
    return refuse(
      'captured_le_authorized',
      `captured ${String(next.capturedMinor)} would exceed authorized ${String(next.authorizedMinor)}`,
    );
  if (next.refundedMinor > next.capturedMinor)
    return refuse(
      'refunded_le_captured',
      `refunded ${String(next.refundedMinor)} would exceed captured ${String(next.capturedMinor)}`,
    );
  return ok(next);
}

/** What a provider balance transaction means for the ledger; undefined for fees and payouts. */
export function entryOfBalanceTransaction(txn: {
  readonly transactionId: string;
  readonly reportingCategory: string;
  readonly amountMinor: number;
  readonly sourceId: string | undefined;
  readonly createdAtMs: number;
}): LedgerEntry | undefined {
  const base = {
    atMs: txn.createdAtMs,
    amountMinor: Math.abs(txn.amountMinor),
    reference: txn.sourceId ?? txn.transactionId,
  };
  switch (txn.reportingCategory) {
    case 'charge':
      return { ...base, kind: 'capture' };
    case 'refund':
      return { ...base, kind: 'refund' };
    case 'refund_failure':
      return { ...base, kind: 'refund_failure' };
    case 'dispute':
      return { ...base, kind: 'dispute' };
    case 'dispute_reversal':
      return { ...base, kind: 'dispute_reversal' };
    default:
      return undefined;
  }
}

/** Money the merchant still holds: captured, less refunds (confirmed and pending) and chargebacks. */
export const keptMinor = (p: {
  readonly capturedMinor: number;
  readonly refundedMinor: number;
  readonly refundPendingMinor: number;
  readonly disputedMinor: number;
}): number => Math.max(0, p.capturedMinor - p.refundedMinor - p.refundPendingMinor - p.disputedMinor);
