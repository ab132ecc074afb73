import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  backoffMs,
  claim,
  isDue,
  newStep,
  openStage,
  planRun,
  runStatusOf,
  settle,
  stepPolicies,
  stepsForOrder,
  terminalStepStates,
  type RunRecord,
  type StepName,
  type StepRecord,
  type StepResult,
} from '../../src/containment/domain/model.ts';
import { compileTriggers, defaultPlaybookSelector } from '../../src/containment/domain/triggers.ts';
import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import { propertyParams } from '../helpers/fast-check.ts';
import { hourMs } from '../../src/core/time.ts';

const run: RunRecord = {
  runId: 'run-1',
  caseId: 'case-1',
  accountId: 'a-1',
  playbook: 'ato-lockdown',
  status: 'running',
  sinceMs: undefined,
  decidedAtMs: 0,
  orderId: undefined,
  createdAtMs: 0,
  updatedAtMs: 0,
  finishedAtMs: undefined,
};

const names = Object.keys(stepPolicies) as StepName[];

const result: fc.Arbitrary<StepResult> = fc.oneof(
  fc.constant<StepResult>({ kind: 'done', outcome: {} }),
  fc.record({
    kind: fc.constant('await' as const),
    outcome: fc.constant({}),
    pollAfterMs: fc.integer({ min: 1, max: 3_600_000 }),
  }),
  fc.record({
    kind: fc.constant('retry' as const),
    error: fc.constant('5xx'),
    retryAfterMs: fc.integer({ min: 0, max: 600_000 }),
  }),
  fc.constant<StepResult>({ kind: 'escalate', error: 'refused' }),
);

describe('containment model', () => {
  test('a playbook plans its steps with keys derived from case, step and target', () => {
    const steps = planRun(run, 0);
    assert.deepEqual(
      steps.map((s) => s.name),
      [
        'revoke-sessions',
        'lock-account',
        'force-password-reset',
        'sweep-orders',
        'notify-owner',
        'close-case',
      ],
    );
    assert.equal(steps[0]?.idempotencyKey, 'bulwark:case-1:revoke-sessions');
    const order = stepsForOrder({
      orderId: 'o-1',
      paymentId: 'pi_1',
      paymentStatus: 'captured',
      hasGiftCards: true,
      shipmentStage: 'in_transit',
      archived: true,
      amount: { value: 5000, currency: 'JPY' },
    });
    assert.deepEqual(
      order.map((s) => s.name),
      [
        'cancel-order',
        'refund-capture',
        'confirm-payment-outcome',
        'request-intercept',
        'confirm-shipment-outcome',
        'deactivate-gift-codes',
      ],
    );
    const authorized = stepsForOrder({
      orderId: 'o-2',
      paymentId: 'pi_2',
      paymentStatus: 'authorized',
      hasGiftCards: false,
      shipmentStage: 'labelled',
      archived: false,
      amount: { value: 1, currency: 'JPY' },
    });
    assert.deepEqual(authorized.map((s) => s.name).slice(1, 2), ['void-authorization']);
    assert.ok(authorized.some((s) => s.name === 'cancel-shipment'));
    assert.equal(
      newStep(run, order[1] ?? { name: 'close-case' }, 0).idempotencyKey,
      'bulwark:case-1:refund-capture:o-1',
    );
  });

  test('stages gate: nothing of a later stage is due while an earlier one is unfinished', () => {
    const steps = planRun(run, 0);
    assert.equal(openStage(steps), 0);
    const notify = steps.find((s) => s.name === 'notify-owner');
    assert.ok(notify);
    assert.equal(isDue(notify, 10, openStage(steps)), false);
    const finished = steps.map((s) => (s.stage === 0 ? { ...s, state: 'done' as const } : s));
    assert.equal(openStage(finished), 3);
    assert.equal(isDue(notify, 10, openStage(finished)), true);
  });

  test('an invoking step is due again only when its lease lapsed', () => {
    const claimed = claim(newStep(run, { name: 'lock-account' }, 0), 0);
    assert.equal(claimed.state, 'invoking');
    assert.equal(isDue(claimed, stepPolicies['lock-account'].leaseMs - 1, 0), false);
    assert.equal(isDue(claimed, stepPolicies['lock-account'].leaseMs, 0), true);
  });

  test('backoff: exponential within bounds, jittered, the same for the same step and attempt', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.integer({ min: 1, max: 40 }),
        fc.string(),
        (name, attempts, target) => {
          const step = { name, stepKey: `${name}:${target}`, attempts };
          const policy = stepPolicies[name];
          const wait = backoffMs(step);
          const ceiling = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** (attempts - 1));
          assert.ok(
            wait >= ceiling / 2 - 1 && wait <= ceiling + 1,
            `${String(wait)} outside [${String(ceiling / 2)}, ${String(ceiling)}]`,
          );
          assert.equal(backoffMs(step), wait);
        },
      ),
      propertyParams(300),
    );
  });

  test('the step machine: terminal states stay, failures bounded by attempts until the step waits, waits by the SLA, done only when told', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.array(result, { minLength: 1, maxLength: 400 }),
        (name, results) => {
          let step: StepRecord = newStep(run, { name }, 0);
          const policy = stepPolicies[name];
          let now = 0;
          let failures = 0;
          for (const r of results) {
            if (terminalStepStates.has(step.state)) break;
            now = Math.max(now, step.dueAtMs);
            step = claim(step, now);
            now += 10;
            const next = settle(step, r, now);
            if (r.kind === 'done') assert.equal(next.state, 'done');
            if (next.state === 'done') assert.equal(r.kind, 'done', 'done only on a done result');
            if (r.kind === 'escalate') assert.equal(next.state, 'escalated');
            // Attempts bound a step that never got anywhere; once it waits on the provider (an
            // outcome on record) only the SLA bounds it, checked below.
            const waiting = step.outcome !== undefined;
            if (r.kind === 'retry' && !waiting) failures += 1;
            if (r.kind === 'retry' && !waiting && step.attempts >= policy.attemptsMax)
              assert.equal(next.state, 'escalated');
            if (r.kind === 'retry' && waiting)
              assert.equal(
                next.state === 'escalated',
                now + Math.max(r.retryAfterMs ?? 0, backoffMs(step)) > step.deadlineAtMs,
                'a waiting step escalates on a failure only when its next try would pass the SLA',
              );
            if (r.kind === 'await' && now >= step.deadlineAtMs) assert.equal(next.state, 'escalated');
            if (!terminalStepStates.has(next.state)) {
              assert.ok(next.dueAtMs > now, 'the next try is in the future');
              assert.ok(next.dueAtMs <= next.deadlineAtMs, 'and within the SLA');
            }
            step = next;
          }
          assert.ok(
            failures <= policy.attemptsMax,
            `failures ${String(failures)} > ${String(policy.attemptsMax)}`,
          );
          if (!terminalStepStates.has(step.state)) assert.ok(now <= step.deadlineAtMs + 10);
        },
      ),
      propertyParams(400),
    );
  });

  test('a step waiting on a pending refund outlives its attempt budget: a passing fault retries it, inside the SLA', () => {
    const policy = stepPolicies['void-authorization'];
    const fresh = newStep(
      run,
      { name: 'void-authorization', target: 'o-1', params: { paymentId: 'pi_1' } },
      0,
    );
    const spent = claim({ ...fresh, attempts: policy.attemptsMax - 1 }, hourMs);
    assert.equal(spent.attempts, policy.attemptsMax);
    const fault: StepResult = { kind: 'retry', error: 'payments getPayment: unavailable' };
    // Never got anywhere: the attempts are used up, a person looks.
    assert.equal(settle(spent, fault, hourMs + 10).state, 'escalated');
    // The provider took the refund and the step reads it back: the same fault waits and tries again.
    const waiting = { ...spent, outcome: { action: 'refund_pending' } };
    const retried = settle(waiting, fault, hourMs + 10);
    assert.equal(retried.state, 'retrying');
    assert.ok(retried.dueAtMs <= retried.deadlineAtMs);
    // Past the SLA it escalates all the same.
    const late = claim({ ...waiting, attempts: 100 }, policy.slaMs - 1);
    assert.equal(settle(late, fault, policy.slaMs).state, 'escalated');
  });

  test('run status: running until every step is terminal, escalated when any is', () => {
    assert.equal(runStatusOf([{ state: 'done' }, { state: 'retrying' }]), 'running');
    assert.equal(runStatusOf([{ state: 'done' }, { state: 'done' }]), 'completed');
    assert.equal(runStatusOf([{ state: 'done' }, { state: 'escalated' }]), 'escalated');
  });
});

