import type { Money } from '@bulwark/contracts';
import type { ProviderResult } from './provider-result.ts';

/**
 * The payments port: what Bulwark asks of a card payment provider to make a cancellation stick
 * and to re-derive the truth afterwards. Provider-neutral; amounts are integer minor units of
 * the payment's ISO 4217 currency (JPY has no minor unit: ¥5,000 is 5000).
 *
 * Every command carries an idempotency key derived from the caller's ids (run, step, target):
 * sending it again — after a timeout, say — answers the first result and never has a second
 * effect. Every answer is a value: the provider's state, or a typed ProviderError.
 */

/**
 * - `incomplete`: no authorization yet (or it failed): nothing to void, capture or refund.
 * - `authorized`: a hold on the card; `capturableMinor` can be captured until `authorizationExpiresAtMs`.
 * - `captured`: money moved (fully or partly); the uncaptured rest was released.
 * - `voided`: the authorization was cancelled before capture.
 * - `expired`: the hold lapsed uncaptured; the provider released it.
 */
export type PaymentStatus = 'incomplete' | 'authorized' | 'captured' | 'voided' | 'expired';

export type VoidReason = 'fraudulent' | 'duplicate' | 'requested_by_customer' | 'abandoned';
export type RefundReason = 'fraudulent' | 'duplicate' | 'requested_by_customer';

export interface PaymentState {
  /** The provider's reference for the payment (Stripe: the PaymentIntent `pi_…`). */
  readonly paymentId: string;
  /** The provider's charge reference (`ch_…`), once there is one. */
  readonly chargeId: string | undefined;
  readonly status: PaymentStatus;
  readonly currency: string;
  /** The amount the customer authorized. */
  readonly authorizedMinor: number;
  /** What can still be captured now (0 unless `authorized`). */
  readonly capturableMinor: number;
  readonly capturedMinor: number;
  /** Refunds the provider confirmed (status `succeeded`). */
  readonly refundedMinor: number;
  /** Refunds accepted but not settled yet (status `pending`): no longer refundable. */
  readonly refundPendingMinor: number;
  /** True while a dispute (inquiry or chargeback) is open or was lost on the charge. */
  readonly disputed: boolean;
  /** When an uncaptured authorization lapses; undefined once it cannot. */
  readonly authorizationExpiresAtMs: number | undefined;
  readonly voidReason: VoidReason | undefined;
  readonly createdAtMs: number;
}

export type RefundStatus = 'pending' | 'succeeded' | 'failed' | 'canceled' | 'requires_action';

export interface RefundState {
  readonly refundId: string;
  readonly paymentId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly status: RefundStatus;
  readonly reason: RefundReason | undefined;
  /** Why a refund failed (`lost_or_stolen_card`, `expired_or_canceled_card`, `declined`, …). */
  readonly failureReason: string | undefined;
  readonly createdAtMs: number;
}

/**
 * The provider's own ledger, one row per movement of money. `amountMinor` is signed: charges
 * positive, refunds and chargebacks negative. `reportingCategory` follows Stripe's names
 * (`charge`, `refund`, `refund_failure`, `dispute`, `dispute_reversal`, `fee`, …).
 */
export interface BalanceTransaction {
  readonly transactionId: string;
  readonly reportingCategory: string;
  /** The provider's finer type (`charge`, `payment`, `refund`, `adjustment`, …). */
  readonly type: string;
  readonly amountMinor: number;
  readonly feeMinor: number;
  readonly netMinor: number;
  readonly currency: string;
  /** The object that caused it: a charge, refund or dispute id. */
  readonly sourceId: string | undefined;
  readonly paymentId: string | undefined;
  readonly status: 'pending' | 'available';
  readonly createdAtMs: number;
  readonly availableOnMs: number;
}

/**
 * Stripe's dispute statuses: `warning_*` are inquiries (no money withdrawn yet), the others a
 * chargeback.
 */
export type DisputeStatus =
  | 'warning_needs_response'
  | 'warning_under_review'
  | 'warning_closed'
  | 'needs_response'
  | 'under_review'
  | 'won'
  | 'lost';

export interface Dispute {
  readonly disputeId: string;
  readonly paymentId: string | undefined;
  readonly chargeId: string;
  readonly amountMinor: number;
  readonly currency: string;
  /** `fraudulent`, `product_not_received`, `general`, … */
  readonly reason: string;
  /** The card network's reason code (Visa `10.4` is card-absent fraud). */
  readonly networkReasonCode: string | undefined;
  readonly stage: 'inquiry' | 'chargeback';
  readonly status: DisputeStatus;
  /** False once refunding the charge can no longer answer the dispute. */
  readonly chargeRefundable: boolean;
  readonly evidenceDueByMs: number | undefined;
  readonly createdAtMs: number;
}

export interface EarlyFraudWarning {
  readonly warningId: string;
  readonly paymentId: string | undefined;
  readonly chargeId: string;
  /** `unauthorized_use_of_card`, `made_with_stolen_card`, `card_never_received`, `misc`, … */
  readonly fraudType: string;
  /** True while the charge is neither disputed nor fully refunded: a refund can still help. */
  readonly actionable: boolean;
  readonly createdAtMs: number;
}

