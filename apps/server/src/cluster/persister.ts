import { AppError } from '../core/errors.ts';
import type {
  CaseRecord,
  DecidedAppend,
  EventLog,
  EventRecord,
  VersionedAccountState,
} from '../storage/ports.ts';
import type { AccountState } from '../risk/domain/state.ts';
import type { EventStream, StreamConsumer, StreamEvent } from '../stream/port.ts';
import type { ClusterMessage } from './ports.ts';

/** What one persisted batch did (for metrics and logs). */
export interface PersistedBatch {
  readonly partition: number;
  readonly messages: number;
  /** Records new to the log; the rest were there already (a redelivery or a repeated publish). */
  readonly appended: number;
  readonly duplicates: number;
  readonly casesOpened: number;
  readonly accountsUpdated: number;
  readonly degraded: number;
  /** From taking the batch to its commit: parsing, degraded effects and the transaction. */
  readonly durationMs: number;
}

/** Running totals since start. */
export interface PersisterStats {
  batches: number;
  messages: number;
  appended: number;
  duplicates: number;
  casesOpened: number;
  accountsUpdated: number;
  degraded: number;
  /** Failed attempts to handle a batch (malformed, a write error, an outage). */
  failures: number;
  /** Of those, attempts held and retried because the database or the shared state was away. */
  outageRetries: number;
  /** Times the lease session ended and every partition this worker held was let go at once. */
  leaseLosses: number;
}

/** First wait before writing a batch again during an outage; doubles up to the max. */
const outageBackoffMs = 100;
const outageBackoffMaxMs = 5_000;

/**
 * Which worker persists which partition: one at a time per partition, or two workers pulling from
 * one durable consumer would write a partition's events out of order. Implementation: a
 * PostgreSQL session advisory lock per partition (adapters/db/partition-leases.ts).
 */
export interface PartitionLeases {
  /** Takes the partition if no other worker holds it; true if this worker holds it now. */
  tryTake(partition: number): Promise<boolean>;
  /** Told when every lease was lost at once (the session ended). */
  onLost(listener: () => void): void;
  /** Lets every partition go. */
  close(): Promise<void>;
}

export interface StreamPersisterOptions {
  readonly stream: EventStream;
  readonly events: Pick<EventLog, 'appendDecided'>;
  /** Events taken from a partition at a time, and so written per transaction. */
  readonly batchMax: number;
  /** With several workers: which partitions this one may persist. Without: all of them. */
  readonly leases?: PartitionLeases;
  /** How often partitions held by others are tried again (default 2 s). */
  readonly leaseRetryMs?: number;
  /**
   * Applies the effects of events decided without the shared state (`degraded: true`) to it,
   * before they are persisted and acknowledged; a throw makes the batch come again.
   */
  readonly applyDegraded: (messages: readonly ClusterMessage[]) => Promise<void>;
  /** Told of a batch that failed (it comes again, or its bad message ends in the dead letters). */
  readonly onError?: (error: unknown, partition: number) => void;
  /**
   * Answers when the database can serve queries (`Storage.ping`): a write that fails while it
   * does not is an outage, retried without spending the batch's tries.
   */
  readonly ping?: () => Promise<void>;
  /** Told of each committed batch. */
  readonly onBatch?: (batch: PersistedBatch) => void;
  /**
   * A write to PostgreSQL starts at least this long after the previous one started (default
   * 20 ms): the batches of the partitions that come meanwhile go together in it. Longer gives
   * fewer, larger writes (less CPU for the worker and the database per event) and events persisted
   * that much later; 0 writes as soon as the previous write is done.
   */
  readonly writeIntervalMs?: number;
}

/** See `StreamPersisterOptions.writeIntervalMs`. */
const defaultWriteIntervalMs = 20;

/**
 * A worker's side of cluster mode: takes every partition of the event stream, a batch at a time,
 * and writes each batch to PostgreSQL in one transaction (`EventLog.appendDecided`), acknowledging
 * it only after the commit. Delivery is at least once and the write is idempotent, so a message
 * given twice is stored once. A message that cannot be read throws, so the stream tries it alone
 * and then dead-letters it with the reason while the partition moves on.
 */
