import type { BulwarkEvent, ChallengeMethod, Decision, DecisionOutcome, Reason } from '@bulwark/contracts';
import { minuteMs, dayMs } from '../../core/time.ts';
import type { AccountState } from './state.ts';
import { WindowSeries, type ReadableSeries, type SeriesLimits } from './velocity.ts';
import type { ReasonCode } from './reasons.ts';
import type { RiskPolicy } from './policy.ts';
import {
  assessOrderArchived,
  assessOrderPlaced,
  orderSeriesKeysOf,
  recordOrderSeries,
  type ShadowVerdict,
} from './orders/assess.ts';
import {
  assessLoginFailed,
  assessLoginSucceeded,
  assessSessionUse,
  loginSeriesKeysOf,
  recordLoginSeries,
} from './login/assess.ts';
import { globalSeriesLimits, isGlobalFrequencyKey } from './login/rba.ts';
import { asnSignInLimits, isAsnSignInKey } from './login/sign-ins.ts';

/**
 * The baseline risk policy: a small, explainable set of detectors over the account's own
 * history and a few velocity windows. The login-risk and order-risk work replaces and extends the
 * detectors; the shape (assess → decision, record → windows) stays.
 */
/** What the engine may read: the account's state, velocity series by key, and the policy. */
export interface RiskView {
  readonly account: AccountState | undefined;
  series(key: string): WindowSeries;
  /**
   * The series under `key` when one is held, without creating it. Reads use it (through
   * `readSeries`) so that series only read are not made and kept; without it they read `series`.
   */
  peek?(key: string): WindowSeries | undefined;
  readonly policy: RiskPolicy;
}

export interface Assessment {
  outcome: DecisionOutcome;
  score: number;
  reasons: Reason[];
  challengeMethods?: ChallengeMethod[];
  /** `open` a containment case, or `join` the account's open one. */
  caseAction?: 'open' | 'join';
  /** An order's verdict under the shadow rule set: recorded, never acted on. */
  shadow?: ShadowVerdict;
}

export const seriesLimits: SeriesLimits = { retentionMs: dayMs, entriesMax: 2000 };

export const thresholds = {
  challengeScoreMin: 60,
  denyScoreMin: 90,
  sourceFailuresPer10MinMax: 20,
  accountFailuresPer10MinMax: 10,
  recentFailuresPerHourMin: 3,
} as const;

const keys = {
  failuresByIp: (ip: string) => `fail:ip:${ip}`,
  failuresByAccount: (accountId: string) => `fail:acct:${accountId}`,
};

/** What a series nobody recorded into reads as; typed read-only, so it cannot be written. */
const emptySeries: ReadableSeries = new WindowSeries({ retentionMs: 1, entriesMax: 1 });

/** The series under `key` for reading: a series not held reads as empty, and is not created. */
export function readSeries(view: RiskView, key: string): ReadableSeries {
  if (view.peek === undefined) return view.series(key);
  return view.peek(key) ?? emptySeries;
}

/**
 * Limits of the series under `key`: the RBA model's global counts keep six months of weekly
 * buckets, the successful sign-ins per AS an hour of minute buckets.
 */
export function seriesLimitsOf(key: string): SeriesLimits {
  if (isGlobalFrequencyKey(key)) return globalSeriesLimits;
  return isAsnSignInKey(key) ? asnSignInLimits : seriesLimits;
}

/**
 * Every series key an event reads or writes, so the caller can load them before deciding. Login
 * keys depend on the policy (the IP's network and AS, the user agent's parts).
 */
export function seriesKeysOf(event: BulwarkEvent, policy: RiskPolicy): string[] {
  switch (event.type) {
    case 'login.failed':
    case 'login.succeeded':
      return loginSeriesKeysOf(event, policy);
    case 'order.placed':
      return orderSeriesKeysOf(event);
    default:
      return [];
  }
}

const reason = (code: ReasonCode, detail?: string): Reason =>
  detail === undefined ? { code } : { code, detail };

function challengeMethodsFor(account: AccountState | undefined): ChallengeMethod[] {
  const methods: ChallengeMethod[] = ['passkey'];
  if (account?.email !== undefined) methods.push('email_otp');
  if (account?.phone !== undefined) methods.push('sms_otp');
  if (methods.length === 1) methods.push('device_confirmation');
  return methods;
}

function assessLogin(
  event: Extract<BulwarkEvent, { type: 'login.succeeded' }>,
  view: RiskView,
  atMs: number,
): Assessment {
  const account = view.account;
  if (account?.openCaseId !== undefined) {
    return { outcome: 'deny', score: 100, reasons: [reason('account_in_containment', account.openCaseId)] };
  }
  // Login risk and session protection (login/assess.ts, docs/login-risk.md).
  const { outcome, score, reasons } = assessLoginSucceeded(event, view, atMs);
  const assessed: Assessment = { outcome, score, reasons };
  if (assessed.outcome === 'challenge') assessed.challengeMethods = challengeMethodsFor(account);
  return assessed;
}

