import type { Decision } from '@bulwark/contracts';
import type { Clock } from '../core/clock.ts';
import type { IdGenerator } from '../core/ids.ts';
import { LruMap } from '../core/lru.ts';
import { apply } from '../risk/domain/decider.ts';
import type { RiskPolicy } from '../risk/domain/policy.ts';
import type { ShadowVerdict } from '../risk/domain/orders/assess.ts';
import type { CaseRecord, EventRecord, PriorOutcome, Storage } from '../storage/ports.ts';
import { handleEvent, type HandleOutcome } from './handle.ts';
import { HotStateCache, type HotStateLimits } from './hot-state.ts';
import type { ValidEvent } from './validate.ts';

const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export type SubmitOutcome =
  | { ok: true; decision: Decision; duplicate: boolean }
  | { ok: false; code: 'EVENT_ID_CONFLICT' | 'UNAVAILABLE'; message: string; eventId: string };

/** The answer to each of `items` when the processor no longer takes events. */
export function shuttingDown(items: readonly ValidEvent[]): SubmitOutcome[] {
  return items.map((item) => ({
    ok: false,
    code: 'UNAVAILABLE',
    message: 'the server is shutting down',
    eventId: item.event.id,
  }));
}

/** The answer to an event that was not decided now: repeated (same content) or conflicting. */
export function answerUndecided(outcome: Exclude<HandleOutcome, { kind: 'decided' }>): SubmitOutcome {
  if (outcome.kind === 'duplicate') return { ok: true, decision: outcome.decision, duplicate: true };
  return {
    ok: false,
    code: 'EVENT_ID_CONFLICT',
    message: `event id "${outcome.eventId}" was already accepted with different content`,
    eventId: outcome.eventId,
  };
}

/**
 * Decides validated events in order and answers once each is durable: the single-process writer
 * below, or an API node of a cluster (cluster/api-processor.ts).
 */
export interface EventProcessor {
  /** Queues events; each answer arrives once its event is decided and durably accepted. */
  submit(items: readonly ValidEvent[], receivedAtMs: number): Promise<SubmitOutcome[]>;
  /** The decision already given to an event id, if any. */
  storedDecision(eventId: string): Promise<Decision | undefined>;
}

export interface ProcessorOptions extends HotStateLimits {
  /** Events decided and written together at most; the rest wait for the next cycle. */
  readonly cycleEventsMax: number;
  /** Remembered outcomes by event id, to answer re-sent ids without a database read. */
  readonly priorOutcomesMax: number;
  /** How often changed hot state is written behind. */
  readonly checkpointIntervalMs: number;
  /** Events read per query when rebuilding state from the log. */
  readonly restorePageSize: number;
}

export interface ProcessorMetrics {
  onCycle(eventCount: number, durationMs: number): void;
  onCheckpoint(entryCount: number, durationMs: number, succeeded: boolean): void;
}

/** An order's shadow verdict beside the decision it got, told once the decision is logged. */
export interface ShadowRecord {
  eventId: string;
  decision: Decision;
  verdict: ShadowVerdict;
}
export type ShadowListener = (records: readonly ShadowRecord[]) => void;

/** Told of every storage failure the processor survives, so it can be logged. */
export type StorageErrorListener = (error: unknown, during: 'cycle' | 'checkpoint' | 'restore') => void;

/** A batch taken from the queue with the reads it needs started. */
interface Prepared {
  batch: Pending[];
  reads: Promise<Map<string, PriorOutcome>>;
  /** The hot state's generation when the reads began. */
  generation: number;
}

export interface Pending {
  valid: ValidEvent;
  receivedAtMs: number;
  resolve: (outcome: SubmitOutcome) => void;
}

/**
 * Events waiting to be decided and the one run that drains them, as both processors use them:
 * `submit` queues and starts a run unless one is going, and a run that ends with events left
 * starts another. After `stop`, events are refused as the server shutting down.
 */
export class SubmitQueue {
  #pending: Pending[] = [];
  #running: Promise<void> | undefined;
  #stopped = false;
  readonly #run: () => Promise<void>;

