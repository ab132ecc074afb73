import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { caseStatusOfRun, type ClaimedStep, type RunStore } from '../../containment/ports.ts';
import {
  claim,
  newStep,
  planRun,
  runStatusOf,
  stepKeyOf,
  type NewStep,
  type PlaybookName,
  type RunRecord,
  type RunStatus,
  type StepName,
  type StepRecord,
  type StepState,
} from '../../containment/domain/model.ts';
import type { CaseRecord } from '../../storage/ports.ts';
import type { ContainmentRunsTable, ContainmentStepsTable, Database } from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

const date = (ms: number): Date => new Date(ms);
const optionalDate = (ms: number | undefined): Date | null => (ms === undefined ? null : new Date(ms));
const optionalMs = (d: Date | null): number | undefined => (d === null ? undefined : d.getTime());

function toRun(row: Selectable<ContainmentRunsTable>): RunRecord {
  return {
    runId: row.run_id,
    caseId: row.case_id,
    accountId: row.account_id,
    playbook: row.playbook as PlaybookName,
    status: row.status as RunStatus,
    sinceMs: optionalMs(row.since),
    decidedAtMs: row.decided_at.getTime(),
    orderId: row.order_id ?? undefined,
    createdAtMs: row.created_at.getTime(),
    updatedAtMs: row.updated_at.getTime(),
    finishedAtMs: optionalMs(row.finished_at),
  };
}

function toStep(row: Selectable<ContainmentStepsTable>): StepRecord {
  return {
    runId: row.run_id,
    stepKey: row.step_key,
    name: row.name as StepName,
    target: row.target ?? undefined,
    stage: row.stage,
    state: row.state as StepState,
    attempts: row.attempts,
    dueAtMs: row.due_at.getTime(),
    leaseUntilMs: optionalMs(row.lease_until),
    deadlineAtMs: row.deadline_at.getTime(),
    idempotencyKey: row.idempotency_key,
    params: row.params,
    outcome: row.outcome ?? undefined,
    lastError: row.last_error ?? undefined,
    createdAtMs: row.created_at.getTime(),
    updatedAtMs: row.updated_at.getTime(),
    doneAtMs: optionalMs(row.done_at),
  };
}

function stepRow(step: StepRecord) {
  return {
    run_id: step.runId,
    step_key: step.stepKey,
    name: step.name,
    target: step.target ?? null,
    stage: step.stage,
    state: step.state,
    attempts: step.attempts,
    due_at: date(step.dueAtMs),
    lease_until: optionalDate(step.leaseUntilMs),
    deadline_at: date(step.deadlineAtMs),
    idempotency_key: step.idempotencyKey,
    params: JSON.stringify(step.params),
    outcome: step.outcome === undefined ? null : JSON.stringify(step.outcome),
    last_error: step.lastError ?? null,
    created_at: date(step.createdAtMs),
    updated_at: date(step.updatedAtMs),
    done_at: optionalDate(step.doneAtMs),
  };
}

