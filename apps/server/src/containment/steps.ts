import type { FulfilmentPort, FulfilmentOrderView } from '../connectors/domain/fulfilment.ts';
import type { NotifyPort } from '../connectors/domain/notify.ts';
import {
  refundableMinor,
  type PaymentState,
  type PaymentsPort,
  type RefundState,
} from '../connectors/domain/payments.ts';
import type { ProviderError, ProviderResult } from '../connectors/domain/provider-result.ts';
import type { StorePort } from '../connectors/domain/store.ts';
import { dayMs } from '../core/time.ts';
import {
  stepsForOrder,
  type NewStep,
  type RunRecord,
  type StepData,
  type StepRecord,
  type StepResult,
  type SweptOrder,
} from './domain/model.ts';
import { receiptOf, renderOwnerMessage, type ReceiptLocale } from './domain/receipt.ts';

/** The providers containment acts on. */
export interface ContainmentPorts {
  readonly store: StorePort;
  readonly payments: PaymentsPort;
  readonly fulfilment: FulfilmentPort;
  readonly notify: NotifyPort;
}

/** Where the owner is reached: their verified channels, as Bulwark knows them. */
export interface OwnerContact {
  readonly email?: string | undefined;
  readonly phone?: string | undefined;
  readonly locale: ReceiptLocale;
}

export interface StepContext {
  readonly run: RunRecord;
  readonly step: StepRecord;
  /** Every step of the run as last committed (the notify step reads the confirmations). */
  readonly steps: readonly StepRecord[];
  readonly nowMs: number;
  readonly ports: ContainmentPorts;
  readonly storeName: string;
  readonly contactOf: (accountId: string) => Promise<OwnerContact | undefined>;
  /** When the first suspicious sign-in of the account happened before `beforeMs`, if any. */
  readonly firstSuspiciousSignInMs: (accountId: string, beforeMs: number) => Promise<number | undefined>;
}

/** How far back a sweep looks when nobody said `since` and no suspicious sign-in is on record. */
export const sweepLookbackMs = 30 * dayMs;

/** Refund failure reasons no retry can mend (Stripe's names). */
const permanentRefundFailures: ReadonlySet<string> = new Set([
  'expired_or_canceled_card',
  'lost_or_stolen_card',
]);

/** A refund the card network refused for good, if any: retrying cannot succeed. */
function refusedForGood(refunds: readonly RefundState[]): RefundState | undefined {
  return refunds.find((r) => r.status === 'failed' && permanentRefundFailures.has(r.failureReason ?? ''));
}

/** A provider error becomes a retry when trying again can help, else an escalation. */
function failed(error: ProviderError, what: string): StepResult {
  const message = `${what}: ${error.kind}${error.providerCode === undefined ? '' : ` (${error.providerCode})`}: ${error.message}`;
  return error.retryable
    ? {
        kind: 'retry',
        error: message,
        ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      }
    : { kind: 'escalate', error: message };
}

const accountCommand = (ctx: StepContext) => ({
  accountId: ctx.run.accountId,
  idempotencyKey: ctx.step.idempotencyKey,
});

async function accountStep<T extends object>(
  call: ProviderResult<T> | Promise<ProviderResult<T>>,
  what: string,
): Promise<StepResult> {
  const result = await call;
  return result.ok
    ? { kind: 'done', outcome: { ...(result.value as Record<string, unknown>) } }
    : failed(result.error, what);
}

function shipmentStageOf(view: FulfilmentOrderView): SweptOrder['shipmentStage'] {
  const statuses = view.shipments.filter((s) => s.kind === 'physical').map((s) => s.status);
  if (statuses.length === 0) return view.shipments.length === 0 ? undefined : 'unfulfilled';
  if (statuses.some((s) => s === 'in_transit' || s === 'intercepting')) return 'in_transit';
  if (statuses.some((s) => s === 'labelled')) return 'labelled';
  if (statuses.some((s) => s === 'pending' || s === 'held')) return 'unfulfilled';
  return 'finished';
}

