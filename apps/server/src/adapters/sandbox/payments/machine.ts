import type { Money } from '@bulwark/contracts';
import type {
  Dispute,
  DisputeStatus,
  EarlyFraudWarning,
  PaymentState,
  PaymentStatus,
  RefundReason,
  RefundState,
  VoidReason,
} from '../../../connectors/domain/payments.ts';
import { dayMs } from '../../../core/time.ts';

/**
 * The sandbox card processor's semantics as pure functions: (payment, command, now) → (payment',
 * ledger entries, webhook events) or a refusal. The store around it adds persistence,
 * idempotency and faults; everything about money lives here so it can be tested exhaustively.
 */

export interface SandboxPaymentSettings {
  /** How long a customer-initiated authorization holds (card networks: 7 days online). */
  readonly customerInitiatedValidityMs: number;
  /** Merchant-initiated holds are shorter on some networks; configurable. */
  readonly merchantInitiatedValidityMs: number;
  /** When a `pending` refund settles (succeeds, or fails for a `fail_later` card). */
  readonly refundSettleMs: number;
  /** When captured funds become available in the balance. */
  readonly settlementDelayMs: number;
  /** When an unanswered inquiry becomes a chargeback. */
  readonly inquiryEscalationMs: number;
  readonly evidenceWindowMs: number;
  readonly feeBasisPoints: number;
  readonly feeFixedMinor: number;
  readonly disputeFeeMinor: number;
  /** How long an idempotency key is honoured (Stripe: 24 h). */
  readonly idempotencyKeyTtlMs: number;
}

export const defaultSandboxPaymentSettings: SandboxPaymentSettings = {
  customerInitiatedValidityMs: 7 * dayMs,
  merchantInitiatedValidityMs: 5 * dayMs,
  refundSettleMs: dayMs,
  settlementDelayMs: 2 * dayMs,
  inquiryEscalationMs: 10 * dayMs,
  evidenceWindowMs: 7 * dayMs,
  feeBasisPoints: 0,
  feeFixedMinor: 0,
  disputeFeeMinor: 0,
  idempotencyKeyTtlMs: dayMs,
};

/**
 * How the card behaves, like a provider's test cards: `declined` refuses the authorization;
 * refunds on `refunds_settle_later` stay `pending` until they settle, on `refunds_fail_later`
 * they go `pending` and then fail (the card was closed).
 */
export type CardScenario = 'ok' | 'declined' | 'refunds_settle_later' | 'refunds_fail_later';

export interface SandboxRefund {
  readonly refundId: string;
  readonly amountMinor: number;
  readonly reason: RefundReason | undefined;
  readonly status: 'pending' | 'succeeded' | 'failed';
  readonly failureReason: string | undefined;
  readonly createdAtMs: number;
  readonly settleAtMs: number | undefined;
  /** The key that created it; kept so tests can check one effect per key. */
  readonly idempotencyKey: string | undefined;
}

export interface SandboxDispute {
  readonly disputeId: string;
  readonly amountMinor: number;
  readonly reason: string;
  readonly networkReasonCode: string | undefined;
  readonly stage: 'inquiry' | 'chargeback';
  readonly status: DisputeStatus;
  readonly createdAtMs: number;
  readonly escalateAtMs: number | undefined;
  readonly evidenceDueByMs: number | undefined;
}

export interface SandboxWarning {
  readonly warningId: string;
  readonly fraudType: string;
  readonly actionable: boolean;
  readonly createdAtMs: number;
}

