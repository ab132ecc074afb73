import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { ContainmentPorts } from '../../containment/steps.ts';
import type { NotifyPort } from '../../connectors/domain/notify.ts';
import type { ShipmentEvent, FulfilmentSchedule } from '../../connectors/domain/fulfilment.ts';
import type { Clock } from '../../core/clock.ts';
import type { IdGenerator } from '../../core/ids.ts';
import { minuteMs } from '../../core/time.ts';
import { isFenced, lockAccountFence } from '../db/containment-store.ts';
import type { Database } from '../db/schema.ts';
import { DevelopmentNotifySink } from '../notify/development-sink.ts';
import type { Delay, FaultConfigInput, FaultRecord } from './faults.ts';
import { FulfilmentSandbox } from './fulfilment/sandbox.ts';
import { sandboxPayments, type CardScenario, type SandboxPayments } from './payments/sandbox-payments.ts';
import { StoreSandbox } from './store/sandbox.ts';

/**
 * The sandbox world: a store, its card payment provider and its warehouse/carrier, over one
 * database, with the store's own behaviour — an allowed order is authorized and handed to the
 * warehouse, a reviewed one is held, a denied one is never created, and payment is captured when
 * goods ship or codes are delivered. Its capture and ship paths consult Bulwark's fraud fences
 * under the account's fence lock, so nothing is captured or shipped after a fraud decision (S2).
 */
export interface SandboxWorldOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly webhookSecret: string;
  readonly ids?: IdGenerator;
  readonly faults?: {
    readonly payments?: FaultConfigInput;
    readonly fulfilment?: FaultConfigInput;
    readonly store?: FaultConfigInput;
    readonly notify?: FaultConfigInput;
  };
  readonly delay?: Delay;
  readonly onFault?: (record: FaultRecord) => void;
  readonly schedule?: Partial<FulfilmentSchedule>;
  readonly interceptSuccessRate?: number;
  readonly seed?: number;
  /** Where owner messages go; the development sink (kept in memory, logged) by default. */
  readonly notify?: NotifyPort;
  /** How each order's card behaves (refunds that pend, then settle or fail); `ok` by default. */
  readonly cardScenarioOf?: (orderId: string) => CardScenario;
}

/** The story's schedule: codes arrive after 10 minutes, parcels are picked up after 6 hours. */
export const storySchedule: Partial<FulfilmentSchedule> = {
  digitalDelayMs: 10 * minuteMs,
  labelDelayMs: 4 * 60 * minuteMs,
  pickupDelayMs: 2 * 60 * minuteMs,
};

/** The event types `onDecided` does something with; it ignores every other type. */
const storeActsOn: ReadonlySet<BulwarkEvent['type']> = new Set([
  'account.created',
  'login.succeeded',
  'order.placed',
  'order.archived',
]);

export class SandboxWorld {
  readonly payments: SandboxPayments;
  readonly fulfilment: FulfilmentSandbox;
  readonly store: StoreSandbox;
  readonly notify: NotifyPort;
  /** What Bulwark's containment talks to: the faulty side of each provider. */
  readonly ports: ContainmentPorts;
  readonly #db: Kysely<Database>;
  readonly #cardScenarioOf: ((orderId: string) => CardScenario) | undefined;

  constructor(options: SandboxWorldOptions) {
    this.#db = options.db;
    this.#cardScenarioOf = options.cardScenarioOf;
    const faults = options.faults ?? {};
    const common = {
      clock: options.clock,
      ...(options.delay === undefined ? {} : { delay: options.delay }),
      ...(options.onFault === undefined ? {} : { onFault: options.onFault }),
    };
    this.payments = sandboxPayments({
      ...common,
      db: options.db as never,
      webhookSecret: options.webhookSecret,
      ...(faults.payments === undefined ? {} : { faults: faults.payments }),
      ...(options.ids === undefined ? {} : { ids: options.ids }),
      captureFence: (trx, payment) =>
        this.#captureFenced(trx as unknown as Transaction<Database>, payment.reference),
    });
    this.fulfilment = new FulfilmentSandbox({
      ...common,
      db: options.db,
      schedule: { ...storySchedule, ...options.schedule },
      ...(faults.fulfilment === undefined ? {} : { faults: faults.fulfilment }),
      ...(options.interceptSuccessRate === undefined
        ? {}
        : { interceptSuccessRate: options.interceptSuccessRate }),
      interceptSeed: options.seed ?? 0,
      shipFence: (trx, order) => this.#shipFencedAt(trx, order),
    });
    this.store = new StoreSandbox({
      ...common,
      db: options.db,
      ...(faults.store === undefined ? {} : { faults: faults.store }),
    });
    this.notify =
      options.notify ??
      new DevelopmentNotifySink({
        logger: options.logger,
        clock: options.clock,
        messagesMax: 100_000,
        ...(faults.notify === undefined ? {} : { faults: faults.notify }),
        ...(options.delay === undefined ? {} : { delay: options.delay }),
      });
    this.ports = {
      store: this.store.port,
      payments: this.payments,
      fulfilment: this.fulfilment.port,
      notify: this.notify,
    };
  }