async function sweepOrders(ctx: StepContext): Promise<StepResult> {
  const { run } = ctx;
  const sinceMs =
    run.sinceMs ??
    (await ctx.firstSuspiciousSignInMs(run.accountId, run.decidedAtMs)) ??
    run.decidedAtMs - sweepLookbackMs;
  const listed = await ctx.ports.store.listOrders({
    accountId: run.accountId,
    sinceMs: run.orderId === undefined ? sinceMs : 0,
  });
  if (!listed.ok) return failed(listed.error, 'store listOrders');
  const orders =
    run.orderId === undefined ? listed.value : listed.value.filter((o) => o.orderId === run.orderId);
  const swept: (SweptOrder & { placedAtMs: number })[] = [];
  for (const order of orders) {
    // These reads only name the steps; each step reads the provider again when it runs. So a
    // failed read does not fail the sweep: the order gets the steps that handle any state.
    let paymentStatus: string | undefined;
    if (order.paymentId !== undefined) {
      const payment = await ctx.ports.payments.getPayment(order.paymentId);
      paymentStatus = payment.ok ? payment.value.status : undefined;
    }
    const fulfilment = await ctx.ports.fulfilment.getOrder(order.orderId);
    const shipmentStage = fulfilment.ok
      ? shipmentStageOf(fulfilment.value)
      : fulfilment.error.kind === 'not_found'
        ? undefined
        : 'unfulfilled';
    swept.push({
      orderId: order.orderId,
      placedAtMs: order.placedAtMs,
      paymentId: order.paymentId,
      paymentStatus,
      hasGiftCards: order.items.some((i) => i.category === 'gift_card'),
      shipmentStage,
      archived: order.archived,
      amount: order.amount,
    });
  }
  const addSteps: NewStep[] = swept.flatMap(stepsForOrder);
  return { kind: 'done', outcome: { sinceMs, orders: swept }, addSteps };
}

async function cancelOrder(ctx: StepContext): Promise<StepResult> {
  const orderId = ctx.step.target ?? '';
  const result = await ctx.ports.store.cancelOrder({ orderId, idempotencyKey: ctx.step.idempotencyKey });
  return result.ok
    ? { kind: 'done', outcome: { status: result.value.status } }
    : failed(result.error, 'store cancelOrder');
}

const paymentView = (p: PaymentState): StepData => ({
  paymentId: p.paymentId,
  status: p.status,
  currency: p.currency,
  authorizedMinor: p.authorizedMinor,
  capturableMinor: p.capturableMinor,
  capturedMinor: p.capturedMinor,
  refundedMinor: p.refundedMinor,
  refundPendingMinor: p.refundPendingMinor,
  disputed: p.disputed,
});

/**
 * `void-authorization` and `refund-capture` alike: decide from the provider's CURRENT state, not
 * from ours (the sweep's read may be stale). Never refund a disputed charge: the dispute answers it.
 */
