import type { Clock } from '../core/clock.ts';
import type { AccountState } from '../risk/domain/state.ts';
import { WindowSeries, type SeriesSnapshot } from '../risk/domain/velocity.ts';
import type { PriorOutcome } from '../storage/ports.ts';
import { checkCommit } from './commit-checks.ts';
import type {
  CommitResult,
  DecisionCommit,
  DecisionStateLoad,
  DecisionStateStore,
  PendingMessage,
  SeriesChange,
  VersionedAccount,
} from './ports.ts';

interface StoredAccount {
  /** Kept as JSON text, as Redis keeps it, so callers can never share objects with the store. */
  json: string;
  version: number;
}

interface StoredPending {
  message: string;
  committedAtMs: number;
}

/**
 * The decision state of one process: what cluster mode keeps in Redis, held in maps. It serves
 * tests, and one-node runs of the cluster code path. Series changes are replayed with
 * `WindowSeries` itself, so it is the reference the Redis store is checked against.
 */
export class MemoryDecisionState implements DecisionStateStore {
  readonly #clock: Clock;
  readonly #accounts = new Map<string, StoredAccount>();
  readonly #series = new Map<string, SeriesSnapshot>();
  readonly #outcomes = new Map<string, PriorOutcome>();
  readonly #pending = new Map<string, StoredPending>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  load(query: {
    accountIds: readonly string[];
    seriesKeys: readonly string[];
    eventIds: readonly string[];
  }): Promise<DecisionStateLoad> {
    const accounts = new Map<string, VersionedAccount>();
    for (const accountId of query.accountIds) {
      const stored = this.#accounts.get(accountId);
      accounts.set(
        accountId,
        stored === undefined
          ? { state: undefined, version: 0 }
          : { state: JSON.parse(stored.json) as AccountState, version: stored.version },
      );
    }
    const series = new Map<string, SeriesSnapshot>();
    for (const key of query.seriesKeys) {
      const snapshot = this.#series.get(key);
      if (snapshot !== undefined) series.set(key, structuredClone(snapshot));
    }
    const prior = new Map<string, PriorOutcome>();
    for (const eventId of query.eventIds) {
      const outcome = this.#outcomes.get(eventId);
      if (outcome !== undefined) prior.set(eventId, structuredClone(outcome));
    }
    return Promise.resolve({ accounts, series, prior });
  }

  commit(commit: DecisionCommit): Promise<CommitResult> {
    try {
      return Promise.resolve(this.#commitNow(commit));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #commitNow(commit: DecisionCommit): CommitResult {
    checkCommit(commit);
    const conflictedAccounts = commit.accounts
      .filter(({ state, expectedVersion }) => this.#versionOf(state.accountId) !== expectedVersion)
      .map(({ state }) => state.accountId);
    const decidedEventIds = commit.outcomes
      .filter(({ eventId }) => this.#outcomes.has(eventId))
      .map(({ eventId }) => eventId);
    if (conflictedAccounts.length > 0 || decidedEventIds.length > 0) {
      return { ok: false, conflictedAccounts, decidedEventIds };
    }
    // Everything is checked: from here on nothing can fail, so the commit is all or nothing.
    for (const { state, expectedVersion } of commit.accounts) {
      this.#accounts.set(state.accountId, { json: JSON.stringify(state), version: expectedVersion + 1 });
    }
    for (const change of commit.series) this.#apply(change);
    for (const { eventId, outcome } of commit.outcomes) this.#outcomes.set(eventId, structuredClone(outcome));
    const committedAtMs = this.#clock.now();
    for (const { eventId, message } of commit.pending) this.#pending.set(eventId, { message, committedAtMs });
    return { ok: true };
  }

  published(eventIds: readonly string[]): Promise<void> {
    for (const eventId of eventIds) this.#pending.delete(eventId);
    return Promise.resolve();
  }

  /** Oldest first; messages committed in the same millisecond come in event id order (as in Redis). */
  pendingOlderThan(olderThanMs: number, limit: number): Promise<PendingMessage[]> {
    const latestMs = this.#clock.now() - olderThanMs;
    const due = [...this.#pending.entries()]
      .filter(([, pending]) => pending.committedAtMs <= latestMs)
      .sort(([idA, a], [idB, b]) => a.committedAtMs - b.committedAtMs || compareText(idA, idB))
      .slice(0, Math.max(0, limit));
    return Promise.resolve(due.map(([eventId, { message }]) => ({ eventId, message })));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #versionOf(accountId: string): number {
    return this.#accounts.get(accountId)?.version ?? 0;
  }

  /** Replays a change on the stored snapshot; a change without ops creates nothing. */
  #apply(change: SeriesChange): void {
    if (change.ops.length === 0) return;
    const series = new WindowSeries(change.limits, this.#series.get(change.key));
    for (const op of change.ops) {
      if (op.op === 'record') series.record(op.t, op.v, op.k);
      else if (op.op === 'bucket') series.addToBucket(op.t, op.v);
      else series.remove(op.t, op.v, op.k);
    }
    this.#series.set(change.key, oneLabelPerEntry(series.snapshot()));
  }
}

/**
 * `WindowSeries.record` builds its labels array after pushing the first labelled entry's time, so
 * its snapshots then hold one trailing null label too many. The store keeps one label per entry,
 * as the Redis store does (and as `SeriesSnapshot.k` is documented).
 */
function oneLabelPerEntry(snapshot: SeriesSnapshot): SeriesSnapshot {
  if (snapshot.k !== undefined && snapshot.k.length > snapshot.t.length) {
    snapshot.k = snapshot.k.slice(0, snapshot.t.length);
  }
  return snapshot;
}

/** Byte order of the UTF-16 code units, the order Redis gives equal scores (for ASCII ids). */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
