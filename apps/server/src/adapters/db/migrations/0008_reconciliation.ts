import { sql, type Kysely } from 'kysely';

/**
 * Reconciliation: its feed cursors, its passes, the mismatches it found, the per-payment ledger
 * (entries from the provider's balance transactions, totals checked against S1 on every write),
 * the store orders it mirrors, and what it decided on early fraud warnings and disputes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('reconcile_cursors')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('cursor', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('reconcile_runs')
    .addColumn('run_id', 'text', (col) => col.primaryKey())
    .addColumn('mode', 'text', (col) => col.notNull())
    .addColumn('started_at', 'timestamptz', (col) => col.notNull())
    .addColumn('finished_at', 'timestamptz', (col) => col.notNull())
    .addColumn('scanned', 'jsonb', (col) => col.notNull())
    .addColumn('mismatches', 'integer', (col) => col.notNull())
    .addColumn('repaired', 'integer', (col) => col.notNull())
    .addColumn('escalated', 'integer', (col) => col.notNull())
    .execute();
  await sql`create index reconcile_runs_started on reconcile_runs (started_at desc)`.execute(db);

  await db.schema
    .createTable('reconcile_mismatches')
    .addColumn('mismatch_id', 'text', (col) => col.primaryKey())
    // class + target: the same divergence found again is the same row.
    .addColumn('mismatch_key', 'text', (col) => col.notNull().unique())
    .addColumn('class', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('detected_at', 'timestamptz', (col) => col.notNull())
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('last_seen_at', 'timestamptz', (col) => col.notNull())
    .addColumn('case_id', 'text')
    .addColumn('account_id', 'text')
    .addColumn('order_id', 'text')
    .addColumn('payment_id', 'text')
    .addColumn('shipment_id', 'text')
    .addColumn('expected', 'text', (col) => col.notNull())
    .addColumn('actual', 'text', (col) => col.notNull())
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('detail', 'jsonb', (col) => col.notNull())
    .addColumn('repairs', 'integer', (col) => col.notNull())
    .addColumn('run_id', 'text', (col) => col.notNull())
    .execute();
  await sql`create index reconcile_mismatches_status on reconcile_mismatches (status, detected_at desc)`.execute(
    db,
  );

  await db.schema
    .createTable('reconcile_ledger_entries')
    .addColumn('reference_id', 'text', (col) => col.primaryKey())
    .addColumn('payment_id', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('amount_minor', 'bigint', (col) => col.notNull())
    .addColumn('reference', 'text', (col) => col.notNull())
    .addColumn('at', 'timestamptz', (col) => col.notNull())
    .execute();
  await sql`create index reconcile_ledger_entries_payment on reconcile_ledger_entries (payment_id, at)`.execute(
    db,
  );

  await db.schema
    .createTable('reconcile_ledgers')
    .addColumn('payment_id', 'text', (col) => col.primaryKey())
    .addColumn('currency', 'text', (col) => col.notNull())
    .addColumn('authorized_minor', 'bigint', (col) => col.notNull())
    .addColumn('captured_minor', 'bigint', (col) => col.notNull())
    .addColumn('refunded_minor', 'bigint', (col) => col.notNull())
    .addColumn('disputed_minor', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await sql`alter table reconcile_ledgers add constraint reconcile_ledgers_s1
    check (refunded_minor >= 0 and disputed_minor >= 0 and refunded_minor <= captured_minor
      and captured_minor <= authorized_minor)`.execute(db);

  await db.schema
    .createTable('reconcile_orders')
    .addColumn('order_id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('payment_id', 'text')
    .addColumn('amount_minor', 'bigint', (col) => col.notNull())
    .addColumn('currency', 'text', (col) => col.notNull())
    .addColumn('placed_at', 'timestamptz', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .execute();
  await sql`create index reconcile_orders_payment on reconcile_orders (payment_id) where payment_id is not null`.execute(
    db,
  );
  await sql`create index reconcile_orders_account on reconcile_orders (account_id, placed_at)`.execute(db);

  await db.schema
    .createTable('reconcile_disputes')
    .addColumn('dispute_id', 'text', (col) => col.primaryKey())
    .addColumn('payment_id', 'text')
    .addColumn('order_id', 'text')
    .addColumn('case_id', 'text')
    .addColumn('account_id', 'text')
    .addColumn('reason', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('evidence', 'jsonb')
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('reconcile_warnings')
    .addColumn('warning_id', 'text', (col) => col.primaryKey())
    .addColumn('payment_id', 'text')
    .addColumn('order_id', 'text')
    .addColumn('case_id', 'text')
    .addColumn('decision', 'text', (col) => col.notNull())
    .addColumn('reason', 'text', (col) => col.notNull())
    .addColumn('reference', 'text')
    .addColumn('warned_at', 'timestamptz', (col) => col.notNull())
    .addColumn('decided_at', 'timestamptz', (col) => col.notNull())
    .execute();

  // The sandbox store's order feed reads by change time (the mirror follows it with a cursor).
  await sql`create index sandbox_store_orders_updated on sandbox_store_orders (updated_at, order_id)`.execute(
    db,
  );
  // The sandbox provider's balance transactions read in time slices (a full pass reads them side by side).
  await sql`create index sandbox_payment_ledger_created on sandbox_payment_ledger (created_at, seq)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists sandbox_payment_ledger_created`.execute(db);
  await sql`drop index if exists sandbox_store_orders_updated`.execute(db);
  for (const table of [
    'reconcile_warnings',
    'reconcile_disputes',
    'reconcile_orders',
    'reconcile_ledgers',
    'reconcile_ledger_entries',
    'reconcile_mismatches',
    'reconcile_runs',
    'reconcile_cursors',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