export interface SandboxPayment {
  readonly paymentId: string;
  readonly chargeId: string;
  /** The store's own reference (order id), as metadata on a real provider. */
  readonly reference: string | undefined;
  readonly currency: string;
  readonly initiator: 'customer' | 'merchant';
  readonly card: { readonly fingerprint: string; readonly scenario: CardScenario };
  readonly status: PaymentStatus;
  readonly declineCode: string | undefined;
  readonly authorizedMinor: number;
  readonly capturedMinor: number;
  readonly authorizationExpiresAtMs: number | undefined;
  readonly voidReason: VoidReason | undefined;
  readonly createdAtMs: number;
  readonly capturedAtMs: number | undefined;
  readonly captureKey: string | undefined;
  readonly voidKey: string | undefined;
  readonly voidedAtMs: number | undefined;
  readonly refunds: readonly SandboxRefund[];
  readonly disputes: readonly SandboxDispute[];
  readonly warnings: readonly SandboxWarning[];
  /** Counts transitions: the basis of derived ids for ledger entries and events. */
  readonly version: number;
}

export interface LedgerEntry {
  readonly transactionId: string;
  readonly reportingCategory: string;
  readonly type: string;
  readonly amountMinor: number;
  readonly feeMinor: number;
  readonly currency: string;
  readonly sourceId: string;
  readonly paymentId: string;
  readonly createdAtMs: number;
  readonly availableOnMs: number;
}

export type EventObject =
  | { readonly kind: 'payment'; readonly payment: PaymentState }
  | { readonly kind: 'refund'; readonly refund: RefundState }
  | { readonly kind: 'dispute'; readonly dispute: Dispute }
  | { readonly kind: 'early_fraud_warning'; readonly warning: EarlyFraudWarning };

export interface SandboxEvent {
  readonly eventId: string;
  /** Stripe's event names, so a receiver reads the sandbox like the real thing. */
  readonly providerType: string;
  readonly atMs: number;
  readonly object: EventObject;
}

export interface Effects {
  readonly ledger: readonly LedgerEntry[];
  readonly events: readonly SandboxEvent[];
}

export interface Refusal {
  readonly kind: 'conflict' | 'declined' | 'not_found';
  /** Stripe's error code for the same refusal. */
  readonly code: string;
  readonly message: string;
}

export type Transition<T> =
  | { readonly ok: true; readonly payment: SandboxPayment; readonly value: T; readonly effects: Effects }
  | { readonly ok: false; readonly refusal: Refusal };

export interface MachineContext {
  readonly nowMs: number;
  readonly settings: SandboxPaymentSettings;
  /** Deterministic ids: the same basis gives the same id. */
  readonly newId: (prefix: string, basis: string) => string;
}

const refuse = (kind: Refusal['kind'], code: string, message: string): Transition<never> => ({
  ok: false,
  refusal: { kind, code, message },
});

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

const refundedMinor = (p: SandboxPayment): number =>
  sum(p.refunds.filter((r) => r.status === 'succeeded').map((r) => r.amountMinor));
const refundPendingMinor = (p: SandboxPayment): number =>
  sum(p.refunds.filter((r) => r.status === 'pending').map((r) => r.amountMinor));
const refundableOf = (p: SandboxPayment): number =>
  p.status === 'captured' ? Math.max(0, p.capturedMinor - refundedMinor(p) - refundPendingMinor(p)) : 0;

const inquiryOpen = (d: SandboxDispute): boolean =>
  d.status === 'warning_needs_response' || d.status === 'warning_under_review';
const isDisputed = (p: SandboxPayment): boolean => p.disputes.some((d) => d.status !== 'warning_closed');
const hasChargeback = (p: SandboxPayment): boolean => p.disputes.some((d) => d.stage === 'chargeback');

/** Neither disputed nor fully reversed: refunding (or voiding) can still head off a dispute. */
const warningActionable = (p: SandboxPayment): boolean => {
  if (isDisputed(p)) return false;
  if (p.status === 'voided' || p.status === 'expired' || p.status === 'incomplete') return false;
  return p.status === 'authorized' || refundableOf(p) > 0;
};

