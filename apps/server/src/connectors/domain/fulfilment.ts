import { err, ok, type Result } from '../../core/result.ts';
import { hourMs, minuteMs } from '../../core/time.ts';
import type { ProviderErrorKind, ProviderResult } from './provider-result.ts';

/**
 * The fulfilment and carrier port, and the shipment state machine every implementation follows.
 *
 * An order becomes one shipment per kind of goods: digital goods and gift-card codes go out by
 * e-mail within minutes; physical goods are labelled hours later, picked up by the carrier and
 * delivered the next day. Until pickup a shipment can be held or cancelled; after pickup only an
 * intercept can be asked of the carrier, and the carrier may fail it (the parcel arrives anyway).
 *
 * ```
 * pending ─hold→ held ─release→ pending
 * pending ─due→ delivered                      (digital: codes sent)
 * pending ─due→ labelled ─pickup→ in_transit ─due→ delivered
 * pending | held | labelled ─cancel→ cancelled
 * in_transit ─intercept→ intercepting → returned | in_transit (failed) → delivered
 * ```
 */

export type ShipmentKind = 'digital' | 'physical';

export type ShipmentStatus =
  'pending' | 'held' | 'labelled' | 'in_transit' | 'intercepting' | 'delivered' | 'returned' | 'cancelled';

/** Statuses from which a shipment never moves again. */
export const finalShipmentStatuses: ReadonlySet<ShipmentStatus> = new Set([
  'delivered',
  'returned',
  'cancelled',
]);

/** What the carrier or warehouse reports; each becomes a tracking entry and a webhook. */
export type ShipmentEventType =
  | 'held'
  | 'released'
  | 'digital_delivered'
  | 'labelled'
  | 'picked_up'
  | 'cancelled'
  | 'intercept_requested'
  | 'intercept_failed'
  | 'returned_to_sender'
  | 'delivered';

export interface ShipmentEvent {
  readonly type: ShipmentEventType;
  readonly orderId: string;
  readonly shipmentId: string;
  readonly atMs: number;
  /** The idempotency key of the command that caused it; absent for scheduled progress. */
  readonly causedBy?: string | undefined;
}

export type InterceptState = 'none' | 'requested' | 'failed' | 'succeeded';

export interface Shipment {
  readonly shipmentId: string;
  readonly kind: ShipmentKind;
  readonly status: ShipmentStatus;
  readonly trackingNumber: string;
  /** pending/held: when the warehouse acts; labelled: carrier pickup. Kept through a hold. */
  readonly dueAtMs: number | undefined;
  /** in_transit/intercepting: when the parcel reaches the door. */
  readonly deliveryDueAtMs: number | undefined;
  readonly intercept: InterceptState;
  /** When the carrier answers a requested intercept, and what it will answer. */
  readonly interceptDecidesAtMs: number | undefined;
  readonly interceptWillSucceed: boolean | undefined;
  readonly history: readonly ShipmentEvent[];
}

export interface FulfilmentOrder {
  readonly orderId: string;
  readonly accountId: string;
  readonly placedAtMs: number;
  readonly shipments: readonly Shipment[];
}

/** How long each scheduled step takes. The defaults are the story's: codes in minutes, parcels in hours. */
export interface FulfilmentSchedule {
  readonly digitalDelayMs: number;
  readonly labelDelayMs: number;
  readonly pickupDelayMs: number;
  readonly deliveryDelayMs: number;
  readonly interceptDecisionMs: number;
}

export const defaultFulfilmentSchedule: FulfilmentSchedule = {
  digitalDelayMs: 3 * minuteMs,
  labelDelayMs: 4 * hourMs,
  pickupDelayMs: 2 * hourMs,
  deliveryDelayMs: 20 * hourMs,
  interceptDecisionMs: 2 * hourMs,
};

export type ItemCategory = 'gift_card' | 'digital' | 'physical';

