import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { clockDelay } from '../../src/adapters/sandbox/faults.ts';
import {
  defaultSandboxPaymentSettings,
  type CardScenario,
  type SandboxPayment,
} from '../../src/adapters/sandbox/payments/machine.ts';
import {
  sandboxPayments,
  type SandboxPayments,
} from '../../src/adapters/sandbox/payments/sandbox-payments.ts';
import type { ProviderResult } from '../../src/connectors/domain/provider-result.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { derivedIds } from '../../src/core/ids.ts';
import { dayMs, hourMs } from '../../src/core/time.ts';
import { backends } from '../helpers/backends.ts';
import { propertyParams, propertySeed } from '../helpers/fast-check.ts';
import { freshSandboxDatabase, type SandboxDatabase } from './payments-db.ts';

/**
 * Random command sequences against the sandbox payment provider with faults injected (timeouts
 * before and after the effect, 5xx, rate limits, latency on the clock), retried the way a
 * containment step would: same key, until a final answer. After every step, the provider's own
 * state must keep its invariants:
 * - refunded (succeeded + pending) ≤ captured ≤ authorized, for every payment;
 * - a voided or expired authorization is never captured, and stays so;
 * - one effect per idempotency key (captures, voids and refunds counted across all payments);
 * - an answer the caller saw as ok is the provider's truth (the refund with that id exists);
 * - the ledger of each payment adds up: charged − refunds + refund failures − chargebacks lost.
 * Reproduce a failure with FC_SEED=<seed> (printed with it).
 */

type KeyChoice = 'new' | 'reuse' | 'reuse_other';

type Op =
  | { kind: 'authorize'; amount: number; scenario: CardScenario; initiator: 'customer' | 'merchant' }
  | { kind: 'capture'; target: number; percent: number | null; key: KeyChoice }
  | { kind: 'void'; target: number; key: KeyChoice }
  | { kind: 'refund'; target: number; percent: number; key: KeyChoice }
  | { kind: 'advance'; ms: number }
  | { kind: 'dispute'; target: number; stage: 'inquiry' | 'chargeback' }
  | { kind: 'resolve'; target: number; outcome: 'won' | 'lost' }
  | { kind: 'read'; target: number };

const target = fc.nat({ max: 7 });
const keyChoice = fc.constantFrom<KeyChoice>('new', 'new', 'reuse', 'reuse_other');
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('authorize' as const),
      amount: fc.integer({ min: 1, max: 200_000 }),
      scenario: fc.constantFrom<CardScenario>(
        'ok',
        'ok',
        'refunds_settle_later',
        'refunds_fail_later',
        'declined',
      ),
      initiator: fc.constantFrom<'customer' | 'merchant'>('customer', 'merchant'),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('capture' as const),
      target,
      percent: fc.option(fc.integer({ min: 1, max: 110 })),
      key: keyChoice,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('void' as const), target, key: keyChoice }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      target,
      percent: fc.integer({ min: 1, max: 110 }),
      key: keyChoice,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      // Mostly minutes to hours; sometimes days, so holds expire and refunds settle.
      ms: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 6 * hourMs }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 * dayMs }) },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('dispute' as const),
      target,
      stage: fc.constantFrom<'inquiry' | 'chargeback'>('inquiry', 'chargeback'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('resolve' as const),
      target,
      outcome: fc.constantFrom<'won' | 'lost'>('won', 'lost'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('read' as const), target }) },
);

const faultRates = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  timeoutBeforeEffectRate: fc.constantFrom(0, 0.1, 0.2),
  timeoutAfterEffectRate: fc.constantFrom(0, 0.15, 0.3),
  unavailableRate: fc.constantFrom(0, 0.1),
  rateLimitedRate: fc.constantFrom(0, 0.1),
  latencyMaxMs: fc.constantFrom(0, 2000, hourMs),
});

