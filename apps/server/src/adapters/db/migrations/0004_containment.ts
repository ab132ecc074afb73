import { sql, type Kysely } from 'kysely';

/**
 * Containment runs and their steps (the persisted state machine), and fraud fences: the rows the
 * store's capture and ship paths read under the same lock the fraud decision writes them with.
 * The sandbox store also learns which payment belongs to an order, as a real store keeps it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('containment_runs')
    .addColumn('run_id', 'text', (col) => col.primaryKey())
    .addColumn('case_id', 'text', (col) => col.notNull().unique())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('playbook', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('since', 'timestamptz')
    .addColumn('decided_at', 'timestamptz', (col) => col.notNull())
    .addColumn('order_id', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .addColumn('finished_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('containment_steps')
    .addColumn('run_id', 'text', (col) => col.notNull().references('containment_runs.run_id'))
    .addColumn('step_key', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('target', 'text')
    .addColumn('stage', 'integer', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull())
    .addColumn('due_at', 'timestamptz', (col) => col.notNull())
    .addColumn('lease_until', 'timestamptz')
    .addColumn('deadline_at', 'timestamptz', (col) => col.notNull())
    .addColumn('idempotency_key', 'text', (col) => col.notNull())
    .addColumn('params', 'jsonb', (col) => col.notNull())
    .addColumn('outcome', 'jsonb')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .addColumn('done_at', 'timestamptz')
    .addPrimaryKeyConstraint('containment_steps_pk', ['run_id', 'step_key'])
    .execute();
  // Workers look for unfinished steps by due time; finished ones drop out of the index.
  await sql`create index containment_steps_due on containment_steps (due_at)
    where state not in ('done', 'escalated')`.execute(db);

  await db.schema
    .createTable('fraud_fences')
    // `account:<id>` or `order:<id>`.
    .addColumn('scope', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('case_id', 'text', (col) => col.notNull())
    .addColumn('fenced_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema.alterTable('sandbox_store_orders').addColumn('payment_id', 'text').execute();
  // How far the sandbox store has followed the event log (it plays the store in a demo).
  await db.schema
    .createTable('sandbox_store_cursor')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('seq', 'bigint', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sandbox_store_cursor').execute();
  await db.schema.alterTable('sandbox_store_orders').dropColumn('payment_id').execute();
  await db.schema.dropTable('fraud_fences').execute();
  await db.schema.dropTable('containment_steps').execute();
  await db.schema.dropTable('containment_runs').execute();
}