/** The baseline's failure bursts; login risk's detectors follow them (login/assess.ts). */
function assessFailureBursts(
  event: Extract<BulwarkEvent, { type: 'login.failed' }>,
  view: RiskView,
  atMs: number,
): Assessment {
  const bySource = view.series(keys.failuresByIp(event.context.ip)).stats(atMs, 10 * minuteMs);
  // This failure counts too: the window is read before it is recorded.
  if (bySource.count + 1 > thresholds.sourceFailuresPer10MinMax) {
    return {
      outcome: 'deny',
      score: 95,
      reasons: [reason('source_failure_burst', String(bySource.count + 1))],
    };
  }
  if (event.accountId !== undefined) {
    const byAccount = view.series(keys.failuresByAccount(event.accountId)).stats(atMs, 10 * minuteMs);
    if (byAccount.count + 1 > thresholds.accountFailuresPer10MinMax) {
      return {
        outcome: 'deny',
        score: 90,
        reasons: [reason('account_failure_burst', String(byAccount.count + 1))],
      };
    }
  }
  return { outcome: 'allow', score: view.account?.risk ?? 0, reasons: [] };
}

function assessOrder(
  event: Extract<BulwarkEvent, { type: 'order.placed' }>,
  view: RiskView,
  atMs: number,
): Assessment {
  const ipIntel = view.policy.ipIntel;
  const assessed = assessOrderPlaced(
    event,
    view,
    view.policy.orders,
    atMs,
    (ip) => ipIntel.lookup(ip).country,
  );
  if (assessed.outcome === 'challenge') assessed.challengeMethods = challengeMethodsFor(view.account);
  return assessed;
}

/**
 * A cancellation must stick when it is about fraud (the store's or a reviewer's) or when a held
 * order's review ran out of time: it opens a case whose playbook voids or refunds the payment,
 * stops the shipment and deactivates codes. An account already in containment joins its case
 * (that run's sweep covers the order). Other cancellations are the store's business.
 */
function assessOrderCancelled(
  event: Extract<BulwarkEvent, { type: 'order.cancelled' }>,
  account: AccountState | undefined,
): Assessment {
  const score = account?.risk ?? 0;
  if (event.by !== 'fraud' && event.reason !== 'review_timeout')
    return { outcome: 'allow', score, reasons: [] };
  return {
    outcome: 'allow',
    score,
    reasons: [reason('containment_opened', event.reason ?? 'cancelled_for_fraud')],
    caseAction: account?.openCaseId === undefined ? 'open' : 'join',
  };
}

/** Decides one event from what is known before it. Pure: no I/O, no clock but `atMs`. */
export function assess(event: BulwarkEvent, view: RiskView, atMs: number): Assessment {
  const account = view.account;
  switch (event.type) {
    case 'login.succeeded':
      return assessLogin(event, view, atMs);
    case 'login.failed': {
      const assessed = assessLoginFailed(event, view, atMs, () => assessFailureBursts(event, view, atMs));
      if (assessed.outcome === 'challenge') assessed.challengeMethods = challengeMethodsFor(account);
      return assessed;
    }
    case 'order.placed':
      return assessOrder(event, view, atMs);
    case 'account.compromised':
      return {
        outcome: 'allow',
        score: 100,
        reasons: [reason('containment_opened', event.reportedBy)],
        caseAction: account?.openCaseId === undefined ? 'open' : 'join',
      };
    case 'order.archived':
      return assessOrderArchived(event, account, atMs);
    case 'session.activity':
    case 'account.updated':
      if (account?.openCaseId !== undefined) {
        return {
          outcome: 'deny',
          score: 100,
          reasons: [reason('account_in_containment', account.openCaseId)],
        };
      }
      {
        // Session protection (login/assess.ts): binding to the sign-in's context, step-up.
        const assessed = assessSessionUse(event, view, atMs);
        if (assessed.outcome === 'challenge') assessed.challengeMethods = challengeMethodsFor(account);
        return assessed;
      }
    case 'order.cancelled':
      return assessOrderCancelled(event, account);
    case 'account.created':
    case 'challenge.completed':
      return { outcome: 'allow', score: account?.risk ?? 0, reasons: [] };
  }
}

/**
 * Records the event in the velocity series it feeds and answers the keys it wrote (the others it
 * only read). Denied sign-in failures still count.
 */
export function recordSeries(
  event: BulwarkEvent,
  decision: Decision,
  view: RiskView,
  atMs: number,
): string[] {
  switch (event.type) {
    case 'login.failed': {
      const byIp = keys.failuresByIp(event.context.ip);
      view.series(byIp).record(atMs, 1, event.accountId ?? event.username);
      const login = recordLoginSeries(event, decision, view, atMs);
      if (event.accountId === undefined) return [byIp, ...login];
      const byAccount = keys.failuresByAccount(event.accountId);
      view.series(byAccount).record(atMs);
      return [byIp, byAccount, ...login];
    }
    case 'login.succeeded':
      return recordLoginSeries(event, decision, view, atMs);
    case 'order.placed':
      return recordOrderSeries(event, decision, (key) => view.series(key), atMs);
    default:
      return [];
  }
}