export function viewPayment(p: SandboxPayment): PaymentState {
  return {
    paymentId: p.paymentId,
    chargeId: p.status === 'incomplete' ? undefined : p.chargeId,
    status: p.status,
    currency: p.currency,
    authorizedMinor: p.authorizedMinor,
    capturableMinor: p.status === 'authorized' ? p.authorizedMinor : 0,
    capturedMinor: p.capturedMinor,
    refundedMinor: refundedMinor(p),
    refundPendingMinor: refundPendingMinor(p),
    disputed: isDisputed(p),
    authorizationExpiresAtMs: p.status === 'authorized' ? p.authorizationExpiresAtMs : undefined,
    voidReason: p.voidReason,
    createdAtMs: p.createdAtMs,
  };
}

export function viewRefund(p: SandboxPayment, r: SandboxRefund): RefundState {
  return {
    refundId: r.refundId,
    paymentId: p.paymentId,
    amountMinor: r.amountMinor,
    currency: p.currency,
    status: r.status,
    reason: r.reason,
    failureReason: r.failureReason,
    createdAtMs: r.createdAtMs,
  };
}

export function viewDispute(p: SandboxPayment, d: SandboxDispute): Dispute {
  return {
    disputeId: d.disputeId,
    paymentId: p.paymentId,
    chargeId: p.chargeId,
    amountMinor: d.amountMinor,
    currency: p.currency,
    reason: d.reason,
    networkReasonCode: d.networkReasonCode,
    stage: d.stage,
    status: d.status,
    chargeRefundable: inquiryOpen(d),
    evidenceDueByMs: d.evidenceDueByMs,
    createdAtMs: d.createdAtMs,
  };
}

export function viewWarning(p: SandboxPayment, w: SandboxWarning): EarlyFraudWarning {
  return {
    warningId: w.warningId,
    paymentId: p.paymentId,
    chargeId: p.chargeId,
    fraudType: w.fraudType,
    actionable: w.actionable,
    createdAtMs: w.createdAtMs,
  };
}

