import type { BulwarkEvent, Decision, RequestContext } from '@bulwark/contracts';
import { hash } from 'node:crypto';
import type { LoginState } from './login/state.ts';
import { orderValuesOf, shippingKeyOf } from './orders/order-facts.ts';

/**
 * What Bulwark remembers about one account. Plain JSON so it can be cached in memory, written
 * behind to the database and rebuilt from the event log. Times are epoch milliseconds of event
 * time. Every list is bounded (see `accountStateLimits`).
 */
export interface DeviceRecord {
  key: string;
  deviceId?: string;
  userAgent: string;
  firstSeenAt: number;
  lastSeenAt: number;
  seenCount: number;
  /** A sign-in from this device passed (or was not asked for) a challenge. */
  trusted: boolean;
}

export interface NetworkRecord {
  ip: string;
  firstSeenAt: number;
  lastSeenAt: number;
  seenCount: number;
}

export interface SessionRecord {
  sessionId: string;
  issuedAt: number;
  lastSeenAt: number;
  ip: string;
  deviceKey: string;
}

/** A challenge answered but not yet completed: what its sign-in taught us, to take back on failure. */
export interface PendingChallenge {
  challengeId: string;
  issuedAt: number;
  deviceKey: string;
  deviceWasNew: boolean;
  ip: string;
  ipWasNew: boolean;
  sessionId?: string;
}

export interface AccountState {
  accountId: string;
  createdAt?: number;
  email?: string;
  phone?: string;
  firstSeenAt: number;
  lastSeenAt: number;
  eventCount: number;
  /** The latest decision's score: the account's current risk. */
  risk: number;
  lastLoginAt?: number;
  devices: DeviceRecord[];
  networks: NetworkRecord[];
  sessions: SessionRecord[];
  pendingChallenges: PendingChallenge[];
  openCaseId?: string;
  /** Login risk and session protection (login/state.ts); absent until the first sign-in event. */
  login?: LoginState;
  // Order risk (orders/features.ts reads these).
  /** Last sign-in from a device new to an account that already had one. */
  lastNewDeviceLoginAt?: number;
  /** Last password, 2FA, e-mail or phone change. */
  lastCredentialChangeAt?: number;
  /** Last session activity that session protection challenged or denied. */
  lastStolenSessionAt?: number;
  /** Orders placed and not denied: count, sum and largest amount (the account's own history). */
  orderHistory?: OrderHistory;
  /** The latest orders, to recognise one archived soon after it was placed. */
  recentOrders?: RecentOrder[];
  /** Shipping address keys this account has shipped to (orders/features.ts shippingKeyOf). */
  shippingAddresses?: string[];
}

export interface OrderHistory {
  count: number;
  sum: number;
  max: number;
}

export interface RecentOrder {
  orderId: string;
  placedAt: number;
  amount: number;
  giftCardValue: number;
  digitalValue: number;
  decision: Decision['decision'];
  /** When it was archived within `orderStateLimits.archiveSoonMs` of placement. */
  hiddenSoonAt?: number;
}

export const orderStateLimits = {
  recentOrdersMax: 32,
  shippingAddressesMax: 32,
  /** An order archived this soon after placement counts as hidden (30 minutes). */
  archiveSoonMs: 30 * 60 * 1000,
} as const;

const credentialFields: ReadonlySet<string> = new Set(['password', 'mfa', 'email', 'phone']);

/** Learns a placed order: recent orders always; history and addresses unless it was denied. */
function placeOrder(
  state: AccountState,
  event: Extract<BulwarkEvent, { type: 'order.placed' }>,
  decision: Decision,
  atMs: number,
): void {
  const values = orderValuesOf(event);
  const record: RecentOrder = {
    orderId: event.orderId,
    placedAt: atMs,
    amount: event.amount.value,
    giftCardValue: values.giftCardValue,
    digitalValue: values.digitalValue,
    decision: decision.decision,
  };
  const others = (state.recentOrders ?? []).filter((o) => o.orderId !== event.orderId);
  state.recentOrders = [...others, record].slice(-orderStateLimits.recentOrdersMax);
  if (decision.decision === 'deny') return;
  const history = state.orderHistory ?? { count: 0, sum: 0, max: 0 };
  state.orderHistory = {
    count: history.count + 1,
    sum: Math.min(Number.MAX_SAFE_INTEGER, history.sum + event.amount.value),
    max: Math.max(history.max, event.amount.value),
  };
  const shippingKey = shippingKeyOf(event);
  const known = state.shippingAddresses ?? [];
  if (shippingKey !== undefined && !known.includes(shippingKey)) {
    state.shippingAddresses = [...known, shippingKey].slice(-orderStateLimits.shippingAddressesMax);
  }
}

