import type { Logger } from 'pino';
import type { Reconciler } from './service.ts';

/**
 * Runs an incremental reconciliation pass every `intervalMs` (BULWARK_RECONCILE_INTERVAL_MS). A
 * pass that fails is logged and the next one goes on from the stored cursors; passes never overlap.
 */
export class ReconcileScheduler {
  readonly #reconciler: Reconciler;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #stopped = true;

  constructor(deps: { reconciler: Reconciler; intervalMs: number; logger: Logger }) {
    this.#reconciler = deps.reconciler;
    this.#intervalMs = deps.intervalMs;
    this.#logger = deps.logger;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#pass = this.#reconciler
        .run('incremental')
        .then((run) => {
          if (run.escalated > 0)
            this.#logger.warn(
              { run: run.runId, escalated: run.escalated },
              'reconciliation escalated mismatches to a person',
            );
        })
        .catch((error: unknown) => {
          this.#logger.error(
            { err: error },
            'reconciliation pass failed; the next pass resumes from the cursors',
          );
        })
        .finally(() => {
          this.#pass = undefined;
          if (!this.#stopped) this.#schedule();
        });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#pass;
  }
}