async function settlePayment(ctx: StepContext): Promise<StepResult> {
  const paymentId = String(ctx.step.params.paymentId);
  const read = await ctx.ports.payments.getPayment(paymentId);
  if (!read.ok) return failed(read.error, 'payments getPayment');
  const p = read.value;
  const provider = ctx.ports.payments.provider;
  if (p.disputed) {
    return {
      kind: 'escalate',
      error: 'charge is disputed: the dispute flow answers it, no refund',
      outcome: { provider, action: 'none', state: paymentView(p) },
    };
  }
  switch (p.status) {
    case 'incomplete':
    case 'voided':
    case 'expired':
      return {
        kind: 'done',
        outcome: { provider, action: p.status === 'voided' ? 'voided' : 'none', state: paymentView(p) },
      };
    case 'authorized': {
      const voided = await ctx.ports.payments.voidAuthorization({
        paymentId,
        reason: 'fraudulent',
        idempotencyKey: ctx.step.idempotencyKey,
      });
      if (!voided.ok) {
        // A conflict means the state moved (captured in between): read again and refund.
        return voided.error.kind === 'conflict'
          ? { kind: 'retry', error: `void refused: ${voided.error.message}` }
          : failed(voided.error, 'payments voidAuthorization');
      }
      return voided.value.status === 'voided'
        ? { kind: 'done', outcome: { provider, action: 'voided', state: paymentView(voided.value) } }
        : { kind: 'retry', error: `void answered status ${voided.value.status}` };
    }
    case 'captured': {
      if (p.refundPendingMinor > 0) {
        return { kind: 'await', outcome: { provider, action: 'refund_pending', state: paymentView(p) } };
      }
      const refundable = refundableMinor(p);
      if (refundable === 0) {
        return { kind: 'done', outcome: { provider, action: 'refunded', state: paymentView(p) } };
      }
      // A refund that failed moved no money: the next one needs a key of its own.
      const refunds = await ctx.ports.payments.listRefunds(paymentId);
      if (!refunds.ok) return failed(refunds.error, 'payments listRefunds');
      const failedRefunds = refunds.value.filter((r) => r.status === 'failed' || r.status === 'canceled');
      // A refund the card network refused for good (the card closed, lost or stolen) fails again
      // on every retry: a person has to pay the shopper back another way.
      const final = refusedForGood(failedRefunds);
      if (final !== undefined) {
        return {
          kind: 'escalate',
          error: `refund ${final.refundId} failed at the provider (${final.failureReason ?? ''}): retrying cannot succeed; pay the shopper back another way`,
          outcome: { provider, action: 'refund_failed', refundId: final.refundId, state: paymentView(p) },
        };
      }
      const failedBefore = failedRefunds.length;
      const key =
        failedBefore === 0
          ? ctx.step.idempotencyKey
          : `${ctx.step.idempotencyKey}:retry${String(failedBefore)}`;
      const refund = await ctx.ports.payments.refund({
        paymentId,
        amount: { value: refundable, currency: p.currency },
        reason: 'fraudulent',
        idempotencyKey: key,
      });
      if (!refund.ok) return failed(refund.error, 'payments refund');
      const outcome = {
        provider,
        action: 'refund_requested',
        refundId: refund.value.refundId,
        state: paymentView(p),
      };
      if (refund.value.status === 'succeeded')
        return { kind: 'done', outcome: { ...outcome, action: 'refunded' } };
      if (refund.value.status === 'pending' || refund.value.status === 'requires_action')
        return { kind: 'await', outcome };
      return {
        kind: 'retry',
        error: `refund ${refund.value.refundId} ${refund.value.status}: ${refund.value.failureReason ?? ''}`,
      };
    }
  }
}

/** Reads the payment back until the provider's own state says nothing is capturable or kept (S3, L2). */
async function confirmPayment(ctx: StepContext): Promise<StepResult> {
  const paymentId = String(ctx.step.params.paymentId);
  const read = await ctx.ports.payments.getPayment(paymentId);
  if (!read.ok) return failed(read.error, 'payments getPayment');
  const p = read.value;
  const provider = ctx.ports.payments.provider;
  const base = { provider, capturedMinor: p.capturedMinor, state: paymentView(p) };
  if (p.disputed)
    return { kind: 'escalate', error: 'charge disputed', outcome: { ...base, confirmed: 'disputed' } };
  if (p.status === 'voided')
    return { kind: 'done', outcome: { ...base, confirmed: 'voided', confirmedMinor: p.authorizedMinor } };
  if (p.status === 'expired' || p.status === 'incomplete') {
    return { kind: 'done', outcome: { ...base, confirmed: 'nothing_captured', confirmedMinor: 0 } };
  }
  if (p.status === 'captured' && p.refundPendingMinor === 0 && p.refundedMinor >= p.capturedMinor) {
    const refunds = await ctx.ports.payments.listRefunds(paymentId);
    if (!refunds.ok) return failed(refunds.error, 'payments listRefunds');
    const refundIds = refunds.value.filter((r) => r.status === 'succeeded').map((r) => r.refundId);
    return {
      kind: 'done',
      outcome: { ...base, confirmed: 'refunded', confirmedMinor: p.refundedMinor, refundIds },
    };
  }
  if (p.status === 'captured' && p.refundPendingMinor === 0) {
    // Money kept and no refund under way: when the card refused a refund for good, none will come.
    const refunds = await ctx.ports.payments.listRefunds(paymentId);
    if (!refunds.ok) return failed(refunds.error, 'payments listRefunds');
    const final = refusedForGood(refunds.value);
    if (final !== undefined)
      return {
        kind: 'escalate',
        error: `${String(p.capturedMinor - p.refundedMinor)} ${p.currency} still captured: refund ${final.refundId} failed at the provider (${final.failureReason ?? ''}); pay the shopper back another way`,
        outcome: { ...base, confirmed: 'refund_failed', refundId: final.refundId },
      };
  }
  return { kind: 'await', outcome: { ...base, confirmed: 'pending' } };
}