/**
 * A feed read forward from a cursor: `items` oldest first, strictly after `cursor` (from the
 * beginning when absent). Pass `nextCursor` to the next call; it stays put when nothing is new.
 */
export interface FeedQuery {
  readonly cursor?: string | undefined;
  readonly limit: number;
  /**
   * Only items created at or after this time (Stripe: `created[gte]`). With either time bound the
   * feed is ordered by creation time, and a cursor continues within the same bounds: a reader can
   * split a long feed into time slices and page through them side by side.
   */
  readonly createdFromMs?: number | undefined;
  /** Only items created before this time (Stripe: `created[lt]`). */
  readonly createdBeforeMs?: number | undefined;
}

export interface FeedPage<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | undefined;
  readonly hasMore: boolean;
}

export interface VoidCommand {
  readonly paymentId: string;
  readonly reason: VoidReason;
  readonly idempotencyKey: string;
}

export interface CaptureCommand {
  readonly paymentId: string;
  /** Captures this much (partial capture); everything capturable when absent. */
  readonly amount?: Money | undefined;
  readonly idempotencyKey: string;
}

export interface RefundCommand {
  readonly paymentId: string;
  readonly amount: Money;
  readonly reason: RefundReason;
  readonly idempotencyKey: string;
}

export interface AcceptDisputeCommand {
  readonly disputeId: string;
  readonly idempotencyKey: string;
}

export type PaymentEventType =
  'payment.updated' | 'refund.updated' | 'dispute.updated' | 'early_fraud_warning.updated';

/**
 * A verified provider webhook, normalised. `providerType` is the provider's own event name.
 * A payment event only names the payment: its money (refunds, disputes) lives in several provider
 * objects, so the receiver reads the truth with `getPayment` rather than trusting a snapshot.
 * Refunds, disputes and warnings are self-contained objects and come whole. Deliveries can be
 * late, duplicated or out of order: dedupe by `eventId`, order by re-reading.
 */
export type PaymentEvent = {
  readonly eventId: string;
  readonly providerType: string;
  readonly createdAtMs: number;
} & (
  | { readonly type: 'payment.updated'; readonly paymentId: string }
  | { readonly type: 'refund.updated'; readonly refund: RefundState }
  | { readonly type: 'dispute.updated'; readonly dispute: Dispute }
  | { readonly type: 'early_fraud_warning.updated'; readonly warning: EarlyFraudWarning }
  | { readonly type: 'other' }
);

export type WebhookRejection =
  | 'missing_signature'
  | 'malformed_signature'
  | 'bad_signature'
  | 'timestamp_outside_tolerance'
  | 'malformed_payload';

export type WebhookResult =
  | { readonly ok: true; readonly event: PaymentEvent }
  | { readonly ok: false; readonly rejection: WebhookRejection; readonly message: string };

export interface PaymentsPort {
  /** The provider's name as it appears in receipts (`sandbox`, `stripe`). */
  readonly provider: string;
  getPayment(paymentId: string): Promise<ProviderResult<PaymentState>>;
  /** Cancels an uncaptured authorization. A captured payment answers `conflict`: refund it. */
  voidAuthorization(command: VoidCommand): Promise<ProviderResult<PaymentState>>;
  capture(command: CaptureCommand): Promise<ProviderResult<PaymentState>>;
  /** The refund as the provider holds it: `pending` is not done; wait for `succeeded`. */
  refund(command: RefundCommand): Promise<ProviderResult<RefundState>>;
  listRefunds(paymentId: string): Promise<ProviderResult<readonly RefundState[]>>;
  listBalanceTransactions(query: FeedQuery): Promise<ProviderResult<FeedPage<BalanceTransaction>>>;
  /** Disputes on one payment, or the feed of every dispute when `paymentId` is absent. */
  listDisputes(
    query: FeedQuery & { readonly paymentId?: string | undefined },
  ): Promise<ProviderResult<FeedPage<Dispute>>>;
  listEarlyFraudWarnings(
    query: FeedQuery & { readonly paymentId?: string | undefined },
  ): Promise<ProviderResult<FeedPage<EarlyFraudWarning>>>;
  /**
   * Accepts a chargeback (Stripe: close the dispute): the merchant submits no evidence and the
   * dispute is lost — the money already withdrawn stays with the cardholder. An inquiry cannot be
   * accepted (`conflict`): a full refund answers it.
   */
  acceptDispute(command: AcceptDisputeCommand): Promise<ProviderResult<Dispute>>;
  /**
   * Checks a webhook delivery's signature against the raw body exactly as received, then
   * parses it. `receivedAtMs` is the injected clock's now.
   */
  verifyWebhook(rawBody: string, signatureHeader: string | undefined, receivedAtMs: number): WebhookResult;
}

/** How much of a payment can still be refunded: captured, less confirmed and pending refunds. */
export const refundableMinor = (p: PaymentState): number =>
  Math.max(0, p.capturedMinor - p.refundedMinor - p.refundPendingMinor);