  constructor(run: () => Promise<void>) {
    this.#run = run;
  }

  get length(): number {
    return this.#pending.length;
  }

  submit(items: readonly ValidEvent[], receivedAtMs: number): Promise<SubmitOutcome[]> {
    if (this.#stopped) return Promise.resolve(shuttingDown(items));
    const answers = items.map(
      (valid) =>
        new Promise<SubmitOutcome>((resolve) => this.#pending.push({ valid, receivedAtMs, resolve })),
    );
    this.kick();
    return Promise.all(answers);
  }

  /** The next `max` events, oldest first. */
  take(max: number): Pending[] {
    return this.#pending.splice(0, max);
  }

  /** Puts events taken but not decided back at the front, in their order. */
  putBack(batch: readonly Pending[]): void {
    this.#pending.unshift(...batch);
  }

  takeAll(): Pending[] {
    const all = this.#pending;
    this.#pending = [];
    return all;
  }

  /** Starts a run unless one is going (a run may also do periodic work with nothing queued). */
  kick(): void {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
      if (this.#pending.length > 0) this.kick();
    });
  }

  /** Refuses new events; resolves once every run, and so every queued event, is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    while (this.#running !== undefined) await this.#running;
  }
}

/**
 * The single writer of decisions. Requests queue their events; one cycle at a time takes what is
 * queued, loads what it needs, decides every event in arrival order against the in-memory hot
 * state, appends them to the event log in one atomic write (group commit) and only then answers.
 * A crash after the answer loses nothing: the log has it. Hot state is written behind by
 * checkpoints and rebuilt at start from the last checkpoint plus the log after it.
 */
export class IngestProcessor implements EventProcessor {
  readonly #storage: Storage;
  readonly #clock: Clock;
  readonly #ids: IdGenerator;
  #policy: RiskPolicy;
  readonly #onShadow: ShadowListener | undefined;
  readonly #options: ProcessorOptions;
  readonly #metrics: ProcessorMetrics | undefined;
  readonly #onStorageError: StorageErrorListener | undefined;
  readonly #hot: HotStateCache;
  readonly #prior: LruMap<string, PriorOutcome>;
  readonly #queue = new SubmitQueue(() => this.#drain());
  #checkpoint: Promise<void> | undefined;
  #lastCheckpointMs = 0;
  /** Sequence number of the last event whose effects the hot state holds. */
  #appliedSeq = 0;
  #needsRestore = true;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: {
    storage: Storage;
    clock: Clock;
    ids: IdGenerator;
    policy: RiskPolicy;
    options: ProcessorOptions;
    metrics?: ProcessorMetrics;
    onStorageError?: StorageErrorListener;
    onShadow?: ShadowListener;
  }) {
    this.#onShadow = deps.onShadow;
    this.#onStorageError = deps.onStorageError;
    this.#storage = deps.storage;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#policy = deps.policy;
    this.#options = deps.options;
    this.#metrics = deps.metrics;
    this.#hot = new HotStateCache(deps.options, deps.storage.state, deps.policy);
    this.#prior = new LruMap(deps.options.priorOutcomesMax);
  }

  /** The policy decisions are made with now. */
  get policy(): RiskPolicy {
    return this.#policy;
  }

  /**
   * Decides with `policy` from the next cycle on (a saved or activated rule set, a new model).
   * A cycle in progress finishes with the policy it started with, so each group commit is
   * decided, and logged, under one policy version. The series an event needs do not depend on
   * the order part of the policy, so the hot state stays as it is.
   */
  setPolicy(policy: RiskPolicy): void {
    this.#policy = policy;
  }

  /** The hot state, for reading views (account pages) that must see undecided-yet-unwritten state. */
  get hot(): HotStateCache {
    return this.#hot;
  }

