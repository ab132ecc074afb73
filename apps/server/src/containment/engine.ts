import type { Clock } from '../core/clock.ts';
import { settle, type StepRecord, type StepResult } from './domain/model.ts';
import type { ClaimedStep, RunStore } from './ports.ts';
import { invokeStep, type ContainmentPorts, type OwnerContact } from './steps.ts';

export interface ContainmentEngineOptions {
  readonly runs: RunStore;
  readonly ports: ContainmentPorts;
  readonly clock: Clock;
  /** The store's brand, as the owner knows it (every message names it). */
  readonly storeName: string;
  readonly contactOf: (accountId: string) => Promise<OwnerContact | undefined>;
  readonly firstSuspiciousSignInMs: (accountId: string, beforeMs: number) => Promise<number | undefined>;
  /** Steps claimed per round. */
  readonly claimBatchMax?: number;
  /** How often the background loop looks for due steps when nothing woke it. */
  readonly pollIntervalMs?: number;
  /** Told of every settled step (metrics, logs, the fault simulator's invariant checks). */
  readonly onSettled?: (change: SettledStep) => void;
  /**
   * Called between a step's invocation and the commit of its result. The fault simulator throws
   * here to stand for a crash at that instant; nothing else should.
   */
  readonly afterInvoke?: (claimed: ClaimedStep, result: StepResult) => void;
  readonly onError?: (error: unknown) => void;
  /**
   * Runs before each round's claim. With the embedded sandbox, the store is played from the
   * event log: it catches up first, so a sweep never reads a store that lags the decision.
   */
  readonly beforeRound?: () => Promise<unknown>;
}

export interface SettledStep {
  readonly claimed: ClaimedStep;
  readonly result: StepResult;
  readonly settled: StepRecord;
  readonly written: boolean;
}

const claimBatchDefault = 32;
const pollIntervalDefaultMs = 250;

/**
 * Runs containment steps: claims due steps from the store (skip-locked, so several engines can
 * share a database), invokes each against the providers, and commits what it came to. Holds
 * nothing between rounds: a crash at any point resumes from the database, and a step whose
 * worker died is taken over when its lease lapses, under the same idempotency key.
 */
export class ContainmentEngine {
  readonly #options: ContainmentEngineOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #wakeRequested = false;

  constructor(options: ContainmentEngineOptions) {
    this.#options = options;
  }

  /** One round: claims due steps and settles each. Answers how many were settled. */
  async runDue(): Promise<number> {
    const { runs, clock } = this.#options;
    await this.#options.beforeRound?.();
    const claimed = await runs.claimDue(clock.now(), this.#options.claimBatchMax ?? claimBatchDefault);
    let settled = 0;
    for (const item of claimed) {
      await this.#invokeAndSettle(item);
      settled += 1;
    }
    return settled;
  }

  /** Rounds until nothing is due at the clock's current time (tests and replay on event time). */
  async drain(roundsMax = 10_000): Promise<number> {
    let total = 0;
    for (let round = 0; round < roundsMax; round += 1) {
      const settled = await this.runDue();
      if (settled === 0) return total;
      total += settled;
    }
    throw new Error(`containment did not settle within ${String(roundsMax)} rounds`);
  }

  async #invokeAndSettle(item: ClaimedStep): Promise<void> {
    const { runs, clock } = this.#options;
    const { run, step } = item;
    let result: StepResult;
    try {
      result = await invokeStep({
        run,
        step,
        steps: step.name === 'notify-owner' ? await runs.steps(run.runId) : [],
        nowMs: clock.now(),
        ports: this.#options.ports,
        storeName: this.#options.storeName,
        contactOf: this.#options.contactOf,
        firstSuspiciousSignInMs: this.#options.firstSuspiciousSignInMs,
      });
    } catch (error) {
      // A bug or an outage in a connector: retried like a provider error, and logged.
      this.#options.onError?.(error);
      result = { kind: 'retry', error: error instanceof Error ? error.message : String(error) };
    }
    this.#options.afterInvoke?.(item, result);
    const nowMs = clock.now();
    const next = settle(step, result, nowMs);
    const addSteps = result.kind === 'done' ? (result.addSteps ?? []) : [];
    const { written } = await runs.settle({ run, claimed: step, settled: next, addSteps, nowMs });
    this.#options.onSettled?.({ claimed: item, result, settled: next, written });
  }

  /** Starts the background loop. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Asks the loop to look for due steps now (a case was just opened). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#wakeRequested = true;
      return;
    }
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#loop().finally(() => {
        this.#running = undefined;
        if (this.#stopped) return;
        const again = this.#wakeRequested;
        this.#wakeRequested = false;
        this.#schedule(again ? 0 : (this.#options.pollIntervalMs ?? pollIntervalDefaultMs));
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #loop(): Promise<void> {
    try {
      while (!this.#stopped && (await this.runDue()) > 0) {
        // Keep going while there is work; the next step may already be due.
      }
    } catch (error) {
      this.#options.onError?.(error);
    }
  }

  /** Stops the loop and waits for the round in flight (its steps commit or lapse their lease). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