  async #captureFenced(trx: Transaction<Database>, orderId: string | undefined): Promise<boolean> {
    if (orderId === undefined) return false;
    const order = await trx
      .selectFrom('sandbox_store_orders' as never)
      .select(['account_id', 'placed_at'] as never)
      .where('order_id' as never, '=', orderId as never)
      .executeTakeFirst();
    if (order === undefined) return false;
    const { account_id: accountId, placed_at: placedAt } = order as { account_id: string; placed_at: Date };
    await lockAccountFence(trx, accountId);
    return isFenced(trx, { accountId, orderId, placedAtMs: placedAt.getTime() });
  }

  async #shipFencedAt(
    trx: Transaction<Database>,
    order: { orderId: string; accountId: string; placedAtMs: number },
  ): Promise<number | undefined> {
    await lockAccountFence(trx, order.accountId);
    const row = await trx
      .selectFrom('fraud_fences')
      .select((eb) => eb.fn.min('fenced_at').as('at'))
      .where('scope', 'in', [`account:${order.accountId}`, `order:${order.orderId}`])
      .where('fenced_at', '>=', new Date(order.placedAtMs))
      .executeTakeFirst();
    const at = row?.at as Date | null | undefined;
    return at === null || at === undefined ? undefined : at.getTime();
  }

  // ---- the store's behaviour ----

  /**
   * `onDecided` for each event in order. Runs of sign-ins go to the store together (three
   * statements for a run instead of three per sign-in); only the events the store acts on end a
   * run (those it ignores, failed sign-ins among them, do nothing either way), so what the store
   * ends up with is the same.
   */
  async onDecidedAll(decided: readonly { event: BulwarkEvent; decision: Decision }[]): Promise<void> {
    let signIns: { accountId: string; sessionId: string }[] = [];
    for (const { event, decision } of decided) {
      if (event.type === 'login.succeeded') {
        if (decision.decision !== 'deny')
          signIns.push({ accountId: event.accountId, sessionId: event.context.sessionId ?? event.id });
        continue;
      }
      if (!storeActsOn.has(event.type)) continue;
      if (signIns.length > 0) {
        await this.store.signInAll(signIns);
        signIns = [];
      }
      await this.onDecided(event, decision);
    }
    await this.store.signInAll(signIns);
  }

  /** What the store does once Bulwark has decided an event. */
  async onDecided(event: BulwarkEvent, decision: Decision): Promise<void> {
    switch (event.type) {
      case 'account.created':
        await this.store.createAccount({
          accountId: event.accountId,
          ...(event.email === undefined ? {} : { email: event.email }),
          ...(event.phone === undefined ? {} : { phone: event.phone }),
        });
        return;
      case 'login.succeeded':
        if (decision.decision === 'deny') return;
        await this.store.createAccount({ accountId: event.accountId });
        await this.store.signIn({
          accountId: event.accountId,
          sessionId: event.context.sessionId ?? event.id,
        });
        return;
      case 'order.placed':
        await this.#placeOrder(event, decision);
        return;
      case 'order.archived':
        await this.store.archiveOrder(event.orderId);
        return;
      default:
        return;
    }
  }

  async #placeOrder(
    event: Extract<BulwarkEvent, { type: 'order.placed' }>,
    decision: Decision,
  ): Promise<void> {
    // A denied order is never created: nothing to authorize, ship or cancel.
    if (decision.decision === 'deny') return;
    let paymentId: string | undefined;
    if (event.payment.method === 'card' || event.payment.method === 'wallet') {
      const authorized = await this.payments.authorize({
        amount: event.amount,
        reference: event.orderId,
        idempotencyKey: `checkout:${event.orderId}`,
        card: {
          ...(event.payment.cardFingerprint === undefined
            ? {}
            : { fingerprint: event.payment.cardFingerprint }),
          ...(this.#cardScenarioOf === undefined ? {} : { scenario: this.#cardScenarioOf(event.orderId) }),
        },
      });
      if (!authorized.ok || authorized.value.status !== 'authorized') return;
      paymentId = authorized.value.paymentId;
    }
    await this.store.createAccount({ accountId: event.accountId });
    await this.store.placeOrder({
      orderId: event.orderId,
      accountId: event.accountId,
      items: event.items.map((item) => ({
        ...(item.sku === undefined ? {} : { sku: item.sku }),
        category: item.category,
        quantity: item.quantity,
        unitPrice: item.unitPrice,
      })),
      ...(paymentId === undefined ? {} : { paymentId }),
    });
    await this.fulfilment.placeOrder({
      orderId: event.orderId,
      accountId: event.accountId,
      items: event.items.map((i) => ({ category: i.category, quantity: i.quantity })),
    });
    // Review holds the order: no shipping (and so no capture) until someone decides.
    if (decision.decision === 'review' || decision.decision === 'challenge') {
      await this.fulfilment.hold({ orderId: event.orderId, idempotencyKey: `review-hold:${event.orderId}` });
    }
  }

  /**
   * Lets time act: the warehouse ships what fell due (unless fenced), the store captures payment
   * for what shipped or was delivered, the provider expires and settles. Answers the shipment events.
   */
  async advance(): Promise<ShipmentEvent[]> {
    const events = await this.fulfilment.tick();
    for (const event of events) {
      if (event.type !== 'digital_delivered' && event.type !== 'picked_up') continue;
      const row = await this.#db
        .selectFrom('sandbox_store_orders' as never)
        .select('payment_id' as never)
        .where('order_id' as never, '=', event.orderId as never)
        .executeTakeFirst();
      const paymentId = (row as { payment_id: string | null } | undefined)?.payment_id ?? null;
      if (paymentId === null) continue;
      // The capture path: refused by the fence inside the provider call's transaction.
      await this.payments.capture({ paymentId, idempotencyKey: `capture:${event.orderId}` });
    }
    await this.payments.runDue();
    return events;
  }

  /** When the warehouse or the payment provider next does something by itself, if ever. */
  async nextDueAtMs(): Promise<number | undefined> {
    const { rows } = await sql<{ due: Date | null }>`select least(
        (select min(next_due_at) from sandbox_fulfilment_orders),
        (select min(due_at) from sandbox_payments)) as due`.execute(this.#db);
    const due = rows[0]?.due ?? null;
    return due === null ? undefined : new Date(due).getTime();
  }
}
