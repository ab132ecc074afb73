import { minuteMs, hourMs, dayMs } from '../../core/time.ts';

/**
 * The containment run as data: a persisted state machine of steps. Everything here is pure: the
 * engine loads rows, asks these functions what happens next, and writes the answer back in one
 * transaction with the domain change that caused it.
 *
 * Step states:
 *   not_started → invoking → awaiting_confirmation → done
 *                     ↘ retrying (backoff) ↗        ↘ escalated (attempts or SLA used up)
 * `invoking` carries a lease: a worker that dies mid-call leaves a lapsed lease, and the step is
 * invoked again under the same idempotency key, so the provider answers the first call's result.
 */
export type StepState =
  'not_started' | 'invoking' | 'awaiting_confirmation' | 'retrying' | 'done' | 'escalated';

export const terminalStepStates: ReadonlySet<StepState> = new Set(['done', 'escalated']);

export type PlaybookName = 'ato-lockdown' | 'order-fraud' | 'review-timeout';

export type StepName =
  | 'revoke-sessions'
  | 'lock-account'
  | 'force-password-reset'
  | 'sweep-orders'
  | 'cancel-order'
  | 'hold-shipment'
  | 'cancel-shipment'
  | 'request-intercept'
  | 'void-authorization'
  | 'refund-capture'
  | 'deactivate-gift-codes'
  | 'confirm-payment-outcome'
  | 'confirm-shipment-outcome'
  | 'notify-owner'
  | 'close-case';

export type RunStatus = 'running' | 'completed' | 'escalated';

/** How one kind of step is retried, bounded and timed. */
export interface StepPolicy {
  /** Invocations at most (each claim of a due step is one). */
  readonly attemptsMax: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** How long a claimed step may stay `invoking` before another worker may take it over. */
  readonly leaseMs: number;
  /** From the step's creation to done; past it the step escalates to a person. */
  readonly slaMs: number;
  /** The first wait between read-backs while awaiting the provider's confirmation; it doubles. */
  readonly pollIntervalMs: number;
  /** The longest wait between read-backs. */
  readonly pollIntervalMaxMs: number;
}

const quick: StepPolicy = {
  attemptsMax: 8,
  backoffBaseMs: 200,
  backoffMaxMs: 5 * minuteMs,
  leaseMs: 30_000,
  slaMs: hourMs,
  pollIntervalMs: 1000,
  pollIntervalMaxMs: 5 * minuteMs,
};

/**
 * Policies per step. Money and parcels get the longest SLAs: a refund can pend for days and a
 * carrier answers an intercept in hours; everything else should finish in minutes.
 */
export const stepPolicies: Readonly<Record<StepName, StepPolicy>> = {
  'revoke-sessions': quick,
  'lock-account': quick,
  'force-password-reset': quick,
  'sweep-orders': quick,
  'cancel-order': quick,
  'hold-shipment': { ...quick, slaMs: 6 * hourMs },
  'cancel-shipment': { ...quick, slaMs: 6 * hourMs },
  'request-intercept': { ...quick, slaMs: 6 * hourMs },
  // A void step turns into a refund when the payment was captured meanwhile (the store's view was
  // stale): it then waits on the refund like refund-capture does, so it has the refund's SLA.
  'void-authorization': { ...quick, attemptsMax: 40, slaMs: 3 * dayMs, pollIntervalMaxMs: 6 * hourMs },
  'refund-capture': {
    ...quick,
    attemptsMax: 40,
    slaMs: 3 * dayMs,
    pollIntervalMs: 10 * minuteMs,
    pollIntervalMaxMs: 6 * hourMs,
  },
  'deactivate-gift-codes': quick,
  'confirm-payment-outcome': {
    ...quick,
    attemptsMax: 200,
    // A confirmation starts once the refund step settled (at most 3 days): the run as a whole
    // stays within a week (L1), and an authorization is voided long before it lapses.
    slaMs: 2 * dayMs,
    pollIntervalMs: minuteMs,
    pollIntervalMaxMs: 6 * hourMs,
  },
  'confirm-shipment-outcome': {
    ...quick,
    attemptsMax: 200,
    slaMs: 2 * dayMs,
    pollIntervalMs: minuteMs,
    pollIntervalMaxMs: 2 * hourMs,
  },
  'notify-owner': { ...quick, attemptsMax: 10 },
  'close-case': quick,
};