/** Marks an order archived soon after placement as hidden (the incident's "archive order"). */
function archiveOrder(state: AccountState, orderId: string, atMs: number): void {
  const order = state.recentOrders?.find((o) => o.orderId === orderId);
  if (order === undefined || order.hiddenSoonAt !== undefined) return;
  if (atMs - order.placedAt > orderStateLimits.archiveSoonMs) return;
  state.recentOrders = replaced(state.recentOrders ?? [], order, { ...order, hiddenSoonAt: atMs });
}

export const accountStateLimits = {
  devicesMax: 32,
  networksMax: 64,
  sessionsMax: 32,
  pendingChallengesMax: 8,
} as const;

export function emptyAccountState(accountId: string, atMs: number): AccountState {
  return {
    accountId,
    firstSeenAt: atMs,
    lastSeenAt: atMs,
    eventCount: 0,
    risk: 0,
    devices: [],
    networks: [],
    sessions: [],
    pendingChallenges: [],
  };
}

/** Keys already computed per request context: one event asks several times. */
const deviceKeys = new WeakMap<RequestContext, string>();

/** A device is the store's device id when it has one, else a digest of the user agent. */
export function deviceKeyOf(context: RequestContext): string {
  if (context.deviceId !== undefined) return `id:${context.deviceId}`;
  let key = deviceKeys.get(context);
  if (key === undefined) {
    key = `ua:${hash('sha256', context.userAgent, 'base64url').slice(0, 16)}`;
    deviceKeys.set(context, key);
  }
  return key;
}

/** Appends `item`, dropping the least recently seen entry when that would exceed `max`. */
function appendBounded<T extends { lastSeenAt: number }>(items: readonly T[], item: T, max: number): T[] {
  if (items.length < max) return [...items, item];
  let oldest = 0;
  for (let i = 1; i < items.length; i += 1) {
    if ((items[i]?.lastSeenAt ?? 0) < (items[oldest]?.lastSeenAt ?? 0)) oldest = i;
  }
  return [...items.slice(0, oldest), ...items.slice(oldest + 1), item];
}

/** A copy of `items` with `from` replaced by `to` (records are never changed in place). */
function replaced<T>(items: readonly T[], from: T, to: T): T[] {
  return items.map((item) => (item === from ? to : item));
}

function observeDevice(
  state: AccountState,
  context: RequestContext,
  atMs: number,
  trusted: boolean,
): boolean {
  const key = deviceKeyOf(context);
  const known = state.devices.find((device) => device.key === key);
  if (known !== undefined) {
    state.devices = replaced(state.devices, known, {
      ...known,
      lastSeenAt: Math.max(known.lastSeenAt, atMs),
      seenCount: known.seenCount + 1,
      trusted: known.trusted || trusted,
    });
    return false;
  }
  const record: DeviceRecord = {
    key,
    userAgent: context.userAgent,
    firstSeenAt: atMs,
    lastSeenAt: atMs,
    seenCount: 1,
    trusted,
  };
  if (context.deviceId !== undefined) record.deviceId = context.deviceId;
  state.devices = appendBounded(state.devices, record, accountStateLimits.devicesMax);
  return true;
}

function observeNetwork(state: AccountState, ip: string, atMs: number): boolean {
  const known = state.networks.find((network) => network.ip === ip);
  if (known !== undefined) {
    state.networks = replaced(state.networks, known, {
      ...known,
      lastSeenAt: Math.max(known.lastSeenAt, atMs),
      seenCount: known.seenCount + 1,
    });
    return false;
  }
  const record: NetworkRecord = { ip, firstSeenAt: atMs, lastSeenAt: atMs, seenCount: 1 };
  state.networks = appendBounded(state.networks, record, accountStateLimits.networksMax);
  return true;
}

function issueSession(state: AccountState, context: RequestContext, atMs: number): void {
  if (context.sessionId === undefined) return;
  const sessionId = context.sessionId;
  const others = state.sessions.filter((session) => session.sessionId !== sessionId);
  const record: SessionRecord = {
    sessionId,
    issuedAt: atMs,
    lastSeenAt: atMs,
    ip: context.ip,
    deviceKey: deviceKeyOf(context),
  };
  state.sessions = appendBounded(others, record, accountStateLimits.sessionsMax);
}