  /** The decision already given to an event id, if any (memory first, then the log). */
  async storedDecision(eventId: string): Promise<Decision | undefined> {
    const known = this.#prior.get(eventId);
    if (known !== undefined) return known.decision;
    return (await this.#storage.events.findByIds([eventId])).get(eventId)?.decision;
  }

  /** Rebuilds hot state from the store and starts periodic checkpoints. */
  async start(): Promise<void> {
    await this.#restore();
    this.#lastCheckpointMs = this.#clock.now();
    this.#timer = setInterval(() => {
      if (this.#hot.dirtyCount > 0) this.#queue.kick();
    }, this.#options.checkpointIntervalMs);
    this.#timer.unref();
  }

  /** Queues events; each answer arrives once its event is decided and durably logged. */
  submit(items: readonly ValidEvent[], receivedAtMs: number): Promise<SubmitOutcome[]> {
    return this.#queue.submit(items, receivedAtMs);
  }

  /** Answers everything queued, writes a last checkpoint and stops. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#queue.stop();
    await this.#checkpoint;
    if (!this.#needsRestore) await this.#writeCheckpoint();
  }

  async #drain(): Promise<void> {
    /** The next batch, taken while the previous one was being appended, its reads under way. */
    let next: Prepared | undefined;
    for (;;) {
      // Give pending I/O (requests being read) a turn before each cycle, so concurrent requests
      // share one group commit. PGlite's queries run on this thread and would otherwise let one
      // request run start to finish before the next is even parsed.
      await yieldToIo();
      if (this.#needsRestore) {
        // Reads started before the failure must land before memory is reset, never after it.
        await next?.reads.catch(() => undefined);
        try {
          await this.#restore();
        } catch (error) {
          this.#onStorageError?.(error, 'restore');
          if (next !== undefined) this.#queue.putBack(next.batch);
          this.#failQueued(error);
          return;
        }
      }
      const prepared =
        next ??
        (this.#queue.length > 0 ? this.#prepare(this.#queue.take(this.#options.cycleEventsMax)) : undefined);
      next = prepared === undefined ? undefined : await this.#cycle(prepared);
      // A checkpoint is taken between cycles, when memory holds only logged effects (the next
      // batch has only been read for, not decided).
      const now = this.#clock.now();
      if (
        this.#checkpoint === undefined &&
        this.#hot.dirtyCount > 0 &&
        now - this.#lastCheckpointMs >= this.#options.checkpointIntervalMs
      ) {
        this.#lastCheckpointMs = now;
        this.#checkpoint = this.#writeCheckpoint().finally(() => {
          this.#checkpoint = undefined;
        });
      }
      this.#hot.evict();
      if (this.#queue.length === 0 && next === undefined) return;
    }
  }

