import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import type { IdGenerator } from '../../core/ids.ts';
import { assess, type Assessment, recordSeries, type RiskView } from './engine.ts';
import { evolveAccount, type AccountState } from './state.ts';
import { evolveLogin } from './login/assess.ts';
import type { WindowSeries } from './velocity.ts';
import type { RiskPolicy } from './policy.ts';
import type { ShadowVerdict } from './orders/assess.ts';

/**
 * The state the decider reads and updates, already in memory. Whoever calls the decider makes
 * sure what an event needs is loaded (the server loads it from storage; replay starts empty).
 */
export interface HotState {
  account(accountId: string): AccountState | undefined;
  setAccount(state: AccountState): void;
  /** Must not depend on `this`: it is handed to the engine as it is. */
  readonly series: (key: string) => WindowSeries;
  /** The series under `key` if held, without creating it (bound, like `series`). */
  readonly peek?: (key: string) => WindowSeries | undefined;
  /** Told which series an event changed, so only those are written behind. */
  seriesChanged(keys: readonly string[]): void;
}

function viewOf(event: BulwarkEvent, hot: HotState, policy: RiskPolicy): RiskView {
  return {
    account: event.accountId === undefined ? undefined : hot.account(event.accountId),
    series: hot.series,
    peek: hot.peek,
    policy,
  };
}

export interface Decided {
  decision: Decision;
  /** True when this decision opens a new containment case (`decision.caseId`). */
  opensCase: boolean;
  /** An order's verdict under the shadow rule set, to record beside the decision; never acted on. */
  shadow?: ShadowVerdict;
}

/**
 * In `observe` enforcement (a store trying Bulwark out, or a drill with the detectors switched
 * off) every detector still scores and gives its reasons, but nothing is challenged, held or
 * denied and no case opens by itself: only a report (`account.compromised`) starts containment,
 * and an account already in containment stays fenced.
 */
function observed(assessment: Assessment, event: BulwarkEvent, policy: RiskPolicy): Assessment {
  if (policy.enforcement !== 'observe' || event.type === 'account.compromised') return assessment;
  if (assessment.reasons.some((r) => r.code === 'account_in_containment')) return assessment;
  const allowed: Assessment = { outcome: 'allow', score: assessment.score, reasons: assessment.reasons };
  if (assessment.caseAction === 'join') allowed.caseAction = 'join';
  if (assessment.shadow !== undefined) allowed.shadow = assessment.shadow;
  return allowed;
}

/** Decides one event. Reads state, changes nothing. */
export function decide(
  event: BulwarkEvent,
  atMs: number,
  hot: HotState,
  ids: IdGenerator,
  policy: RiskPolicy,
): Decided {
  const view = viewOf(event, hot, policy);
  const assessment = observed(assess(event, view, atMs), event, policy);
  // Key order follows the contract so that serialized decisions are stable.
  const decision: Decision = {
    eventId: event.id,
    ...(event.accountId === undefined ? {} : { accountId: event.accountId }),
    decision: assessment.outcome,
    score: assessment.score,
    reasons: assessment.reasons,
  };
  if (assessment.outcome === 'challenge' && assessment.challengeMethods !== undefined) {
    decision.challenge = { id: ids.next('ch', event.id), methods: assessment.challengeMethods };
  }
  if (assessment.caseAction === 'open') decision.caseId = ids.next('case', event.id);
  if (assessment.caseAction === 'join' && view.account?.openCaseId !== undefined) {
    decision.caseId = view.account.openCaseId;
  }
  const decided: Decided = { decision, opensCase: assessment.caseAction === 'open' };
  if (assessment.shadow !== undefined) decided.shadow = assessment.shadow;
  return decided;
}

/** Teaches the state what a decided event means. Used live and when rebuilding from the log. */
export function apply(
  event: BulwarkEvent,
  decision: Decision,
  atMs: number,
  hot: HotState,
  policy: RiskPolicy,
): void {
  const view = viewOf(event, hot, policy);
  hot.seriesChanged(recordSeries(event, decision, view, atMs));
  const next = evolveLogin(evolveAccount(view.account, event, decision, atMs), event, decision, atMs, policy);
  if (next !== undefined) hot.setAccount(next);
}