export interface NewFulfilmentOrder {
  readonly orderId: string;
  readonly accountId: string;
  readonly items: readonly { readonly category: ItemCategory; readonly quantity: number }[];
}

// ---- the port ----

export interface ShipmentView {
  readonly shipmentId: string;
  readonly kind: ShipmentKind;
  readonly status: ShipmentStatus;
  readonly trackingNumber: string;
  readonly intercept: InterceptState;
}

export interface FulfilmentOrderView {
  readonly orderId: string;
  readonly accountId: string;
  readonly shipments: readonly ShipmentView[];
}

export interface TrackingView {
  readonly shipmentId: string;
  readonly trackingNumber: string;
  readonly status: ShipmentStatus;
  readonly events: readonly { readonly type: ShipmentEventType; readonly atMs: number }[];
}

export interface OrderCommand {
  readonly orderId: string;
  readonly idempotencyKey: string;
}

export interface ShipmentCommand extends OrderCommand {
  readonly shipmentId: string;
}

/**
 * What Bulwark uses to act on the warehouse and the carrier. Commands take an idempotency key:
 * the same key and request again answer the first answer without a second effect.
 */
export interface FulfilmentPort {
  getOrder(orderId: string): Promise<ProviderResult<FulfilmentOrderView>>;
  /** Holds every shipment not yet labelled; the answer shows which are held and which moved on. */
  hold(command: OrderCommand): Promise<ProviderResult<FulfilmentOrderView>>;
  release(command: OrderCommand): Promise<ProviderResult<FulfilmentOrderView>>;
  /** Before pickup only; after pickup answers `conflict` (request an intercept instead). */
  cancelShipment(command: ShipmentCommand): Promise<ProviderResult<ShipmentView>>;
  /** After pickup only; the carrier answers later (tracking shows `returned_to_sender` or `intercept_failed`). */
  requestIntercept(command: ShipmentCommand): Promise<ProviderResult<ShipmentView>>;
  getTracking(orderId: string, shipmentId: string): Promise<ProviderResult<TrackingView>>;
}

// ---- the state machine (pure) ----

export interface Refusal {
  readonly kind: Extract<ProviderErrorKind, 'conflict' | 'declined' | 'not_found'>;
  readonly code: string;
  readonly message: string;
}

export interface Transition {
  readonly order: FulfilmentOrder;
  readonly events: readonly ShipmentEvent[];
}

export function createOrder(
  input: NewFulfilmentOrder,
  nowMs: number,
  schedule: FulfilmentSchedule,
  trackingNumberFor: (shipmentId: string) => string,
): FulfilmentOrder {
  const kinds: ShipmentKind[] = [];
  if (input.items.some((i) => i.category !== 'physical' && i.quantity > 0)) kinds.push('digital');
  if (input.items.some((i) => i.category === 'physical' && i.quantity > 0)) kinds.push('physical');
  return {
    orderId: input.orderId,
    accountId: input.accountId,
    placedAtMs: nowMs,
    shipments: kinds.map((kind) => {
      const shipmentId = `${input.orderId}-${kind}`;
      return {
        shipmentId,
        kind,
        status: 'pending',
        trackingNumber: trackingNumberFor(shipmentId),
        dueAtMs: nowMs + (kind === 'digital' ? schedule.digitalDelayMs : schedule.labelDelayMs),
        deliveryDueAtMs: undefined,
        intercept: 'none',
        interceptDecidesAtMs: undefined,
        interceptWillSucceed: undefined,
        history: [],
      };
    }),
  };
}

/** When the shipment next moves by itself, if ever. */
export function nextDueAtMs(shipment: Shipment): number | undefined {
  switch (shipment.status) {
    case 'pending':
    case 'labelled':
      return shipment.dueAtMs;
    case 'in_transit':
      return shipment.deliveryDueAtMs;
    case 'intercepting':
      return Math.min(shipment.interceptDecidesAtMs ?? Infinity, shipment.deliveryDueAtMs ?? Infinity);
    default:
      return undefined;
  }
}

