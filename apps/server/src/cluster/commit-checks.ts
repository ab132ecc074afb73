import type { SeriesLimits } from '../risk/domain/velocity.ts';
import type { DecisionCommit, SeriesOp } from './ports.ts';

/**
 * Checks every decision state store makes before writing anything, so a malformed commit (a bug
 * in the caller, never user input) fails whole instead of half-applied. Shared by the in-process
 * and the Redis store so both refuse the same commits with the same messages.
 */

/** A commit the store refuses to apply; `field` names the offending part. */
export class DecisionCommitError extends RangeError {
  readonly code = 'INVALID_DECISION_COMMIT';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'DecisionCommitError';
    this.field = field;
  }
}

/** Throws a DecisionCommitError unless `commit` can be applied as a whole. */
export function checkCommit(commit: DecisionCommit): void {
  checkUnique(
    commit.accounts.map((account) => account.state.accountId),
    'accounts',
  );
  commit.accounts.forEach(({ expectedVersion }, index) => {
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
      throw new DecisionCommitError(
        `accounts[${String(index)}].expectedVersion`,
        'must be a non-negative integer',
      );
    }
  });
  checkUnique(
    commit.outcomes.map((outcome) => outcome.eventId),
    'outcomes',
  );
  checkUnique(
    commit.pending.map((message) => message.eventId),
    'pending',
  );
  commit.series.forEach((change, index) => {
    const field = `series[${String(index)}]`;
    checkLimits(change.limits, `${field}.limits`);
    change.ops.forEach((op, at) => {
      checkOp(op, `${field}.ops[${String(at)}]`);
    });
  });
}

/** The same rule the `WindowSeries` constructor enforces. */
function checkLimits(limits: SeriesLimits, field: string): void {
  if (!(limits.retentionMs > 0) || !Number.isFinite(limits.retentionMs)) {
    throw new DecisionCommitError(`${field}.retentionMs`, 'must be a positive finite number');
  }
  if (!Number.isInteger(limits.entriesMax) || limits.entriesMax < 1) {
    throw new DecisionCommitError(`${field}.entriesMax`, 'must be a positive integer');
  }
}

function checkOp(op: SeriesOp, field: string): void {
  if (!Number.isFinite(op.t)) throw new DecisionCommitError(`${field}.t`, 'must be a finite number');
  if (!Number.isFinite(op.v)) throw new DecisionCommitError(`${field}.v`, 'must be a finite number');
  if (op.op !== 'bucket' && op.k !== undefined && typeof op.k !== 'string') {
    throw new DecisionCommitError(`${field}.k`, 'must be a string when present');
  }
}

function checkUnique(ids: readonly string[], field: string): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new DecisionCommitError(field, `"${id}" appears twice in one commit`);
    seen.add(id);
  }
}
