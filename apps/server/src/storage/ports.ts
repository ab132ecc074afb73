import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import type { AccountState } from '../risk/domain/state.ts';
import type { SeriesSnapshot } from '../risk/domain/velocity.ts';

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
  /** An account's events, newest first, strictly older than `beforeSeq` when given. */
  readAccount(accountId: string, page: { beforeSeq?: number; limit: number }): Promise<StoredEvent[]>;
  /** Events with a sequence number greater than `afterSeq`, oldest first. */
  readAfter(afterSeq: number, limit: number): Promise<StoredEvent[]>;
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

export interface CaseStore {
  get(caseId: string): Promise<CaseRecord | undefined>;
  openForAccount(accountId: string): Promise<CaseRecord | undefined>;
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
  /** Makes this process the only writer of decisions until close; throws if another one is. */
  lockWriter(): Promise<void>;
  /** Answers when the store can serve queries (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
