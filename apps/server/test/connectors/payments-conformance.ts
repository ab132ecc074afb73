import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Money } from '@bulwark/contracts';
import type { CommandFault } from '../../src/adapters/sandbox/faults.ts';
import type { PaymentsPort } from '../../src/connectors/domain/payments.ts';
import type { ProviderErrorKind, ProviderResult } from '../../src/connectors/domain/provider-result.ts';

/**
 * The payments port's conformance suite: the same behaviour asked of every implementation (the
 * sandbox on each database backend, Stripe against recorded fixtures), fault cases included.
 * Each implementation supplies a harness: the port, plus the parts of the world outside it — a
 * checkout that authorizes, an issuer that disputes, a network that warns, time that passes.
 */

export type PortCommand =
  | 'getPayment'
  | 'voidAuthorization'
  | 'capture'
  | 'refund'
  | 'listRefunds'
  | 'listBalanceTransactions'
  | 'listDisputes'
  | 'listEarlyFraudWarnings';

export type RefundBehaviour = 'succeed_now' | 'settle_later' | 'fail_later';

export interface PaymentsHarness {
  readonly port: PaymentsPort;
  /** A checkout's authorization: answers the provider's payment id. */
  authorize(amount: Money, options?: { readonly refunds?: RefundBehaviour }): Promise<string>;
  /** The next call of `command` meets this fault; after a timeout after the effect, the work is done. */
  injectFault(fault: CommandFault, command: PortCommand): void;
  /** Time passes until pending refunds settle (succeed, or fail for a `fail_later` card). */
  settlePendingRefunds(): Promise<void>;
  /** Time passes until this authorization lapses uncaptured. */
  expireAuthorization(paymentId: string): Promise<void>;
  openDispute(paymentId: string, stage: 'inquiry' | 'chargeback'): Promise<void>;
  raiseWarning(paymentId: string, fraudType: string): Promise<void>;
  /** A signed webhook delivery announcing this refund, exactly as the provider sends it. */
  refundWebhook(
    refundId: string,
  ): Promise<{ readonly rawBody: string; readonly header: string; readonly sentAtMs: number }>;
  nowMs(): number;
}

export interface PaymentsSuiteSetup {
  make(): Promise<PaymentsHarness>;
  close(): Promise<void>;
}

const yen = (value: number): Money => ({ value, currency: 'JPY' });

function expectOk<T>(result: ProviderResult<T>, what: string): T {
  if (!result.ok) assert.fail(`${what}: expected ok, got ${result.error.kind} (${result.error.message})`);
  return result.value;
}

function expectError<T>(
  result: ProviderResult<T>,
  kind: ProviderErrorKind,
  retryable: boolean,
  what: string,
): void {
  if (result.ok) assert.fail(`${what}: expected ${kind}, got ok ${JSON.stringify(result.value)}`);
  assert.equal(result.error.kind, kind, `${what}: ${result.error.message}`);
  assert.equal(result.error.retryable, retryable, `${what}: retryable`);
}

/** Reads a feed to its end; answers the cursor from which only new entries will come. */
async function endOfBalanceFeed(port: PaymentsPort): Promise<string | undefined> {
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page += 1) {
    const read = expectOk(await port.listBalanceTransactions({ cursor, limit: 100 }), 'drain feed');
    cursor = read.nextCursor;
    if (!read.hasMore) return cursor;
  }
  throw new Error('balance feed never ended');
}

