import Stripe from 'stripe';
import type {
  BalanceTransaction,
  Dispute,
  DisputeStatus,
  EarlyFraudWarning,
  FeedPage,
  FeedQuery,
  PaymentEvent,
  PaymentsPort,
  PaymentState,
  PaymentStatus,
  RefundReason,
  RefundState,
  RefundStatus,
  VoidReason,
  WebhookResult,
} from '../../../connectors/domain/payments.ts';
import {
  providerError,
  providerOk,
  type ProviderErrorKind,
  type ProviderResult,
} from '../../../connectors/domain/provider-result.ts';
import { dayMs } from '../../../core/time.ts';

/**
 * The payments port over Stripe's API (PaymentIntents, Refunds, Disputes, Radar early fraud
 * warnings, balance transactions) with the official SDK. Every command sends the caller's
 * idempotency key as Stripe's `Idempotency-Key`, so the SDK's own retries and ours are both safe.
 */

export interface StripePaymentsOptions {
  /** A secret key: `sk_test_…` for test mode (or a restricted `rk_test_…` key). */
  readonly apiKey: string;
  /** The webhook endpoint's signing secret, `whsec_…`. */
  readonly webhookSecret: string;
  /** Overrides the API version the SDK pins; leave unset unless your account needs another. */
  readonly apiVersion?: string | undefined;
  /** Retries the SDK makes itself (same idempotency key) before we see an error. */
  readonly maxNetworkRetries?: number | undefined;
  readonly timeoutMs?: number | undefined;
  /** Where the API is: only tests and stripe-mock change these. */
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly protocol?: 'http' | 'https' | undefined;
  /** How many pages a feed read from the beginning may walk (100 items each). */
  readonly listPagesMax?: number | undefined;
  /** Seconds a webhook signature stays valid (Stripe's default 300). */
  readonly webhookToleranceS?: number | undefined;
}

/** Stripe's page size bound. */
const pageLimitMax = 100;
const defaultListPagesMax = 100;
/**
 * When Stripe does not say (`capture_before` is newer than some API versions), an online
 * customer-initiated card authorization is assumed to hold 7 days from creation.
 */
const assumedAuthorizationValidityMs = 7 * dayMs;

/**
 * Stripe `invalid_request_error` codes that mean "the object is not in a state for this":
 * a final answer (conflict), not a malformed request.
 */
const stateConflictCodes = new Set([
  'payment_intent_unexpected_state',
  'charge_already_captured',
  'charge_already_refunded',
  'charge_disputed',
  'charge_expired_for_capture',
  'amount_too_large',
  'refund_disputed_payment',
  'charge_not_refundable',
]);

const voidReasons: ReadonlySet<string> = new Set<VoidReason>([
  'fraudulent',
  'duplicate',
  'requested_by_customer',
  'abandoned',
]);
const refundReasons: ReadonlySet<string> = new Set<RefundReason>([
  'fraudulent',
  'duplicate',
  'requested_by_customer',
]);
const refundStatuses: ReadonlySet<string> = new Set<RefundStatus>([
  'pending',
  'succeeded',
  'failed',
  'canceled',
  'requires_action',
]);

const ms = (unixSeconds: number): number => unixSeconds * 1000;
const idOf = (value: string | { readonly id: string } | null | undefined): string | undefined =>
  value === null || value === undefined ? undefined : typeof value === 'string' ? value : value.id;
const upper = (currency: string): string => currency.toUpperCase();

type StripeErrorLike = Error & {
  readonly type?: string;
  readonly rawType?: string;
  readonly code?: string;
  readonly decline_code?: string;
  readonly statusCode?: number;
  readonly headers?: Record<string, string>;
};

