import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../../../core/clock.ts';
import {
  advanceOrder,
  advanceOrderFenced,
  cancelShipment,
  createOrder,
  executeOnOrder,
  defaultFulfilmentSchedule,
  holdOrder,
  orderNextDueAtMs,
  orderView,
  releaseOrder,
  requestIntercept,
  shipmentView,
  trackingView,
  type FulfilmentOrder,
  type FulfilmentOrderView,
  type FulfilmentPort,
  type FulfilmentSchedule,
  type NewFulfilmentOrder,
  type OrderCommand,
  type Refusal,
  type ShipmentCommand,
  type ShipmentEvent,
  type ShipmentView,
  type TrackingView,
  type Transition,
} from '../../../connectors/domain/fulfilment.ts';
import { fingerprintOf } from '../../../connectors/domain/idempotent-command.ts';
import {
  providerError,
  providerOk,
  type ProviderResult,
} from '../../../connectors/domain/provider-result.ts';
import type { Result } from '../../../core/result.ts';
import type { Database } from '../../db/schema.ts';
import { CommandLedger } from '../command-ledger.ts';
import {
  faultInjector,
  noFaults,
  type Delay,
  type FaultConfigInput,
  type FaultInjector,
  type FaultRecord,
} from '../faults.ts';
import {
  WebhookOutbox,
  type DeliveryReport,
  type WebhookEvent,
  type WebhookSubscription,
} from '../signed-webhooks.ts';

interface FulfilmentOrdersTable {
  order_id: string;
  account_id: string;
  placed_at: Date;
  state: unknown;
  next_due_at: Date | null;
  updated_at: Date;
}

// A type alias, not an interface: Kysely's `withTables` needs an index-compatible record.
type FulfilmentTables = {
  sandbox_fulfilment_orders: FulfilmentOrdersTable;
};

export interface FulfilmentSandboxOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** Faults on the port (what Bulwark calls), by configuration and seed; none by default. */
  readonly faults?: FaultConfigInput;
  /** How injected latency waits; tests pass `clockDelay(clock)` so nothing sleeps. */
  readonly delay?: Delay;
  readonly onFault?: (record: FaultRecord) => void;
  readonly schedule?: Partial<FulfilmentSchedule>;
  /** Share of intercepts the carrier manages, drawn per shipment from `interceptSeed`. */
  readonly interceptSuccessRate?: number;
  readonly interceptSeed?: number;
  readonly webhooks?: WebhookSubscription;
  /**
   * The merchant's fraud fence, consulted inside the tick's transaction: when it answers a time,
   * nothing of the order leaves the warehouse or is picked up after it (parcels already with the
   * carrier move on; stopping those is an intercept). Stands for the store's ship path reading
   * the fraud case under the same lock the decision is written with (S2).
   */
  readonly shipFence?: (
    trx: Transaction<Database>,
    order: { orderId: string; accountId: string; placedAtMs: number },
  ) => Promise<number | undefined>;
}

/** Orders one `tick` moves at most; a tick after a long pause takes several passes. */
const tickOrdersMax = 500;

/**
 * A warehouse and carrier with the real semantics, persisted in its own tables: orders fulfil on
 * a schedule unless held, shipments can be cancelled before pickup, intercepts after pickup
 * succeed or fail, and every movement is a signed webhook. Time moves only when the injected
 * clock does, and `tick()` makes what fell due happen.
 */
export class FulfilmentSandbox {
  /** The port Bulwark uses, behind the configured faults. */
  readonly port: FulfilmentPort;
  readonly faults: FaultInjector;
  readonly #db: Kysely<Database & FulfilmentTables>;
  readonly #clock: Clock;
  readonly #schedule: FulfilmentSchedule;
  readonly #ledger: CommandLedger<Database & FulfilmentTables>;
  readonly #outbox: WebhookOutbox;
  readonly #interceptSuccessRate: number;
  readonly #interceptSeed: number;
  readonly #shipFence: FulfilmentSandboxOptions['shipFence'];