describe('playbook triggers', () => {
  const decision = (outcome: Decision['decision'], reasons: string[] = []): Decision => ({
    eventId: 'e',
    decision: outcome,
    score: 90,
    reasons: reasons.map((code) => ({ code })),
  });
  const event = (type: string, extra: object = {}): BulwarkEvent =>
    ({ id: 'e', type, at: '2026-01-01T00:00:00Z', accountId: 'a', ...extra }) as BulwarkEvent;

  test('defaults: a report or hidden orders lock the account down; a single order gets order-fraud', () => {
    const selector = defaultPlaybookSelector();
    assert.deepEqual(
      selector.choose(event('account.compromised', { reportedBy: 'owner' }), decision('allow')),
      {
        playbook: 'ato-lockdown',
        orderId: undefined,
      },
    );
    assert.deepEqual(selector.choose(event('order.archived', { orderId: 'o-1' }), decision('deny')), {
      playbook: 'ato-lockdown',
      orderId: undefined,
    });
    assert.deepEqual(selector.choose(event('order.placed', { orderId: 'o-9' }), decision('deny')), {
      playbook: 'order-fraud',
      orderId: 'o-9',
    });
  });

  test('configured triggers: priority order, reasons and scores usable, errors name the trigger', () => {
    const compiled = compileTriggers([
      {
        playbook: 'order-fraud',
        priority: 5,
        when: '"card_testing" in decision.reasons && decision.score > 80',
        scope: 'order',
      },
      { playbook: 'ato-lockdown', priority: 1, when: 'event.reportedBy == "issuer"', scope: 'account' },
    ]);
    assert.ok(compiled.ok);
    assert.equal(
      compiled.selector.choose(event('order.placed', { orderId: 'o' }), decision('deny', ['card_testing']))
        ?.playbook,
      'order-fraud',
    );
    assert.equal(
      compiled.selector.choose(event('order.placed', { orderId: 'o' }), decision('deny', ['other'])),
      undefined,
    );
    const broken = compileTriggers([
      { playbook: 'ato-lockdown', priority: 1, when: 'event.nope == 1', scope: 'account' },
      { playbook: 'ato-lockdown', priority: 2, when: 'decision.score + 1', scope: 'account' },
      { playbook: 'no-such' as never, priority: 3, when: 'true', scope: 'account' },
    ]);
    assert.equal(broken.ok, false);
    assert.ok(!broken.ok);
    assert.deepEqual(
      broken.errors.map((e) => e.index),
      [0, 1, 2],
    );
  });
});