/** Accumulates one transition's effects with ids derived from the payment's version. */
class Recorder {
  readonly ledger: LedgerEntry[] = [];
  readonly events: SandboxEvent[] = [];
  readonly #ctx: MachineContext;
  readonly #basis: string;
  #count = 0;
  constructor(ctx: MachineContext, payment: SandboxPayment) {
    this.#ctx = ctx;
    this.#basis = `${payment.paymentId}:${String(payment.version)}`;
  }
  #id(prefix: string): string {
    this.#count += 1;
    return this.#ctx.newId(prefix, `${this.#basis}:${String(this.#count)}`);
  }
  entry(
    p: SandboxPayment,
    fields: Omit<LedgerEntry, 'transactionId' | 'currency' | 'paymentId' | 'createdAtMs' | 'availableOnMs'>,
    atMs: number,
    availableOnMs = atMs,
  ): void {
    this.ledger.push({
      transactionId: this.#id('txn'),
      currency: p.currency,
      paymentId: p.paymentId,
      createdAtMs: atMs,
      availableOnMs,
      ...fields,
    });
  }
  event(providerType: string, object: EventObject, atMs: number): void {
    this.events.push({ eventId: this.#id('evt'), providerType, atMs, object });
  }
  effects(): Effects {
    return { ledger: this.ledger, events: this.events };
  }
}

/** Bumps the version and re-derives every warning's `actionable`, announcing the ones that changed. */
function finish(before: SandboxPayment, after: SandboxPayment, rec: Recorder, atMs: number): SandboxPayment {
  const next: SandboxPayment = {
    ...after,
    version: before.version + 1,
    warnings: after.warnings.map((w) => ({ ...w, actionable: warningActionable(after) })),
  };
  for (const w of next.warnings) {
    const old = after.warnings.find((o) => o.warningId === w.warningId);
    if (old !== undefined && old.actionable !== w.actionable)
      rec.event(
        'radar.early_fraud_warning.updated',
        { kind: 'early_fraud_warning', warning: viewWarning(next, w) },
        atMs,
      );
  }
  return next;
}

function checkMoney(p: SandboxPayment, amount: Money): Refusal | undefined {
  if (amount.currency !== p.currency)
    return {
      kind: 'declined',
      code: 'parameter_invalid_currency',
      message: `amount is in ${amount.currency}, the payment in ${p.currency}`,
    };
  if (!Number.isSafeInteger(amount.value) || amount.value <= 0)
    return {
      kind: 'declined',
      code: 'parameter_invalid_integer',
      message: 'amount must be a positive integer',
    };
  return undefined;
}

export interface AuthorizeInput {
  readonly paymentId: string;
  readonly chargeId: string;
  readonly amount: Money;
  readonly initiator?: 'customer' | 'merchant' | undefined;
  readonly card?: { readonly fingerprint?: string | undefined; readonly scenario?: CardScenario | undefined };
  readonly reference?: string | undefined;
}

/** A checkout's authorization. A declined card still leaves an `incomplete` payment behind. */
export function authorize(input: AuthorizeInput, ctx: MachineContext): Transition<PaymentState> {
  const { amount } = input;
  if (!Number.isSafeInteger(amount.value) || amount.value <= 0)
    return refuse('declined', 'parameter_invalid_integer', 'amount must be a positive integer');
  if (!/^[A-Z]{3}$/.test(amount.currency))
    return refuse('declined', 'parameter_invalid_currency', 'currency must be an ISO 4217 code');
  const initiator = input.initiator ?? 'customer';
  const scenario = input.card?.scenario ?? 'ok';
  const validityMs =
    initiator === 'customer'
      ? ctx.settings.customerInitiatedValidityMs
      : ctx.settings.merchantInitiatedValidityMs;
  const declined = scenario === 'declined';
  const base: SandboxPayment = {
    paymentId: input.paymentId,
    chargeId: input.chargeId,
    reference: input.reference,
    currency: amount.currency,
    initiator,
    card: { fingerprint: input.card?.fingerprint ?? 'fp_sandbox', scenario },
    status: declined ? 'incomplete' : 'authorized',
    declineCode: declined ? 'card_declined' : undefined,
    authorizedMinor: declined ? 0 : amount.value,
    capturedMinor: 0,
    authorizationExpiresAtMs: declined ? undefined : ctx.nowMs + validityMs,
    voidReason: undefined,
    createdAtMs: ctx.nowMs,
    capturedAtMs: undefined,
    captureKey: undefined,
    voidKey: undefined,
    voidedAtMs: undefined,
    refunds: [],
    disputes: [],
    warnings: [],
    version: 0,
  };
  const rec = new Recorder(ctx, base);
  const payment = finish(base, base, rec, ctx.nowMs);
  rec.event(
    declined ? 'payment_intent.payment_failed' : 'payment_intent.amount_capturable_updated',
    { kind: 'payment', payment: viewPayment(payment) },
    ctx.nowMs,
  );
  return { ok: true, payment, value: viewPayment(payment), effects: rec.effects() };
}

function unexpectedState(p: SandboxPayment, action: string): Transition<never> {
  return refuse(
    'conflict',
    'payment_intent_unexpected_state',
    `cannot ${action} a payment whose status is ${p.status}`,
  );
}

export function capture(
  p: SandboxPayment,
  amount: Money | undefined,
  idempotencyKey: string | undefined,
  ctx: MachineContext,
): Transition<PaymentState> {
  if (p.status !== 'authorized') return unexpectedState(p, 'capture');
  const capturing = amount?.value ?? p.authorizedMinor;
  if (amount !== undefined) {
    const bad = checkMoney(p, amount);
    if (bad !== undefined) return { ok: false, refusal: bad };
  }
  if (capturing > p.authorizedMinor)
    return refuse(
      'conflict',
      'amount_too_large',
      `cannot capture ${String(capturing)}: only ${String(p.authorizedMinor)} is capturable`,
    );
  const rec = new Recorder(ctx, p);
  const after = finish(
    p,
    {
      ...p,
      status: 'captured',
      capturedMinor: capturing,
      capturedAtMs: ctx.nowMs,
      captureKey: idempotencyKey,
    },
    rec,
    ctx.nowMs,
  );
  const fee = Math.floor((capturing * ctx.settings.feeBasisPoints) / 10_000) + ctx.settings.feeFixedMinor;
  rec.entry(
    after,
    {
      reportingCategory: 'charge',
      type: 'charge',
      amountMinor: capturing,
      feeMinor: fee,
      sourceId: p.chargeId,
    },
    ctx.nowMs,
    ctx.nowMs + ctx.settings.settlementDelayMs,
  );
  rec.event('charge.captured', { kind: 'payment', payment: viewPayment(after) }, ctx.nowMs);
  rec.event('payment_intent.succeeded', { kind: 'payment', payment: viewPayment(after) }, ctx.nowMs);
  return { ok: true, payment: after, value: viewPayment(after), effects: rec.effects() };
}

export function voidAuthorization(
  p: SandboxPayment,
  reason: VoidReason,
  idempotencyKey: string | undefined,
  ctx: MachineContext,
): Transition<PaymentState> {
  if (p.status !== 'authorized') return unexpectedState(p, 'void');
  const rec = new Recorder(ctx, p);
  const after = finish(
    p,
    { ...p, status: 'voided', voidReason: reason, voidKey: idempotencyKey, voidedAtMs: ctx.nowMs },
    rec,
    ctx.nowMs,
  );
  rec.event('payment_intent.canceled', { kind: 'payment', payment: viewPayment(after) }, ctx.nowMs);
  return { ok: true, payment: after, value: viewPayment(after), effects: rec.effects() };
}

export function refund(
  p: SandboxPayment,
  amount: Money,
  reason: RefundReason | undefined,
  idempotencyKey: string | undefined,
  refundId: string,
  ctx: MachineContext,
): Transition<RefundState> {
  const bad = checkMoney(p, amount);
  if (bad !== undefined) return { ok: false, refusal: bad };
  if (p.status === 'authorized')
    return refuse(
      'conflict',
      'payment_not_captured',
      'the payment is not captured: void the authorization instead',
    );
  if (p.status !== 'captured') return unexpectedState(p, 'refund');
  // A chargeback already took the money back; refunding too would pay the customer twice.
  if (hasChargeback(p))
    return refuse('conflict', 'charge_disputed', 'the charge has a chargeback: answer the dispute');
  const refundable = refundableOf(p);
  if (refundable === 0)
    return refuse('conflict', 'charge_already_refunded', 'the charge is already fully refunded');
  if (amount.value > refundable)
    return refuse(
      'conflict',
      'amount_too_large',
      `refund of ${String(amount.value)} exceeds the ${String(refundable)} left to refund`,
    );
  const settlesLater = p.card.scenario === 'refunds_settle_later' || p.card.scenario === 'refunds_fail_later';
  const created: SandboxRefund = {
    refundId,
    amountMinor: amount.value,
    reason,
    status: settlesLater ? 'pending' : 'succeeded',
    failureReason: undefined,
    createdAtMs: ctx.nowMs,
    settleAtMs: settlesLater ? ctx.nowMs + ctx.settings.refundSettleMs : undefined,
    idempotencyKey,
  };
  const rec = new Recorder(ctx, p);
  let next: SandboxPayment = { ...p, refunds: [...p.refunds, created] };
  const closing = refundableOf(next) === 0;
  // A full refund answers an open inquiry: the issuer closes it.
  if (closing)
    next = {
      ...next,
      disputes: next.disputes.map((d) =>
        inquiryOpen(d) ? { ...d, status: 'warning_closed', escalateAtMs: undefined } : d,
      ),
    };
  const after = finish(p, next, rec, ctx.nowMs);
  rec.entry(
    after,
    {
      reportingCategory: 'refund',
      type: 'refund',
      amountMinor: -amount.value,
      feeMinor: 0,
      sourceId: refundId,
    },
    ctx.nowMs,
  );
  rec.event('refund.created', { kind: 'refund', refund: viewRefund(after, created) }, ctx.nowMs);
  rec.event('charge.refunded', { kind: 'payment', payment: viewPayment(after) }, ctx.nowMs);
  for (const d of after.disputes)
    if (p.disputes.find((o) => o.disputeId === d.disputeId)?.status !== d.status)
      rec.event('charge.dispute.closed', { kind: 'dispute', dispute: viewDispute(after, d) }, ctx.nowMs);
  return { ok: true, payment: after, value: viewRefund(after, created), effects: rec.effects() };
}

export interface DisputeInput {
  readonly disputeId: string;
  readonly reason?: string | undefined;
  readonly networkReasonCode?: string | undefined;
  readonly stage?: 'inquiry' | 'chargeback' | undefined;
  /**
   * The cardholder disputes the captured amount without having seen a refund that already went
   * through (it happens: the credit takes days to appear). Only the sandbox's world sets it.
   */
  readonly despiteRefund?: boolean | undefined;
}

/** The issuer opens a dispute: an inquiry first, or straight to a chargeback. */
export function openDispute(
  p: SandboxPayment,
  input: DisputeInput,
  ctx: MachineContext,
): Transition<Dispute> {
  if (p.status !== 'captured')
    return refuse('conflict', 'charge_not_captured', 'only a captured charge can be disputed');
  if (isDisputed(p))
    return refuse('conflict', 'charge_already_disputed', 'the charge already has an open dispute');
  const amountMinor = input.despiteRefund === true ? p.capturedMinor : refundableOf(p);
  if (amountMinor === 0) return refuse('conflict', 'charge_already_refunded', 'nothing left to dispute');
  const stage = input.stage ?? 'chargeback';
  const dispute: SandboxDispute = {
    disputeId: input.disputeId,
    amountMinor,
    reason: input.reason ?? 'fraudulent',
    networkReasonCode: input.networkReasonCode ?? '10.4',
    stage,
    status: stage === 'inquiry' ? 'warning_needs_response' : 'needs_response',
    createdAtMs: ctx.nowMs,
    escalateAtMs: stage === 'inquiry' ? ctx.nowMs + ctx.settings.inquiryEscalationMs : undefined,
    evidenceDueByMs: ctx.nowMs + ctx.settings.evidenceWindowMs,
  };
  const rec = new Recorder(ctx, p);
  const after = finish(p, { ...p, disputes: [...p.disputes, dispute] }, rec, ctx.nowMs);
  if (stage === 'chargeback') withdraw(after, dispute, rec, ctx, ctx.nowMs);
  rec.event('charge.dispute.created', { kind: 'dispute', dispute: viewDispute(after, dispute) }, ctx.nowMs);
  return { ok: true, payment: after, value: viewDispute(after, dispute), effects: rec.effects() };
}

function withdraw(
  p: SandboxPayment,
  d: SandboxDispute,
  rec: Recorder,
  ctx: MachineContext,
  atMs: number,
): void {
  rec.entry(
    p,
    {
      reportingCategory: 'dispute',
      type: 'adjustment',
      amountMinor: -d.amountMinor,
      feeMinor: ctx.settings.disputeFeeMinor,
      sourceId: d.disputeId,
    },
    atMs,
  );
}

/** Closes a dispute: an inquiry is simply closed; a chargeback is won (money back) or lost. */
export function resolveDispute(
  p: SandboxPayment,
  disputeId: string,
  outcome: 'won' | 'lost',
  ctx: MachineContext,
): Transition<Dispute> {
  const d = p.disputes.find((x) => x.disputeId === disputeId);
  if (d === undefined) return refuse('not_found', 'resource_missing', `no dispute ${disputeId}`);
  if (d.status === 'won' || d.status === 'lost' || d.status === 'warning_closed')
    return refuse('conflict', 'dispute_already_closed', `dispute ${disputeId} is ${d.status}`);
  const status: DisputeStatus = d.stage === 'inquiry' ? 'warning_closed' : outcome;
  const resolved: SandboxDispute = { ...d, status, escalateAtMs: undefined };
  const rec = new Recorder(ctx, p);
  const after = finish(
    p,
    { ...p, disputes: p.disputes.map((x) => (x.disputeId === disputeId ? resolved : x)) },
    rec,
    ctx.nowMs,
  );
  if (status === 'won')
    rec.entry(
      after,
      {
        reportingCategory: 'dispute_reversal',
        type: 'adjustment',
        amountMinor: d.amountMinor,
        feeMinor: 0,
        sourceId: d.disputeId,
      },
      ctx.nowMs,
    );
  rec.event('charge.dispute.closed', { kind: 'dispute', dispute: viewDispute(after, resolved) }, ctx.nowMs);
  return { ok: true, payment: after, value: viewDispute(after, resolved), effects: rec.effects() };
}

/**
 * The merchant accepts a chargeback (Stripe: close): no evidence, the dispute is lost and the
 * withdrawn money stays with the cardholder. An inquiry is answered by a refund, not accepted.
 */
export function acceptDispute(
  p: SandboxPayment,
  disputeId: string,
  ctx: MachineContext,
): Transition<Dispute> {
  const d = p.disputes.find((x) => x.disputeId === disputeId);
  if (d === undefined) return refuse('not_found', 'resource_missing', `no dispute ${disputeId}`);
  if (d.status === 'lost')
    return { ok: true, payment: p, value: viewDispute(p, d), effects: { ledger: [], events: [] } };
  if (d.stage === 'inquiry')
    return refuse(
      'conflict',
      'dispute_is_inquiry',
      'an inquiry cannot be accepted: refund the charge to answer it',
    );
  if (d.status === 'won' || d.status === 'warning_closed')
    return refuse('conflict', 'dispute_already_closed', `dispute ${disputeId} is ${d.status}`);
  const lost: SandboxDispute = { ...d, status: 'lost', escalateAtMs: undefined };
  const rec = new Recorder(ctx, p);
  const after = finish(
    p,
    { ...p, disputes: p.disputes.map((x) => (x.disputeId === disputeId ? lost : x)) },
    rec,
    ctx.nowMs,
  );
  rec.event('charge.dispute.closed', { kind: 'dispute', dispute: viewDispute(after, lost) }, ctx.nowMs);
  return { ok: true, payment: after, value: viewDispute(after, lost), effects: rec.effects() };
}

export function raiseWarning(
  p: SandboxPayment,
  input: { readonly warningId: string; readonly fraudType?: string | undefined },
  ctx: MachineContext,
): Transition<EarlyFraudWarning> {
  if (p.status === 'incomplete') return refuse('conflict', 'charge_missing', 'the payment has no charge');
  const warning: SandboxWarning = {
    warningId: input.warningId,
    fraudType: input.fraudType ?? 'unauthorized_use_of_card',
    actionable: true,
    createdAtMs: ctx.nowMs,
  };
  const rec = new Recorder(ctx, p);
  const added = { ...p, warnings: [...p.warnings, { ...warning, actionable: warningActionable(p) }] };
  const after = finish(p, added, rec, ctx.nowMs);
  const stored = after.warnings.find((w) => w.warningId === warning.warningId) ?? warning;
  rec.event(
    'radar.early_fraud_warning.created',
    { kind: 'early_fraud_warning', warning: viewWarning(after, stored) },
    ctx.nowMs,
  );
  return { ok: true, payment: after, value: viewWarning(after, stored), effects: rec.effects() };
}

/** The earliest moment something happens to this payment by itself; undefined when nothing will. */
export function nextDueAtMs(p: SandboxPayment): number | undefined {
  const times: number[] = [];
  if (p.status === 'authorized' && p.authorizationExpiresAtMs !== undefined)
    times.push(p.authorizationExpiresAtMs);
  for (const r of p.refunds)
    if (r.status === 'pending' && r.settleAtMs !== undefined) times.push(r.settleAtMs);
  for (const d of p.disputes) if (inquiryOpen(d) && d.escalateAtMs !== undefined) times.push(d.escalateAtMs);
  return times.length === 0 ? undefined : Math.min(...times);
}

/**
 * Applies everything that fell due up to `ctx.nowMs`, one step at a time in time order, each at
 * its own due time: holds expire, pending refunds settle or fail, inquiries escalate.
 */
export function runDue(
  p: SandboxPayment,
  ctx: MachineContext,
): { payment: SandboxPayment; effects: Effects } {
  let current = p;
  const ledger: LedgerEntry[] = [];
  const events: SandboxEvent[] = [];
  // Each step removes one due item, so this ends; the bound is a guard against a bug looping.
  for (let step = 0; step < 1000; step += 1) {
    const due = nextDueAtMs(current);
    if (due === undefined || due > ctx.nowMs) break;
    const at = { ...ctx, nowMs: due };
    const rec = new Recorder(at, current);
    current = stepDue(current, due, rec, at);
    ledger.push(...rec.ledger);
    events.push(...rec.events);
  }
  return { payment: current, effects: { ledger, events } };
}

function stepDue(p: SandboxPayment, due: number, rec: Recorder, ctx: MachineContext): SandboxPayment {
  if (p.status === 'authorized' && p.authorizationExpiresAtMs === due) {
    // An expired hold is released by the network: nothing can be captured any more.
    const after = finish(p, { ...p, status: 'expired' }, rec, due);
    rec.event('payment_intent.canceled', { kind: 'payment', payment: viewPayment(after) }, due);
    return after;
  }
  const pending = p.refunds.find((r) => r.status === 'pending' && r.settleAtMs === due);
  if (pending !== undefined) {
    const fails = p.card.scenario === 'refunds_fail_later';
    const settled: SandboxRefund = {
      ...pending,
      status: fails ? 'failed' : 'succeeded',
      failureReason: fails ? 'expired_or_canceled_card' : undefined,
      settleAtMs: undefined,
    };
    const after = finish(
      p,
      { ...p, refunds: p.refunds.map((r) => (r.refundId === pending.refundId ? settled : r)) },
      rec,
      due,
    );
    if (fails)
      rec.entry(
        after,
        {
          reportingCategory: 'refund_failure',
          type: 'refund_failure',
          amountMinor: pending.amountMinor,
          feeMinor: 0,
          sourceId: pending.refundId,
        },
        due,
      );
    rec.event('refund.updated', { kind: 'refund', refund: viewRefund(after, settled) }, due);
    rec.event('charge.refund.updated', { kind: 'refund', refund: viewRefund(after, settled) }, due);
    return after;
  }
  const inquiry = p.disputes.find((d) => inquiryOpen(d) && d.escalateAtMs === due);
  if (inquiry !== undefined) {
    // The issuer turns an unanswered inquiry into a chargeback of what is still unrefunded.
    const escalated: SandboxDispute = {
      ...inquiry,
      stage: 'chargeback',
      status: 'needs_response',
      amountMinor: Math.min(inquiry.amountMinor, refundableOf(p)),
      escalateAtMs: undefined,
      evidenceDueByMs: due + ctx.settings.evidenceWindowMs,
    };
    const after = finish(
      p,
      { ...p, disputes: p.disputes.map((d) => (d.disputeId === inquiry.disputeId ? escalated : d)) },
      rec,
      due,
    );
    if (escalated.amountMinor > 0) withdraw(after, escalated, rec, ctx, due);
    rec.event('charge.dispute.updated', { kind: 'dispute', dispute: viewDispute(after, escalated) }, due);
    return after;
  }
  throw new Error(`sandbox payment ${p.paymentId}: nothing due at ${String(due)}`);
}