export function runPaymentsConformance(name: string, setup: () => Promise<PaymentsSuiteSetup>): void {
  describe(`payments port conformance: ${name}`, () => {
    let suite: PaymentsSuiteSetup;
    // Keys unique to this run: implementations may share a database across tests.
    const run = randomBytes(4).toString('hex');
    let n = 0;
    const key = (label: string) => {
      n += 1;
      return `${run}:${label}:${String(n)}`;
    };
    before(async () => {
      suite = await setup();
    });
    after(async () => {
      await suite.close();
    });

    test('an authorization reads back as authorized, in yen with no minor unit, with an expiry ahead', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      const p = expectOk(await h.port.getPayment(id), 'get');
      assert.equal(p.paymentId, id);
      assert.equal(p.status, 'authorized');
      assert.equal(p.currency, 'JPY');
      assert.equal(p.authorizedMinor, 5000);
      assert.equal(p.capturableMinor, 5000);
      assert.equal(p.capturedMinor, 0);
      assert.equal(p.refundedMinor, 0);
      assert.ok(p.chargeId !== undefined);
      assert.ok(p.authorizationExpiresAtMs !== undefined && p.authorizationExpiresAtMs > h.nowMs());
    });

    test('an unknown payment is not_found, and not worth retrying', async () => {
      const h = await suite.make();
      expectError(await h.port.getPayment('pi_does_not_exist'), 'not_found', false, 'get unknown');
    });

    test('void (reason fraudulent) releases the hold; a voided authorization cannot be captured', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      const voided = expectOk(
        await h.port.voidAuthorization({ paymentId: id, reason: 'fraudulent', idempotencyKey: key('void') }),
        'void',
      );
      assert.equal(voided.status, 'voided');
      assert.equal(voided.voidReason, 'fraudulent');
      assert.equal(voided.capturableMinor, 0);
      expectError(
        await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }),
        'conflict',
        false,
        'capture voided',
      );
      const read = expectOk(await h.port.getPayment(id), 'get');
      assert.equal(read.status, 'voided');
      assert.equal(read.capturedMinor, 0);
    });

    test('void with the same key answers the first result again; a new key on a voided payment is a conflict', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(3000));
      const k = key('void');
      const first = expectOk(
        await h.port.voidAuthorization({ paymentId: id, reason: 'fraudulent', idempotencyKey: k }),
        'first',
      );
      const again = expectOk(
        await h.port.voidAuthorization({ paymentId: id, reason: 'fraudulent', idempotencyKey: k }),
        'again',
      );
      assert.deepEqual(again, first);
      expectError(
        await h.port.voidAuthorization({ paymentId: id, reason: 'fraudulent', idempotencyKey: key('void') }),
        'conflict',
        false,
        'second void under a new key',
      );
    });

    test('a key reused with other parameters is a conflict, never a second effect', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      expectOk(await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }), 'capture');
      const k = key('refund');
      expectOk(
        await h.port.refund({ paymentId: id, amount: yen(1000), reason: 'fraudulent', idempotencyKey: k }),
        'refund',
      );
      expectError(
        await h.port.refund({ paymentId: id, amount: yen(2000), reason: 'fraudulent', idempotencyKey: k }),
        'conflict',
        false,
        'same key, other amount',
      );
      const refunds = expectOk(await h.port.listRefunds(id), 'list refunds');
      assert.equal(refunds.length, 1);
      assert.equal(refunds[0]?.amountMinor, 1000);
    });

    test('a command refused before it started (unknown payment) keeps nothing under its key', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      const k = key('void');
      expectError(
        await h.port.voidAuthorization({
          paymentId: 'pi_does_not_exist',
          reason: 'fraudulent',
          idempotencyKey: k,
        }),
        'not_found',
        false,
        'void an unknown payment',
      );
      const voided = expectOk(
        await h.port.voidAuthorization({ paymentId: id, reason: 'fraudulent', idempotencyKey: k }),
        'void',
      );
      assert.equal(voided.status, 'voided');
    });

    test('full capture; capture again or void after capture is a conflict', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      const captured = expectOk(
        await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }),
        'capture',
      );
      assert.equal(captured.status, 'captured');
      assert.equal(captured.capturedMinor, 5000);
      assert.equal(captured.capturableMinor, 0);
      expectError(
        await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }),
        'conflict',
        false,
        'capture twice',
      );
      expectError(
        await h.port.voidAuthorization({ paymentId: id, reason: 'fraudulent', idempotencyKey: key('void') }),
        'conflict',
        false,
        'void after capture',
      );
    });

    test('partial capture releases the rest; refunds are bounded by what was captured', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      const captured = expectOk(
        await h.port.capture({ paymentId: id, amount: yen(3000), idempotencyKey: key('capture') }),
        'partial capture',
      );
      assert.equal(captured.capturedMinor, 3000);
      assert.equal(captured.capturableMinor, 0);
      expectError(
        await h.port.refund({
          paymentId: id,
          amount: yen(3001),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'conflict',
        false,
        'refund above captured',
      );
      const refund = expectOk(
        await h.port.refund({
          paymentId: id,
          amount: yen(1000),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'refund',
      );
      assert.equal(refund.paymentId, id);
      assert.equal(refund.amountMinor, 1000);
      assert.equal(refund.currency, 'JPY');
      assert.equal(refund.reason, 'fraudulent');
      assert.equal(refund.status, 'succeeded');
      const rest = expectOk(
        await h.port.refund({
          paymentId: id,
          amount: yen(2000),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'refund the rest',
      );
      assert.equal(rest.status, 'succeeded');
      const p = expectOk(await h.port.getPayment(id), 'get');
      assert.equal(p.refundedMinor, 3000);
      assert.equal(p.capturedMinor, 3000);
      expectError(
        await h.port.refund({
          paymentId: id,
          amount: yen(1),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'conflict',
        false,
        'refund a fully refunded payment',
      );
    });

    test('over-capture is refused and changes nothing', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      expectError(
        await h.port.capture({ paymentId: id, amount: yen(5001), idempotencyKey: key('capture') }),
        'conflict',
        false,
        'over-capture',
      );
      const p = expectOk(await h.port.getPayment(id), 'get');
      assert.equal(p.status, 'authorized');
      assert.equal(p.capturableMinor, 5000);
    });

    test('an uncaptured authorization cannot be refunded (void it instead)', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      expectError(
        await h.port.refund({
          paymentId: id,
          amount: yen(5000),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'conflict',
        false,
        'refund before capture',
      );
    });

    test('an amount in another currency is declined before anything moves', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      expectOk(await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }), 'capture');
      expectError(
        await h.port.refund({
          paymentId: id,
          amount: { value: 5000, currency: 'USD' },
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'declined',
        false,
        'refund in USD',
      );
      assert.equal(expectOk(await h.port.listRefunds(id), 'list').length, 0);
    });

    test('a pending refund is not done until it settles; a failed one gives the money back to the balance', async () => {
      const h = await suite.make();
      const settles = await h.authorize(yen(4000), { refunds: 'settle_later' });
      const fails = await h.authorize(yen(4000), { refunds: 'fail_later' });
      for (const id of [settles, fails])
        expectOk(await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }), 'capture');
      const cursor = await endOfBalanceFeed(h.port);
      const a = expectOk(
        await h.port.refund({
          paymentId: settles,
          amount: yen(4000),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'refund a',
      );
      const b = expectOk(
        await h.port.refund({
          paymentId: fails,
          amount: yen(4000),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'refund b',
      );
      assert.equal(a.status, 'pending');
      assert.equal(b.status, 'pending');
      const pending = expectOk(await h.port.getPayment(settles), 'get pending');
      assert.equal(pending.refundedMinor, 0);
      assert.equal(pending.refundPendingMinor, 4000);
      await h.settlePendingRefunds();
      const [settled] = expectOk(await h.port.listRefunds(settles), 'list a');
      assert.equal(settled?.status, 'succeeded');
      const [failed] = expectOk(await h.port.listRefunds(fails), 'list b');
      assert.equal(failed?.status, 'failed');
      assert.ok(failed.failureReason !== undefined);
      assert.equal(expectOk(await h.port.getPayment(settles), 'get a').refundedMinor, 4000);
      const afterFail = expectOk(await h.port.getPayment(fails), 'get b');
      assert.equal(afterFail.refundedMinor, 0);
      assert.equal(afterFail.refundPendingMinor, 0);
      const feed = expectOk(await h.port.listBalanceTransactions({ cursor, limit: 100 }), 'feed');
      const mine = feed.items.filter((t) => t.paymentId === fails);
      assert.deepEqual(
        mine.map((t) => [t.reportingCategory, t.amountMinor]),
        [
          ['refund', -4000],
          ['refund_failure', 4000],
        ],
      );
    });

    test('an expired authorization cannot be captured', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      await h.expireAuthorization(id);
      const p = expectOk(await h.port.getPayment(id), 'get');
      assert.equal(p.status, 'expired');
      assert.equal(p.capturableMinor, 0);
      assert.equal(p.authorizationExpiresAtMs, undefined);
      expectError(
        await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }),
        'conflict',
        false,
        'capture expired',
      );
      expectError(
        await h.port.voidAuthorization({ paymentId: id, reason: 'fraudulent', idempotencyKey: key('void') }),
        'conflict',
        false,
        'void expired',
      );
    });

    test('the balance feed reads forward from a cursor with reporting categories and payment ids', async () => {
      const h = await suite.make();
      const cursor = await endOfBalanceFeed(h.port);
      const id = await h.authorize(yen(5000));
      expectOk(
        await h.port.capture({ paymentId: id, amount: yen(4000), idempotencyKey: key('capture') }),
        'capture',
      );
      expectOk(
        await h.port.refund({
          paymentId: id,
          amount: yen(1500),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'refund',
      );
      const first = expectOk(await h.port.listBalanceTransactions({ cursor, limit: 1 }), 'page 1');
      assert.equal(first.items.length, 1);
      assert.equal(first.hasMore, true);
      const second = expectOk(
        await h.port.listBalanceTransactions({ cursor: first.nextCursor, limit: 10 }),
        'page 2',
      );
      const all = [...first.items, ...second.items];
      assert.deepEqual(
        all.map((t) => [t.reportingCategory, t.amountMinor, t.currency, t.paymentId]),
        [
          ['charge', 4000, 'JPY', id],
          ['refund', -1500, 'JPY', id],
        ],
      );
      for (const t of all) assert.equal(t.netMinor, t.amountMinor - t.feeMinor);
      const charge = all[0];
      assert.ok(charge !== undefined && charge.availableOnMs >= charge.createdAtMs);
      const nothing = expectOk(
        await h.port.listBalanceTransactions({ cursor: second.nextCursor, limit: 10 }),
        'page 3',
      );
      assert.equal(nothing.items.length, 0);
      assert.equal(nothing.hasMore, false);
      assert.equal(nothing.nextCursor, second.nextCursor);
    });

    test('disputes and early fraud warnings are listed per payment; a chargeback blocks refunds', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      expectOk(await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }), 'capture');
      await h.raiseWarning(id, 'unauthorized_use_of_card');
      const warnings = expectOk(
        await h.port.listEarlyFraudWarnings({ paymentId: id, limit: 10 }),
        'warnings',
      );
      assert.equal(warnings.items.length, 1);
      const [warning] = warnings.items;
      assert.ok(warning !== undefined);
      assert.equal(warning.fraudType, 'unauthorized_use_of_card');
      assert.equal(warning.paymentId, id);
      assert.equal(warning.actionable, true);
      await h.openDispute(id, 'chargeback');
      const disputes = expectOk(await h.port.listDisputes({ paymentId: id, limit: 10 }), 'disputes');
      assert.equal(disputes.items.length, 1);
      const d = disputes.items[0];
      assert.equal(d?.reason, 'fraudulent');
      assert.equal(d.stage, 'chargeback');
      assert.equal(d.status, 'needs_response');
      assert.equal(d.networkReasonCode, '10.4');
      assert.equal(d.amountMinor, 5000);
      assert.equal(d.paymentId, id);
      assert.equal(d.chargeRefundable, false);
      assert.ok(d.evidenceDueByMs !== undefined && d.evidenceDueByMs > h.nowMs());
      assert.equal(expectOk(await h.port.getPayment(id), 'get').disputed, true);
      expectError(
        await h.port.refund({
          paymentId: id,
          amount: yen(5000),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'conflict',
        false,
        'refund a charged-back payment',
      );
    });

    test('an inquiry is a dispute the charge can still be refunded against', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      expectOk(await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }), 'capture');
      await h.openDispute(id, 'inquiry');
      const [d] = expectOk(await h.port.listDisputes({ paymentId: id, limit: 10 }), 'disputes').items;
      assert.equal(d?.stage, 'inquiry');
      assert.equal(d.status, 'warning_needs_response');
      assert.equal(d.chargeRefundable, true);
      const refund = expectOk(
        await h.port.refund({
          paymentId: id,
          amount: yen(5000),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'refund during an inquiry',
      );
      assert.equal(refund.amountMinor, 5000);
    });

    test('fault: a refund that timed out after the effect is finished by a retry under the same key, once', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      expectOk(await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }), 'capture');
      const k = key('refund');
      const command = { paymentId: id, amount: yen(2000), reason: 'fraudulent' as const, idempotencyKey: k };
      h.injectFault({ kind: 'timeout', when: 'after_effect' }, 'refund');
      expectError(await h.port.refund(command), 'timeout', true, 'refund with a lost answer');
      const retried = expectOk(await h.port.refund(command), 'retry');
      const refunds = expectOk(await h.port.listRefunds(id), 'list');
      assert.equal(refunds.length, 1, 'exactly one refund for one key');
      assert.equal(refunds[0]?.refundId, retried.refundId);
      assert.equal(expectOk(await h.port.getPayment(id), 'get').refundedMinor, 2000);
    });

    test('fault: a capture that timed out before the effect did nothing; the retry captures once', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      const cursor = await endOfBalanceFeed(h.port);
      const command = { paymentId: id, idempotencyKey: key('capture') };
      h.injectFault({ kind: 'timeout', when: 'before_effect' }, 'capture');
      expectError(await h.port.capture(command), 'timeout', true, 'capture lost on the way');
      assert.equal(expectOk(await h.port.getPayment(id), 'get').status, 'authorized');
      expectOk(await h.port.capture(command), 'retry');
      expectOk(await h.port.capture(command), 'retry again');
      const feed = expectOk(await h.port.listBalanceTransactions({ cursor, limit: 100 }), 'feed');
      assert.equal(
        feed.items.filter((t) => t.paymentId === id && t.reportingCategory === 'charge').length,
        1,
      );
    });

    test('fault: rate limits and 5xx are retryable and leave no effect', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      const command = { paymentId: id, reason: 'fraudulent' as const, idempotencyKey: key('void') };
      h.injectFault({ kind: 'rate_limited' }, 'voidAuthorization');
      expectError(await h.port.voidAuthorization(command), 'rate_limited', true, 'rate limited');
      h.injectFault({ kind: 'unavailable' }, 'voidAuthorization');
      expectError(await h.port.voidAuthorization(command), 'unavailable', true, '5xx');
      h.injectFault({ kind: 'unavailable' }, 'getPayment');
      expectError(await h.port.getPayment(id), 'unavailable', true, 'read 5xx');
      assert.equal(expectOk(await h.port.getPayment(id), 'get').status, 'authorized');
      assert.equal(expectOk(await h.port.voidAuthorization(command), 'void').status, 'voided');
    });

    test('webhooks: a signed delivery verifies and names the refund; tampering, age and absence are rejected', async () => {
      const h = await suite.make();
      const id = await h.authorize(yen(5000));
      expectOk(await h.port.capture({ paymentId: id, idempotencyKey: key('capture') }), 'capture');
      const refund = expectOk(
        await h.port.refund({
          paymentId: id,
          amount: yen(5000),
          reason: 'fraudulent',
          idempotencyKey: key('refund'),
        }),
        'refund',
      );
      const delivery = await h.refundWebhook(refund.refundId);
      const verified = h.port.verifyWebhook(delivery.rawBody, delivery.header, delivery.sentAtMs + 1000);
      assert.ok(verified.ok, verified.ok ? '' : verified.message);
      assert.equal(verified.event.type, 'refund.updated');
      assert.equal(verified.event.refund.refundId, refund.refundId);
      assert.equal(verified.event.refund.paymentId, id);
      assert.equal(verified.event.refund.amountMinor, 5000);
      const tampered = delivery.rawBody.replace('5000', '50');
      assert.notEqual(tampered, delivery.rawBody);
      const bad = h.port.verifyWebhook(tampered, delivery.header, delivery.sentAtMs);
      assert.equal(bad.ok ? 'ok' : bad.rejection, 'bad_signature');
      const old = h.port.verifyWebhook(delivery.rawBody, delivery.header, delivery.sentAtMs + 301_000);
      assert.equal(old.ok ? 'ok' : old.rejection, 'timestamp_outside_tolerance');
      const none = h.port.verifyWebhook(delivery.rawBody, undefined, delivery.sentAtMs);
      assert.equal(none.ok ? 'ok' : none.rejection, 'missing_signature');
    });
  });
}