/** Maps an SDK exception to a ProviderError; anything else (a bug) is thrown on. */
export function providerErrorFrom(error: unknown): ReturnType<typeof providerError> {
  if (!(error instanceof Stripe.errors.StripeError)) throw error;
  const e = error as StripeErrorLike;
  const code = e.code;
  const say = (kind: ProviderErrorKind, providerCode?: string, retryAfterMs?: number) =>
    providerError(kind, e.message, { providerCode, retryAfterMs });
  switch (e.type) {
    case 'StripeConnectionError':
      // The request may or may not have reached Stripe: the outcome is unknown. Retrying with
      // the same idempotency key is what resolves it.
      return say('timeout', code ?? 'connection_error');
    case 'StripeRateLimitError': {
      const retryAfterS = Number(e.headers?.['retry-after']);
      return say(
        'rate_limited',
        code ?? 'rate_limit',
        Number.isFinite(retryAfterS) ? retryAfterS * 1000 : undefined,
      );
    }
    case 'StripeCardError':
      return say('declined', e.decline_code ?? code ?? 'card_declined');
    case 'StripeIdempotencyError':
      return say('conflict', 'idempotency_error');
    case 'StripeInvalidRequestError':
      if (e.statusCode === 404 || code === 'resource_missing')
        return say('not_found', code ?? 'resource_missing');
      if (code !== undefined && stateConflictCodes.has(code)) return say('conflict', code);
      return say('declined', code ?? 'invalid_request');
    case 'StripeAuthenticationError':
    case 'StripePermissionError':
      // A key problem is an outage of the connector: an operator fixes it and the retry works.
      return say(
        'unavailable',
        code ?? (e.type === 'StripeAuthenticationError' ? 'authentication' : 'permission'),
      );
    default:
      if (e.statusCode === 409) return say('unavailable', code ?? 'conflict_retry');
      return say('unavailable', code ?? `http_${String(e.statusCode ?? 'unknown')}`);
  }
}

async function attempt<T>(run: () => Promise<T>): Promise<ProviderResult<T>> {
  try {
    return providerOk(await run());
  } catch (error) {
    return providerErrorFrom(error);
  }
}

function paymentStatus(pi: Stripe.PaymentIntent): PaymentStatus {
  switch (pi.status) {
    case 'requires_capture':
      return 'authorized';
    case 'succeeded':
      return 'captured';
    case 'canceled':
      // Stripe cancels an uncaptured PaymentIntent itself when its authorization lapses.
      return pi.cancellation_reason === 'automatic' ? 'expired' : 'voided';
    default:
      return 'incomplete';
  }
}

export function toPaymentState(pi: Stripe.PaymentIntent, refunds: readonly Stripe.Refund[]): PaymentState {
  const status = paymentStatus(pi);
  const charge = typeof pi.latest_charge === 'object' ? pi.latest_charge : null;
  const sumOf = (wanted: string) =>
    refunds.filter((r) => r.status === wanted).reduce((total, r) => total + r.amount, 0);
  const captureBefore = charge?.payment_method_details?.card?.capture_before;
  const authorized = status !== 'incomplete' && (pi.latest_charge !== null || status === 'authorized');
  return {
    paymentId: pi.id,
    chargeId: idOf(pi.latest_charge),
    status,
    currency: upper(pi.currency),
    authorizedMinor: authorized ? pi.amount : 0,
    capturableMinor: pi.amount_capturable,
    capturedMinor: status === 'captured' ? pi.amount_received : 0,
    refundedMinor: sumOf('succeeded'),
    refundPendingMinor: sumOf('pending'),
    disputed: charge?.disputed ?? false,
    authorizationExpiresAtMs:
      status === 'authorized'
        ? captureBefore !== undefined
          ? ms(captureBefore)
          : ms(pi.created) + assumedAuthorizationValidityMs
        : undefined,
    voidReason:
      status === 'voided' && pi.cancellation_reason !== null && voidReasons.has(pi.cancellation_reason)
        ? (pi.cancellation_reason as VoidReason)
        : undefined,
    createdAtMs: ms(pi.created),
  };
}

export function toRefundState(r: Stripe.Refund, paymentId?: string): RefundState {
  return {
    refundId: r.id,
    paymentId: idOf(r.payment_intent) ?? paymentId ?? '',
    amountMinor: r.amount,
    currency: upper(r.currency),
    status: r.status !== null && refundStatuses.has(r.status) ? (r.status as RefundStatus) : 'pending',
    reason: r.reason !== null && refundReasons.has(r.reason) ? (r.reason as RefundReason) : undefined,
    failureReason: r.failure_reason ?? undefined,
    createdAtMs: ms(r.created),
  };
}