/**
 * Steps run in stages: a step is due only when every step of an earlier stage is done or
 * escalated. Account steps and the sweep first; then every order's actions in parallel; then
 * the read-backs; then the owner is told what the providers confirmed; then the case closes.
 */
export const stageOf: Readonly<Record<StepName, number>> = {
  'revoke-sessions': 0,
  'lock-account': 0,
  'force-password-reset': 0,
  'sweep-orders': 0,
  'cancel-order': 1,
  'hold-shipment': 1,
  'cancel-shipment': 1,
  'request-intercept': 1,
  'void-authorization': 1,
  'refund-capture': 1,
  'deactivate-gift-codes': 1,
  'confirm-payment-outcome': 2,
  'confirm-shipment-outcome': 2,
  'notify-owner': 3,
  'close-case': 4,
};

export interface RunRecord {
  readonly runId: string;
  readonly caseId: string;
  readonly accountId: string;
  readonly playbook: PlaybookName;
  readonly status: RunStatus;
  /** Orders placed at or after this are swept; absent: from the first suspicious sign-in. */
  readonly sinceMs: number | undefined;
  /** The fraud decision: no capture or shipment of the run's orders may happen after it (S2). */
  readonly decidedAtMs: number;
  /** Set for `order-fraud`: the one order the run is about. */
  readonly orderId: string | undefined;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly finishedAtMs: number | undefined;
}

/** JSON a step keeps: what it was given and what it learned from the provider. */
export type StepData = Readonly<Record<string, unknown>>;

export interface StepRecord {
  readonly runId: string;
  /** Unique in the run: `name` or `name:target`. */
  readonly stepKey: string;
  readonly name: StepName;
  readonly target: string | undefined;
  readonly stage: number;
  readonly state: StepState;
  readonly attempts: number;
  readonly dueAtMs: number;
  readonly leaseUntilMs: number | undefined;
  readonly deadlineAtMs: number;
  /** Derived from (case, step, target): every provider call of this step carries it. */
  readonly idempotencyKey: string;
  readonly params: StepData;
  readonly outcome: StepData | undefined;
  readonly lastError: string | undefined;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly doneAtMs: number | undefined;
}

export interface NewStep {
  readonly name: StepName;
  readonly target?: string | undefined;
  readonly params?: StepData;
}

export const stepKeyOf = (name: StepName, target: string | undefined): string =>
  target === undefined ? name : `${name}:${target}`;

/** The key every provider call of a step carries: the same for every retry of that step. */
export const idempotencyKeyOf = (caseId: string, name: StepName, target: string | undefined): string =>
  target === undefined ? `bulwark:${caseId}:${name}` : `bulwark:${caseId}:${name}:${target}`;

export function newStep(run: Pick<RunRecord, 'runId' | 'caseId'>, step: NewStep, nowMs: number): StepRecord {
  const policy = stepPolicies[step.name];
  return {
    runId: run.runId,
    stepKey: stepKeyOf(step.name, step.target),
    name: step.name,
    target: step.target,
    stage: stageOf[step.name],
    state: 'not_started',
    attempts: 0,
    dueAtMs: nowMs,
    leaseUntilMs: undefined,
    deadlineAtMs: nowMs + policy.slaMs,
    idempotencyKey: idempotencyKeyOf(run.caseId, step.name, step.target),
    params: step.params ?? {},
    outcome: undefined,
    lastError: undefined,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    doneAtMs: undefined,
  };
}

/** Playbooks are data: the steps a run starts with. Per-order steps are added by `sweep-orders`. */
export const playbooks: Readonly<
  Record<PlaybookName, { readonly description: string; readonly steps: readonly StepName[] }>
