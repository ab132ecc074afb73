import { sql, type Kysely } from 'kysely';

/**
 * Workers look at open work only: the steps not yet done or escalated and the runs still running.
 * Without these partial indexes every claim, every "when is the next step due" and every "is a
 * step of an earlier stage still open" read the whole step table, so a database holding a
 * hundred thousand finished cases answered each of them ever more slowly. The queries name the
 * same predicate (`state not in ('done', 'escalated')`) so the planner can use them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index containment_steps_open on containment_steps (run_id, stage)
    where state not in ('done', 'escalated')`.execute(db);
  await sql`create index containment_runs_running on containment_runs (run_id)
    where status = 'running'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('containment_runs_running').execute();
  await db.schema.dropIndex('containment_steps_open').execute();
}
