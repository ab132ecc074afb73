import type { BulwarkEvent, Decision, DecisionOutcome } from '@bulwark/contracts';
import type { Clock } from '../core/clock.ts';
import type { IdGenerator } from '../core/ids.ts';
import { handleEvent, type PriorOutcomes } from '../ingest/handle.ts';
import {
  answerUndecided,
  SubmitQueue,
  type EventProcessor,
  type Pending,
  type ShadowListener,
  type ShadowRecord,
  type SubmitOutcome,
} from '../ingest/processor.ts';
import type { ValidEvent } from '../ingest/validate.ts';
import { apply } from '../risk/domain/decider.ts';
import { seriesKeysOf } from '../risk/domain/engine.ts';
import type { RiskPolicy } from '../risk/domain/policy.ts';
import type { AccountState } from '../risk/domain/state.ts';
import type { EventLog, PriorOutcome, StateStore } from '../storage/ports.ts';
import type { EventStream } from '../stream/port.ts';
import { BatchState } from './batch-state.ts';
import type { ClusterMessage, DecisionStateLoad, DecisionStateStore, PendingMessage } from './ports.ts';

/** How long publishing is not tried after the stream failed (the spool holds decisions meanwhile). */
const streamAwayMs = 1_000;

/** What a decision falls back to when the shared state cannot be read or written. */
export type DegradedMode = 'open' | 'closed';

/** Decision types whose degraded outcome is configurable; every other type keeps the decider's. */
export type DegradedGroup = 'login' | 'order';

export interface ClusterProcessorOptions {
  /** Events decided and committed together at most. */
  readonly cycleEventsMax: number;
  /** Times a batch is loaded and decided again when another node changed one of its accounts. */
  readonly conflictRetriesMax: number;
  /** A pending message older than this is published again (its node died before publishing). */
  readonly republishAfterMs: number;
  /** How often the spool of pending messages is looked at. */
  readonly republishIntervalMs: number;
  readonly degraded: Readonly<Record<DegradedGroup, DegradedMode>>;
}

export interface ClusterProcessorMetrics {
  onCycle(eventCount: number, durationMs: number): void;
  /** Another node changed an account of the batch between load and commit. */
  onConflict(): void;
  /** An event decided without the shared state. */
  onDegraded(group: DegradedGroup | 'other', mode: DegradedMode): void;
  /** Decided and kept in the shared store's spool because the stream did not take it (yet). */
  onPublishDeferred(count: number): void;
  /** Round trips to the shared store and the stream, per cycle. */
  onRoundTrips(store: number, stream: number): void;
  /** Spooled messages published again by the republisher. */
  onRepublished?(count: number): void;
}

export type ClusterErrorListener = (error: unknown, during: 'state' | 'publish' | 'republish') => void;

/** One batch decided against a load, ready to commit. */
interface Decided {
  state: BatchState;
  answers: SubmitOutcome[];
  outcomes: { eventId: string; outcome: PriorOutcome }[];
  messages: Outgoing[];
  /** Orders' shadow verdicts, recorded once the batch is committed. */
  shadows: ShadowRecord[];
}

/** A message to publish, with the object it was serialized from when this node made it. */
interface Outgoing extends PendingMessage {
  body?: ClusterMessage;
}

const groupOf = (type: BulwarkEvent['type']): DegradedGroup | 'other' => {
  switch (type) {
    case 'login.succeeded':
    case 'session.activity':
    case 'account.updated':
      return 'login';
    case 'order.placed':
      return 'order';
    default:
      return 'other';
  }
};

/** The outcome a degraded group's `closed` mode gives: a person or a step-up decides instead. */
const closedOutcome: Record<DegradedGroup, DecisionOutcome> = { login: 'challenge', order: 'review' };

/**
 * An API node's processor (docs/scaling.md): batches what requests submit, reads the accounts,
 * series and prior outcomes the batch needs from the shared store in one round trip, decides in
 * arrival order, commits every change in one atomic round trip (accounts checked against the
 * versions read, series as ops, outcomes, the messages to publish), publishes each decided event
 * to its account's partition and answers. Two nodes deciding for one account at once: one commit
 * wins, the other loads again and decides again, so an account's story stays in order.
 *
 * An event is accepted once its commit lands: the commit holds its message in the store's spool
 * until the stream acknowledges it, and any node publishes again what stayed there too long.
 */
