import type { CardScenario } from '../../src/adapters/sandbox/payments/sandbox-payments.ts';
import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import pino from 'pino';
import { clockDelay, type FaultConfigInput } from '../../src/adapters/sandbox/faults.ts';
import { SandboxWorld } from '../../src/adapters/sandbox/world.ts';
import { DevelopmentNotifySink } from '../../src/adapters/notify/development-sink.ts';
import { ContainmentEngine, type SettledStep } from '../../src/containment/engine.ts';
import type { PlaybookName, StepRecord, StepResult } from '../../src/containment/domain/model.ts';
import type { ClaimedStep } from '../../src/containment/ports.ts';
import { firstSuspiciousSignInMs } from '../../src/containment/suspicion.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { derivedIds } from '../../src/core/ids.ts';
import { dayMs, toIso } from '../../src/core/time.ts';
import { passEventTime } from '../../src/sim/event-time.ts';
import { appendOwnerReport } from '../../src/sim/owner-report.ts';
import { freshDatabase, type Backend, type StorageWithDatabase } from '../helpers/backends.ts';

export const startMs = Date.parse('2026-03-10T12:00:00Z');

export interface HarnessOptions {
  readonly faults?: {
    payments?: FaultConfigInput;
    fulfilment?: FaultConfigInput;
    store?: FaultConfigInput;
    notify?: FaultConfigInput;
  };
  readonly interceptSuccessRate?: number;
  readonly seed?: number;
  /** Called between a step's invocation and its commit; throw to stand for a crash. */
  readonly afterInvoke?: (claimed: ClaimedStep, result: StepResult) => void;
}

/** A database, the sandbox world over it, a manual clock and a containment engine. */
export class Harness {
  readonly clock = new ManualClock(startMs);
  readonly world: SandboxWorld;
  readonly database: StorageWithDatabase;
  readonly settled: SettledStep[] = [];
  /** How the card of an order behaves at the provider (refunds that pend, that fail): `ok` unless set. */
  readonly cardScenarios = new Map<string, CardScenario>();
  engine: ContainmentEngine;
  /** Called between a step's invocation and its commit; throw to stand for a crash. */
  crashHook: ((claimed: ClaimedStep, result: StepResult) => void) | undefined;
  readonly #options: HarnessOptions;
  #eventSeq = 0;

  private constructor(database: StorageWithDatabase, options: HarnessOptions) {
    this.database = database;
    this.#options = options;
    this.world = new SandboxWorld({
      db: database.db,
      clock: this.clock,
      logger: pino({ level: 'silent' }),
      webhookSecret: 'whsec_containment_test',
      ids: derivedIds(),
      delay: clockDelay(this.clock),
      ...(options.faults === undefined ? {} : { faults: options.faults }),
      ...(options.interceptSuccessRate === undefined
        ? {}
        : { interceptSuccessRate: options.interceptSuccessRate }),
      seed: options.seed ?? 1,
      cardScenarioOf: (orderId) => this.cardScenarios.get(orderId) ?? 'ok',
    });
    this.engine = this.newEngine();
  }

  static async open(backend: Backend, options: HarnessOptions = {}): Promise<Harness> {
    return new Harness(await freshDatabase(backend), options);
  }

  /** A new engine over the same database: what a restarted process gets. */
  newEngine(): ContainmentEngine {
    const storage = this.database.storage;
    this.engine = new ContainmentEngine({
      runs: storage.containment,
      ports: this.world.ports,
      clock: this.clock,
      storeName: 'Example Store',
      contactOf: (accountId) => Promise.resolve({ email: `${accountId}@example.jp`, locale: 'en' as const }),
      firstSuspiciousSignInMs: (accountId, beforeMs) =>
        firstSuspiciousSignInMs(storage.events, accountId, beforeMs),
      onSettled: (change) => this.settled.push(change),
      afterInvoke: (claimed, result) => {
        this.#options.afterInvoke?.(claimed, result);
        this.crashHook?.(claimed, result);
      },
    });
    return this.engine;
  }

  get sink(): DevelopmentNotifySink {
    const notify = this.world.notify;
    if (!(notify instanceof DevelopmentNotifySink))
      throw new Error('the harness world sends to the development sink');
    return notify;
  }

  /** An order the store accepted (`allow`): authorized and handed to the warehouse. */
  async placeOrder(
    accountId: string,
    orderId: string,
    items: { category: 'gift_card' | 'digital' | 'physical'; value: number; quantity?: number }[],
    outcome: Decision['decision'] = 'allow',
  ): Promise<void> {
    const amount = items.reduce((sum, i) => sum + i.value * (i.quantity ?? 1), 0);
    const event = {
      id: `evt-${orderId}`,
      type: 'order.placed',
      at: toIso(this.clock.now()),
      accountId,
      context: { ip: '198.51.100.7', userAgent: 'test' },
      orderId,
      amount: { value: amount, currency: 'JPY' },
      items: items.map((i) => ({
        category: i.category,
        quantity: i.quantity ?? 1,
        unitPrice: { value: i.value, currency: 'JPY' },
      })),
      payment: { method: 'card', cardFingerprint: 'card-1' },
    } as BulwarkEvent;
    await this.world.onDecided(event, {
      eventId: event.id,
      accountId,
      decision: outcome,
      score: 0,
      reasons: [],
    });
  }

  /** Opens a case with its run, as the processor does in the decision's own transaction. */
  async openCase(
    accountId: string,
    playbook: PlaybookName = 'ato-lockdown',
    extra: { orderId?: string; sinceMs?: number } = {},
  ): Promise<string> {
    this.#eventSeq += 1;
    const caseId = `case-${String(this.#eventSeq)}-${accountId}`;
    const eventId = `evt-report-${String(this.#eventSeq)}`;
    const now = this.clock.now();
    await appendOwnerReport(this.database.storage, {
      accountId,
      caseId,
      eventId,
      atMs: now,
      sinceMs: extra.sinceMs ?? now - dayMs,
      playbook,
      ...(extra.orderId === undefined ? {} : { orderId: extra.orderId }),
      policyVersion: 'test',
    });
    return caseId;
  }

  /** Lets time pass to `untilMs`, waking the world and containment at every due time. */
  passTime(untilMs: number): Promise<void> {
    return passEventTime(
      this.world,
      this.clock,
      this.database.storage.containment,
      () => this.engine.drain(),
      untilMs,
    );
  }

  /** Runs until every run is terminal or `maxMs` of time passed. */
  async settleAll(maxMs = 7 * dayMs): Promise<void> {
    const end = this.clock.now() + maxMs;
    while (this.clock.now() < end) {
      await this.passTime(this.clock.now());
      if ((await this.database.storage.containment.unfinishedCount()) === 0) return;
      const next = await this.database.storage.containment.nextDueAtMs();
      await this.passTime(Math.min(end, Math.max(next ?? end, this.clock.now() + 1)));
    }
  }

  async steps(caseId: string): Promise<StepRecord[]> {
    const run = await this.database.storage.containment.runForCase(caseId);
    if (run === undefined) throw new Error(`no run for ${caseId}`);
    return this.database.storage.containment.steps(run.runId);
  }

  close(): Promise<void> {
    return this.database.close();
  }
}
