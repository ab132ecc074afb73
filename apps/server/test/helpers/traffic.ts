/**
 * Deterministic event traffic for end-to-end tests: shoppers signing in from their own devices,
 * travellers, attackers on new devices, failure bursts, credential stuffing, gift-card bursts,
 * challenge results. The same options always give the same events.
 */

import { seededRandom as prng } from '../../src/core/random.ts';

export interface TrafficEvent {
  id: string;
  type: string;
  at: string;
  accountId?: string;
  [field: string]: unknown;
}

export interface TrafficOptions {
  seed: number;
  /** Event time of the first event; each next one is `stepMs` later. */
  startMs: number;
  stepMs: number;
  /** Exactly this many events. */
  count: number;
  accountCount: number;
  /** Prefix of event and account ids, so several traffics can share one service. */
  prefix: string;
  /**
   * Include what takes learning back: failed challenges and compromise reports. Off when a test
   * needs every allowed sign-in to leave its device known.
   */
  forgetting: boolean;
}

type Episode =
  | 'home-login'
  | 'travel-login'
  | 'attacker-login'
  | 'challenge-result'
  | 'failures'
  | 'stuffing'
  | 'activity'
  | 'order'
  | 'gift-card-burst'
  | 'update'
  | 'cancel'
  | 'compromised';

const episodeWeights: readonly [Episode, number][] = [
  ['home-login', 28],
  ['travel-login', 8],
  ['attacker-login', 10],
  ['challenge-result', 9],
  ['failures', 10],
  ['stuffing', 2],
  ['activity', 10],
  ['order', 10],
  ['gift-card-burst', 3],
  ['update', 4],
  ['cancel', 3],
  ['compromised', 1],
];

const sensitiveActions = [
  'order.archive',
  'account.update',
  'payment_method.add',
  'address.add',
  'giftcard.redeem',
];