export class ClusterProcessor implements EventProcessor {
  readonly #state: DecisionStateStore;
  readonly #stream: EventStream;
  readonly #log: EventLog | undefined;
  readonly #fallback: StateStore | undefined;
  readonly #clock: Clock;
  readonly #ids: IdGenerator;
  #policy: RiskPolicy;
  readonly #options: ClusterProcessorOptions;
  readonly #metrics: ClusterProcessorMetrics | undefined;
  readonly #onError: ClusterErrorListener | undefined;
  readonly #onShadow: ShadowListener | undefined;
  readonly #queue = new SubmitQueue(() => this.#drain());
  #republishing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** After a failed publish, publishing waits until then: decisions go to the spool meanwhile. */
  #streamAwayUntilMs = 0;

  constructor(deps: {
    state: DecisionStateStore;
    stream: EventStream;
    /** The persisted log, for outcomes older than the store keeps (idempotency by event id). */
    log?: EventLog;
    /** The persisted account states, for accounts the store does not hold (evicted, or a lost store). */
    fallback?: StateStore;
    clock: Clock;
    ids: IdGenerator;
    policy: RiskPolicy;
    options: ClusterProcessorOptions;
    metrics?: ClusterProcessorMetrics;
    onError?: ClusterErrorListener;
    /** Told the shadow rule set's verdicts of committed orders (the rules service records them). */
    onShadow?: ShadowListener;
  }) {
    this.#onShadow = deps.onShadow;
    this.#state = deps.state;
    this.#stream = deps.stream;
    this.#log = deps.log;
    this.#fallback = deps.fallback;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#policy = deps.policy;
    this.#options = deps.options;
    this.#metrics = deps.metrics;
    this.#onError = deps.onError;
  }

  get policy(): RiskPolicy {
    return this.#policy;
  }

  /** Decides with `policy` from the next cycle on. */
  setPolicy(policy: RiskPolicy): void {
    this.#policy = policy;
  }

