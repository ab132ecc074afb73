import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import type { IdGenerator } from '../../core/ids.ts';
import { assess, recordSeries, type RiskView } from './engine.ts';
import { evolveAccount, type AccountState } from './state.ts';
import type { WindowSeries } from './velocity.ts';
import type { RiskPolicy } from './policy.ts';

/**
 * The state the decider reads and updates, already in memory. Whoever calls the decider makes
 * sure what an event needs is loaded (the server loads it from storage; replay starts empty).
 */
export interface HotState {
  account(accountId: string): AccountState | undefined;
  setAccount(state: AccountState): void;
  /** Must not depend on `this`: it is handed to the engine as it is. */
  readonly series: (key: string) => WindowSeries;
  /** Told which series an event changed, so only those are written behind. */
  seriesChanged(keys: readonly string[]): void;
}

function viewOf(event: BulwarkEvent, hot: HotState, policy: RiskPolicy): RiskView {
  return {
    account: event.accountId === undefined ? undefined : hot.account(event.accountId),
    series: hot.series,
    policy,
  };
}

export interface Decided {
  decision: Decision;
  /** True when this decision opens a new containment case (`decision.caseId`). */
  opensCase: boolean;
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
  const assessment = assess(event, view, atMs);
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
  return { decision, opensCase: assessment.caseAction === 'open' };
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
  const next = evolveAccount(view.account, event, decision, atMs);
  if (next !== undefined) hot.setAccount(next);
}