/** hold-shipment / cancel-shipment / request-intercept: whatever each shipment's state calls for now. */
async function stopShipment(ctx: StepContext): Promise<StepResult> {
  const orderId = ctx.step.target ?? '';
  const read = await ctx.ports.fulfilment.getOrder(orderId);
  if (!read.ok)
    return read.error.kind === 'not_found'
      ? { kind: 'done', outcome: { actions: [] } }
      : failed(read.error, 'fulfilment getOrder');
  const actions: { shipmentId: string; action: string; status: string }[] = [];
  if (read.value.shipments.some((s) => s.status === 'pending')) {
    const held = await ctx.ports.fulfilment.hold({
      orderId,
      idempotencyKey: `${ctx.step.idempotencyKey}:hold`,
    });
    if (!held.ok) return failed(held.error, 'fulfilment hold');
    for (const s of held.value.shipments)
      if (s.status === 'held') actions.push({ shipmentId: s.shipmentId, action: 'held', status: s.status });
  }
  for (const s of read.value.shipments) {
    const command = {
      orderId,
      shipmentId: s.shipmentId,
      idempotencyKey: `${ctx.step.idempotencyKey}:${s.shipmentId}`,
    };
    if (s.status === 'labelled') {
      const cancelled = await ctx.ports.fulfilment.cancelShipment(command);
      if (!cancelled.ok)
        return cancelled.error.kind === 'conflict'
          ? { kind: 'retry', error: cancelled.error.message }
          : failed(cancelled.error, 'fulfilment cancelShipment');
      actions.push({ shipmentId: s.shipmentId, action: 'cancel', status: cancelled.value.status });
    } else if (s.status === 'in_transit' && s.intercept === 'none') {
      const intercepted = await ctx.ports.fulfilment.requestIntercept(command);
      if (!intercepted.ok) return failed(intercepted.error, 'fulfilment requestIntercept');
      actions.push({ shipmentId: s.shipmentId, action: 'intercept', status: intercepted.value.status });
    }
  }
  return { kind: 'done', outcome: { actions } };
}

async function confirmShipment(ctx: StepContext): Promise<StepResult> {
  const orderId = ctx.step.target ?? '';
  const read = await ctx.ports.fulfilment.getOrder(orderId);
  if (!read.ok) {
    return read.error.kind === 'not_found'
      ? { kind: 'done', outcome: { confirmed: 'nothing_to_ship', shipments: [] } }
      : failed(read.error, 'fulfilment getOrder');
  }
  const shipments = read.value.shipments.map((s) => ({ ...s }));
  const physical = shipments.filter((s) => s.kind === 'physical');
  const outcome = { shipments };
  if (physical.some((s) => ['pending', 'labelled', 'in_transit', 'intercepting'].includes(s.status))) {
    return { kind: 'await', outcome: { ...outcome, confirmed: 'pending' } };
  }
  if (physical.some((s) => s.status === 'delivered')) {
    return {
      kind: 'escalate',
      error: 'parcel delivered: the carrier could not stop it',
      outcome: { ...outcome, confirmed: 'delivered_not_stopped' },
    };
  }
  const confirmed =
    physical.length === 0
      ? shipments.some((s) => s.status === 'delivered')
        ? 'digital_delivered'
        : 'held'
      : physical.some((s) => s.status === 'returned')
        ? 'returned'
        : physical.some((s) => s.status === 'cancelled')
          ? 'cancelled'
          : 'held';
  return { kind: 'done', outcome: { ...outcome, confirmed } };
}

