import type { FulfilmentPort } from '../connectors/domain/fulfilment.ts';
import type { PaymentsPort } from '../connectors/domain/payments.ts';
import type { Clock } from '../core/clock.ts';
import { buildIncidentReport, type IncidentReport, type ReportOrderInput } from './domain/incident-report.ts';
import type { ReconcileStore } from './ports.ts';
import { ordersOfCase } from './service.ts';

const providerPageMax = 100;

/**
 * Builds the shopper's incident report for an account in containment from what the providers
 * answer now: the payment, its refunds and disputes (payments provider), the shipments (carrier),
 * the gift-card codes (the store's answer to the deactivation), and the provider's balance
 * transactions as the last reconciliation pass copied them into the ledger.
 */
export class IncidentReports {
  readonly #d: {
    store: ReconcileStore;
    payments: PaymentsPort;
    fulfilment: FulfilmentPort;
    clock: Clock;
    storeName: string;
  };

  constructor(deps: {
    store: ReconcileStore;
    payments: PaymentsPort;
    fulfilment: FulfilmentPort;
    clock: Clock;
    storeName: string;
  }) {
    this.#d = deps;
  }

  /** Undefined when the account has no containment case. */
  async build(accountId: string): Promise<IncidentReport | undefined> {
    const { store, payments, fulfilment, clock } = this.#d;
    const kase = await store.caseForAccount(accountId);
    if (kase === undefined) return undefined;
    const orders: ReportOrderInput[] = [];
    for (const order of await ordersOfCase(store, kase)) {
      let payment: ReportOrderInput['payment'];
      let refunds: ReportOrderInput['refunds'] = [];
      let disputes: ReportOrderInput['disputes'] = [];
      let transactions: ReportOrderInput['transactions'] = [];
      if (order.paymentId !== undefined) {
        const read = await payments.getPayment(order.paymentId);
        payment = read.ok ? read.value : undefined;
        const listed = await payments.listRefunds(order.paymentId);
        refunds = listed.ok ? listed.value : [];
        const d = await payments.listDisputes({ paymentId: order.paymentId, limit: providerPageMax });
        disputes = d.ok ? d.value.items : [];
        const ledger = await store.ledger(order.paymentId);
        transactions = (ledger?.entries ?? []).filter((e) => e.kind !== 'authorization');
      }
      const shipments = await fulfilment.getOrder(order.orderId);
      const codesStep = kase.steps.find(
        (s) => s.name === 'deactivate-gift-codes' && s.target === order.orderId,
      );
      const cards = Array.isArray(codesStep?.outcome?.cards)
        ? (codesStep.outcome.cards as { status?: unknown }[])
        : [];
      orders.push({
        orderId: order.orderId,
        placedAtMs: order.placedAtMs,
        amountMinor: order.amountMinor,
        currency: order.currency,
        paymentId: order.paymentId,
        payment,
        refunds,
        disputes,
        transactions,
        shipments: shipments.ok ? shipments.value.shipments : [],
        codes: {
          deactivated: cards.filter((c) => c.status === 'deactivated').length,
          redeemed: cards.filter((c) => c.status === 'redeemed').length,
        },
      });
    }
    return buildIncidentReport({
      accountId,
      caseId: kase.run.caseId,
      storeName: this.#d.storeName,
      provider: payments.provider,
      decidedAtMs: kase.run.decidedAtMs,
      generatedAtMs: clock.now(),
      orders,
    });
  }
}
