import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CommandFault } from '../../src/adapters/sandbox/faults.ts';
import { signatureHeader, type WebhookRequest } from '../../src/adapters/sandbox/signed-webhooks.ts';
import { verifySignature } from '../../src/adapters/sandbox/webhook-signature.ts';
import type { ManualClock } from '../../src/core/clock.ts';
import type { Result } from '../../src/core/result.ts';
import { hourMs } from '../../src/core/time.ts';
import type { StoreOrderItem, StoreOrderView, StorePort } from '../../src/connectors/domain/store.ts';
import { untilFinal, valueOf } from './until-final.ts';

/** What shoppers and attackers do at the store: the world a store port acts on. */
export interface StoreWorld {
  createAccount(input: { accountId: string; email?: string }): Promise<void>;
  signIn(input: { accountId: string; sessionId: string }): Promise<Result<string, string>>;
  isSessionActive(sessionId: string): Promise<boolean>;
  completePasswordReset(accountId: string): Promise<void>;
  placeOrder(input: {
    orderId: string;
    accountId: string;
    items: readonly StoreOrderItem[];
  }): Promise<unknown>;
  archiveOrder(orderId: string): Promise<boolean>;
  visibleOrders(accountId: string): Promise<StoreOrderView[]>;
  giftCardCodes(orderId: string): Promise<string[]>;
  redeemGiftCard(code: string): Promise<Result<unknown, { kind: string; code?: string }>>;
}

export interface StoreHarness {
  readonly port: StorePort;
  readonly world: StoreWorld;
  readonly clock: ManualClock;
  scriptFault(fault: CommandFault, command: string): void;
  deliverWebhooks(): Promise<void>;
  readonly received: WebhookRequest[];
  readonly webhookSecret: string;
  close(): Promise<void>;
}

export type MakeStore = () => Promise<StoreHarness>;

const yen = (value: number) => ({ value, currency: 'JPY' });
const giftCards = (count: number): StoreOrderItem[] => [
  { category: 'gift_card', quantity: count, unitPrice: yen(5000) },
];

/**
 * The behaviour every store implementation owes containment: locks and resets that stop sign-in,
 * revocations that end sessions, every order since a time including archived ones, cancels, and
 * gift-card codes that die unless already spent — one effect per idempotency key, through faults.
 */