  constructor(options: FulfilmentSandboxOptions) {
    this.#db = options.db.withTables<FulfilmentTables>();
    this.#clock = options.clock;
    this.#schedule = { ...defaultFulfilmentSchedule, ...options.schedule };
    this.#ledger = new CommandLedger(this.#db, 'fulfilment', options.clock);
    this.faults = faultInjector(options.faults ?? noFaults, {
      ...(options.delay === undefined ? {} : { delay: options.delay }),
      ...(options.onFault === undefined ? {} : { onFault: options.onFault }),
    });
    this.#outbox = new WebhookOutbox({
      source: 'fulfilment',
      clock: options.clock,
      faults: this.faults,
      subscription: options.webhooks,
    });
    this.#interceptSuccessRate = options.interceptSuccessRate ?? 0.7;
    this.#interceptSeed = options.interceptSeed ?? 0;
    this.#shipFence = options.shipFence;
    const faults = this.faults;
    this.port = {
      getOrder: (orderId) => faults.run('getOrder', () => this.getOrder(orderId)),
      hold: (command) => faults.run('hold', () => this.hold(command)),
      release: (command) => faults.run('release', () => this.release(command)),
      cancelShipment: (command) => faults.run('cancelShipment', () => this.cancelShipment(command)),
      requestIntercept: (command) => faults.run('requestIntercept', () => this.requestIntercept(command)),
      getTracking: (orderId, shipmentId) =>
        faults.run('getTracking', () => this.getTracking(orderId, shipmentId)),
    };
  }

  // ---- what the store does: hand orders to the warehouse ----

  /** Accepts an order for fulfilment; the same order id again is a no-op answering the order. */
  async placeOrder(input: NewFulfilmentOrder): Promise<FulfilmentOrderView> {
    const nowMs = this.#clock.now();
    const order = createOrder(input, nowMs, this.#schedule, trackingNumberFor);
    const now = new Date(nowMs);
    await this.#db
      .insertInto('sandbox_fulfilment_orders')
      .values({
        order_id: order.orderId,
        account_id: order.accountId,
        placed_at: now,
        state: JSON.stringify(order),
        next_due_at: dueDate(order),
        updated_at: now,
      })
      .onConflict((oc) => oc.column('order_id').doNothing())
      .execute();
    const stored = await this.#load(this.#db, input.orderId, false);
    if (stored === undefined) throw new Error(`order ${input.orderId} vanished after insert`);
    return orderView(stored);
  }

  /** Makes every step that fell due by now happen, records its webhooks; answers the events. */
  async tick(): Promise<ShipmentEvent[]> {
    const now = new Date(this.#clock.now());
    const due = await this.#db
      .selectFrom('sandbox_fulfilment_orders')
      .select('order_id')
      .where('next_due_at', '<=', now)
      .orderBy('next_due_at')
      .limit(tickOrdersMax)
      .execute();
    const events: ShipmentEvent[] = [];
    for (const { order_id: orderId } of due) {
      await this.#db.transaction().execute(async (trx) => {
        const order = await this.#load(trx, orderId, true);
        if (order === undefined) return;
        const fencedAtMs = await this.#shipFence?.(trx as unknown as Transaction<Database>, order);
        const moved =
          fencedAtMs === undefined
            ? advanceOrder(order, this.#clock.now(), this.#schedule)
            : advanceOrderFenced(order, this.#clock.now(), fencedAtMs, this.#schedule);
        await this.#save(trx, order, moved);
        events.push(...moved.events);
      });
    }
    return events.sort((a, b) => a.atMs - b.atMs);
  }

  /** One delivery pass of the webhook outbox (faults apply). */
  deliverWebhooks(): Promise<DeliveryReport> {
    return this.#outbox.deliver(this.#db);
  }

  /** Every webhook event recorded, oldest first. */
  webhookLog(): ReturnType<WebhookOutbox['list']> {
    return this.#outbox.list(this.#db);
  }

  /** The full stored order with its shipment histories, for tests and the demo console. */
  async inspect(orderId: string): Promise<FulfilmentOrder | undefined> {
    return this.#load(this.#db, orderId, false);
  }

  // ---- the port's operations, without faults ----

  async getOrder(orderId: string): Promise<ProviderResult<FulfilmentOrderView>> {
    const order = await this.#current(orderId);
    return order === undefined ? orderNotFound(orderId) : providerOk(orderView(order));
  }

  async getTracking(orderId: string, shipmentId: string): Promise<ProviderResult<TrackingView>> {
    const order = await this.#current(orderId);
    if (order === undefined) return orderNotFound(orderId);
    const shipment = order.shipments.find((s) => s.shipmentId === shipmentId);
    return shipment === undefined
      ? providerError('not_found', `no shipment ${shipmentId}`, { providerCode: 'shipment_not_found' })
      : providerOk(trackingView(shipment));
  }

  hold(command: OrderCommand): Promise<ProviderResult<FulfilmentOrderView>> {
    return this.#command(
      'hold',
      command,
      (order, nowMs) => ({
        ok: true,
        value: holdOrder(order, nowMs, command.idempotencyKey),
      }),
      orderView,
    );
  }

  release(command: OrderCommand): Promise<ProviderResult<FulfilmentOrderView>> {
    return this.#command(
      'release',
      command,
      (order, nowMs) => ({
        ok: true,
        value: releaseOrder(order, nowMs, command.idempotencyKey),
      }),
      orderView,
    );
  }

  cancelShipment(command: ShipmentCommand): Promise<ProviderResult<ShipmentView>> {
    return this.#command(
      'cancelShipment',
      command,
      (order, nowMs) => cancelShipment(order, command.shipmentId, nowMs, command.idempotencyKey),
      (o) => viewOf(o, command.shipmentId),
    );
  }

  requestIntercept(command: ShipmentCommand): Promise<ProviderResult<ShipmentView>> {
    return this.#command(
      'requestIntercept',
      command,
      (order, nowMs) =>
        requestIntercept(
          order,
          command.shipmentId,
          nowMs,
          command.idempotencyKey,
          this.#schedule,
          this.#carrierManages(command.shipmentId),
        ),
      (o) => viewOf(o, command.shipmentId),
    );
  }

  // ---- internals ----

  #command<T>(
    name: string,
    command: OrderCommand & { shipmentId?: string },
    apply: (order: FulfilmentOrder, nowMs: number) => Result<Transition, Refusal>,
    view: (order: FulfilmentOrder) => T,
  ): Promise<ProviderResult<T>> {
    const { idempotencyKey, ...args } = command;
    let locked: FulfilmentOrder | undefined;
    return this.#ledger.run<T>(
      idempotencyKey,
      fingerprintOf(name, args),
      async (trx) => {
        if (locked === undefined) return orderNotFound(command.orderId);
        const nowMs = this.#clock.now();
        const fencedAtMs = await this.#shipFence?.(trx as unknown as Transaction<Database>, locked);
        const { transition, answer } = executeOnOrder(
          locked,
          nowMs,
          this.#schedule,
          (o) => apply(o, nowMs),
          view,
          fencedAtMs,
        );
        await this.#save(trx, locked, transition);
        return answer;
      },
      async (trx) => {
        locked = await this.#load(trx, command.orderId, true);
      },
    );
  }

  /** The order as of now, without writing (scheduled steps are recorded by `tick`). */
  async #current(orderId: string): Promise<FulfilmentOrder | undefined> {
    if (this.#shipFence === undefined) {
      const order = await this.#load(this.#db, orderId, false);
      return order === undefined ? undefined : advanceOrder(order, this.#clock.now(), this.#schedule).order;
    }
    // With a fence, the view is computed under the fence lock, as a tick would move the order.
    const fence = this.#shipFence;
    return this.#db.transaction().execute(async (trx) => {
      const order = await this.#load(trx, orderId, false);
      if (order === undefined) return undefined;
      const fencedAtMs = await fence(trx as unknown as Transaction<Database>, order);
      const now = this.#clock.now();
      return (
        fencedAtMs === undefined
          ? advanceOrder(order, now, this.#schedule)
          : advanceOrderFenced(order, now, fencedAtMs, this.#schedule)
      ).order;
    });
  }

  async #load(
    db: Kysely<Database & FulfilmentTables>,
    orderId: string,
    forUpdate: boolean,
  ): Promise<FulfilmentOrder | undefined> {
    let query = db.selectFrom('sandbox_fulfilment_orders').select('state').where('order_id', '=', orderId);
    if (forUpdate) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (row === undefined) return undefined;
    return (typeof row.state === 'string' ? JSON.parse(row.state) : row.state) as FulfilmentOrder;
  }

  async #save(
    trx: Transaction<Database & FulfilmentTables>,
    before: FulfilmentOrder,
    transition: Transition,
  ): Promise<void> {
    if (transition.events.length === 0) return;
    const order = transition.order;
    await trx
      .updateTable('sandbox_fulfilment_orders')
      .set({
        state: JSON.stringify(order),
        next_due_at: dueDate(order),
        updated_at: new Date(this.#clock.now()),
      })
      .where('order_id', '=', order.orderId)
      .execute();
    await this.#outbox.record(trx, webhookEvents(before, order));
  }

  /** The carrier's answer to an intercept of this shipment: fixed by the seed, the same on every run. */
  #carrierManages(shipmentId: string): boolean {
    return unitDraw(`${String(this.#interceptSeed)}:${shipmentId}`) < this.#interceptSuccessRate;
  }
}