> = {
  'ato-lockdown': {
    description:
      'Account takeover: end every session, lock, force a reset, then void or refund, stop and deactivate everything the attacker ordered since the first suspicious sign-in, and tell the owner what the providers confirmed.',
    steps: [
      'revoke-sessions',
      'lock-account',
      'force-password-reset',
      'sweep-orders',
      'notify-owner',
      'close-case',
    ],
  },
  'order-fraud': {
    description:
      'One fraudulent order: void or refund it, stop its shipment, deactivate its codes, tell the owner, close.',
    steps: ['sweep-orders', 'notify-owner', 'close-case'],
  },
  'review-timeout': {
    description:
      'A held order nobody reviewed before its authorization would lapse: cancel it rather than let the hold expire silently.',
    steps: ['sweep-orders', 'notify-owner', 'close-case'],
  },
};

export function planRun(run: RunRecord, nowMs: number): StepRecord[] {
  return playbooks[run.playbook].steps.map((name) => newStep(run, { name }, nowMs));
}

/** The steps an order found by the sweep needs, from what the store says it holds. */
export interface SweptOrder {
  readonly orderId: string;
  readonly paymentId: string | undefined;
  /** The payment's state when the sweep read it: picks void or refund (re-read when invoked). */
  readonly paymentStatus: string | undefined;
  readonly hasGiftCards: boolean;
  /** The furthest any of its shipments got when the sweep read the carrier; undefined: nothing to ship. */
  readonly shipmentStage: 'unfulfilled' | 'labelled' | 'in_transit' | 'finished' | undefined;
  readonly archived: boolean;
  readonly amount: { readonly value: number; readonly currency: string };
}

export function stepsForOrder(order: SweptOrder): NewStep[] {
  const steps: NewStep[] = [{ name: 'cancel-order', target: order.orderId }];
  if (order.paymentId !== undefined) {
    const params = { paymentId: order.paymentId, orderId: order.orderId };
    steps.push({
      name: order.paymentStatus === 'captured' ? 'refund-capture' : 'void-authorization',
      target: order.orderId,
      params,
    });
    steps.push({ name: 'confirm-payment-outcome', target: order.orderId, params });
  }
  if (order.shipmentStage !== undefined) {
    // Named for what the carrier state calls for; the step re-reads and does what is needed then.
    const name =
      order.shipmentStage === 'in_transit'
        ? 'request-intercept'
        : order.shipmentStage === 'labelled'
          ? 'cancel-shipment'
          : 'hold-shipment';
    steps.push({ name, target: order.orderId });
    steps.push({ name: 'confirm-shipment-outcome', target: order.orderId });
  }
  if (order.hasGiftCards) steps.push({ name: 'deactivate-gift-codes', target: order.orderId });
  return steps;
}

// ---- what happens next ----

/** What a step's invocation came to, as the engine reports it. */
export type StepResult =
  | { readonly kind: 'done'; readonly outcome: StepData; readonly addSteps?: readonly NewStep[] }
  /** The provider accepted; its confirmation is awaited (read back after `pollAfterMs`). */
  | { readonly kind: 'await'; readonly outcome: StepData; readonly pollAfterMs?: number }
  /** A retryable failure (timeout, 5xx, rate limit); `retryAfterMs` when the provider said. */
  | { readonly kind: 'retry'; readonly error: string; readonly retryAfterMs?: number }
  /** Nothing more a machine can do: a person must look. */
  | { readonly kind: 'escalate'; readonly error: string; readonly outcome?: StepData };

/** Whether a step may be claimed now, given the run's other steps. */
export function isDue(step: StepRecord, nowMs: number, blockedBelowStage: number): boolean {
  if (step.stage > blockedBelowStage) return false;
  if (step.state === 'invoking') return step.leaseUntilMs !== undefined && step.leaseUntilMs <= nowMs;
  if (terminalStepStates.has(step.state)) return false;
  return step.dueAtMs <= nowMs;
}

/** The highest stage whose steps may run: every step of a lower stage is terminal. */
export function openStage(steps: readonly StepRecord[]): number {
  let lowestUnfinished = Number.POSITIVE_INFINITY;
  for (const step of steps) {
    if (!terminalStepStates.has(step.state)) lowestUnfinished = Math.min(lowestUnfinished, step.stage);
  }
  return lowestUnfinished;
}