  /**
   * Starts the reads a batch needs before it can be decided: outcomes of ids not remembered, and
   * the accounts and series not in memory. Reads change no decision state, so they may run while
   * the previous batch is being appended; the batch is decided only after that append.
   */
  #prepare(batch: Pending[]): Prepared {
    const unknownIds = [
      ...new Set(batch.map((p) => p.valid.event.id).filter((id) => this.#prior.get(id) === undefined)),
    ];
    const events = batch.map((p) => p.valid.event);
    const generation = this.#hot.generation;
    // One round trip for the outcomes, accounts and series together.
    const missing = this.#hot.missing(events);
    const reads = this.#storage.batchReads
      .read({ eventIds: unknownIds, accountIds: missing.accountIds, seriesKeys: missing.seriesKeys })
      .then((read) => {
        this.#hot.install(missing, read.accounts, read.series);
        return read.outcomes;
      });
    // A failure is handled when the batch's cycle awaits the reads, never as an unhandled rejection.
    reads.catch(() => undefined);
    return { batch, reads, generation };
  }

  /** Decides a prepared batch, appends it, answers it; answers the next batch, prepared meanwhile. */
  async #cycle(prepared: Prepared): Promise<Prepared | undefined> {
    const { batch } = prepared;
    const startedMs = performance.now();
    try {
      const stored = await prepared.reads;
      // Memory may have been rebuilt or trimmed since the reads began: then load what is missing.
      if (this.#hot.generation !== prepared.generation)
        await this.#hot.ensureLoaded(batch.map((p) => p.valid.event));
      for (const [id, outcome] of stored) this.#prior.set(id, outcome);
    } catch (error) {
      this.#failBatch(batch, error);
      return undefined;
    }

    const records: EventRecord[] = [];
    const cases: CaseRecord[] = [];
    const shadows: ShadowRecord[] = [];
    const policy = this.#policy;
    const answers: { pending: Pending; outcome: SubmitOutcome }[] = [];
    for (const pending of batch) {
      const outcome = handleEvent(pending.valid, this.#hot, this.#prior, this.#ids, policy, {
        receivedAtMs: pending.receivedAtMs,
        decidedAtMs: this.#clock.now(),
      });
      switch (outcome.kind) {
        case 'decided':
          records.push(outcome.record);
          if (outcome.shadow !== undefined) {
            shadows.push({
              eventId: outcome.record.eventId,
              decision: outcome.decision,
              verdict: outcome.shadow,
            });
          }
          if (outcome.openedCase !== undefined) cases.push(outcome.openedCase);
          answers.push({ pending, outcome: { ok: true, decision: outcome.decision, duplicate: false } });
          break;
        case 'duplicate':
        case 'conflict':
          answers.push({ pending, outcome: answerUndecided(outcome) });
          break;
      }
    }

    const appended = this.#storage.events.append(records, cases);
    // While the log write is under way, the reads of the next batch (already queued) run too.
    const next =
      this.#queue.length > 0 ? this.#prepare(this.#queue.take(this.#options.cycleEventsMax)) : undefined;
    try {
      const seqs = await appended;
      this.#appliedSeq = Math.max(this.#appliedSeq, ...seqs);
    } catch (error) {
      // Memory now holds effects the log does not: rebuild before deciding anything else.
      this.#needsRestore = true;
      this.#failBatch(batch, error);
      return next;
    }
    for (const { pending, outcome } of answers) pending.resolve(outcome);
    if (shadows.length > 0) this.#onShadow?.(shadows);
    this.#metrics?.onCycle(batch.length, performance.now() - startedMs);
    return next;
  }

  #failBatch(batch: readonly Pending[], error: unknown): void {
    const message = 'storage is unavailable; the event was not accepted, send it again';
    this.#onStorageError?.(error, 'cycle');
    for (const pending of batch) {
      pending.resolve({ ok: false, code: 'UNAVAILABLE', message, eventId: pending.valid.event.id });
    }
  }

  #failQueued(error: unknown): void {
    this.#failBatch(this.#queue.takeAll(), error);
  }

  async #writeCheckpoint(): Promise<void> {
    const startedMs = performance.now();
    const seq = this.#appliedSeq;
    const dirty = this.#hot.takeDirty();
    const entries = dirty.accounts.length + dirty.series.length;
    if (entries === 0) {
      this.#hot.flushed(true);
      return;
    }
    try {
      await this.#storage.state.writeCheckpoint({ seq, accounts: dirty.accounts, series: dirty.series });
      this.#hot.flushed(true);
      this.#metrics?.onCheckpoint(entries, performance.now() - startedMs, true);
    } catch (error) {
      this.#onStorageError?.(error, 'checkpoint');
      this.#hot.flushed(false);
      this.#metrics?.onCheckpoint(entries, performance.now() - startedMs, false);
    }
  }

  /** Rebuilds hot state: the last checkpoint, then every logged event after it. */
  async #restore(): Promise<void> {
    await this.#checkpoint;
    this.#hot.reset();
    this.#prior.clear();
    let seq = await this.#storage.state.readCheckpointSeq();
    for (;;) {
      const page = await this.#storage.events.readAfter(seq, this.#options.restorePageSize);
      if (page.length === 0) break;
      await this.#hot.ensureLoaded(page.map((stored) => stored.event));
      for (const stored of page) {
        apply(stored.event, stored.decision, stored.atMs, this.#hot, this.#policy);
        this.#prior.set(stored.eventId, { contentHash: stored.contentHash, decision: stored.decision });
        seq = stored.seq;
      }
    }
    this.#appliedSeq = seq;
    this.#needsRestore = false;
    if (this.#hot.dirtyCount > 0) await this.#writeCheckpoint();
  }
}
