/** Order-risk test events: accounts with history, an account takeover with gift cards, shoppers. */
const baseMs = Date.parse('2026-11-25T09:00:00Z');
export const minuteMs = 60_000;
export const dayMs = 24 * 60 * minuteMs;
export const at = (offsetMs: number): string => new Date(baseMs + offsetMs).toISOString();

export const homeContext = (accountId: string) => ({
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0 (Macintosh)',
  deviceId: `dev-${accountId}`,
});
export const attackerContext = {
  ip: '198.51.100.23',
  userAgent: 'Mozilla/5.0 (Linux; Android 14)',
  deviceId: 'dev-attacker',
};

type Raw = Record<string, unknown>;
const yen = (value: number) => ({ value, currency: 'JPY' });

export function orderEvent(
  id: string,
  accountId: string,
  offsetMs: number,
  options: { gift?: boolean; value?: number; context?: Record<string, unknown> } = {},
): Raw {
  const value = options.value ?? 5000;
  return {
    id,
    type: 'order.placed',
    at: at(offsetMs),
    accountId,
    context: { ...(options.context ?? homeContext(accountId)), sessionId: `s-${accountId}` },
    orderId: `o-${id}`,
    amount: yen(value),
    items: [
      { category: options.gift === false ? 'physical' : 'gift_card', quantity: 1, unitPrice: yen(value) },
    ],
    payment: { method: 'card', cardFingerprint: `card-${accountId}`, cardCountry: 'JP' },
  };
}

export function historyEvents(accountId: string, offsetMs = -30 * dayMs): Raw[] {
  return [
    {
      id: `${accountId}-c`,
      type: 'account.created',
      at: at(offsetMs),
      accountId,
      email: `${accountId}@example.jp`,
    },
    {
      id: `${accountId}-l`,
      type: 'login.succeeded',
      at: at(offsetMs + minuteMs),
      accountId,
      context: { ...homeContext(accountId), sessionId: `s-${accountId}` },
      method: 'password',
      secondFactor: 'totp',
    },
    orderEvent(`${accountId}-h`, accountId, offsetMs + 2 * minuteMs, { gift: false, value: 3200 }),
  ];
}

/** A takeover: a new-device sign-in, then `count` ¥5,000 gift cards a minute apart (all fraud). */
export function takeoverEvents(
  accountId: string,
  offsetMs: number,
  count: number,
): { events: Raw[]; fraudOrderIds: string[] } {
  const events: Raw[] = [
    {
      id: `${accountId}-atk`,
      type: 'login.succeeded',
      at: at(offsetMs),
      accountId,
      context: { ...attackerContext, sessionId: `s-${accountId}-atk` },
      method: 'password',
      secondFactor: 'totp',
    },
  ];
  const fraudOrderIds: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = `${accountId}-g${i}`;
    events.push(orderEvent(id, accountId, offsetMs + (i + 1) * minuteMs, { context: attackerContext }));
    fraudOrderIds.push(`o-${id}`);
  }
  return { events, fraudOrderIds };
}