export class StreamPersister {
  readonly #options: StreamPersisterOptions;
  /** The consumer of each partition this worker persists. */
  readonly #consumers = new Map<number, StreamConsumer>();
  #started = false;
  #claiming: Promise<void> | undefined;
  #claimTimer: NodeJS.Timeout | undefined;
  /** Partitions whose lease was lost, while their old consumer finishes. */
  readonly #released = new Set<number>();
  readonly #draining = new Map<number, Promise<void>>();
  readonly #writer: GroupWriter;
  #stopping = false;
  readonly #stats: PersisterStats = {
    batches: 0,
    messages: 0,
    appended: 0,
    duplicates: 0,
    casesOpened: 0,
    accountsUpdated: 0,
    degraded: 0,
    failures: 0,
    outageRetries: 0,
    leaseLosses: 0,
  };

  constructor(options: StreamPersisterOptions) {
    if (!Number.isInteger(options.batchMax) || options.batchMax < 1)
      throw new RangeError('batchMax must be a positive integer');
    this.#options = options;
    const intervalMs = options.writeIntervalMs ?? defaultWriteIntervalMs;
    if (!Number.isFinite(intervalMs) || intervalMs < 0)
      throw new RangeError('writeIntervalMs must be a number ≥ 0');
    this.#writer = new GroupWriter(
      (records, cases, accounts) => options.events.appendDecided(records, cases, accounts),
      intervalMs,
    );
  }

  /**
   * Starts consuming (each partition resumes where its last consumer stopped). Without leases,
   * every partition at once: this is the only worker. With leases, the partitions this worker
   * can take, and the others as soon as their holder lets them go (it stopped, or died).
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const leases = this.#options.leases;
    if (leases === undefined) {
      for (let partition = 0; partition < this.#options.stream.partitions; partition += 1)
        this.#consume(partition);
      return;
    }
    leases.onLost(() => {
      this.#stats.leaseLosses += 1;
      void this.#dropAll();
    });
    const claim = (): void => {
      this.#claiming = this.#claim(leases).finally(() => {
        if (!this.#stopping) this.#claimTimer = setTimeout(claim, this.#options.leaseRetryMs ?? 2_000);
      });
    };
    claim();
  }

  /** The partitions this worker consumes now. */
  partitions(): number[] {
    return [...this.#consumers.keys()].sort((a, b) => a - b);
  }

  /** Graceful drain: no more pulls; the batch in hand of each partition is written and acknowledged. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#claimTimer !== undefined) clearTimeout(this.#claimTimer);
    await this.#claiming;
    const consumers = [...this.#consumers.values()];
    this.#consumers.clear();
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    await this.#options.leases?.close();
  }

  #consume(partition: number): void {
    const { stream, batchMax } = this.#options;
    this.#consumers.set(
      partition,
      stream.consumeBatch(partition, (events) => this.#persist(partition, events), { max: batchMax }),
    );
  }

  /** Takes every free partition this worker does not consume yet. */
  async #claim(leases: PartitionLeases): Promise<void> {
    for (let partition = 0; partition < this.#options.stream.partitions; partition += 1) {
      if (this.#stopping) return;
      if (this.#consumers.has(partition) || this.#draining.has(partition)) continue;
      try {
        if (await leases.tryTake(partition)) this.#consume(partition);
      } catch (error) {
        // PostgreSQL away: nothing can be written anyway; the next round tries again.
        this.#options.onError?.(error, partition);
        return;
      }
    }
  }

  /**
   * The leases' session ended: another worker may take the partitions now, so this one stops
   * pulling them and gives up the batches it holds (they come again to the new holder). A
   * partition is taken again only once its old consumer has finished.
   */
  async #dropAll(): Promise<void> {
    const dropped = [...this.#consumers];
    this.#consumers.clear();
    await Promise.all(
      dropped.map(async ([partition, consumer]) => {
        this.#released.add(partition);
        const done = consumer.stop().finally(() => {
          this.#released.delete(partition);
          this.#draining.delete(partition);
        });
        this.#draining.set(partition, done);
        await done;
      }),
    );
  }

  stats(): PersisterStats {
    return { ...this.#stats };
  }

  /**
   * Writes one batch. A malformed message throws at once (the stream tries it alone, then
   * dead-letters it). An outage does not spend the batch's tries: while the database does not
   * answer its ping, or the shared state cannot take degraded effects, the batch is held and
   * written again with backoff, so a long outage delays events and dead-letters none. A write
   * that fails with the database up throws, and counts as a try.
   */
  async #persist(partition: number, events: readonly StreamEvent[]): Promise<void> {
    const started = performance.now();
    let messages: ClusterMessage[];
    try {
      messages = events.map((event) => parseClusterMessage(event));
    } catch (error) {
      this.#stats.failures += 1;
      this.#options.onError?.(error, partition);
      throw error;
    }
    const degraded = messages.filter((m) => m.degraded === true);
    for (let attempt = 0; ; attempt += 1) {
      let stage: 'degraded' | 'write' = 'degraded';
      try {
        if (degraded.length > 0) await this.#options.applyDegraded(degraded);
        stage = 'write';
        const written = await this.#writer.write(toWrite(messages));
        this.#count(partition, messages.length, degraded.length, written, performance.now() - started);
        return;
      } catch (error) {
        this.#stats.failures += 1;
        this.#options.onError?.(error, partition);
        const outage = stage === 'degraded' || !(await this.#answers());
        // Stopping, or the partition now belongs to another worker: the batch comes again there.
        if (!outage || this.#stopping || this.#released.has(partition)) throw error;
        this.#stats.outageRetries += 1;
        await this.#pause(Math.min(outageBackoffMaxMs, outageBackoffMs * 2 ** Math.min(attempt, 10)));
      }
    }
  }

  /** Whether the database answers (no `ping` given: assumed to, so failures count as tries). */
  async #answers(): Promise<boolean> {
    const ping = this.#options.ping;
    if (ping === undefined) return true;
    try {
      await ping();
      return true;
    } catch {
      return false;
    }
  }

  /** Waits, cut short by `stop()`. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      const poll = setInterval(() => {
        if (this.#stopping) finish();
      }, 50);
      function finish(): void {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      }
    });
  }

  #count(
    partition: number,
    messages: number,
    degraded: number,
    written: DecidedAppend,
    durationMs: number,
  ): void {
    const batch: PersistedBatch = {
      partition,
      messages,
      appended: written.appended.size,
      duplicates: messages - written.appended.size,
      casesOpened: written.openedCases.length,
      accountsUpdated: written.updatedAccounts.length,
      degraded,
      durationMs,
    };
    const stats = this.#stats;
    stats.batches += 1;
    stats.messages += batch.messages;
    stats.appended += batch.appended;
    stats.duplicates += batch.duplicates;
    stats.casesOpened += batch.casesOpened;
    stats.accountsUpdated += batch.accountsUpdated;
    stats.degraded += batch.degraded;
    this.#options.onBatch?.(batch);
  }
}

/** The three lists `appendDecided` takes. */
type Lists = [EventRecord[], CaseRecord[], VersionedAccountState[]];

interface Waiting {
  readonly lists: Lists;
  readonly resolve: (written: DecidedAppend) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: the batches of several partitions that are ready at once are written in one
 * `appendDecided` call, and so one statement (one transaction when cases open). A worker that
 * keeps up takes batches of one or two events per partition, and a round trip to PostgreSQL per
 * batch was most of its CPU and much of the database's. One write is in flight at a time, and
 * writes start at least `intervalMs` apart; the batches that come meanwhile go together in the
 * next.
 *
 * Partitions hold different accounts and each has one batch in hand at a time, so writing them
 * together keeps every partition's order. A combined write that fails is written again one batch
 * at a time, so each batch gets the outcome it would have had alone: a bad batch fails only
 * itself, and the caller's outage handling sees its own error.
 */
class GroupWriter {
  readonly #write: (...lists: Lists) => Promise<DecidedAppend>;
  readonly #intervalMs: number;
  #waiting: Waiting[] = [];
  #writing = false;
  #lastStartMs = -Infinity;

  constructor(write: (...lists: Lists) => Promise<DecidedAppend>, intervalMs: number) {
    this.#write = write;
    this.#intervalMs = intervalMs;
  }

  /** Writes one batch (possibly with others); answers what was new of this batch. */
  write(lists: Lists): Promise<DecidedAppend> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ lists, resolve, reject });
      // Started after the current I/O callback's work, so the partitions that received events in
      // the same read join the first write too.
      if (!this.#writing) {
        this.#writing = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#waiting.length > 0) {
        const waitMs = this.#lastStartMs + this.#intervalMs - performance.now();
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
        this.#lastStartMs = performance.now();
        const group = this.#waiting;
        this.#waiting = [];
        await this.#commit(group);
      }
    } finally {
      this.#writing = false;
    }
  }

  async #commit(group: readonly Waiting[]): Promise<void> {
    const [only] = group;
    if (group.length === 1 && only !== undefined) {
      await this.#write(...only.lists).then(only.resolve, only.reject);
      return;
    }
    let written: DecidedAppend;
    try {
      written = await this.#write(...merged(group.map((waiting) => waiting.lists)));
    } catch {
      for (const waiting of group) await this.#commit([waiting]);
      return;
    }
    for (const waiting of group) waiting.resolve(shareOf(written, waiting.lists));
  }
}

