import type { BulwarkEvent } from '@bulwark/contracts';
import { dayMs, minuteMs, toIso } from '../../core/time.ts';

/**
 * The incident Bulwark exists for, as contract events: an owner with a long, ordinary history;
 * an attacker who signs in from a new device with the right password and a relayed TOTP code,
 * buys sixteen ¥5,000 gift cards one after another and hides each order; the owner's report
 * ("this wasn't me") some minutes later. `prefix` keeps ids apart when many incidents share a file.
 */
export interface OriginIncidentOptions {
  readonly prefix?: string;
  /** When the attacker signs in. */
  readonly attackAtMs?: number;
  readonly giftCards?: number;
  /** Minutes between the sign-in and the owner's report. */
  readonly reportAfterMinutes?: number;
  /** Also buy one physical item (the parcels that arrived in the story). */
  readonly physicalItems?: number;
}

export const originAttackAtMs = Date.parse('2026-03-10T13:00:00Z');

export function originIncidentEvents(options: OriginIncidentOptions = {}): BulwarkEvent[] {
  const p = options.prefix ?? '';
  const accountId = `${p}shopper-1`;
  const attackAt = options.attackAtMs ?? originAttackAtMs;
  const giftCards = options.giftCards ?? 16;
  const physical = options.physicalItems ?? 2;
  const ownerContext = (minutes: number) => ({
    ip: '203.0.113.10',
    userAgent:
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    deviceId: `${p}dev-owner-mac`,
    sessionId: `${p}sess-owner-${String(minutes)}`,
    acceptLanguage: 'ja-JP',
  });
  const attacker = {
    ip: '198.51.100.77',
    userAgent:
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Safari/537.36',
    deviceId: `${p}dev-attacker`,
    sessionId: `${p}sess-attacker`,
    acceptLanguage: 'ja-JP',
  };
  const events: BulwarkEvent[] = [];
  const at = (ms: number) => toIso(ms);
  events.push({
    id: `${p}evt-created`,
    type: 'account.created',
    at: at(attackAt - 400 * dayMs),
    accountId,
    email: `${p}owner@example.jp`,
  });
  // Months of ordinary sign-ins and one order from the owner's own Mac at home.
  for (let i = 0; i < 6; i += 1) {
    const when = attackAt - (180 - i * 30) * dayMs;
    events.push({
      id: `${p}evt-owner-login-${String(i)}`,
      type: 'login.succeeded',
      at: at(when),
      accountId,
      context: ownerContext(i),
      method: 'password',
      secondFactor: 'totp',
    });
  }
  events.push({
    id: `${p}evt-owner-order`,
    type: 'order.placed',
    at: at(attackAt - 20 * dayMs),
    accountId,
    context: ownerContext(99),
    orderId: `${p}order-owner-1`,
    amount: { value: 3200, currency: 'JPY' },
    items: [
      { sku: 'book-1', category: 'physical', quantity: 1, unitPrice: { value: 3200, currency: 'JPY' } },
    ],
    shipping: { addressId: `${p}addr-home`, country: 'JP', postalCode: '150-0001' },
    payment: { method: 'card', cardFingerprint: `${p}card-owner`, bin: '411111', cardCountry: 'JP' },
  });
  // The takeover: right password, relayed TOTP, a device and network never seen.
  events.push({
    id: `${p}evt-attacker-login`,
    type: 'login.succeeded',
    at: at(attackAt),
    accountId,
    context: attacker,
    method: 'password',
    secondFactor: 'totp',
  });
  let minute = 1;
  for (let i = 1; i <= giftCards; i += 1, minute += 1) {
    const orderId = `${p}order-gc-${String(i).padStart(2, '0')}`;
    events.push({
      id: `${p}evt-order-gc-${String(i)}`,
      type: 'order.placed',
      at: at(attackAt + minute * minuteMs),
      accountId,
      context: attacker,
      orderId,
      amount: { value: 5000, currency: 'JPY' },
      items: [
        {
          sku: 'giftcard-5000',
          category: 'gift_card',
          quantity: 1,
          unitPrice: { value: 5000, currency: 'JPY' },
        },
      ],
      payment: { method: 'card', cardFingerprint: `${p}card-owner`, bin: '411111', cardCountry: 'JP' },
      delivery: { email: `${p}owner@example.jp` },
    });
    events.push({
      id: `${p}evt-archive-gc-${String(i)}`,
      type: 'order.archived',
      at: at(attackAt + minute * minuteMs + 20_000),
      accountId,
      context: attacker,
      orderId,
    });
  }
  for (let i = 1; i <= physical; i += 1, minute += 1) {
    const orderId = `${p}order-item-${String(i)}`;
    events.push({
      id: `${p}evt-order-item-${String(i)}`,
      type: 'order.placed',
      at: at(attackAt + minute * minuteMs),
      accountId,
      context: attacker,
      orderId,
      amount: { value: 12800, currency: 'JPY' },
      items: [
        { sku: 'earbuds', category: 'physical', quantity: 1, unitPrice: { value: 12800, currency: 'JPY' } },
      ],
      shipping: { addressId: `${p}addr-home`, country: 'JP', postalCode: '150-0001' },
      payment: { method: 'card', cardFingerprint: `${p}card-owner`, bin: '411111', cardCountry: 'JP' },
    });
  }
  events.push({
    id: `${p}evt-owner-report`,
    type: 'account.compromised',
    at: at(attackAt + (options.reportAfterMinutes ?? 45) * minuteMs),
    accountId,
    reportedBy: 'owner',
  });
  return events;
}

export const toJsonLines = (events: readonly BulwarkEvent[]): string =>
  events.map((e) => JSON.stringify(e)).join('\n') + '\n';
