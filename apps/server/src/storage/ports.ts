import type { BulwarkEvent, Decision, DecisionOutcome } from '@bulwark/contracts';
import type { AccountState } from '../risk/domain/state.ts';
import type { SeriesSnapshot } from '../risk/domain/velocity.ts';
import type { PlaybookName } from '../containment/domain/model.ts';
import type { RunStore } from '../containment/ports.ts';
import type { ConsoleStore } from './console-ports.ts';
import type { VerificationStore } from '../verify/ports.ts';
import type { RuleSetStore } from '../rules/ports.ts';

/** One accepted event with the decision it got. Times are epoch milliseconds. */
export interface EventRecord {
  eventId: string;
  accountId: string | undefined;
  type: BulwarkEvent['type'];
  atMs: number;
  receivedAtMs: number;
  decidedAtMs: number;
  contentHash: string;
  event: BulwarkEvent;
  decision: Decision;
  policyVersion: string;
}

export interface StoredEvent extends EventRecord {
  seq: number;
}

export interface PriorOutcome {
  contentHash: string;
  decision: Decision;
}

export type CaseStatus = 'open' | 'contained' | 'reconciled' | 'escalated' | 'closed';

export interface CaseRecord {
  caseId: string;
  accountId: string;
  status: CaseStatus;
  reportedBy: string;
  openedAtMs: number;
  sinceMs: number | undefined;
  openedByEventId: string;
  /** The containment run the case starts in the same transaction, when a playbook applies. */
  run?: NewRun | undefined;
}

/** What starts a containment run: the playbook and, for a single-order case, its order. */
export interface NewRun {
  playbook: PlaybookName;
  orderId?: string | undefined;
}

/** The append-only log of every accepted event and its decision. */
export interface EventLog {
  /** Outcomes already stored for these event ids. */
  findByIds(eventIds: readonly string[]): Promise<Map<string, PriorOutcome>>;
  /**
   * Appends records in order, and the cases they open, atomically: all or nothing. Answers the
   * sequence number given to each record. An id already stored fails the whole append.
   */
  append(records: readonly EventRecord[], openedCases: readonly CaseRecord[]): Promise<number[]>;
  /**
   * Appends what cluster workers take from the event stream, where every message may come more
   * than once and an account's messages may come out of order. In one transaction: records whose
   * id is already stored are skipped; cases already stored are skipped and start no second run
   * (as is a case for an account that already has another one open); an account's state is
   * written only when no newer version is stored. Answers what was new.
   */
  appendDecided(
    records: readonly EventRecord[],
    openedCases: readonly CaseRecord[],
    accounts: readonly VersionedAccountState[],
  ): Promise<DecidedAppend>;
  /** An account's events, newest first, strictly older than `beforeSeq` when given. */
  readAccount(accountId: string, page: { beforeSeq?: number; limit: number }): Promise<StoredEvent[]>;
  /** Events with a sequence number greater than `afterSeq`, oldest first. */
  readAfter(afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /**
   * How many events have a sequence number greater than `afterSeq` (and at most `upToSeq` when
   * given): lets a reader holding events in memory check it holds all of them (ingest/log-tail.ts).
   */
  countAfter(afterSeq: number, upToSeq?: number): Promise<number>;
  /** Decided events of every account, newest first, narrowed by the filter (the console's list). */
  readDecisions(filter: DecisionFilter): Promise<StoredEvent[]>;
}

/** An account's state with the version the cluster's shared decision store gave it. */
export interface VersionedAccountState {
  state: AccountState;
  version: number;
}

/** What `appendDecided` wrote; anything absent was already stored (or is older than what is). */
export interface DecidedAppend {
  /** Sequence numbers of the records that were new, by event id. */
  appended: Map<string, number>;
  /** Ids of the cases inserted (their runs started with them). */
  openedCases: string[];
  /** Accounts whose stored state was replaced or first written. */
  updatedAccounts: string[];
}

export interface DecisionFilter {
  decision?: DecisionOutcome;
  /** Only decisions giving this reason code. */
  reasonCode?: string;
  accountId?: string;
  /** Strictly older than this sequence number (paging). */
  beforeSeq?: number;
  limit: number;
}

export interface SeriesRecord {
  key: string;
  snapshot: SeriesSnapshot;
}

/** Where hot state is written behind, and read back on a cache miss or a restart. */
export interface StateStore {
  loadAccounts(accountIds: readonly string[]): Promise<AccountState[]>;
  loadSeries(keys: readonly string[]): Promise<SeriesRecord[]>;
  /** Writes states and the sequence number of the last event they include, atomically. */
  writeCheckpoint(checkpoint: {
    seq: number;
    accounts: readonly AccountState[];
    series: readonly SeriesRecord[];
  }): Promise<void>;
  readCheckpointSeq(): Promise<number>;
}

/** What a batch of events needs read before it is decided: outcomes by id, accounts, series. */
export interface BatchReadRequest {
  readonly eventIds: readonly string[];
  readonly accountIds: readonly string[];
  readonly seriesKeys: readonly string[];
}

export interface BatchReadResult {
  /** Outcomes already stored for the requested event ids (ids not logged are absent). */
  outcomes: Map<string, PriorOutcome>;
  accounts: AccountState[];
  series: SeriesRecord[];
}

/**
 * The reads of one ingest cycle in a single round trip: `EventLog.findByIds`,
 * `StateStore.loadAccounts` and `StateStore.loadSeries` answered by one statement. On a server
 * the round trip, not the rows, is most of what a small read costs.
 */
export interface BatchReader {
  read(request: BatchReadRequest): Promise<BatchReadResult>;
}

export interface CaseStore {
  get(caseId: string): Promise<CaseRecord | undefined>;
  openForAccount(accountId: string): Promise<CaseRecord | undefined>;
  /** Cases, oldest first, at most `limit`. */
  list(limit: number): Promise<CaseRecord[]>;
}

export interface ApiKeyRecord {
  keyId: string;
  name: string;
  /** Hex SHA-256 of the key's secret part; the secret itself is never stored. */
  secretHash: string;
  createdAtMs: number;
  revokedAtMs: number | undefined;
}

export interface ApiKeyStore {
  insert(record: ApiKeyRecord): Promise<void>;
  find(keyId: string): Promise<ApiKeyRecord | undefined>;
  countActive(): Promise<number>;
}

/** Everything the service keeps, behind one object chosen at start-up. */
export interface Storage {
  readonly kind: string;
  readonly events: EventLog;
  readonly state: StateStore;
  readonly cases: CaseStore;
  readonly apiKeys: ApiKeyStore;
  /** Containment runs and their steps. */
  readonly containment: RunStore;
  /** Analysts, console and security-center sessions, the audit log (console/). */
  readonly console: ConsoleStore;
  /** Step-up challenges, enrolments, alerts and breached-password hashes (verify/). */
  readonly verification: VerificationStore;
  /** Order rule sets, models and shadow verdicts (rules/). */
  readonly ruleSets: RuleSetStore;
  /** The ingest cycle's reads (prior outcomes, accounts, series) in one round trip. */
  readonly batchReads: BatchReader;
  /** Makes this process the only writer of decisions until close; throws if another one is. */
  lockWriter(): Promise<void>;
  /** Answers when the store can serve queries (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