/** The lists of several batches as one, each batch's records still in their order. */
function merged(all: readonly Lists[]): Lists {
  return [all.flatMap((l) => l[0]), all.flatMap((l) => l[1]), all.flatMap((l) => l[2])];
}

/** The part of a combined write's answer that belongs to one of its batches. */
function shareOf(written: DecidedAppend, [records, cases, accounts]: Lists): DecidedAppend {
  const appended = new Map<string, number>();
  for (const record of records) {
    const seq = written.appended.get(record.eventId);
    if (seq !== undefined) appended.set(record.eventId, seq);
  }
  const caseIds = new Set(cases.map((c) => c.caseId));
  const accountIds = new Set(accounts.map((a) => a.state.accountId));
  return {
    appended,
    openedCases: written.openedCases.filter((id) => caseIds.has(id)),
    updatedAccounts: written.updatedAccounts.filter((id) => accountIds.has(id)),
  };
}

/** The three lists `appendDecided` takes, in the messages' order. */
function toWrite(messages: readonly ClusterMessage[]): Lists {
  const records = messages.map((m) => m.record);
  const cases = messages.flatMap((m) => (m.openedCase === undefined ? [] : [m.openedCase]));
  const accounts = messages.flatMap((m) => (m.account === undefined ? [] : [m.account]));
  return [records, cases, accounts];
}