export function orderNextDueAtMs(order: FulfilmentOrder): number | undefined {
  let next: number | undefined;
  for (const shipment of order.shipments) {
    const due = nextDueAtMs(shipment);
    if (due !== undefined && (next === undefined || due < next)) next = due;
  }
  return next;
}

const record = (shipment: Shipment, event: ShipmentEvent, changes: Partial<Shipment>): Shipment => ({
  ...shipment,
  ...changes,
  history: [...shipment.history, event],
});

/** Makes one scheduled step if it is due by `untilMs`; answers undefined when nothing is due. */
function stepShipment(
  orderId: string,
  shipment: Shipment,
  untilMs: number,
  schedule: FulfilmentSchedule,
): Shipment | undefined {
  const due = nextDueAtMs(shipment);
  if (due === undefined || due > untilMs) return undefined;
  const event = (type: ShipmentEventType): ShipmentEvent => ({
    type,
    orderId,
    shipmentId: shipment.shipmentId,
    atMs: due,
  });
  switch (shipment.status) {
    case 'pending':
      return shipment.kind === 'digital'
        ? record(shipment, event('digital_delivered'), { status: 'delivered', dueAtMs: undefined })
        : record(shipment, event('labelled'), { status: 'labelled', dueAtMs: due + schedule.pickupDelayMs });
    case 'labelled':
      return record(shipment, event('picked_up'), {
        status: 'in_transit',
        dueAtMs: undefined,
        deliveryDueAtMs: due + schedule.deliveryDelayMs,
      });
    case 'in_transit':
      return record(shipment, event('delivered'), { status: 'delivered', deliveryDueAtMs: undefined });
    case 'intercepting': {
      const decidesAt = shipment.interceptDecidesAtMs ?? Infinity;
      // The carrier must reach the parcel before the courier reaches the door.
      if (decidesAt < (shipment.deliveryDueAtMs ?? Infinity)) {
        return shipment.interceptWillSucceed === true
          ? record(shipment, event('returned_to_sender'), {
              status: 'returned',
              intercept: 'succeeded',
              deliveryDueAtMs: undefined,
              interceptDecidesAtMs: undefined,
            })
          : record(shipment, event('intercept_failed'), {
              status: 'in_transit',
              intercept: 'failed',
              interceptDecidesAtMs: undefined,
            });
      }
      const failed = record(shipment, event('intercept_failed'), { intercept: 'failed' });
      return record(failed, event('delivered'), {
        status: 'delivered',
        deliveryDueAtMs: undefined,
        interceptDecidesAtMs: undefined,
      });
    }
    default:
      return undefined;
  }
}

/** Makes every scheduled step due by `untilMs`, in time order; the events carry when each happened. */
export function advanceOrder(
  order: FulfilmentOrder,
  untilMs: number,
  schedule: FulfilmentSchedule,
): Transition {
  const events: ShipmentEvent[] = [];
  const shipments = order.shipments.map((start) => {
    let shipment = start;
    for (;;) {
      const next = stepShipment(order.orderId, shipment, untilMs, schedule);
      if (next === undefined) return shipment;
      events.push(...next.history.slice(shipment.history.length));
      shipment = next;
    }
  });
  events.sort((a, b) => a.atMs - b.atMs);
  return { order: { ...order, shipments }, events };
}

/**
 * Advances an order whose store has fenced it at `fencedAtMs` (a fraud decision): every step due
 * before the fence happens as scheduled; after it, nothing leaves the warehouse or is picked up —
 * shipments not yet labelled are held, labelled ones wait for a cancel — while parcels already
 * with the carrier keep moving (only an intercept stops those).
 */