/**
 * Claims a step for one invocation. The SLA clock starts at the first claim: a step waiting for
 * its stage to open (a confirmation behind a refund that pends for a day) is not late yet.
 */
export function claim(step: StepRecord, nowMs: number): StepRecord {
  return {
    ...step,
    ...(step.attempts === 0 ? { deadlineAtMs: nowMs + stepPolicies[step.name].slaMs } : {}),
    state: 'invoking',
    attempts: step.attempts + 1,
    leaseUntilMs: nowMs + stepPolicies[step.name].leaseMs,
    updatedAtMs: nowMs,
  };
}

/**
 * Backoff with jitter. The jitter is derived from the step key and attempt, not drawn: the same
 * run replayed waits the same, and two steps failing together do not retry in lockstep.
 */
export function backoffMs(step: Pick<StepRecord, 'name' | 'stepKey' | 'attempts'>): number {
  const policy = stepPolicies[step.name];
  const exponent = Math.max(0, step.attempts - 1);
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.min(exponent, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * unitHash(`${step.stepKey}#${String(step.attempts)}`));
}

function unitHash(text: string): number {
  // FNV-1a, 32 bits: enough spread for jitter.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 0x1_0000_0000;
}

/** The step after its invocation came to `result`. */
export function settle(step: StepRecord, result: StepResult, nowMs: number): StepRecord {
  const policy = stepPolicies[step.name];
  const base = { ...step, leaseUntilMs: undefined, updatedAtMs: nowMs };
  switch (result.kind) {
    case 'done':
      return { ...base, state: 'done', outcome: result.outcome, lastError: undefined, doneAtMs: nowMs };
    case 'await': {
      // Waiting is not failing: only the SLA bounds it, and read-backs thin out as it goes on.
      if (nowMs >= step.deadlineAtMs) {
        return {
          ...base,
          state: 'escalated',
          outcome: result.outcome,
          lastError: 'provider confirmation not received within the step SLA',
          doneAtMs: nowMs,
        };
      }
      const waitMs =
        result.pollAfterMs ??
        Math.min(
          policy.pollIntervalMaxMs,
          policy.pollIntervalMs * 2 ** Math.min(Math.max(0, step.attempts - 1), 30),
        );
      return {
        ...base,
        state: 'awaiting_confirmation',
        outcome: result.outcome,
        dueAtMs: Math.min(nowMs + waitMs, step.deadlineAtMs),
      };
    }
    case 'retry': {
      const dueAtMs = nowMs + Math.max(result.retryAfterMs ?? 0, backoffMs(step));
      // Attempts bound a step that never got anywhere. Once the provider acted and the step is
      // waiting for it (an outcome is on record), its read-backs counted as attempts: a passing
      // fault while waiting retries, and only the SLA bounds it.
      const waiting = step.outcome !== undefined;
      if ((!waiting && step.attempts >= policy.attemptsMax) || dueAtMs > step.deadlineAtMs) {
        return { ...base, state: 'escalated', lastError: result.error, doneAtMs: nowMs };
      }
      return { ...base, state: 'retrying', lastError: result.error, dueAtMs };
    }
    case 'escalate':
      return {
        ...base,
        state: 'escalated',
        lastError: result.error,
        ...(result.outcome === undefined ? {} : { outcome: result.outcome }),
        doneAtMs: nowMs,
      };
  }
}

/** The run's status from its steps. */
export function runStatusOf(steps: readonly Pick<StepRecord, 'state'>[]): RunStatus {
  if (steps.some((s) => !terminalStepStates.has(s.state))) return 'running';
  return steps.some((s) => s.state === 'escalated') ? 'escalated' : 'completed';
}

/** The next time any step of the run falls due (for the worker's sleep), if any. */
export function nextDueAtMs(steps: readonly StepRecord[]): number | undefined {
  const stage = openStage(steps);
  let next: number | undefined;
  for (const step of steps) {
    if (step.stage > stage || terminalStepStates.has(step.state)) continue;
    const at = step.state === 'invoking' ? (step.leaseUntilMs ?? step.dueAtMs) : step.dueAtMs;
    next = next === undefined ? at : Math.min(next, at);
  }
  return next;
}
