import type { AccountState } from '../risk/domain/state.ts';
import type { SeriesLimits, SeriesSnapshot } from '../risk/domain/velocity.ts';
import type { CaseRecord, EventRecord, PriorOutcome } from '../storage/ports.ts';

/**
 * Cluster mode (docs/scaling.md, ADR 0016): API nodes decide from state shared in a decision
 * state store (Redis), publish each decided event to the event stream (NATS JetStream), and
 * workers persist the stream to PostgreSQL. This file holds the ports both sides agree on.
 */

/** An account's state in the shared store, with the version a commit must still find. */
export interface VersionedAccount {
  /** Undefined when the store holds nothing for the account (version 0). */
  state: AccountState | undefined;
  /** 0 when absent; every committed change adds 1. */
  version: number;
}

/** What deciding a batch needs, read in one round trip. */
export interface DecisionStateLoad {
  accounts: Map<string, VersionedAccount>;
  /** Absent keys are missing from the map (an empty series). */
  series: Map<string, SeriesSnapshot>;
  /** Outcomes already given to these event ids (idempotency across nodes). */
  prior: Map<string, PriorOutcome>;
}

/**
 * One change a decision made to a velocity series, replayed by the store on its own copy, so
 * concurrent nodes changing one global series (an IP's failures, a value's global count) add
 * their changes instead of overwriting each other. Same meaning as the `WindowSeries` methods
 * `record(t, v, k)`, `addToBucket(t, v)` and `remove(t, v, k)`.
 */
export type SeriesOp =
  | { op: 'record'; t: number; v: number; k?: string }
  | { op: 'bucket'; t: number; v: number }
  | { op: 'remove'; t: number; v: number; k?: string };

export interface SeriesChange {
  key: string;
  /** The series' limits (`seriesLimitsOf(key)`), applied after the ops, as `WindowSeries` trims. */
  limits: SeriesLimits;
  ops: SeriesOp[];
}

/** A decided event waiting to be published; kept by the store until `published` (the spool). */
export interface PendingMessage {
  eventId: string;
  /** The serialized `ClusterMessage`. */
  message: string;
}

export interface DecisionCommit {
  /** New states; each commits only if the store still holds `expectedVersion`. */
  accounts: { state: AccountState; expectedVersion: number }[];
  series: SeriesChange[];
  outcomes: { eventId: string; outcome: PriorOutcome }[];
  pending: PendingMessage[];
}

export type CommitResult =
  | { ok: true }
  /**
   * Nothing was written: another node changed these accounts since the load, or already decided
   * these event ids. The caller loads again and decides the batch again.
   */
  | { ok: false; conflictedAccounts: string[]; decidedEventIds: string[] };

/**
 * The state API nodes decide from. A commit is atomic: all of it or none of it. Implementations:
 * Redis (adapters/redis/redis-decision-state.ts) and in process (cluster/memory-decision-state.ts);
 * both pass the conformance suite (test/helpers/decision-state-suite.ts).
 */
export interface DecisionStateStore {
  load(query: {
    accountIds: readonly string[];
    seriesKeys: readonly string[];
    eventIds: readonly string[];
  }): Promise<DecisionStateLoad>;
  commit(commit: DecisionCommit): Promise<CommitResult>;
  /** Forgets pending messages once the stream has them. */
  published(eventIds: readonly string[]): Promise<void>;
  /** Pending messages committed at least `olderThanMs` ago (by the store's clock), oldest first. */
  pendingOlderThan(olderThanMs: number, limit: number): Promise<PendingMessage[]>;
  close(): Promise<void>;
}

/**
 * What an API node publishes per decided event and a worker persists: the log record, the case it
 * opened, and the account's state after it (so PostgreSQL keeps a current copy for the console,
 * containment's owner contact and a rebuild of the shared store).
 */
export interface ClusterMessage {
  v: 1;
  record: EventRecord;
  openedCase?: CaseRecord;
  account?: { state: AccountState; version: number };
  /**
   * Decided without the shared state (it was unreachable): the event's effects are not in the
   * store yet, and the worker applies them before acknowledging.
   */
  degraded?: true;
}