export function advanceOrderFenced(
  order: FulfilmentOrder,
  untilMs: number,
  fencedAtMs: number,
  schedule: FulfilmentSchedule,
): Transition {
  const before = advanceOrder(order, Math.min(untilMs, fencedAtMs), schedule);
  const held = holdOrder(before.order, fencedAtMs, 'fraud-fence');
  const events = [...before.events, ...held.events];
  const shipments = held.order.shipments.map((start) => {
    if (start.status !== 'in_transit' && start.status !== 'intercepting') return start;
    let shipment = start;
    for (;;) {
      const next = stepShipment(order.orderId, shipment, untilMs, schedule);
      if (next === undefined) return shipment;
      events.push(...next.history.slice(shipment.history.length));
      shipment = next;
    }
  });
  events.sort((a, b) => a.atMs - b.atMs);
  return { order: { ...held.order, shipments }, events };
}

function updateShipments(order: FulfilmentOrder, update: (shipment: Shipment) => Shipment): Transition {
  const events: ShipmentEvent[] = [];
  const shipments = order.shipments.map((before) => {
    const after = update(before);
    events.push(...after.history.slice(before.history.length));
    return after;
  });
  return { order: { ...order, shipments }, events };
}

/** Holds every shipment that the warehouse has not labelled yet. Labelled ones need a cancel. */
export function holdOrder(order: FulfilmentOrder, nowMs: number, causedBy: string): Transition {
  return updateShipments(order, (shipment) =>
    shipment.status === 'pending'
      ? record(
          shipment,
          { type: 'held', orderId: order.orderId, shipmentId: shipment.shipmentId, atMs: nowMs, causedBy },
          { status: 'held' },
        )
      : shipment,
  );
}

/** Resumes held shipments; a step whose time passed during the hold happens at the next advance. */
export function releaseOrder(order: FulfilmentOrder, nowMs: number, causedBy: string): Transition {
  return updateShipments(order, (shipment) =>
    shipment.status === 'held'
      ? record(
          shipment,
          {
            type: 'released',
            orderId: order.orderId,
            shipmentId: shipment.shipmentId,
            atMs: nowMs,
            causedBy,
          },
          { status: 'pending', dueAtMs: Math.max(shipment.dueAtMs ?? nowMs, nowMs) },
        )
      : shipment,
  );
}

const refuse = (kind: Refusal['kind'], code: string, message: string): Result<never, Refusal> =>
  err({ kind, code, message });

function findShipment(order: FulfilmentOrder, shipmentId: string): Result<Shipment, Refusal> {
  const shipment = order.shipments.find((s) => s.shipmentId === shipmentId);
  return shipment === undefined
    ? refuse('not_found', 'shipment_not_found', `no shipment ${shipmentId} on order ${order.orderId}`)
    : ok(shipment);
}

function replaceShipment(order: FulfilmentOrder, shipment: Shipment, before: Shipment): Transition {
  return {
    order: {
      ...order,
      shipments: order.shipments.map((s) => (s.shipmentId === shipment.shipmentId ? shipment : s)),
    },
    events: shipment.history.slice(before.history.length),
  };
}

export function cancelShipment(
  order: FulfilmentOrder,
  shipmentId: string,
  nowMs: number,
  causedBy: string,
): Result<Transition, Refusal> {
  const found = findShipment(order, shipmentId);
  if (!found.ok) return found;
  const shipment = found.value;
  switch (shipment.status) {
    case 'pending':
    case 'held':
    case 'labelled': {
      const after = record(
        shipment,
        { type: 'cancelled', orderId: order.orderId, shipmentId, atMs: nowMs, causedBy },
        { status: 'cancelled', dueAtMs: undefined },
      );
      return ok(replaceShipment(order, after, shipment));
    }
    case 'cancelled':
      return ok({ order, events: [] });
    case 'in_transit':
    case 'intercepting':
      return refuse(
        'conflict',
        'already_picked_up',
        'the carrier has the parcel: request an intercept instead',
      );
    case 'delivered':
    case 'returned':
      return refuse('conflict', `already_${shipment.status}`, `the shipment is already ${shipment.status}`);
  }
}

