import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decisionSchema, errorBodySchema, type Decision } from '@bulwark/contracts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

const home = { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Macintosh)', deviceId: 'dev-home' };
const phone = { ip: '198.51.100.23', userAgent: 'Mozilla/5.0 (Linux; Android 14)', deviceId: 'dev-attacker' };
const yen = (value: number) => ({ value, currency: 'JPY' });

const dayMs = 24 * 60 * 60 * 1000;
const minuteMs = 60_000;
/** The test clock starts at 2026-11-25T09:00Z; events are placed relative to it. */
const at = (offsetMs: number) => new Date(Date.parse('2026-11-25T09:00:00Z') + offsetMs).toISOString();

const giftCard = (
  id: string,
  accountId: string,
  offsetMs: number,
  context = phone,
  extra: Record<string, unknown> = {},
) => ({
  id,
  type: 'order.placed',
  at: at(offsetMs),
  accountId,
  context: { ...context, sessionId: `s-${accountId}` },
  orderId: `o-${id}`,
  amount: yen(5000),
  items: [{ category: 'gift_card', quantity: 1, unitPrice: yen(5000) }],
  payment: { method: 'card', cardFingerprint: `card-${accountId}`, cardCountry: 'JP' },
  ...extra,
});

function history(accountId: string): Record<string, unknown>[] {
  return [
    {
      id: `${accountId}-c`,
      type: 'account.created',
      at: at(-30 * dayMs),
      accountId,
      email: `${accountId}@example.jp`,
    },
    {
      id: `${accountId}-l`,
      type: 'login.succeeded',
      at: at(-30 * dayMs + minuteMs),
      accountId,
      context: { ...home, sessionId: `s-${accountId}-home` },
      method: 'password',
      secondFactor: 'totp',
    },
    {
      id: `${accountId}-o`,
      type: 'order.placed',
      at: at(-20 * dayMs),
      accountId,
      context: { ...home, sessionId: `s-${accountId}-home` },
      orderId: `o-${accountId}-book`,
      amount: yen(3200),
      items: [{ category: 'physical', quantity: 2, unitPrice: yen(1600) }],
      shipping: { addressId: `addr-${accountId}`, country: 'JP' },
      payment: { method: 'card', cardFingerprint: `card-${accountId}`, cardCountry: 'JP' },
    },
  ];
}

for (const backend of backends()) {
  describe(`order risk through POST /v1/events on ${backend}`, () => {
    let t: TestService;
    before(async () => {
      t = await startTestService(backend);
    });
    after(() => t.close());

    async function send(events: Record<string, unknown>[]): Promise<Decision[]> {
      const response = await t.request('POST', '/v1/events', { events });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return (response.body as { decisions: unknown[] }).decisions.map((d) => decisionSchema.parse(d));
    }

    test('the origin incident: new-device sign-in, then ¥5,000 gift cards — held by the second at the latest', async () => {
      await send(history('victim'));
      const [signIn] = await send([
        {
          id: 'victim-attacker-login',
          type: 'login.succeeded',
          at: at(0),
          accountId: 'victim',
          context: { ...phone, sessionId: 's-victim' },
          method: 'password',
          secondFactor: 'totp',
        },
      ]);
      assert.ok(signIn !== undefined);
      const decisions: Decision[] = [];
      for (let i = 0; i < 3; i += 1) {
        const [decision] = await send([giftCard(`victim-gift-${i}`, 'victim', (i + 1) * minuteMs)]);
        assert.ok(decision !== undefined);
        decisions.push(decision);
      }
      const [first, second, third] = decisions;
      assert.notEqual(first?.decision, 'allow', JSON.stringify(first));
      assert.ok(second?.decision === 'review' || second?.decision === 'deny', JSON.stringify(second));
      assert.ok(second.reasons.some((r) => r.code === 'new_device_gift_cards'));
      assert.ok(third?.decision === 'review' || third?.decision === 'deny');

      // Hiding the order minutes later re-scores the account and opens containment.
      const [hidden] = await send([
        {
          id: 'victim-hide',
          type: 'order.archived',
          at: at(5 * minuteMs),
          accountId: 'victim',
          context: { ...phone, sessionId: 's-victim' },
          orderId: 'o-victim-gift-0',
        },
      ]);
      assert.equal(hidden?.decision, 'deny');
      assert.equal(hidden.reasons[0]?.code, 'order_hidden_after_purchase');
      assert.ok(hidden.caseId !== undefined);
    });

    test('a long-standing shopper buying one gift card for a friend is not held', async () => {
      await send(history('shopper'));
      const [decision] = await send([
        giftCard('shopper-gift', 'shopper', 0, home, { delivery: { email: 'friend@example.com' } }),
      ]);
      assert.equal(decision?.decision, 'allow', JSON.stringify(decision));
    });

    test('bad orders get clear errors and the service keeps deciding', async () => {
      const good = giftCard('bad-0', 'bad-input', 0, home);
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ ...good, id: 'bad-1', amount: yen(-5) }, /must not be negative/],
        [{ ...good, id: 'bad-2', amount: { value: 12.5, currency: 'JPY' } }, /integer/],
        [
          {
            ...good,
            id: 'bad-3',
            items: [{ category: 'gift_card', quantity: 1, unitPrice: { value: 5000, currency: 'USD' } }],
          },
          /currency/,
        ],
        [
          {
            ...good,
            id: 'bad-4',
            items: Array.from({ length: 3000 }, () => ({
              category: 'physical',
              quantity: 1,
              unitPrice: yen(1),
            })),
          },
          /items/,
        ],
      ];
      for (const [event, message] of cases) {
        const response = await t.request('POST', '/v1/events', event);
        assert.equal(response.status, 400, JSON.stringify(response.body));
        const body = errorBodySchema.parse(response.body);
        assert.equal(body.error.code, 'INVALID_EVENT');
        assert.match(body.error.message, message);
      }
      const [decision] = await send([good]);
      assert.ok(decision !== undefined, 'still deciding after bad input');
    });
  });
}