  /** Starts publishing again what stayed in the spool (messages of nodes that died). */
  start(): void {
    this.#timer = setInterval(() => {
      this.#republishing ??= this.republishPending()
        .then(() => undefined)
        .finally(() => {
          this.#republishing = undefined;
        });
    }, this.#options.republishIntervalMs);
    this.#timer.unref();
  }

  async storedDecision(eventId: string): Promise<Decision | undefined> {
    try {
      const load = await this.#state.load({ accountIds: [], seriesKeys: [], eventIds: [eventId] });
      const known = load.prior.get(eventId);
      if (known !== undefined) return known.decision;
    } catch (error) {
      // Redis away: the persisted log still answers for what the workers have written.
      this.#onError?.(error, 'state');
    }
    return (await this.#log?.findByIds([eventId]))?.get(eventId)?.decision;
  }

  submit(items: readonly ValidEvent[], receivedAtMs: number): Promise<SubmitOutcome[]> {
    return this.#queue.submit(items, receivedAtMs);
  }

  /** Answers everything queued, then stops republishing. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#queue.stop();
    await this.#republishing;
  }

  /**
   * Publishes messages that stayed in the spool longer than `republishAfterMs`: their node died
   * between commit and publish, or the stream was down. The stream drops a repeated event id, and
   * workers persist idempotently, so publishing twice is harmless.
   */
  async republishPending(limit = 500): Promise<number> {
    let messages: PendingMessage[];
    try {
      messages = await this.#state.pendingOlderThan(this.#options.republishAfterMs, limit);
    } catch (error) {
      this.#onError?.(error, 'republish');
      return 0;
    }
    if (messages.length === 0) return 0;
    const published = await this.#publish(messages, 'republish');
    if (published.length > 0) this.#metrics?.onRepublished?.(published.length);
    if (published.length > 0) {
      await this.#state.published(published).catch((error: unknown) => this.#onError?.(error, 'republish'));
    }
    return published.length;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      // Let requests being read join the batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const batch = this.#queue.take(this.#options.cycleEventsMax);
      const startedMs = performance.now();
      const answers = await this.#cycle(batch);
      batch.forEach((pending, i) => {
        const answer = answers[i];
        if (answer !== undefined) pending.resolve(answer);
      });
      this.#metrics?.onCycle(batch.length, performance.now() - startedMs);
    }
  }

  async #cycle(batch: Pending[]): Promise<SubmitOutcome[]> {
    let storeTrips = 0;
    for (let attempt = 0; ; attempt += 1) {
      let decided: Decided;
      try {
        storeTrips += 1;
        decided = this.#decide(batch, await this.#load(batch));
      } catch (error) {
        this.#onError?.(error, 'state');
        return this.#degrade(batch);
      }
      let committed;
      try {
        storeTrips += 1;
        committed = await this.#state.commit({
          accounts: decided.state.changedAccounts(),
          series: decided.state.seriesChanges(),
          outcomes: decided.outcomes,
          pending: decided.messages.map(({ eventId, message }) => ({ eventId, message })),
        });
      } catch (error) {
        // The commit may or may not have landed: the degraded messages say so, and the worker
        // applies their effects only where the store has no outcome for the event.
        this.#onError?.(error, 'state');
        return this.#degrade(batch);
      }
      if (!committed.ok) {
        this.#metrics?.onConflict();
        if (attempt < this.#options.conflictRetriesMax) continue;
        return batch.map((pending) => ({
          ok: false,
          code: 'UNAVAILABLE',
          message: 'the account changed on another node too often; send the event again',
          eventId: pending.valid.event.id,
        }));
      }
      const published = await this.#publish(decided.messages, 'publish');
      if (published.length > 0) {
        storeTrips += 1;
        this.#state.published(published).catch((error: unknown) => this.#onError?.(error, 'publish'));
      }
      if (decided.shadows.length > 0) this.#onShadow?.(decided.shadows);
      const deferred = decided.messages.length - published.length;
      if (deferred > 0) this.#metrics?.onPublishDeferred(deferred);
      this.#metrics?.onRoundTrips(storeTrips, decided.messages.length);
      return decided.answers;
    }
  }

  /** The shared store's view of the batch, with persisted accounts and outcomes it lacks. */
  async #load(batch: readonly Pending[]): Promise<DecisionStateLoad> {
    const accountIds = new Set<string>();
    const seriesKeys = new Set<string>();
    const eventIds = new Set<string>();
    for (const { valid } of batch) {
      eventIds.add(valid.event.id);
      if (valid.event.accountId !== undefined) accountIds.add(valid.event.accountId);
      for (const key of seriesKeysOf(valid.event, this.#policy)) seriesKeys.add(key);
    }
    const loaded = await this.#state.load({
      accountIds: [...accountIds],
      seriesKeys: [...seriesKeys],
      eventIds: [...eventIds],
    });
    const absentAccounts = [...accountIds].filter((id) => (loaded.accounts.get(id)?.version ?? 0) === 0);
    const unknownIds = [...eventIds].filter((id) => !loaded.prior.has(id));
    const [persisted, logged] = await Promise.all([
      absentAccounts.length === 0 || this.#fallback === undefined
        ? []
        : this.#fallback.loadAccounts(absentAccounts),
      unknownIds.length === 0 || this.#log === undefined
        ? new Map<string, PriorOutcome>()
        : this.#log.findByIds(unknownIds),
    ]);
    // Still version 0: the store holds nothing, and the commit creates the key.
    for (const state of persisted) loaded.accounts.set(state.accountId, { state, version: 0 });
    for (const [id, outcome] of logged) loaded.prior.set(id, outcome);
    return loaded;
  }

  #decide(batch: readonly Pending[], load: DecisionStateLoad): Decided {
    const state = new BatchState(load);
    const prior: PriorOutcomes = load.prior;
    const policy = this.#policy;
    const answers: SubmitOutcome[] = [];
    const outcomes: { eventId: string; outcome: PriorOutcome }[] = [];
    const messages: ClusterMessage[] = [];
    const shadows: ShadowRecord[] = [];
    for (const pending of batch) {
      const outcome = handleEvent(pending.valid, state, prior, this.#ids, policy, {
        receivedAtMs: pending.receivedAtMs,
        decidedAtMs: this.#clock.now(),
      });
      switch (outcome.kind) {
        case 'decided': {
          outcomes.push({
            eventId: outcome.record.eventId,
            outcome: { contentHash: outcome.record.contentHash, decision: outcome.decision },
          });
          if (outcome.shadow !== undefined)
            shadows.push({
              eventId: outcome.record.eventId,
              decision: outcome.decision,
              verdict: outcome.shadow,
            });
          const message: ClusterMessage = { v: 1, record: outcome.record };
          if (outcome.openedCase !== undefined) message.openedCase = outcome.openedCase;
          messages.push(message);
          answers.push({ ok: true, decision: outcome.decision, duplicate: false });
          break;
        }
        case 'duplicate':
        case 'conflict':
          answers.push(answerUndecided(outcome));
          break;
      }
    }
    attachAccounts(messages, state);
    return {
      state,
      answers,
      outcomes,
      shadows,
      messages: messages.map((message) => ({
        eventId: message.record.eventId,
        message: JSON.stringify(message),
        body: message,
      })),
    };
  }

  /**
   * Decides without the shared state: from the event alone (no history, no velocity), with the
   * configured mode for sign-in and order decisions, every decision carrying
   * `shared_state_unavailable`. Accepted only if the stream takes it; the worker applies its
   * effects to the store once the store is back.
   */
  async #degrade(batch: readonly Pending[]): Promise<SubmitOutcome[]> {
    const empty = new BatchState({ accounts: new Map(), series: new Map() });
    const prior = new Map<string, PriorOutcome>();
    const answers: SubmitOutcome[] = [];
    const messages: { index: number; message: Outgoing }[] = [];
    batch.forEach((pending, index) => {
      const outcome = handleEvent(pending.valid, empty, prior, this.#ids, this.#policy, {
        receivedAtMs: pending.receivedAtMs,
        decidedAtMs: this.#clock.now(),
      });
      if (outcome.kind !== 'decided') {
        answers.push(answerUndecided(outcome));
        return;
      }
      const decision = this.#degradedDecision(pending.valid.event, outcome.decision);
      const record = { ...outcome.record, decision };
      const message: ClusterMessage = { v: 1, record, degraded: true };
      if (outcome.openedCase !== undefined) message.openedCase = outcome.openedCase;
      messages.push({
        index,
        message: { eventId: record.eventId, message: JSON.stringify(message), body: message },
      });
      answers.push({ ok: true, decision, duplicate: false });
    });
    const published = new Set(
      await this.#publish(
        messages.map((m) => m.message),
        'publish',
      ),
    );
    for (const { index, message } of messages) {
      if (published.has(message.eventId)) continue;
      answers[index] = {
        ok: false,
        code: 'UNAVAILABLE',
        message: 'shared state and event stream are unavailable; the event was not accepted, send it again',
        eventId: message.eventId,
      };
    }
    return answers;
  }

  #degradedDecision(event: BulwarkEvent, decided: Decision): Decision {
    const group = groupOf(event.type);
    const reasons = [{ code: 'shared_state_unavailable' as const }, ...decided.reasons];
    if (group === 'other') {
      this.#metrics?.onDegraded('other', 'open');
      return { ...decided, reasons };
    }
    const mode = this.#options.degraded[group];
    this.#metrics?.onDegraded(group, mode);
    // A challenge the decider named goes with its outcome; a degraded one is given afresh.
    const rest: Decision = { ...decided };
    delete rest.challenge;
    if (mode === 'open') return { ...rest, decision: 'allow', reasons };
    const outcome = closedOutcome[group];
    if (outcome !== 'challenge') return { ...rest, decision: outcome, reasons };
    return {
      ...rest,
      decision: 'challenge',
      reasons,
      challenge: decided.challenge ?? {
        id: this.#ids.next('ch', event.id),
        methods: ['passkey', 'device_confirmation'],
      },
    };
  }

  /** Publishes each message to its account's partition; answers the ids the stream took. */
  async #publish(messages: readonly Outgoing[], during: 'publish' | 'republish'): Promise<string[]> {
    // The stream failed a moment ago: answer from the spool rather than wait on each publish.
    // The republisher tries again; it is the one caller that is let through.
    if (during === 'publish' && performance.now() < this.#streamAwayUntilMs) return [];
    const results = await Promise.allSettled(
      messages.map((pending) => {
        // Spooled messages come back as text; this node's own still have their object.
        const parsed = pending.body ?? (JSON.parse(pending.message) as ClusterMessage);
        return this.#stream.publish({
          eventId: pending.eventId,
          // Events of no account need no order among themselves: they spread by id.
          accountId: parsed.record.accountId ?? pending.eventId,
          body: parsed,
        });
      }),
    );
    const published: string[] = [];
    let failure: unknown;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') published.push(messages[i]?.eventId ?? '');
      else failure ??= result.reason;
    });
    if (failure !== undefined) {
      this.#streamAwayUntilMs = performance.now() + streamAwayMs;
      this.#onError?.(failure, during);
    } else if (during === 'republish') {
      this.#streamAwayUntilMs = 0;
    }
    return published;
  }
}

