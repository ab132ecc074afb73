import type { CaseView } from '@bulwark/contracts';
import { toIso } from '../core/time.ts';
import type { StepRecord } from '../containment/domain/model.ts';
import { receiptOf, type ReceiptLocale, type ReceiptOrder } from '../containment/domain/receipt.ts';
import { renderReceiptPage } from '../containment/receipt-page.ts';
import type { Storage, StoredEvent } from '../storage/ports.ts';

/** Orders looked at for a case: the account's log, newest first, at most this many events. */
const caseEventsScannedMax = 5000;

/**
 * Reads a containment case: its run step by step and, per order, what the providers confirmed
 * (the cancellation receipt). A case whose run has not swept yet (or that no playbook applied
 * to) lists the orders in Bulwark's own log since `since`, with payment and shipment `unknown`.
 */
export class CaseService {
  readonly #storage: Storage;
  constructor(deps: { storage: Storage }) {
    this.#storage = deps.storage;
  }

  /** The cancellation receipt page, or undefined when the case or its run does not exist. */
  async receiptPage(caseId: string, locale: ReceiptLocale): Promise<string | undefined> {
    const run = await this.#storage.containment.runForCase(caseId);
    if (run === undefined) return undefined;
    const steps = await this.#storage.containment.steps(run.runId);
    return renderReceiptPage(run, receiptOf(run, steps), locale);
  }

  async view(caseId: string): Promise<CaseView | undefined> {
    const record = await this.#storage.cases.get(caseId);
    if (record === undefined) return undefined;
    const events = await this.#storage.events.readAccount(record.accountId, { limit: caseEventsScannedMax });
    const view: CaseView = {
      caseId: record.caseId,
      accountId: record.accountId,
      status: record.status,
      reportedBy: record.reportedBy,
      openedAt: toIso(record.openedAtMs),
      steps: [],
      orders: ordersSince(events, record.sinceMs),
    };
    if (record.sinceMs !== undefined) view.since = toIso(record.sinceMs);
    const run = await this.#storage.containment.runForCase(caseId);
    if (run === undefined) return view;
    const steps = await this.#storage.containment.steps(run.runId);
    view.run = {
      playbook: run.playbook,
      status: run.status,
      decidedAt: toIso(run.decidedAtMs),
      ...(run.finishedAtMs === undefined ? {} : { finishedAt: toIso(run.finishedAtMs) }),
    };
    view.steps = steps.map(stepView);
    if (!steps.some((s) => s.name === 'sweep-orders' && s.state === 'done')) return view;
    const receipt = receiptOf(run, steps);
    view.orders = receipt.orders.map(orderView);
    view.receiptComplete = receipt.complete;
    if (receipt.notification !== undefined) {
      view.notification = {
        channel: receipt.notification.channel,
        messageId: receipt.notification.messageId,
        sentAt: toIso(receipt.notification.sentAtMs),
      };
    }
    return view;
  }
}

function stepView(step: StepRecord): CaseView['steps'][number] {
  return {
    step: step.name,
    ...(step.target === undefined ? {} : { target: step.target }),
    state: step.state,
    attempts: step.attempts,
    updatedAt: toIso(step.updatedAtMs),
    ...(step.doneAtMs === undefined ? {} : { doneAt: toIso(step.doneAtMs) }),
    ...(step.lastError === undefined ? {} : { lastError: step.lastError }),
    ...(step.outcome === undefined ? {} : { outcome: { ...step.outcome } }),
  };
}

function orderView(order: ReceiptOrder): CaseView['orders'][number] {
  return {
    orderId: order.orderId,
    payment: order.payment.outcome,
    shipment: order.shipment.outcome,
    archived: order.archived,
    ...(order.amount === undefined ? {} : { amount: { ...order.amount } }),
    ...(order.payment.paymentId === undefined ? {} : { paymentId: order.payment.paymentId }),
    refundIds: [...order.payment.refundIds],
    confirmedMinor: order.payment.confirmedMinor,
    giftCards: { deactivated: order.giftCards.deactivated, redeemed: order.giftCards.redeemed },
  };
}

function ordersSince(events: readonly StoredEvent[], sinceMs: number | undefined): CaseView['orders'] {
  const orders: CaseView['orders'] = [];
  for (const stored of [...events].reverse()) {
    if (stored.event.type !== 'order.placed') continue;
    if (sinceMs !== undefined && stored.atMs < sinceMs) continue;
    orders.push({ orderId: stored.event.orderId, payment: 'unknown', shipment: 'unknown' });
  }
  return orders;
}