/** The lock both the fraud decision and the store's capture/ship paths take for an account. */
export async function lockAccountFence(trx: Transaction<Database>, accountId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`bulwark-fence:${accountId}`}))`.execute(trx);
}

/**
 * Starts the runs of newly opened cases inside the transaction that opens them, and writes their
 * fences under the account's fence lock: from this commit on, no capture or shipment of a fenced
 * order can happen (S2).
 */
export async function startRuns(trx: Transaction<Database>, cases: readonly CaseRecord[]): Promise<void> {
  for (const opened of cases) {
    if (opened.run === undefined) continue;
    const run: RunRecord = {
      runId: `run_${opened.caseId}`,
      caseId: opened.caseId,
      accountId: opened.accountId,
      playbook: opened.run.playbook,
      status: 'running',
      sinceMs: opened.sinceMs,
      decidedAtMs: opened.openedAtMs,
      orderId: opened.run.orderId,
      createdAtMs: opened.openedAtMs,
      updatedAtMs: opened.openedAtMs,
      finishedAtMs: undefined,
    };
    await trx
      .insertInto('containment_runs')
      .values({
        run_id: run.runId,
        case_id: run.caseId,
        account_id: run.accountId,
        playbook: run.playbook,
        status: run.status,
        since: optionalDate(run.sinceMs),
        decided_at: date(run.decidedAtMs),
        order_id: run.orderId ?? null,
        created_at: date(run.createdAtMs),
        updated_at: date(run.updatedAtMs),
        finished_at: null,
      })
      .execute();
    await trx.insertInto('containment_steps').values(planRun(run, run.createdAtMs).map(stepRow)).execute();
    await lockAccountFence(trx, run.accountId);
    await trx
      .insertInto('fraud_fences')
      .values({
        scope: run.orderId === undefined ? `account:${run.accountId}` : `order:${run.orderId}`,
        account_id: run.accountId,
        case_id: run.caseId,
        fenced_at: date(run.decidedAtMs),
      })
      .onConflict((oc) => oc.column('scope').doNothing())
      .execute();
  }
}

/**
 * True when a fraud decision fences this order: its account's or its own fence was written at or
 * after the order was placed. Call inside the transaction that captures or ships, after
 * `lockAccountFence`, so a decision cannot land between this check and the effect.
 */
export async function isFenced(
  trx: Transaction<Database>,
  order: { accountId: string; orderId: string; placedAtMs: number },
): Promise<boolean> {
  const row = await trx
    .selectFrom('fraud_fences')
    .select('case_id')
    .where('scope', 'in', [`account:${order.accountId}`, `order:${order.orderId}`])
    .where('fenced_at', '>=', date(order.placedAtMs))
    .executeTakeFirst();
  return row !== undefined;
}

/** The lowest stage with open work of every run that has any (index-only over `containment_steps_open`). */
async function openStagesOf(db: Db): Promise<{ runIds: string[]; stages: number[] }> {
  const { rows } = await sql<{ run_id: string; stage: number | string }>`
    select run_id, min(stage) as stage from containment_steps
    where state not in ('done', 'escalated') group by run_id`.execute(db);
  return { runIds: rows.map((r) => r.run_id), stages: rows.map((r) => Number(r.stage)) };
}

export class KyselyRunStore implements RunStore {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async runForCase(caseId: string): Promise<RunRecord | undefined> {
    const row = await this.#db
      .selectFrom('containment_runs')
      .selectAll()
      .where('case_id', '=', caseId)
      .executeTakeFirst();
    return row === undefined ? undefined : toRun(row);
  }

  async steps(runId: string): Promise<StepRecord[]> {
    const rows = await this.#db
      .selectFrom('containment_steps')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('stage')
      .orderBy('created_at')
      .orderBy('step_key')
      .execute();
    return rows.map(toStep);
  }

  async claimDue(nowMs: number, limit: number): Promise<ClaimedStep[]> {
    const now = date(nowMs);
    return this.#db.transaction().execute(async (trx) => {
      // A step is claimable in its run's open stage only. The open stage of every run with open
      // work is read first (one pass over the partial index of open steps), then the due steps of
      // exactly those (run, stage) pairs, probed through the same index. A correlated NOT EXISTS
      // — or a join with a CTE — leaves the plan to statistics: taken while nothing was open
      // (every case closed), they made a burst of a thousand open steps re-read all of them for
      // each one, 0.4 s a claim. An unnest of the pairs plans as a probe per pair whatever the
      // statistics say.
      const open = await openStagesOf(trx);
      if (open.runIds.length === 0) return [];
      const { rows } = await sql<Selectable<ContainmentStepsTable>>`
        select s.* from unnest(${open.runIds}::text[], ${open.stages}::int[]) as o(run_id, stage)
          join containment_steps s on s.run_id = o.run_id and s.stage = o.stage
        where s.state not in ('done', 'escalated')
          and ((s.state <> 'invoking' and s.due_at <= ${now}) or (s.state = 'invoking' and s.lease_until <= ${now}))
        order by s.due_at, s.run_id, s.step_key
        limit ${limit}
        for update of s skip locked`.execute(trx);
      if (rows.length === 0) return [];
      const runIds = [...new Set(rows.map((r) => r.run_id))];
      const runs = new Map(
        (await trx.selectFrom('containment_runs').selectAll().where('run_id', 'in', runIds).execute()).map(
          (r) => [r.run_id, toRun(r)],
        ),
      );
      const claimed: ClaimedStep[] = [];
      for (const row of rows) {
        const run = runs.get(row.run_id);
        if (run === undefined) continue;
        const step = claim(toStep(row), nowMs);
        await trx
          .updateTable('containment_steps')
          .set({
            state: step.state,
            attempts: step.attempts,
            lease_until: optionalDate(step.leaseUntilMs),
            deadline_at: date(step.deadlineAtMs),
            updated_at: now,
          })
          .where('run_id', '=', step.runId)
          .where('step_key', '=', step.stepKey)
          .execute();
        claimed.push({ run, step });
      }
      return claimed;
    });
  }

  async settle(change: {
    run: RunRecord;
    claimed: StepRecord;
    settled: StepRecord;
    addSteps: readonly NewStep[];
    nowMs: number;
  }): Promise<{ written: boolean; runStatus: RunStatus }> {
    const { run, claimed, settled, addSteps, nowMs } = change;
    return this.#db.transaction().execute(async (trx) => {
      const row = stepRow(settled);
      const updated = await trx
        .updateTable('containment_steps')
        .set({
          state: row.state,
          attempts: row.attempts,
          due_at: row.due_at,
          lease_until: row.lease_until,
          outcome: row.outcome,
          last_error: row.last_error,
          updated_at: row.updated_at,
          done_at: row.done_at,
        })
        .where('run_id', '=', claimed.runId)
        .where('step_key', '=', claimed.stepKey)
        .where('state', '=', 'invoking')
        .where('attempts', '=', claimed.attempts)
        .returning('step_key')
        .executeTakeFirst();
      if (updated === undefined) return { written: false, runStatus: run.status };
      if (addSteps.length > 0) {
        const fresh = addSteps.map((s) => newStep(run, s, nowMs));
        const unique = [...new Map(fresh.map((s) => [stepKeyOf(s.name, s.target), s])).values()];
        await trx
          .insertInto('containment_steps')
          .values(unique.map(stepRow))
          .onConflict((oc) => oc.columns(['run_id', 'step_key']).doNothing())
          .execute();
      }
      // A step left unfinished keeps its run running; only a step that ends can end the run.
      const ended = settled.state === 'done' || settled.state === 'escalated';
      const runStatus: RunStatus = ended
        ? runStatusOf(
            (
              await trx
                .selectFrom('containment_steps')
                .select(['state', 'stage'])
                .where('run_id', '=', run.runId)
                .execute()
            ).map((s) => ({ state: s.state as StepState, stage: s.stage })),
          )
        : 'running';
      if (runStatus !== run.status) {
        await trx
          .updateTable('containment_runs')
          .set({
            status: runStatus,
            updated_at: date(nowMs),
            finished_at: runStatus === 'running' ? null : date(nowMs),
          })
          .where('run_id', '=', run.runId)
          .execute();
        await trx
          .updateTable('cases')
          .set({ status: caseStatusOfRun(runStatus), updated_at: date(nowMs) })
          .where('case_id', '=', run.caseId)
          .execute();
      }
      return { written: true, runStatus };
    });
  }

  async nextDueAtMs(): Promise<number | undefined> {
    // Only steps whose stage is open count: a later stage's step is "due" but not yet claimable.
    // The open stage of each run read first, then its steps probed, as in `claimDue` (and for its reason).
    const open = await openStagesOf(this.#db);
    if (open.runIds.length === 0) return undefined;
    const { rows } = await sql<{ due: Date | null }>`
      select min(case when s.state = 'invoking' then s.lease_until else s.due_at end) as due
      from unnest(${open.runIds}::text[], ${open.stages}::int[]) as o(run_id, stage)
        join containment_steps s on s.run_id = o.run_id and s.stage = o.stage
      where s.state not in ('done', 'escalated')`.execute(this.#db);
    const due = rows[0]?.due ?? null;
    return due === null ? undefined : new Date(due).getTime();
  }

  async reopenForRepair(change: {
    runId: string;
    steps: readonly NewStep[];
    nowMs: number;
  }): Promise<readonly string[]> {
    const { runId, steps, nowMs } = change;
    return this.#db.transaction().execute(async (trx) => {
      const runRow = await trx
        .selectFrom('containment_runs')
        .selectAll()
        .where('run_id', '=', runId)
        .forUpdate()
        .executeTakeFirst();
      if (runRow === undefined || steps.length === 0) return [];
      const run = toRun(runRow);
      const reopened: string[] = [];
      for (const wanted of steps) {
        const fresh = newStep(run, wanted, nowMs);
        const row = stepRow(fresh);
        const updated = await trx
          .updateTable('containment_steps')
          .set({
            state: 'not_started',
            attempts: 0,
            due_at: row.due_at,
            lease_until: null,
            deadline_at: row.deadline_at,
            last_error: 'reopened by reconciliation',
            updated_at: row.updated_at,
            done_at: null,
          })
          .where('run_id', '=', runId)
          .where('step_key', '=', fresh.stepKey)
          .where('state', 'in', ['done', 'escalated'])
          .returning('step_key')
          .executeTakeFirst();
        if (updated !== undefined) {
          reopened.push(fresh.stepKey);
          continue;
        }
        const inserted = await trx
          .insertInto('containment_steps')
          .values(row)
          .onConflict((oc) => oc.columns(['run_id', 'step_key']).doNothing())
          .returning('step_key')
          .executeTakeFirst();
        if (inserted !== undefined) reopened.push(fresh.stepKey);
      }
      if (reopened.length > 0) {
        await trx
          .updateTable('containment_runs')
          .set({ status: 'running', updated_at: date(nowMs), finished_at: null })
          .where('run_id', '=', runId)
          .execute();
        await trx
          .updateTable('cases')
          .set({ status: caseStatusOfRun('running'), updated_at: date(nowMs) })
          .where('case_id', '=', run.caseId)
          .execute();
      }
      return reopened;
    });
  }

  async unfinishedCount(): Promise<number> {
    const row = await this.#db
      .selectFrom('containment_runs')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}

export const runStoreOf = (db: Db): RunStore => new KyselyRunStore(db);