/**
 * Each account's state after the batch travels with the account's last event of the batch, with
 * the version the commit gives it, so workers keep PostgreSQL's copy current.
 */
function attachAccounts(messages: ClusterMessage[], state: BatchState): void {
  const changed = new Map<string, AccountState>();
  for (const { state: account } of state.changedAccounts()) changed.set(account.accountId, account);
  const seen = new Set<string>();
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const message = messages[i];
    const accountId = message?.record.accountId;
    if (message === undefined || accountId === undefined || seen.has(accountId)) continue;
    seen.add(accountId);
    const account = changed.get(accountId);
    if (account !== undefined) message.account = { state: account, version: state.versionOf(accountId) + 1 };
  }
}

/**
 * Applies the effects of events decided without the shared state, once it is back (a worker
 * calls this before persisting degraded messages). An event the store already has an outcome for
 * (its commit landed after all) is skipped. Retries conflicts; throws when the store is still
 * unreachable, so the stream delivers the messages again later.
 */
export async function applyDegraded(
  store: DecisionStateStore,
  messages: readonly ClusterMessage[],
  policy: RiskPolicy,
  retriesMax = 10,
): Promise<void> {
  const events = messages.map((m) => m.record);
  for (let attempt = 0; ; attempt += 1) {
    const accountIds = [...new Set(events.flatMap((r) => (r.accountId === undefined ? [] : [r.accountId])))];
    const seriesKeys = [...new Set(events.flatMap((r) => seriesKeysOf(r.event, policy)))];
    const load = await store.load({ accountIds, seriesKeys, eventIds: events.map((r) => r.eventId) });
    const state = new BatchState(load);
    const outcomes: { eventId: string; outcome: PriorOutcome }[] = [];
    const skipped: string[] = [];
    for (const record of events) {
      if (load.prior.has(record.eventId)) {
        skipped.push(record.eventId);
        continue;
      }
      apply(record.event, record.decision, record.atMs, state, policy);
      outcomes.push({
        eventId: record.eventId,
        outcome: { contentHash: record.contentHash, decision: record.decision },
      });
    }
    // The commit that landed after all also left its message in the spool: the degraded one,
    // published first, is the decision the caller got, so the spooled one goes.
    if (skipped.length > 0) await store.published(skipped);
    if (outcomes.length === 0) return;
    const result = await store.commit({
      accounts: state.changedAccounts(),
      series: state.seriesChanges(),
      outcomes,
      pending: [],
    });
    if (result.ok) return;
    if (attempt >= retriesMax)
      throw new Error('the shared state kept changing under degraded events; retry later');
  }
}