/** A malformed stream message: never retried into success, so it ends in the dead letters. */
function malformed(field: string, problem: string): AppError {
  return new AppError('INVALID_EVENT', `malformed cluster message: ${field} ${problem}`, { field });
}

type Fields = Record<string, unknown>;

function object(value: unknown, field: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed(field, 'must be an object');
  return value as Fields;
}

function text(from: Fields, key: string, path: string): string {
  const value = from[key];
  if (typeof value !== 'string' || value.length === 0)
    throw malformed(`${path}.${key}`, 'must be a non-empty string');
  return value;
}

function number(from: Fields, key: string, path: string): number {
  const value = from[key];
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw malformed(`${path}.${key}`, 'must be a number');
  return value;
}

function optional<T>(from: Fields, key: string, read: (from: Fields, key: string) => T): T | undefined {
  return from[key] === undefined || from[key] === null ? undefined : read(from, key);
}

/**
 * Checks what the database and the containment engine rely on (ids, times, the decision's
 * outcome and score, versions), not every field of the event: the API node that published it
 * validated the event and made the rest.
 */
export function parseClusterMessage(event: StreamEvent): ClusterMessage {
  const body = object(event.body, 'body');
  if (body.v !== 1) throw malformed('v', 'must be 1');
  const record = parseRecord(object(body.record, 'record'));
  if (record.eventId !== event.eventId) throw malformed('record.eventId', 'must be the stream event id');
  const message: ClusterMessage = { v: 1, record };
  if (body.openedCase !== undefined && body.openedCase !== null)
    message.openedCase = parseCase(object(body.openedCase, 'openedCase'));
  if (body.account !== undefined && body.account !== null)
    message.account = parseAccount(object(body.account, 'account'));
  if (body.degraded !== undefined) {
    if (body.degraded !== true) throw malformed('degraded', 'must be true when present');
    message.degraded = true;
  }
  return message;
}

function parseRecord(record: Fields): EventRecord {
  const path = 'record';
  const decision = object(record.decision, 'record.decision');
  text(decision, 'decision', 'record.decision');
  number(decision, 'score', 'record.decision');
  object(record.event, 'record.event');
  for (const key of ['atMs', 'receivedAtMs', 'decidedAtMs']) number(record, key, path);
  for (const key of ['eventId', 'type', 'contentHash', 'policyVersion']) text(record, key, path);
  optional(record, 'accountId', (from, key) => text(from, key, path));
  return record as unknown as EventRecord;
}

function parseCase(opened: Fields): CaseRecord {
  const path = 'openedCase';
  for (const key of ['caseId', 'accountId', 'status', 'reportedBy', 'openedByEventId'])
    text(opened, key, path);
  number(opened, 'openedAtMs', path);
  optional(opened, 'sinceMs', (from, key) => number(from, key, path));
  const run = optional(opened, 'run', (from, key) => object(from[key], `${path}.run`));
  if (run !== undefined) {
    text(run, 'playbook', `${path}.run`);
    optional(run, 'orderId', (from, key) => text(from, key, `${path}.run`));
  }
  return opened as unknown as CaseRecord;
}

function parseAccount(account: Fields): VersionedAccountState {
  const version = account.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
    throw malformed('account.version', 'must be a positive integer');
  const state = object(account.state, 'account.state');
  text(state, 'accountId', 'account.state');
  for (const key of ['firstSeenAt', 'lastSeenAt', 'risk']) number(state, key, 'account.state');
  return { state: state as unknown as AccountState, version };
}
