import type { CaseStatus } from '../storage/ports.ts';
import type { NewStep, RunRecord, RunStatus, StepRecord } from './domain/model.ts';

/** A claimed step with its run: the worker invokes it, then settles it. */
export interface ClaimedStep {
  readonly run: RunRecord;
  readonly step: StepRecord;
}

/** Where containment runs live. Every change of a step commits with what it caused. */
export interface RunStore {
  runForCase(caseId: string): Promise<RunRecord | undefined>;
  steps(runId: string): Promise<StepRecord[]>;
  /**
   * Claims up to `limit` due steps (stage open, due time reached or lease lapsed), each for one
   * invocation: `FOR UPDATE SKIP LOCKED`, so workers never take the same step twice at once.
   */
  claimDue(nowMs: number, limit: number): Promise<ClaimedStep[]>;
  /**
   * Writes a settled step, the steps it added, the run's status and (when the run finished) the
   * case's, in one transaction. False when the claim was lost (another worker took the step over
   * after the lease lapsed): nothing is written then.
   */
  settle(change: {
    run: RunRecord;
    claimed: StepRecord;
    settled: StepRecord;
    addSteps: readonly NewStep[];
    nowMs: number;
  }): Promise<{ written: boolean; runStatus: RunStatus }>;
  /** The earliest due time of any unfinished step, for the worker's sleep. */
  nextDueAtMs(): Promise<number | undefined>;
  /** Runs not yet finished. */
  unfinishedCount(): Promise<number>;
  /**
   * Reconciliation's repair: puts the named steps back to `not_started` (due now, attempts and
   * SLA afresh, the idempotency key unchanged) — adding those the run lacks — and the run and
   * its case back to running/open, in one transaction. Answers the step keys reopened.
   */
  reopenForRepair(change: {
    runId: string;
    steps: readonly NewStep[];
    nowMs: number;
  }): Promise<readonly string[]>;
}

export const caseStatusOfRun = (status: RunStatus): CaseStatus =>
  status === 'completed' ? 'contained' : status === 'escalated' ? 'escalated' : 'open';
