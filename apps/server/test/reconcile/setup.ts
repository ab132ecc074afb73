import { sql } from 'kysely';
import { KyselyReconcileStore } from '../../src/adapters/db/reconcile-store.ts';
import { FulfilmentSandbox } from '../../src/adapters/sandbox/fulfilment/sandbox.ts';
import { sandboxPayments } from '../../src/adapters/sandbox/payments/sandbox-payments.ts';
import { sandboxOrderFeed } from '../../src/adapters/sandbox/store/order-feed.ts';
import { storySchedule } from '../../src/adapters/sandbox/world.ts';
import type { StepData } from '../../src/containment/domain/model.ts';
import { derivedIds } from '../../src/core/ids.ts';
import { Reconciler } from '../../src/reconcile/service.ts';
import type { Backend } from '../helpers/backends.ts';
import { Harness, type HarnessOptions } from '../containment/harness.ts';

/** The containment harness with a reconciler over the same database and providers. */
export class ReconcileHarness {
  readonly h: Harness;
  readonly store: KyselyReconcileStore;
  readonly reconciler: Reconciler;

  private constructor(h: Harness) {
    this.h = h;
    this.store = new KyselyReconcileStore(h.database.db);
    this.reconciler = new Reconciler({
      store: this.store,
      runs: h.database.storage.containment,
      payments: h.world.payments,
      fulfilment: h.world.fulfilment.port,
      orders: sandboxOrderFeed(h.database.db),
      clock: h.clock,
      ids: derivedIds(),
    });
  }

  static async open(backend: Backend, options: HarnessOptions = {}): Promise<ReconcileHarness> {
    return new ReconcileHarness(await Harness.open(backend, options));
  }

  /**
   * Forges one of our step records as done with `outcome`, without any provider call: the
   * injected discrepancy "Bulwark recorded it, the provider never saw it".
   */
  async forgeStep(caseId: string, stepKey: string, outcome: StepData): Promise<void> {
    const run = await this.h.database.storage.containment.runForCase(caseId);
    if (run === undefined) throw new Error(`no run for ${caseId}`);
    const now = new Date(this.h.clock.now());
    const result =
      await sql`update containment_steps set state = 'done', outcome = ${JSON.stringify(outcome)}::jsonb,
      done_at = ${now}, updated_at = ${now}, attempts = 1
      where run_id = ${run.runId} and step_key = ${stepKey}`.execute(this.h.database.db);
    if (Number(result.numAffectedRows ?? 0) !== 1) throw new Error(`no step ${stepKey} in ${caseId}`);
  }

  /** Opens a case and runs only stage 0 (the sweep adds the per-order steps): a place to forge. */
  async openCaseUpToSweep(accountId: string): Promise<string> {
    const caseId = await this.h.openCase(accountId);
    await this.h.engine.runDue();
    return caseId;
  }

  /** A card provider over the same books whose capture path ignores the fraud fence: a store bug. */
  rogueCapture(paymentId: string): Promise<unknown> {
    const rogue = sandboxPayments({
      db: this.h.database.db as never,
      clock: this.h.clock,
      webhookSecret: 'whsec_rogue',
      ids: derivedIds(),
    });
    return rogue.capture({ paymentId, idempotencyKey: `rogue-capture:${paymentId}` });
  }

  /** A warehouse over the same books that ignores the fraud fence, and a carrier that fails intercepts. */
  rogueWarehouse(interceptSuccessRate = 0): FulfilmentSandbox {
    return new FulfilmentSandbox({
      db: this.h.database.db,
      clock: this.h.clock,
      schedule: storySchedule,
      interceptSuccessRate,
    });
  }

  async paymentOf(orderId: string): Promise<string> {
    const order = (await this.h.world.store.allOrders()).find((o) => o.orderId === orderId);
    if (order?.paymentId === undefined) throw new Error(`no payment for ${orderId}`);
    return order.paymentId;
  }

  async mismatchesOf(orderOrPayment: string) {
    return (await this.store.listMismatches({ limit: 1000 })).filter(
      (m) => m.orderId === orderOrPayment || m.paymentId === orderOrPayment,
    );
  }

  close(): Promise<void> {
    return this.h.close();
  }
}