function takeBack(state: AccountState, pending: PendingChallenge): void {
  const device = state.devices.find((d) => d.key === pending.deviceKey);
  if (device !== undefined) {
    state.devices = pending.deviceWasNew
      ? state.devices.filter((d) => d !== device)
      : replaced(state.devices, device, { ...device, seenCount: Math.max(0, device.seenCount - 1) });
  }
  const network = state.networks.find((n) => n.ip === pending.ip);
  if (network !== undefined) {
    state.networks = pending.ipWasNew
      ? state.networks.filter((n) => n !== network)
      : replaced(state.networks, network, { ...network, seenCount: Math.max(0, network.seenCount - 1) });
  }
  if (pending.sessionId !== undefined) {
    state.sessions = state.sessions.filter((s) => s.sessionId !== pending.sessionId);
  }
}

/**
 * Applies one decided event to the account's state and returns the new state. Pure with respect
 * to its inputs (it copies `previous`); the same events and decisions always give the same
 * state, which is how restart rebuilds what was not yet written behind.
 *
 * A challenged sign-in is learned provisionally, as if the challenge passed; a later
 * `challenge.completed` with `failed` takes back what it taught (contract §4).
 */
export function evolveAccount(
  previous: AccountState | undefined,
  event: BulwarkEvent,
  decision: Decision,
  atMs: number,
): AccountState | undefined {
  if (event.accountId === undefined) return previous;
  // A shallow copy: lists and records are replaced, never changed in place, so `previous` stays
  // intact (it may be a snapshot being written behind) without the cost of a deep clone.
  const state: AccountState = { ...(previous ?? emptyAccountState(event.accountId, atMs)) };
  state.eventCount += 1;
  state.firstSeenAt = Math.min(state.firstSeenAt, atMs);
  state.lastSeenAt = Math.max(state.lastSeenAt, atMs);
  state.risk = decision.score;
  // A case puts the account in containment — except a review that timed out: nobody found
  // fraud, the held order is only cancelled (its own case), and the account carries on.
  if (
    decision.caseId !== undefined &&
    !(event.type === 'order.cancelled' && event.reason === 'review_timeout')
  )
    state.openCaseId = decision.caseId;

  switch (event.type) {
    case 'account.created':
      state.createdAt = atMs;
      if (event.email !== undefined) state.email = event.email;
      if (event.phone !== undefined) state.phone = event.phone;
      break;
    case 'login.succeeded': {
      if (decision.decision === 'deny') break;
      const challenged = decision.decision === 'challenge';
      const hadDevices = state.devices.length > 0;
      const deviceWasNew = observeDevice(state, event.context, atMs, !challenged);
      if (deviceWasNew && hadDevices) state.lastNewDeviceLoginAt = atMs;
      const ipWasNew = observeNetwork(state, event.context.ip, atMs);
      issueSession(state, event.context, atMs);
      state.lastLoginAt = atMs;
      if (challenged && decision.challenge !== undefined) {
        const pending: PendingChallenge = {
          challengeId: decision.challenge.id,
          issuedAt: atMs,
          deviceKey: deviceKeyOf(event.context),
          deviceWasNew,
          ip: event.context.ip,
          ipWasNew,
        };
        if (event.context.sessionId !== undefined) pending.sessionId = event.context.sessionId;
        state.pendingChallenges = [...state.pendingChallenges, pending].slice(
          -accountStateLimits.pendingChallengesMax,
        );
      }
      break;
    }
    case 'challenge.completed': {
      const pending =
        event.challengeId === undefined
          ? state.pendingChallenges.at(-1)
          : state.pendingChallenges.find((p) => p.challengeId === event.challengeId);
      if (pending === undefined) break;
      state.pendingChallenges = state.pendingChallenges.filter((p) => p !== pending);
      if (event.result === 'failed') takeBack(state, pending);
      else {
        const device = state.devices.find((d) => d.key === pending.deviceKey);
        if (device !== undefined)
          state.devices = replaced(state.devices, device, { ...device, trusted: true });
      }
      break;
    }
    case 'session.activity': {
      if (decision.decision === 'challenge' || decision.decision === 'deny') state.lastStolenSessionAt = atMs;
      const session = state.sessions.find((s) => s.sessionId === event.context.sessionId);
      if (session !== undefined) {
        state.sessions = replaced(state.sessions, session, {
          ...session,
          lastSeenAt: Math.max(session.lastSeenAt, atMs),
        });
      }
      break;
    }
    case 'account.updated':
      if (decision.decision !== 'deny' && credentialFields.has(event.field))
        state.lastCredentialChangeAt = atMs;
      if (event.field === 'email' && event.change === 'removed') delete state.email;
      if (event.field === 'phone' && event.change === 'removed') delete state.phone;
      break;
    case 'login.failed':
      break;
    case 'order.placed':
      placeOrder(state, event, decision, atMs);
      break;
    case 'order.archived':
      archiveOrder(state, event.orderId, atMs);
      break;
    case 'order.cancelled':
    case 'account.compromised':
      break;
  }
  return state;
}