/** A containment step's loop: the same key until the provider gives a final answer (bounded). */
const retriesMax = 12;
async function untilFinal<T>(
  command: string,
  tally: (what: string) => void,
  call: () => Promise<ProviderResult<T>>,
): Promise<ProviderResult<T>> {
  let result = await call();
  let retried = false;
  for (let i = 0; i < retriesMax && !result.ok && result.error.retryable; i += 1) {
    retried = true;
    result = await call();
  }
  tally(`${command} ${result.ok ? 'ok' : result.error.kind}${retried ? ' after retry' : ''}`);
  return result;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

for (const backend of backends()) {
  describe(`sandbox payments under faults, property (${backend})`, () => {
    let database: SandboxDatabase;
    before(async () => {
      database = await freshSandboxDatabase(backend);
    });
    after(async () => {
      await database.close();
    });

    test('random command sequences keep refunded ≤ captured ≤ authorized, void/expiry final, one effect per key', async (context) => {
      context.diagnostic(`FC_SEED=${String(propertySeed)}`);
      // What the runs reached, so a generator that stops reaching the hard cases is noticed.
      const reached = new Map<string, number>();
      const tally = (what: string) => reached.set(what, (reached.get(what) ?? 0) + 1);
      await fc.assert(
        fc.asyncProperty(
          faultRates,
          fc.array(op, { minLength: 8, maxLength: 40, size: 'max' }),
          async (faults, ops) => {
            // Each run is a tenant of the shared database: its own keys, hence its own payment ids.
            const run = randomBytes(6).toString('hex');
            const clock = new ManualClock(Date.parse('2026-11-25T09:00:00Z'));
            const sandbox: SandboxPayments = sandboxPayments({
              db: database.db,
              clock,
              webhookSecret: 'whsec_property',
              ids: derivedIds(),
              delay: clockDelay(clock),
              faults: { ...faults, latencyMinMs: 0 },
              onFault: (record) => {
                tally(
                  record.fault.kind === 'timeout'
                    ? `fault ${record.fault.kind} ${record.fault.when}`
                    : `fault ${record.fault.kind}`,
                );
              },
            });
            const payments: string[] = [];
            const lastKey = new Map<string, string>();
            let anyKey: string | undefined;
            let keyCount = 0;
            const keyFor = (paymentId: string, command: string, choice: KeyChoice): string => {
              const own = lastKey.get(`${command}:${paymentId}`);
              let key: string;
              if (choice === 'reuse' && own !== undefined) key = own;
              else if (choice === 'reuse_other' && anyKey !== undefined) key = anyKey;
              else key = `${run}:${command}:${String((keyCount += 1))}`;
              lastKey.set(`${command}:${paymentId}`, key);
              anyKey = key;
              return key;
            };
            /** Payments whose authorization was seen voided or expired: captures must fail from then on. */
            const closed = new Set<string>();
            /** Refund answers the caller saw as ok, by refund id. */
            const confirmedRefunds = new Map<string, { paymentId: string; amount: number }>();
            const pick = (t: number) => (payments.length === 0 ? undefined : payments[t % payments.length]);
            const truth = async (id: string): Promise<SandboxPayment> => {
              const p = await sandbox.inspect(id);
              assert.ok(p !== undefined, `payment ${id} exists`);
              return p;
            };

            for (const step of ops) {
              switch (step.kind) {
                case 'authorize': {
                  const result = await sandbox.authorize({
                    idempotencyKey: `${run}:authorize:${String((keyCount += 1))}`,
                    amount: { value: step.amount, currency: 'JPY' },
                    initiator: step.initiator,
                    card: { scenario: step.scenario },
                  });
                  if (result.ok) payments.push(result.value.paymentId);
                  else assert.equal(step.scenario, 'declined');
                  break;
                }
                case 'capture': {
                  const id = pick(step.target);
                  if (id === undefined) break;
                  const before = await truth(id);
                  const amount =
                    step.percent === null
                      ? undefined
                      : {
                          value: Math.ceil((before.authorizedMinor * step.percent) / 100) || 1,
                          currency: 'JPY',
                        };
                  const wasClosed = closed.has(id);
                  const key = keyFor(id, 'capture', step.key);
                  const result = await untilFinal('capture', tally, () =>
                    sandbox.capture({ paymentId: id, amount, idempotencyKey: key }),
                  );
                  if (wasClosed) {
                    assert.ok(!result.ok, 'a voided or expired authorization is never captured');
                    tally('capture refused after void or expiry');
                  }
                  if (result.ok) {
                    const now = await truth(id);
                    assert.equal(now.status, 'captured');
                    assert.equal(now.captureKey, key, 'the ok answer is the capture made under this key');
                  }
                  break;
                }
                case 'void': {
                  const id = pick(step.target);
                  if (id === undefined) break;
                  const key = keyFor(id, 'void', step.key);
                  const result = await untilFinal('void', tally, () =>
                    sandbox.voidAuthorization({ paymentId: id, reason: 'fraudulent', idempotencyKey: key }),
                  );
                  if (result.ok) assert.equal((await truth(id)).voidKey, key);
                  break;
                }
                case 'refund': {
                  const id = pick(step.target);
                  if (id === undefined) break;
                  const before = await truth(id);
                  const value = Math.max(1, Math.ceil((before.capturedMinor * step.percent) / 100));
                  const key = keyFor(id, 'refund', step.key);
                  const result = await untilFinal('refund', tally, () =>
                    sandbox.refund({
                      paymentId: id,
                      amount: { value, currency: 'JPY' },
                      reason: 'fraudulent',
                      idempotencyKey: key,
                    }),
                  );
                  if (result.ok)
                    confirmedRefunds.set(result.value.refundId, {
                      paymentId: id,
                      amount: result.value.amountMinor,
                    });
                  break;
                }
                case 'advance':
                  clock.advance(step.ms);
                  break;
                case 'dispute': {
                  const id = pick(step.target);
                  if (id !== undefined) await sandbox.openDispute({ paymentId: id, stage: step.stage });
                  break;
                }
                case 'resolve': {
                  const id = pick(step.target);
                  if (id === undefined) break;
                  const open = (await truth(id)).disputes.find(
                    (d) => !['won', 'lost', 'warning_closed'].includes(d.status),
                  );
                  if (open !== undefined) await sandbox.resolveDispute(open.disputeId, step.outcome);
                  break;
                }
                case 'read': {
                  const id = pick(step.target);
                  if (id === undefined) break;
                  const read = await untilFinal('getPayment', tally, () => sandbox.getPayment(id));
                  if (read.ok) assert.equal(read.value.paymentId, id);
                  break;
                }
              }

              // Invariants, on the provider's own state with everything due applied.
              await sandbox.runDue();
              const effectsByKey = new Map<string, number[]>();
              const count = (key: string | undefined, atMs: number | undefined) => {
                if (key !== undefined && atMs !== undefined)
                  effectsByKey.set(key, [...(effectsByKey.get(key) ?? []), atMs]);
              };
              for (const id of payments) {
                const p = await truth(id);
                const refunded = sum(
                  p.refunds.filter((r) => r.status === 'succeeded').map((r) => r.amountMinor),
                );
                const pending = sum(
                  p.refunds.filter((r) => r.status === 'pending').map((r) => r.amountMinor),
                );
                assert.ok(
                  refunded + pending <= p.capturedMinor,
                  `S1 refunded ${String(refunded + pending)} ≤ captured ${String(p.capturedMinor)}`,
                );
                assert.ok(
                  p.capturedMinor <= p.authorizedMinor,
                  `S1 captured ${String(p.capturedMinor)} ≤ authorized ${String(p.authorizedMinor)}`,
                );
                if (closed.has(id)) {
                  assert.ok(p.status === 'voided' || p.status === 'expired', `${id} stays ${p.status}`);
                  assert.equal(p.capturedMinor, 0);
                }
                if (p.status === 'voided' || p.status === 'expired') closed.add(id);
                count(p.captureKey, p.capturedAtMs);
                count(p.voidKey, p.voidedAtMs);
                for (const r of p.refunds) count(r.idempotencyKey, r.createdAtMs);
                const rows = await database.db
                  .selectFrom('sandbox_payment_ledger')
                  .select('entry')
                  .where('payment_id', '=', id)
                  .execute();
                const entries = rows.map(
                  (row) => row.entry as { reportingCategory: string; amountMinor: number },
                );
                assert.ok(
                  entries.filter((e) => e.reportingCategory === 'charge').length <=
                    (p.status === 'captured' ? 1 : 0),
                  'at most one capture',
                );
                const chargedBack = sum(
                  p.disputes
                    .filter((d) => d.stage === 'chargeback' && d.status !== 'won')
                    .map((d) => d.amountMinor),
                );
                assert.equal(
                  sum(entries.map((e) => e.amountMinor)),
                  p.capturedMinor - refunded - pending - chargedBack,
                  'the ledger adds up to what the payment says',
                );
              }
              // A key is honoured for 24 h; only after that may the same key cause another effect.
              for (const [key, times] of effectsByKey) {
                const sorted = [...times].sort((a, b) => a - b);
                for (let i = 1; i < sorted.length; i += 1)
                  assert.ok(
                    (sorted[i] ?? 0) - (sorted[i - 1] ?? 0) >=
                      defaultSandboxPaymentSettings.idempotencyKeyTtlMs,
                    `one effect per key ${key} while it is honoured`,
                  );
              }
              for (const [refundId, seen] of confirmedRefunds) {
                const p = await truth(seen.paymentId);
                const r = p.refunds.find((x) => x.refundId === refundId);
                assert.ok(r !== undefined, `confirmed refund ${refundId} exists`);
                assert.equal(r.amountMinor, seen.amount);
              }
            }
          },
        ),
        propertyParams(Number(process.env.PAYMENTS_PROPERTY_RUNS ?? 40)),
      );
      context.diagnostic(
        [...reached.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([what, times]) => `${what}: ${String(times)}`)
          .join('; '),
      );
      // The hard cases were reached at all (each is common: dozens per run of the suite).
      for (const what of [
        'fault timeout after_effect',
        'refund ok after retry',
        'capture ok after retry',
        'capture refused after void or expiry',
      ])
        assert.ok((reached.get(what) ?? 0) > 0, `the runs never reached "${what}"`);
    });
  });
}