export function generateTraffic(options: TrafficOptions): TrafficEvent[] {
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => {
    const item = items[Math.floor(random() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  };
  const weights = episodeWeights.filter(([episode]) => options.forgetting || episode !== 'compromised');
  const weightTotal = weights.reduce((sum, [, weight]) => sum + weight, 0);
  const pickEpisode = (): Episode => {
    let roll = random() * weightTotal;
    for (const [episode, weight] of weights) {
      roll -= weight;
      if (roll < 0) return episode;
    }
    return 'home-login';
  };

  const events: TrafficEvent[] = [];
  const created = new Set<number>();
  const orders = new Map<number, string[]>();
  const { prefix } = options;
  const accountId = (n: number): string => `${prefix}acct-${n}`;
  const homeContext = (n: number, id: string) => ({
    ip: `203.0.113.${(n % 250) + 1}`,
    userAgent: `Mozilla/5.0 (shopper ${n})`,
    deviceId: `${prefix}dev-${n}-home`,
    sessionId: `s-${id}`,
    acceptLanguage: 'ja-JP',
  });
  const push = (fields: { type: string; [field: string]: unknown }): TrafficEvent | undefined => {
    if (events.length >= options.count) return undefined;
    const event: TrafficEvent = {
      id: `${prefix}e-${events.length}`,
      at: new Date(options.startMs + events.length * options.stepMs).toISOString(),
      ...fields,
    };
    events.push(event);
    return event;
  };
  const nextId = (): string => `${prefix}e-${events.length}`;
  const placeOrder = (n: number, category: 'gift_card' | 'physical' | 'digital', amount: number): void => {
    const orderId = `${prefix}o-${events.length}`;
    const placed = push({
      type: 'order.placed',
      accountId: accountId(n),
      context: homeContext(n, nextId()),
      orderId,
      amount: { value: amount, currency: 'JPY' },
      items: [
        { sku: `sku-${category}`, category, quantity: 1, unitPrice: { value: amount, currency: 'JPY' } },
      ],
      shipping: category === 'physical' ? { country: 'JP', postalCode: '150-0001' } : undefined,
      payment: { method: 'card', cardFingerprint: `card-${n}`, bin: '411111', cardCountry: 'JP' },
      ...(category === 'gift_card' ? { delivery: { email: `buyer-${n}@example.com` } } : {}),
    });
    if (placed !== undefined) orders.set(n, [...(orders.get(n) ?? []), orderId]);
  };

  while (events.length < options.count) {
    const n = Math.floor(random() * options.accountCount);
    const account = accountId(n);
    if (!created.has(n)) {
      created.add(n);
      push({
        type: 'account.created',
        accountId: account,
        ...(random() < 0.7 ? { email: `shopper-${n}@example.com` } : {}),
        ...(random() < 0.4 ? { phone: `+8190${String(n).padStart(8, '0')}` } : {}),
      });
      push({
        type: 'login.succeeded',
        accountId: account,
        context: homeContext(n, nextId()),
        method: 'password',
        secondFactor: 'totp',
      });
      continue;
    }
    switch (pickEpisode()) {
      case 'home-login':
        push({
          type: 'login.succeeded',
          accountId: account,
          context: homeContext(n, nextId()),
          method: 'password',
          secondFactor: pick(['totp', 'none', 'passkey'] as const),
        });
        break;
      case 'travel-login':
        push({
          type: 'login.succeeded',
          accountId: account,
          context: {
            ip: pick(['192.0.2.10', '192.0.2.11', '2001:db8::10']),
            userAgent: `Mobile Safari (shopper ${n})`,
            deviceId: `${prefix}dev-${n}-phone`,
            sessionId: `s-${nextId()}`,
          },
          method: pick(['password', 'passkey'] as const),
          secondFactor: 'totp',
        });
        break;
      case 'attacker-login': {
        const k = Math.floor(random() * 4);
        push({
          type: 'login.succeeded',
          accountId: account,
          context: {
            ip: `198.51.100.${k + 1}`,
            userAgent: 'Mozilla/5.0 (Windows NT 10.0)',
            deviceId: `${prefix}dev-attacker-${k}`,
            sessionId: `s-${nextId()}`,
          },
          method: 'password',
          secondFactor: pick(['totp', 'none'] as const),
        });
        break;
      }
      case 'challenge-result':
        push({
          type: 'challenge.completed',
          accountId: account,
          method: 'passkey',
          result: options.forgetting && random() < 0.5 ? 'failed' : 'passed',
        });
        break;
      case 'failures': {
        const failures = 1 + Math.floor(random() * 4);
        for (let i = 0; i < failures; i += 1) {
          push({
            type: 'login.failed',
            accountId: account,
            context: { ip: `198.51.100.${(n % 4) + 1}`, userAgent: 'python-requests/2.31' },
            reason: 'bad_password',
          });
        }
        break;
      }
      case 'stuffing': {
        const ip = `198.51.100.${200 + Math.floor(random() * 10)}`;
        const attempts = 20 + Math.floor(random() * 6);
        for (let i = 0; i < attempts; i += 1) {
          const target = Math.floor(random() * (options.accountCount + 3));
          push(
            target < options.accountCount
              ? {
                  type: 'login.failed',
                  accountId: accountId(target),
                  context: { ip, userAgent: 'curl/8.4' },
                  reason: 'bad_password',
                }
              : {
                  type: 'login.failed',
                  context: { ip, userAgent: 'curl/8.4' },
                  reason: 'unknown_account',
                  username: `nobody-${i}@example.com`,
                },
          );
        }
        break;
      }
      case 'activity':
        push({
          type: 'session.activity',
          accountId: account,
          context: { ...homeContext(n, nextId()), sessionId: `s-${prefix}home-${n}` },
          action: random() < 0.5 ? 'view.product' : pick(sensitiveActions),
        });
        break;
      case 'order':
        placeOrder(
          n,
          pick(['physical', 'digital', 'gift_card'] as const),
          1000 + Math.floor(random() * 20) * 500,
        );
        break;
      case 'gift-card-burst': {
        const burst = 5 + Math.floor(random() * 4);
        for (let i = 0; i < burst; i += 1) placeOrder(n, 'gift_card', 5000);
        const hidden = orders.get(n)?.at(-1);
        if (hidden !== undefined)
          push({
            type: 'order.archived',
            accountId: account,
            context: homeContext(n, nextId()),
            orderId: hidden,
          });
        break;
      }
      case 'update':
        push({
          type: 'account.updated',
          accountId: account,
          context: homeContext(n, nextId()),
          field: pick(['email', 'phone', 'password', 'address'] as const),
          change: 'changed',
        });
        break;
      case 'cancel': {
        const orderId = orders.get(n)?.[0];
        if (orderId !== undefined)
          push({
            type: 'order.cancelled',
            accountId: account,
            orderId,
            by: pick(['customer', 'store'] as const),
          });
        break;
      }
      case 'compromised':
        push({
          type: 'account.compromised',
          accountId: account,
          reportedBy: pick(['owner', 'analyst'] as const),
        });
        break;
    }
  }
  // `shipping: undefined` would be dropped by JSON anyway; drop it here so objects equal their JSON.
  return events.map((event) => JSON.parse(JSON.stringify(event)) as TrafficEvent);
}

/** JSON Lines text of `events`, each line ending in a newline. */
export function toJsonLines(events: readonly unknown[]): string {
  return events.map((event) => `${JSON.stringify(event)}\n`).join('');
}