export function toDispute(d: Stripe.Dispute): Dispute {
  const card = d.payment_method_details?.card;
  return {
    disputeId: d.id,
    paymentId: idOf(d.payment_intent),
    chargeId: idOf(d.charge) ?? '',
    amountMinor: d.amount,
    currency: upper(d.currency),
    reason: d.reason,
    networkReasonCode: card?.network_reason_code ?? undefined,
    // Stripe names inquiries `warning_*`; the card's case_type says the same where present.
    stage: d.status.startsWith('warning_') ? 'inquiry' : 'chargeback',
    status: d.status as DisputeStatus,
    chargeRefundable: d.is_charge_refundable,
    evidenceDueByMs: d.evidence_details.due_by === null ? undefined : ms(d.evidence_details.due_by),
    createdAtMs: ms(d.created),
  };
}

export function toWarning(w: Stripe.Radar.EarlyFraudWarning): EarlyFraudWarning {
  return {
    warningId: w.id,
    paymentId: idOf(w.payment_intent),
    chargeId: idOf(w.charge) ?? '',
    fraudType: w.fraud_type,
    actionable: w.actionable,
    createdAtMs: ms(w.created),
  };
}

export function toBalanceTransaction(t: Stripe.BalanceTransaction): BalanceTransaction {
  const source = t.source;
  // With `expand[]=data.source` the source is the charge, refund or dispute itself, and each
  // of those names its PaymentIntent.
  const paymentId =
    source !== null && typeof source === 'object' && 'payment_intent' in source
      ? idOf(source.payment_intent)
      : undefined;
  return {
    transactionId: t.id,
    reportingCategory: t.reporting_category,
    type: t.type,
    amountMinor: t.amount,
    feeMinor: t.fee,
    netMinor: t.net,
    currency: upper(t.currency),
    sourceId: idOf(source),
    paymentId,
    status: t.status === 'available' ? 'available' : 'pending',
    createdAtMs: ms(t.created),
    availableOnMs: ms(t.available_on),
  };
}

interface ListPage<T> {
  readonly data: readonly T[];
  readonly has_more: boolean;
}