export function runStoreConformance(name: string, make: MakeStore): void {
  describe(`store port: ${name}`, () => {
    let h: StoreHarness;
    const wait = (ms: number) => {
      h.clock.advance(ms);
    };
    /** Webhook types delivered so far for one subject (order, account or card id in the data). */
    const delivered = async (subject: string): Promise<string[]> => {
      await h.deliverWebhooks();
      const byId = new Map<string, string>();
      for (const request of h.received) {
        const body = JSON.parse(request.body) as { id: string; type: string; data: Record<string, unknown> };
        if (Object.values(body.data).includes(subject)) byId.set(body.id, body.type);
      }
      return [...byId.values()].sort();
    };

    before(async () => {
      h = await make();
    });
    after(async () => {
      await h.close();
    });

    test('lists every order since a time, archived (hidden) ones included, oldest first', async () => {
      await h.world.createAccount({ accountId: 'a-list' });
      await h.world.createAccount({ accountId: 'a-other' });
      await h.world.placeOrder({ orderId: 'o-before', accountId: 'a-list', items: giftCards(1) });
      h.clock.advance(hourMs);
      const sinceMs = h.clock.now();
      await h.world.placeOrder({ orderId: 'o-gc1', accountId: 'a-list', items: giftCards(8) });
      h.clock.advance(60_000);
      await h.world.placeOrder({ orderId: 'o-gc2', accountId: 'a-list', items: giftCards(8) });
      await h.world.placeOrder({ orderId: 'o-elsewhere', accountId: 'a-other', items: giftCards(1) });
      assert.equal(await h.world.archiveOrder('o-gc1'), true);
      assert.equal(await h.world.archiveOrder('o-gc2'), true);
      // The shopper's own list no longer shows them …
      assert.deepEqual(
        (await h.world.visibleOrders('a-list')).map((o) => o.orderId),
        ['o-before'],
      );
      // … but the port does, flagged.
      const listed = valueOf(
        await untilFinal(() => h.port.listOrders({ accountId: 'a-list', sinceMs }), wait),
      );
      assert.deepEqual(
        listed.map((o) => [o.orderId, o.archived, o.status, o.amount.value]),
        [
          ['o-gc1', true, 'placed', 40_000],
          ['o-gc2', true, 'placed', 40_000],
        ],
      );
    });

    test('a lock stops sign-in; the same key answers the same; a second lock is no second effect', async () => {
      await h.world.createAccount({ accountId: 'a-lock' });
      const first = valueOf(
        await untilFinal(() => h.port.lockAccount({ accountId: 'a-lock', idempotencyKey: 'k-l1' }), wait),
      );
      assert.equal(first.locked, true);
      assert.deepEqual(await h.world.signIn({ accountId: 'a-lock', sessionId: 's-after-lock' }), {
        ok: false,
        error: 'account_locked',
      });
      assert.deepEqual(
        valueOf(
          await untilFinal(() => h.port.lockAccount({ accountId: 'a-lock', idempotencyKey: 'k-l1' }), wait),
        ),
        first,
      );
      valueOf(
        await untilFinal(() => h.port.lockAccount({ accountId: 'a-lock', idempotencyKey: 'k-l2' }), wait),
      );
      assert.deepEqual(await delivered('a-lock'), ['account.locked']);
    });

    test('revoking sessions ends them; a replay of the key ends nothing new', async () => {
      await h.world.createAccount({ accountId: 'a-rev' });
      for (const sessionId of ['s-owner', 's-attacker'])
        await h.world.signIn({ accountId: 'a-rev', sessionId });
      const revoked = valueOf(
        await untilFinal(() => h.port.revokeSessions({ accountId: 'a-rev', idempotencyKey: 'k-rev' }), wait),
      );
      assert.deepEqual(revoked.revokedSessionIds, ['s-attacker', 's-owner']);
      assert.equal(await h.world.isSessionActive('s-attacker'), false);
      await h.world.signIn({ accountId: 'a-rev', sessionId: 's-new' });
      const replay = valueOf(
        await untilFinal(() => h.port.revokeSessions({ accountId: 'a-rev', idempotencyKey: 'k-rev' }), wait),
      );
      assert.deepEqual(replay, revoked);
      assert.equal(await h.world.isSessionActive('s-new'), true, 'a replay is not a second revocation');
      const again = valueOf(
        await untilFinal(
          () => h.port.revokeSessions({ accountId: 'a-rev', idempotencyKey: 'k-rev-2' }),
          wait,
        ),
      );
      assert.deepEqual(again.revokedSessionIds, ['s-new']);
    });

    test('a forced password reset stops sign-in until the owner resets', async () => {
      await h.world.createAccount({ accountId: 'a-reset' });
      const answer = valueOf(
        await untilFinal(
          () => h.port.forcePasswordReset({ accountId: 'a-reset', idempotencyKey: 'k-reset' }),
          wait,
        ),
      );
      assert.equal(answer.passwordResetRequired, true);
      assert.deepEqual(await h.world.signIn({ accountId: 'a-reset', sessionId: 's-r1' }), {
        ok: false,
        error: 'password_reset_required',
      });
      await h.world.completePasswordReset('a-reset');
      assert.equal((await h.world.signIn({ accountId: 'a-reset', sessionId: 's-r2' })).ok, true);
    });

    test('cancelling an order: cancelled, still archived, and cancelling again changes nothing', async () => {
      await h.world.createAccount({ accountId: 'a-cancel' });
      await h.world.placeOrder({ orderId: 'o-cancel', accountId: 'a-cancel', items: giftCards(2) });
      await h.world.archiveOrder('o-cancel');
      const cancelled = valueOf(
        await untilFinal(() => h.port.cancelOrder({ orderId: 'o-cancel', idempotencyKey: 'k-oc' }), wait),
      );
      assert.equal(cancelled.status, 'cancelled');
      assert.equal(cancelled.archived, true);
      valueOf(
        await untilFinal(() => h.port.cancelOrder({ orderId: 'o-cancel', idempotencyKey: 'k-oc-2' }), wait),
      );
      assert.deepEqual(await delivered('o-cancel'), ['order.archived', 'order.cancelled', 'order.placed']);
      const missing = await untilFinal(
        () => h.port.cancelOrder({ orderId: 'o-none', idempotencyKey: 'k-none' }),
        wait,
      );
      assert.equal(!missing.ok && missing.error.kind, 'not_found');
    });

    test('gift-card codes die unless already spent, and a dead code cannot be spent', async () => {
      await h.world.createAccount({ accountId: 'a-gc' });
      await h.world.placeOrder({ orderId: 'o-gc', accountId: 'a-gc', items: giftCards(3) });
      const codes = await h.world.giftCardCodes('o-gc');
      assert.equal(codes.length, 3);
      const spent = codes[0] as string;
      assert.equal((await h.world.redeemGiftCard(spent)).ok, true);
      const answer = valueOf(
        await untilFinal(() => h.port.deactivateGiftCards({ orderId: 'o-gc', idempotencyKey: 'k-gc' }), wait),
      );
      assert.deepEqual(answer.cards.map((c) => c.status).sort(), ['deactivated', 'deactivated', 'redeemed']);
      assert.equal(
        answer.cards.reduce((sum, c) => sum + c.value.value, 0),
        15_000,
      );
      // The codes are bearer secrets: the answer names the cards without them.
      const text = JSON.stringify(answer);
      for (const code of codes) assert.ok(!text.includes(code), 'no code in the answer');
      for (const code of codes.slice(1)) {
        const refused = await h.world.redeemGiftCard(code);
        assert.equal(!refused.ok && refused.error.code, 'gift_card_deactivated');
      }
    });

    test('a key reused for a different request is refused without effect', async () => {
      await h.world.createAccount({ accountId: 'a-reuse' });
      await h.world.placeOrder({ orderId: 'o-reuse', accountId: 'a-reuse', items: giftCards(1) });
      valueOf(
        await untilFinal(() => h.port.lockAccount({ accountId: 'a-reuse', idempotencyKey: 'k-reuse' }), wait),
      );
      const other = await untilFinal(
        () => h.port.cancelOrder({ orderId: 'o-reuse', idempotencyKey: 'k-reuse' }),
        wait,
      );
      assert.equal(!other.ok && other.error.kind, 'conflict');
      const listed = valueOf(
        await untilFinal(() => h.port.listOrders({ accountId: 'a-reuse', sinceMs: 0 }), wait),
      );
      assert.equal(listed[0]?.status, 'placed');
    });

    test('a timeout after the effect: the codes are dead already, and the retry confirms it once', async () => {
      await h.world.createAccount({ accountId: 'a-tae' });
      await h.world.placeOrder({ orderId: 'o-tae', accountId: 'a-tae', items: giftCards(2) });
      const codes = await h.world.giftCardCodes('o-tae');
      h.scriptFault({ kind: 'timeout', when: 'after_effect' }, 'deactivateGiftCards');
      const command = { orderId: 'o-tae', idempotencyKey: 'k-tae' };
      const lost = await h.port.deactivateGiftCards(command);
      assert.equal(!lost.ok && lost.error.kind, 'timeout');
      assert.equal(!lost.ok && lost.error.retryable, true);
      const refused = await h.world.redeemGiftCard(codes[0] as string);
      assert.equal(refused.ok, false, 'the effect happened before the answer was lost');
      const confirmed = valueOf(await untilFinal(() => h.port.deactivateGiftCards(command), wait));
      assert.deepEqual(
        confirmed.cards.map((c) => c.status),
        ['deactivated', 'deactivated'],
      );
      const ids = confirmed.cards.map((c) => c.giftCardId);
      const perCard = await Promise.all(ids.map((id) => delivered(id)));
      assert.deepEqual(perCard, [['gift_card.deactivated'], ['gift_card.deactivated']]);
    });

    test('a timeout after a cancel: the retry under the same key does not cancel twice', async () => {
      await h.world.createAccount({ accountId: 'a-taec' });
      await h.world.placeOrder({ orderId: 'o-taec', accountId: 'a-taec', items: giftCards(1) });
      h.scriptFault({ kind: 'timeout', when: 'after_effect' }, 'cancelOrder');
      const command = { orderId: 'o-taec', idempotencyKey: 'k-taec' };
      assert.equal((await h.port.cancelOrder(command)).ok, false);
      assert.equal(valueOf(await untilFinal(() => h.port.cancelOrder(command), wait)).status, 'cancelled');
      assert.deepEqual(await delivered('o-taec'), ['order.cancelled', 'order.placed']);
    });

    for (const fault of [
      { kind: 'timeout', when: 'before_effect' },
      { kind: 'unavailable' },
      { kind: 'rate_limited' },
    ] as const) {
      test(`${fault.kind}: retryable, nothing happened, the retry acts`, async () => {
        const accountId = `a-${fault.kind}`;
        await h.world.createAccount({ accountId });
        h.scriptFault(fault, 'lockAccount');
        const failed = await h.port.lockAccount({ accountId, idempotencyKey: `k-${accountId}` });
        assert.equal(!failed.ok && failed.error.kind, fault.kind);
        assert.equal(!failed.ok && failed.error.retryable, true);
        assert.equal(
          (await h.world.signIn({ accountId, sessionId: `s-${accountId}` })).ok,
          true,
          'not locked',
        );
        valueOf(
          await untilFinal(() => h.port.lockAccount({ accountId, idempotencyKey: `k-${accountId}` }), wait),
        );
        assert.equal((await h.world.signIn({ accountId, sessionId: `s2-${accountId}` })).ok, false, 'locked');
      });
    }

    test('webhooks are signed with the shared secret', async () => {
      await h.world.createAccount({ accountId: 'a-hook' });
      await h.world.placeOrder({ orderId: 'o-hook', accountId: 'a-hook', items: giftCards(1) });
      await h.deliverWebhooks();
      const mine = h.received.filter((r) => r.body.includes('o-hook'));
      assert.ok(mine.length > 0);
      for (const request of mine) {
        const header = request.headers[signatureHeader];
        assert.equal(
          verifySignature(request.body, header, h.webhookSecret, { receivedAtMs: h.clock.now() }).ok,
          true,
        );
        assert.equal(
          verifySignature(request.body, header, 'another-secret', { receivedAtMs: h.clock.now() }).ok,
          false,
        );
      }
    });
  });
}