/**
 * Asks the carrier to stop a parcel it has picked up. `willSucceed` is the carrier's answer,
 * drawn by the caller (the sandbox draws it from its seed); it lands after `interceptDecisionMs`,
 * and only if the parcel has not reached the door by then.
 */
export function requestIntercept(
  order: FulfilmentOrder,
  shipmentId: string,
  nowMs: number,
  causedBy: string,
  schedule: FulfilmentSchedule,
  willSucceed: boolean,
): Result<Transition, Refusal> {
  const found = findShipment(order, shipmentId);
  if (!found.ok) return found;
  const shipment = found.value;
  if (shipment.kind === 'digital')
    return refuse('declined', 'not_interceptable', 'digital deliveries cannot be intercepted');
  switch (shipment.status) {
    case 'in_transit': {
      if (shipment.intercept === 'failed')
        return refuse('declined', 'intercept_failed', 'the carrier already failed to intercept this parcel');
      const after = record(
        shipment,
        { type: 'intercept_requested', orderId: order.orderId, shipmentId, atMs: nowMs, causedBy },
        {
          status: 'intercepting',
          intercept: 'requested',
          interceptDecidesAtMs: nowMs + schedule.interceptDecisionMs,
          interceptWillSucceed: willSucceed,
        },
      );
      return ok(replaceShipment(order, after, shipment));
    }
    case 'intercepting':
    case 'returned':
      return ok({ order, events: [] });
    case 'pending':
    case 'held':
    case 'labelled':
      return refuse(
        'conflict',
        'not_picked_up',
        'the carrier does not have the parcel yet: cancel the shipment instead',
      );
    case 'cancelled':
    case 'delivered':
      return refuse('conflict', `already_${shipment.status}`, `the shipment is already ${shipment.status}`);
  }
}

/**
 * One command against an order, as a provider runs it: first what fell due by `nowMs` happens
 * (the warehouse does not wait to be asked), then the command; a refusal keeps the caught-up
 * state and answers a final provider error. `transition` is what to persist either way.
 */
export function executeOnOrder<T>(
  order: FulfilmentOrder,
  nowMs: number,
  schedule: FulfilmentSchedule,
  apply: (caughtUp: FulfilmentOrder) => Result<Transition, Refusal>,
  view: (after: FulfilmentOrder) => T,
  /** The store's fraud fence on this order, if any: catching up respects it like a tick does. */
  fencedAtMs?: number,
): { readonly transition: Transition; readonly answer: ProviderResult<T> } {
  const caughtUp =
    fencedAtMs === undefined
      ? advanceOrder(order, nowMs, schedule)
      : advanceOrderFenced(order, nowMs, fencedAtMs, schedule);
  const applied = apply(caughtUp.order);
  if (!applied.ok) {
    const { kind, code, message } = applied.error;
    return {
      transition: caughtUp,
      answer: { ok: false, error: { kind, retryable: false, message, providerCode: code } },
    };
  }
  const transition = { order: applied.value.order, events: [...caughtUp.events, ...applied.value.events] };
  return { transition, answer: { ok: true, value: view(transition.order) } };
}

export const shipmentView = (shipment: Shipment): ShipmentView => ({
  shipmentId: shipment.shipmentId,
  kind: shipment.kind,
  status: shipment.status,
  trackingNumber: shipment.trackingNumber,
  intercept: shipment.intercept,
});

export const orderView = (order: FulfilmentOrder): FulfilmentOrderView => ({
  orderId: order.orderId,
  accountId: order.accountId,
  shipments: order.shipments.map(shipmentView),
});

export const trackingView = (shipment: Shipment): TrackingView => ({
  shipmentId: shipment.shipmentId,
  trackingNumber: shipment.trackingNumber,
  status: shipment.status,
  events: shipment.history.map((e) => ({ type: e.type, atMs: e.atMs })),
});

/** A shipment has "shipped" once the carrier picked it up or the codes went out. */
export const hasShipped = (shipment: Shipment): boolean =>
  shipment.history.some((e) => e.type === 'picked_up' || e.type === 'digital_delivered');