export function stripePayments(options: StripePaymentsOptions): PaymentsPort {
  const config: Stripe.StripeConfig = {
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
    // The SDK's types follow its pinned version; another version is the operator's explicit choice.
    ...(options.apiVersion === undefined
      ? {}
      : { apiVersion: options.apiVersion as Stripe.StripeConfig['apiVersion'] }),
    telemetry: false,
    appInfo: { name: 'bulwark' },
  };
  const stripe = new Stripe(options.apiKey, config);
  const listPagesMax = options.listPagesMax ?? defaultListPagesMax;

  async function allRefunds(paymentId: string): Promise<Stripe.Refund[]> {
    const out: Stripe.Refund[] = [];
    let startingAfter: string | undefined;
    for (let page = 0; page < listPagesMax; page += 1) {
      const list = await stripe.refunds.list({
        payment_intent: paymentId,
        limit: pageLimitMax,
        ...(startingAfter === undefined ? {} : { starting_after: startingAfter }),
      });
      out.push(...list.data);
      if (!list.has_more) return out;
      startingAfter = list.data.at(-1)?.id;
    }
    return out;
  }

  async function retrieve(paymentId: string): Promise<Stripe.PaymentIntent> {
    return stripe.paymentIntents.retrieve(paymentId, { expand: ['latest_charge'] });
  }

  async function currencyMismatch(paymentId: string, currency: string): Promise<ProviderResult<undefined>> {
    // Stripe takes no currency on capture or refund; the amount is in the payment's currency.
    // Checking it first keeps a yen amount from being read as cents, or the reverse.
    const pi = await attempt(() => stripe.paymentIntents.retrieve(paymentId));
    if (!pi.ok) return pi;
    if (upper(pi.value.currency) !== currency)
      return providerError(
        'declined',
        `amount is in ${currency}, the payment in ${upper(pi.value.currency)}`,
        {
          providerCode: 'parameter_invalid_currency',
        },
      );
    return providerOk(undefined);
  }

  /**
   * Reads a Stripe list forward: items strictly after `cursor`, oldest first. Stripe lists are
   * newest first; `ending_before` gives the page just newer than the cursor. Without a cursor,
   * the whole list is walked back to its oldest item (bounded by `listPagesMax`).
   */
  async function feed<S extends { readonly id: string }, T>(
    query: FeedQuery,
    list: (params: {
      limit: number;
      ending_before?: string;
      starting_after?: string;
      created?: { gte?: number; lt?: number };
    }) => Promise<ListPage<S>>,
    map: (item: S) => T,
  ): Promise<ProviderResult<FeedPage<T>>> {
    const limit = Math.min(Math.max(1, query.limit), pageLimitMax);
    // Stripe's `created` is in whole seconds: s ≥ ⌈from/1000⌉ ⇔ s·1000 ≥ from, and the same for `lt`.
    const created =
      query.createdFromMs === undefined && query.createdBeforeMs === undefined
        ? {}
        : {
            created: {
              ...(query.createdFromMs === undefined ? {} : { gte: Math.ceil(query.createdFromMs / 1000) }),
              ...(query.createdBeforeMs === undefined ? {} : { lt: Math.ceil(query.createdBeforeMs / 1000) }),
            },
          };
    if (query.cursor !== undefined) {
      const page = await attempt(() => list({ limit, ending_before: query.cursor, ...created }));
      if (!page.ok) return page;
      const items = [...page.value.data].reverse();
      return providerOk({
        items: items.map(map),
        nextCursor: items.at(-1)?.id ?? query.cursor,
        hasMore: page.value.has_more,
      });
    }
    const newestFirst: S[] = [];
    let startingAfter: string | undefined;
    for (let page = 0; ; page += 1) {
      if (page >= listPagesMax)
        return providerError(
          'declined',
          `the list is longer than ${String(listPagesMax)} pages: start from a cursor`,
          {
            providerCode: 'feed_walk_limit',
          },
        );
      const after = startingAfter;
      const result = await attempt(() =>
        list({ limit: pageLimitMax, ...created, ...(after === undefined ? {} : { starting_after: after }) }),
      );
      if (!result.ok) return result;
      newestFirst.push(...result.value.data);
      if (!result.value.has_more) break;
      startingAfter = result.value.data.at(-1)?.id;
    }
    const oldestFirst = newestFirst.reverse();
    const items = oldestFirst.slice(0, limit);
    return providerOk({
      items: items.map(map),
      nextCursor: items.at(-1)?.id,
      hasMore: oldestFirst.length > limit,
    });
  }

  return {
    provider: 'stripe',

    async getPayment(paymentId) {
      const pi = await attempt(() => retrieve(paymentId));
      if (!pi.ok) return pi;
      const refunds = await attempt(() => allRefunds(paymentId));
      if (!refunds.ok) return refunds;
      return providerOk(toPaymentState(pi.value, refunds.value));
    },

    async voidAuthorization({ paymentId, reason, idempotencyKey }) {
      const pi = await attempt(() =>
        stripe.paymentIntents.cancel(
          paymentId,
          { cancellation_reason: reason, expand: ['latest_charge'] },
          { idempotencyKey },
        ),
      );
      // A cancelled PaymentIntent has no refunds: the hold is simply released.
      return pi.ok ? providerOk(toPaymentState(pi.value, [])) : pi;
    },

    async capture({ paymentId, amount, idempotencyKey }) {
      if (amount !== undefined) {
        const check = await currencyMismatch(paymentId, amount.currency);
        if (!check.ok) return check;
      }
      const pi = await attempt(() =>
        stripe.paymentIntents.capture(
          paymentId,
          {
            ...(amount === undefined ? {} : { amount_to_capture: amount.value }),
            expand: ['latest_charge'],
          },
          { idempotencyKey },
        ),
      );
      // Refunds cannot exist before a capture, and this is the capture's own answer.
      return pi.ok ? providerOk(toPaymentState(pi.value, [])) : pi;
    },

    async refund({ paymentId, amount, reason, idempotencyKey }) {
      const check = await currencyMismatch(paymentId, amount.currency);
      if (!check.ok) return check;
      const refund = await attempt(() =>
        stripe.refunds.create(
          { payment_intent: paymentId, amount: amount.value, reason },
          { idempotencyKey },
        ),
      );
      return refund.ok ? providerOk(toRefundState(refund.value, paymentId)) : refund;
    },

    async listRefunds(paymentId) {
      const refunds = await attempt(() => allRefunds(paymentId));
      return refunds.ok ? providerOk(refunds.value.map((r) => toRefundState(r, paymentId))) : refunds;
    },

    listBalanceTransactions(query) {
      return feed(
        query,
        (params) => stripe.balanceTransactions.list({ ...params, expand: ['data.source'] }),
        toBalanceTransaction,
      );
    },

    listDisputes(query) {
      const scope = query.paymentId === undefined ? {} : { payment_intent: query.paymentId };
      return feed(query, (params) => stripe.disputes.list({ ...params, ...scope }), toDispute);
    },

    listEarlyFraudWarnings(query) {
      const scope = query.paymentId === undefined ? {} : { payment_intent: query.paymentId };
      return feed(
        query,
        (params) => stripe.radar.earlyFraudWarnings.list({ ...params, ...scope }),
        toWarning,
      );
    },

    async acceptDispute({ disputeId, idempotencyKey }) {
      const dispute = await attempt(() => stripe.disputes.close(disputeId, {}, { idempotencyKey }));
      return dispute.ok ? providerOk(toDispute(dispute.value)) : dispute;
    },

    verifyWebhook(rawBody, signatureHeader, receivedAtMs): WebhookResult {
      if (signatureHeader === undefined || signatureHeader.length === 0)
        return { ok: false, rejection: 'missing_signature', message: 'no Stripe-Signature header' };
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(
          rawBody,
          signatureHeader,
          options.webhookSecret,
          options.webhookToleranceS ?? 300,
          undefined,
          receivedAtMs,
        );
      } catch (error) {
        if (!(error instanceof Stripe.errors.StripeSignatureVerificationError)) {
          // constructEvent parses the body after verifying it: a bad body is a SyntaxError.
          if (error instanceof SyntaxError)
            return { ok: false, rejection: 'malformed_payload', message: 'the body is not JSON' };
          throw error;
        }
        const message = error.message;
        if (message.includes('tolerance'))
          return { ok: false, rejection: 'timestamp_outside_tolerance', message };
        if (message.includes('Unable to extract') || message.includes('expected scheme'))
          return { ok: false, rejection: 'malformed_signature', message };
        return { ok: false, rejection: 'bad_signature', message };
      }
      const data = (event as { data?: { object?: unknown } }).data;
      if (typeof event.id !== 'string' || typeof event.type !== 'string' || typeof data?.object !== 'object')
        return {
          ok: false,
          rejection: 'malformed_payload',
          message: 'the event lacks id, type or data.object',
        };
      return { ok: true, event: toPaymentEvent(event) };
    },
  };
}

/** Normalises a verified Stripe event. Payment events name the payment; the rest come whole. */
export function toPaymentEvent(event: Stripe.Event): PaymentEvent {
  const base = { eventId: event.id, providerType: event.type, createdAtMs: ms(event.created) };
  const object = event.data.object as unknown as { object?: string } & Record<string, unknown>;
  switch (object.object) {
    case 'payment_intent':
      return { ...base, type: 'payment.updated', paymentId: String(object.id) };
    case 'charge': {
      const paymentId = idOf(object.payment_intent as string | { id: string } | null);
      return paymentId === undefined
        ? { ...base, type: 'other' }
        : { ...base, type: 'payment.updated', paymentId };
    }
    case 'refund':
      return { ...base, type: 'refund.updated', refund: toRefundState(object as unknown as Stripe.Refund) };
    case 'dispute':
      return { ...base, type: 'dispute.updated', dispute: toDispute(object as unknown as Stripe.Dispute) };
    case 'radar.early_fraud_warning':
      return {
        ...base,
        type: 'early_fraud_warning.updated',
        warning: toWarning(object as unknown as Stripe.Radar.EarlyFraudWarning),
      };
    default:
      return { ...base, type: 'other' };
  }
}
