import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import * as machine from '../../src/adapters/sandbox/payments/machine.ts';
import { classifyOrder, type RecordedOrder } from '../../src/reconcile/domain/classify.ts';
import {
  applyEntry,
  emptyLedger,
  entryOfBalanceTransaction,
  ledgerHolds,
  type LedgerEntry,
} from '../../src/reconcile/domain/ledger.ts';
import { decideDispute, decideWarning } from '../../src/reconcile/domain/policy.ts';
import { buildIncidentReport } from '../../src/reconcile/domain/incident-report.ts';

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const params = { numRuns: 300, ...(seed === undefined ? {} : { seed }) };

type Op =
  | { kind: 'capture'; share: number }
  | { kind: 'void' }
  | { kind: 'refund'; share: number }
  | { kind: 'wait'; days: number }
  | { kind: 'dispute'; stage: 'inquiry' | 'chargeback' }
  | { kind: 'resolve'; outcome: 'won' | 'lost' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('capture' as const), share: fc.double({ min: 0.1, max: 1, noNaN: true }) }),
  fc.constant({ kind: 'void' as const }),
  fc.record({ kind: fc.constant('refund' as const), share: fc.double({ min: 0.05, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('wait' as const), days: fc.integer({ min: 0, max: 12 }) }),
  fc.record({
    kind: fc.constantFrom('dispute' as const),
    stage: fc.constantFrom('inquiry' as const, 'chargeback' as const),
  }),
  fc.record({
    kind: fc.constant('resolve' as const),
    outcome: fc.constantFrom('won' as const, 'lost' as const),
  }),
);

/** Runs provider operations through the sandbox's own pure machine; answers the payment and its ledger. */
function simulate(amount: number, scenario: machine.CardScenario, ops: readonly Op[], decisionAfter: number) {
  let now = Date.parse('2026-01-01T00:00:00Z');
  let n = 0;
  const ctx = () => ({
    nowMs: now,
    settings: machine.defaultSandboxPaymentSettings,
    newId: (p: string, b: string) => `${p}_${b}`,
  });
  const auth = machine.authorize(
    { paymentId: 'pi_1', chargeId: 'ch_1', amount: { value: amount, currency: 'JPY' }, card: { scenario } },
    ctx(),
  );
  assert.ok(auth.ok);
  let p = auth.payment;
  const ledger: machine.LedgerEntry[] = [...auth.effects.ledger];
  let decidedAtMs = now;
  ops.forEach((op, index) => {
    now += 60_000;
    if (index === decisionAfter) decidedAtMs = now;
    const due = machine.runDue(p, ctx());
    p = due.payment;
    ledger.push(...due.effects.ledger);
    let t: machine.Transition<unknown> | undefined;
    switch (op.kind) {
      case 'capture':
        t = machine.capture(
          p,
          { value: Math.max(1, Math.floor(p.authorizedMinor * op.share)), currency: 'JPY' },
          undefined,
          ctx(),
        );
        break;
      case 'void':
        t = machine.voidAuthorization(p, 'fraudulent', undefined, ctx());
        break;
      case 'refund':
        n += 1;
        t = machine.refund(
          p,
          { value: Math.max(1, Math.floor(p.capturedMinor * op.share)), currency: 'JPY' },
          'fraudulent',
          undefined,
          `re_${String(n)}`,
          ctx(),
        );
        break;
      case 'wait':
        now += op.days * 86_400_000;
        break;
      case 'dispute':
        n += 1;
        t = machine.openDispute(p, { disputeId: `dp_${String(n)}`, stage: op.stage }, ctx());
        break;
      case 'resolve': {
        const open = p.disputes.find(
          (d) => d.status !== 'won' && d.status !== 'lost' && d.status !== 'warning_closed',
        );
        if (open !== undefined) t = machine.resolveDispute(p, open.disputeId, op.outcome, ctx());
        break;
      }
    }
    if (t?.ok === true) {
      p = t.payment;
      ledger.push(...t.effects.ledger);
    }
  });
  const due = machine.runDue(p, ctx());
  p = due.payment;
  ledger.push(...due.effects.ledger);
  return { payment: p, ledger, decidedAtMs, nowMs: now };
}

const paymentArb = fc.record({
  amount: fc.integer({ min: 1, max: 200_000 }),
  scenario: fc.constantFrom<machine.CardScenario>('ok', 'refunds_settle_later', 'refunds_fail_later'),
  ops: fc.array(opArb, { maxLength: 10 }),
  decisionAfter: fc.integer({ min: 0, max: 10 }),
});

describe('reconciliation domain', () => {
  test('property: any sequence of provider operations keeps S1 in the ledger, and the ledger equals the provider totals', () => {
    fc.assert(
      fc.property(paymentArb, ({ amount, scenario, ops, decisionAfter }) => {
        const { payment, ledger } = simulate(amount, scenario, ops, decisionAfter);
        const view = machine.viewPayment(payment);
        let l = emptyLedger(payment.paymentId, 'JPY');
        const auth: LedgerEntry = {
          atMs: 0,
          kind: 'authorization',
          amountMinor: view.authorizedMinor,
          reference: payment.paymentId,
        };
        const first = applyEntry(l, auth, 'JPY');
        assert.ok(first.ok);
        l = first.value;
        for (const raw of ledger) {
          const entry = entryOfBalanceTransaction(raw);
          if (entry === undefined) continue;
          const next = applyEntry(l, entry, 'JPY');
          assert.ok(
            next.ok,
            `${entry.kind} ${String(entry.amountMinor)} broke S1: ${next.ok ? '' : next.error.message}`,
          );
          l = next.value;
          assert.ok(ledgerHolds(l));
        }
        assert.equal(l.capturedMinor, view.capturedMinor);
        assert.equal(l.refundedMinor, view.refundedMinor + view.refundPendingMinor);
        const chargedBack = payment.disputes
          .filter((d) => d.stage === 'chargeback' && d.status !== 'won' && d.amountMinor > 0)
          .reduce((s, d) => s + d.amountMinor, 0);
        assert.equal(l.disputedMinor, chargedBack);
      }),
      params,
    );
  });

  test('property: applyEntry refuses exactly the entries a naive model says break S1', () => {
    const entryArb = fc.record({
      kind: fc.constantFrom<LedgerEntry['kind']>(
        'authorization',
        'capture',
        'refund',
        'refund_failure',
        'dispute',
        'dispute_reversal',
      ),
      amountMinor: fc.integer({ min: 0, max: 10_000 }),
    });
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 30 }), (entries) => {
        let l = emptyLedger('pi_x', 'JPY');
        let naive = { a: 0, c: 0, r: 0, d: 0 };
        entries.forEach((e, i) => {
          const next = { ...naive };
          if (e.kind === 'authorization') next.a = Math.max(next.a, e.amountMinor);
          if (e.kind === 'capture') {
            next.c += e.amountMinor;
            if (naive.a === 0) next.a = next.c;
          }
          if (e.kind === 'refund') next.r += e.amountMinor;
          if (e.kind === 'refund_failure') next.r -= e.amountMinor;
          if (e.kind === 'dispute') next.d += e.amountMinor;
          if (e.kind === 'dispute_reversal') next.d -= e.amountMinor;
          const holds = next.r >= 0 && next.d >= 0 && next.r <= next.c && next.c <= next.a;
          const applied = applyEntry(l, { ...e, atMs: i, reference: `x${String(i)}` }, 'JPY');
          assert.equal(applied.ok, holds, JSON.stringify({ naive, e }));
          if (applied.ok) {
            l = applied.value;
            naive = next;
          }
        });
      }),
      params,
    );
  });

  test('property: the classifier agrees with a naive model of the four money classes', () => {
    fc.assert(
      fc.property(
        paymentArb,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        ({ amount, scenario, ops, decisionAfter }, claimRefund, claimRealIds, forgeId) => {
          const { payment, ledger, decidedAtMs } = simulate(amount, scenario, ops, decisionAfter);
          const view = machine.viewPayment(payment);
          const refunds = payment.refunds.map((r) => machine.viewRefund(payment, r));
          const disputes = payment.disputes.map((d) => machine.viewDispute(payment, d));
          const capture = ledger.find((e) => e.reportingCategory === 'charge');
          const claimed = [
            ...(claimRealIds ? refunds.map((r) => r.refundId) : []),
            ...(forgeId ? ['re_forged'] : []),
          ];
          const recorded: RecordedOrder = {
            caseId: 'case-1',
            accountId: 'acct-1',
            decidedAtMs,
            orderId: 'o-1',
            placedAtMs: 0,
            amountMinor: amount,
            currency: 'JPY',
            paymentId: payment.paymentId,
            paymentStep: 'void-authorization',
            shipmentStep: undefined,
            recordedRefundIds: claimed,
            recordedRefund: claimRefund,
            confirmedMinor: undefined,
            confirmedOutcome: undefined,
            otherKnownRefundIds: [],
          };
          const found = new Set(
            classifyOrder(recorded, {
              payment: view,
              refunds,
              disputes,
              capturedAtMs: capture?.createdAtMs,
              shipments: [],
            }).map((f) => f.class),
          );
          // The naive model, written out directly.
          const chargedBack = disputes
            .filter((d) => d.stage === 'chargeback' && d.status !== 'won')
            .reduce((s, d) => s + d.amountMinor, 0);
          const kept = Math.max(
            0,
            view.capturedMinor - view.refundedMinor - view.refundPendingMinor - chargedBack,
          );
          const atProvider = new Map(refunds.map((r) => [r.refundId, r.status]));
          const expect = {
            cancelled_but_capturable: view.status === 'authorized',
            captured_after_decision:
              view.status === 'captured' &&
              capture !== undefined &&
              capture.createdAtMs > decidedAtMs &&
              kept > 0,
            refund_not_at_provider:
              claimRefund &&
              kept > 0 &&
              claimed.some((id) => !atProvider.has(id) || atProvider.get(id) === 'failed'),
            provider_refund_unknown: refunds.some(
              (r) => r.status !== 'failed' && !claimed.includes(r.refundId),
            ),
          };
          for (const [cls, want] of Object.entries(expect))
            assert.equal(found.has(cls as never), want, `${cls}: ${JSON.stringify({ view, claimed })}`);
        },
      ),
      params,
    );
  });

  test('early fraud warnings: refund when cancelled, unshipped or in containment; keep a shipped order; never on a disputed charge', () => {
    const warning = {
      warningId: 'w',
      paymentId: 'pi',
      chargeId: 'ch',
      fraudType: 'made_with_stolen_card',
      actionable: true,
      createdAtMs: 0,
    };
    const payment = {
      paymentId: 'pi',
      chargeId: 'ch',
      status: 'captured' as const,
      currency: 'JPY',
      authorizedMinor: 5000,
      capturableMinor: 0,
      capturedMinor: 5000,
      refundedMinor: 0,
      refundPendingMinor: 0,
      disputed: false,
      authorizationExpiresAtMs: undefined,
      voidReason: undefined,
      createdAtMs: 0,
    };
    const base = { warning, payment, orderCancelled: false, unshipped: false, accountInContainment: false };
    assert.equal(decideWarning(base).action, 'keep');
    assert.deepEqual(decideWarning({ ...base, unshipped: true }), { action: 'refund', reason: 'unshipped' });
    assert.deepEqual(decideWarning({ ...base, orderCancelled: true }), {
      action: 'refund',
      reason: 'order_cancelled',
    });
    assert.deepEqual(decideWarning({ ...base, accountInContainment: true }), {
      action: 'refund',
      reason: 'account_in_containment',
    });
    assert.equal(
      decideWarning({ ...base, unshipped: true, payment: { ...payment, disputed: true } }).action,
      'none',
    );
    assert.equal(
      decideWarning({
        ...base,
        unshipped: true,
        payment: { ...payment, status: 'authorized', capturedMinor: 0 },
      }).action,
      'void',
    );
    assert.equal(
      decideWarning({ ...base, unshipped: true, warning: { ...warning, actionable: false } }).action,
      'none',
    );
  });

  test('disputes: accept fraud in containment, evidence when refunded, otherwise link', () => {
    const dispute = {
      disputeId: 'dp',
      paymentId: 'pi',
      chargeId: 'ch',
      amountMinor: 5000,
      currency: 'JPY',
      reason: 'fraudulent',
      networkReasonCode: '10.4',
      stage: 'chargeback' as const,
      status: 'needs_response' as const,
      chargeRefundable: false,
      evidenceDueByMs: undefined,
      createdAtMs: 0,
    };
    assert.equal(decideDispute({ dispute, accountInContainment: true, refundedMinor: 0 }).action, 'accept');
    assert.equal(
      decideDispute({ dispute, accountInContainment: true, refundedMinor: 5000 }).action,
      'evidence',
    );
    assert.equal(decideDispute({ dispute, accountInContainment: false, refundedMinor: 0 }).action, 'link');
    assert.equal(
      decideDispute({
        dispute: { ...dispute, reason: 'product_not_received', networkReasonCode: '13.1' },
        accountInContainment: true,
        refundedMinor: 0,
      }).action,
      'link',
    );
  });

  test('the report advises a dispute exactly when a charge remains', () => {
    const order = {
      orderId: 'o',
      placedAtMs: 0,
      amountMinor: 5000,
      currency: 'JPY',
      paymentId: 'pi',
      refunds: [],
      disputes: [],
      transactions: [],
      shipments: [],
      codes: { deactivated: 0, redeemed: 0 },
    };
    const payment = {
      paymentId: 'pi',
      chargeId: 'ch',
      status: 'captured' as const,
      currency: 'JPY',
      authorizedMinor: 5000,
      capturableMinor: 0,
      capturedMinor: 5000,
      refundedMinor: 5000,
      refundPendingMinor: 0,
      disputed: false,
      authorizationExpiresAtMs: undefined,
      voidReason: undefined,
      createdAtMs: 0,
    };
    const build = (p: typeof payment) =>
      buildIncidentReport({
        accountId: 'a',
        caseId: 'c',
        storeName: 's',
        provider: 'sandbox',
        decidedAtMs: 0,
        generatedAtMs: 1,
        orders: [{ ...order, payment: p }],
      });
    assert.equal(build(payment).disputeAdvised, false);
    assert.equal(build(payment).orders[0]?.payment, 'refunded');
    const kept = build({ ...payment, refundedMinor: 0 });
    assert.equal(kept.disputeAdvised, true);
    assert.equal(kept.orders[0]?.remainingMinor, 5000);
    assert.equal(kept.totals.remainingMinor, 5000);
  });
});