async function deactivateGiftCodes(ctx: StepContext): Promise<StepResult> {
  const orderId = ctx.step.target ?? '';
  const result = await ctx.ports.store.deactivateGiftCards({
    orderId,
    idempotencyKey: ctx.step.idempotencyKey,
  });
  if (!result.ok) return failed(result.error, 'store deactivateGiftCards');
  const cards = result.value.cards.map((c) => ({ ...c }));
  if (cards.some((c) => c.status === 'redeemed')) {
    return {
      kind: 'escalate',
      error: 'gift-card codes were redeemed before deactivation',
      outcome: { cards },
    };
  }
  return { kind: 'done', outcome: { cards } };
}

/** Tells the owner once, only what the providers confirmed (S5). The key makes a resend a no-op. */
async function notifyOwner(ctx: StepContext): Promise<StepResult> {
  const contact = await ctx.contactOf(ctx.run.accountId);
  if (contact?.email === undefined && contact?.phone === undefined) {
    return { kind: 'escalate', error: 'no verified channel for the owner: tell them by another way' };
  }
  const receipt = receiptOf(ctx.run, ctx.steps);
  const message = renderOwnerMessage(receipt, ctx.storeName, contact.locale);
  if (contact.email !== undefined) {
    const sent = await ctx.ports.notify.sendEmail({
      message: { to: contact.email, subject: message.subject, text: message.text },
      idempotencyKey: ctx.step.idempotencyKey,
    });
    if (!sent.ok) return failed(sent.error, 'notify sendEmail');
    return {
      kind: 'done',
      outcome: {
        channel: 'email',
        messageId: sent.value.messageId,
        sentAtMs: ctx.nowMs,
        orders: receipt.orders.length,
        complete: receipt.complete,
      },
    };
  }
  const sent = await ctx.ports.notify.sendSms({
    message: { to: contact.phone ?? '', text: message.subject },
    idempotencyKey: ctx.step.idempotencyKey,
  });
  if (!sent.ok) return failed(sent.error, 'notify sendSms');
  return {
    kind: 'done',
    outcome: {
      channel: 'sms',
      messageId: sent.value.messageId,
      sentAtMs: ctx.nowMs,
      orders: receipt.orders.length,
      complete: receipt.complete,
    },
  };
}

/** Every step's invocation, by name. Each answers a StepResult; only bugs throw. */
export async function invokeStep(ctx: StepContext): Promise<StepResult> {
  switch (ctx.step.name) {
    case 'revoke-sessions':
      return accountStep(ctx.ports.store.revokeSessions(accountCommand(ctx)), 'store revokeSessions');
    case 'lock-account':
      return accountStep(ctx.ports.store.lockAccount(accountCommand(ctx)), 'store lockAccount');
    case 'force-password-reset':
      return accountStep(ctx.ports.store.forcePasswordReset(accountCommand(ctx)), 'store forcePasswordReset');
    case 'sweep-orders':
      return sweepOrders(ctx);
    case 'cancel-order':
      return cancelOrder(ctx);
    case 'void-authorization':
    case 'refund-capture':
      return settlePayment(ctx);
    case 'confirm-payment-outcome':
      return confirmPayment(ctx);
    case 'hold-shipment':
    case 'cancel-shipment':
    case 'request-intercept':
      return stopShipment(ctx);
    case 'confirm-shipment-outcome':
      return confirmShipment(ctx);
    case 'deactivate-gift-codes':
      return deactivateGiftCodes(ctx);
    case 'notify-owner':
      return notifyOwner(ctx);
    case 'close-case':
      return { kind: 'done', outcome: { closedAtMs: ctx.nowMs } };
  }
}