function orderNotFound(orderId: string): {
  readonly ok: false;
  readonly error: ReturnType<typeof providerError>['error'];
} {
  return providerError('not_found', `no order ${orderId} at the warehouse`, {
    providerCode: 'order_not_found',
  });
}

function viewOf(order: FulfilmentOrder, shipmentId: string): ShipmentView {
  const shipment = order.shipments.find((s) => s.shipmentId === shipmentId);
  if (shipment === undefined) throw new Error(`shipment ${shipmentId} missing after a successful command`);
  return shipmentView(shipment);
}

function dueDate(order: FulfilmentOrder): Date | null {
  const due = orderNextDueAtMs(order);
  return due === undefined ? null : new Date(due);
}

/** One webhook per new history entry; its id is stable, so recording it twice is harmless. */
function webhookEvents(before: FulfilmentOrder, after: FulfilmentOrder): WebhookEvent[] {
  const events: WebhookEvent[] = [];
  for (const shipment of after.shipments) {
    const seen = before.shipments.find((s) => s.shipmentId === shipment.shipmentId)?.history.length ?? 0;
    shipment.history.forEach((entry, index) => {
      if (index < seen) return;
      events.push({
        eventId: `evt_${shipment.shipmentId}_${String(index)}`,
        type: `shipment.${entry.type}`,
        atMs: entry.atMs,
        data: {
          orderId: after.orderId,
          accountId: after.accountId,
          shipmentId: shipment.shipmentId,
          kind: shipment.kind,
          trackingNumber: shipment.trackingNumber,
          event: entry.type,
          atMs: entry.atMs,
        },
      });
    });
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}

function trackingNumberFor(shipmentId: string): string {
  return `SBX${createHash('sha256').update(shipmentId).digest('hex').slice(0, 12).toUpperCase()}`;
}

/** A number in [0, 1) from a text, the same on every machine and run. */
function unitDraw(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32;
}