describe('the sandbox provider accepts a dispute as Stripe closes one', () => {
  const ctx = (nowMs: number) => ({
    nowMs,
    settings: machine.defaultSandboxPaymentSettings,
    newId: (p: string, b: string) => `${p}_${b}`,
  });
  const captured = () => {
    const auth = machine.authorize(
      { paymentId: 'pi_a', chargeId: 'ch_a', amount: { value: 5000, currency: 'JPY' } },
      ctx(0),
    );
    assert.ok(auth.ok);
    const cap = machine.capture(auth.payment, undefined, undefined, ctx(1));
    assert.ok(cap.ok);
    return cap.payment;
  };

  test('a chargeback becomes lost, once; an inquiry is refused (a refund answers it)', () => {
    const opened = machine.openDispute(captured(), { disputeId: 'dp_a', stage: 'chargeback' }, ctx(2));
    assert.ok(opened.ok);
    const accepted = machine.acceptDispute(opened.payment, 'dp_a', ctx(3));
    assert.ok(accepted.ok);
    assert.equal(accepted.value.status, 'lost');
    assert.equal(accepted.effects.ledger.length, 0, 'the money was already withdrawn at the chargeback');
    const again = machine.acceptDispute(accepted.payment, 'dp_a', ctx(4));
    assert.ok(again.ok);
    assert.equal(again.effects.events.length, 0, 'accepting twice has no second effect');
    const inquiry = machine.openDispute(captured(), { disputeId: 'dp_b', stage: 'inquiry' }, ctx(2));
    assert.ok(inquiry.ok);
    const refused = machine.acceptDispute(inquiry.payment, 'dp_b', ctx(3));
    assert.ok(!refused.ok);
    assert.equal(refused.refusal.code, 'dispute_is_inquiry');
    assert.equal(machine.acceptDispute(inquiry.payment, 'dp_missing', ctx(3)).ok, false);
  });

  test('an issuer may dispute a refunded charge (despiteRefund); by default it may not', () => {
    const refunded = machine.refund(
      captured(),
      { value: 5000, currency: 'JPY' },
      'fraudulent',
      undefined,
      're_a',
      ctx(2),
    );
    assert.ok(refunded.ok);
    assert.equal(machine.openDispute(refunded.payment, { disputeId: 'dp_c' }, ctx(3)).ok, false);
    const despite = machine.openDispute(refunded.payment, { disputeId: 'dp_d', despiteRefund: true }, ctx(3));
    assert.ok(despite.ok);
    assert.equal(despite.value.amountMinor, 5000);
  });
});
