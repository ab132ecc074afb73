import type { BulwarkEvent, ChallengeMethod, Decision, DecisionOutcome, Reason } from '@bulwark/contracts';
import { hourMs, minuteMs, dayMs } from '../../core/time.ts';
import { deviceKeyOf, type AccountState } from './state.ts';
import type { SeriesLimits, WindowSeries } from './velocity.ts';
import type { ReasonCode } from './reasons.ts';
import type { RiskPolicy } from './policy.ts';

/**
 * The baseline risk policy: a small, explainable set of detectors over the account's own
 * history and a few velocity windows. The login-risk and order-risk work replaces and extends the
 * detectors; the shape (assess → decision, record → windows) stays.
 */
/** What the engine may read: the account's state, velocity series by key, and the policy. */
export interface RiskView {
  readonly account: AccountState | undefined;
  series(key: string): WindowSeries;
  readonly policy: RiskPolicy;
}

export interface Assessment {
  outcome: DecisionOutcome;
  score: number;
  reasons: Reason[];
  challengeMethods?: ChallengeMethod[];
  /** `open` a containment case, or `join` the account's open one. */
  caseAction?: 'open' | 'join';
}

export const seriesLimits: SeriesLimits = { retentionMs: dayMs, entriesMax: 2000 };

export const thresholds = {
  challengeScoreMin: 60,
  denyScoreMin: 90,
  sourceFailuresPer10MinMax: 20,
  accountFailuresPer10MinMax: 10,
  recentFailuresPerHourMin: 3,
  ordersPerHourMax: 5,
} as const;

const keys = {
  failuresByIp: (ip: string) => `fail:ip:${ip}`,
  failuresByAccount: (accountId: string) => `fail:acct:${accountId}`,
  ordersByAccount: (accountId: string) => `order:acct:${accountId}`,
};

/** Every series key an event reads or writes, so the caller can load them before deciding. */
export function seriesKeysOf(event: BulwarkEvent): string[] {
  switch (event.type) {
    case 'login.failed': {
      const out = [keys.failuresByIp(event.context.ip)];
      if (event.accountId !== undefined) out.push(keys.failuresByAccount(event.accountId));
      return out;
    }
    case 'login.succeeded':
      return [keys.failuresByAccount(event.accountId)];
    case 'order.placed':
      return [keys.ordersByAccount(event.accountId)];
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

function banded(
  score: number,
  reasons: Reason[],
  account: AccountState | undefined,
  allowChallenge: boolean,
): Assessment {
  const bounded = Math.max(0, Math.min(100, Math.round(score)));
  if (bounded >= thresholds.denyScoreMin) return { outcome: 'deny', score: bounded, reasons };
  if (allowChallenge && bounded >= thresholds.challengeScoreMin) {
    return { outcome: 'challenge', score: bounded, reasons, challengeMethods: challengeMethodsFor(account) };
  }
  return { outcome: 'allow', score: bounded, reasons };
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
  if (account === undefined || account.devices.length === 0) {
    return { outcome: 'allow', score: 10, reasons: [reason('first_seen_account')] };
  }
  const reasons: Reason[] = [];
  let score = 0;
  const device = account.devices.find((d) => d.key === deviceKeyOf(event.context));
  if (device === undefined) {
    score += 45;
    reasons.push(reason('new_device'));
  }
  if (!account.networks.some((n) => n.ip === event.context.ip)) {
    score += 20;
    reasons.push(reason('new_network', event.context.ip));
  }
  const failures = view.series(keys.failuresByAccount(event.accountId)).stats(atMs, hourMs);
  if (failures.count >= thresholds.recentFailuresPerHourMin) {
    score += 15;
    reasons.push(reason('recent_login_failures', String(failures.count)));
  }
  if (device === undefined && (event.secondFactor === undefined || event.secondFactor === 'none')) {
    score += 10;
    reasons.push(reason('no_second_factor'));
  }
  return banded(score, reasons, account, true);
}

function assessLoginFailure(
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
  const account = view.account;
  if (account?.openCaseId !== undefined) {
    return { outcome: 'deny', score: 100, reasons: [reason('account_in_containment', account.openCaseId)] };
  }
  const recent = view.series(keys.ordersByAccount(event.accountId)).stats(atMs, hourMs);
  if (recent.count + 1 > thresholds.ordersPerHourMax) {
    return { outcome: 'review', score: 70, reasons: [reason('order_velocity', String(recent.count + 1))] };
  }
  return { outcome: 'allow', score: Math.min(account?.risk ?? 0, 50), reasons: [] };
}

/** Decides one event from what is known before it. Pure: no I/O, no clock but `atMs`. */
export function assess(event: BulwarkEvent, view: RiskView, atMs: number): Assessment {
  const account = view.account;
  switch (event.type) {
    case 'login.succeeded':
      return assessLogin(event, view, atMs);
    case 'login.failed':
      return assessLoginFailure(event, view, atMs);
    case 'order.placed':
      return assessOrder(event, view, atMs);
    case 'account.compromised':
      return {
        outcome: 'allow',
        score: 100,
        reasons: [reason('containment_opened', event.reportedBy)],
        caseAction: account?.openCaseId === undefined ? 'open' : 'join',
      };
    case 'session.activity':
    case 'account.updated':
    case 'order.archived':
      if (account?.openCaseId !== undefined) {
        return {
          outcome: 'deny',
          score: 100,
          reasons: [reason('account_in_containment', account.openCaseId)],
        };
      }
      return { outcome: 'allow', score: account?.risk ?? 0, reasons: [] };
    case 'account.created':
    case 'challenge.completed':
    case 'order.cancelled':
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
      if (event.accountId === undefined) return [byIp];
      const byAccount = keys.failuresByAccount(event.accountId);
      view.series(byAccount).record(atMs);
      return [byIp, byAccount];
    }
    case 'order.placed': {
      if (decision.decision === 'deny') return [];
      const key = keys.ordersByAccount(event.accountId);
      view.series(key).record(atMs, event.amount.value);
      return [key];
    }
    default:
      return [];
  }
}
