import { sql, type Kysely } from 'kysely';

/** The foundation schema: the append-only event log, account state, API keys and cases. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('events')
    .addColumn('seq', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('event_id', 'text', (col) => col.notNull().unique())
    .addColumn('account_id', 'text')
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('at', 'timestamptz', (col) => col.notNull())
    .addColumn('received_at', 'timestamptz', (col) => col.notNull())
    .addColumn('decided_at', 'timestamptz', (col) => col.notNull())
    .addColumn('content_hash', 'text', (col) => col.notNull())
    .addColumn('payload', 'jsonb', (col) => col.notNull())
    .addColumn('decision', 'jsonb', (col) => col.notNull())
    .addColumn('outcome', 'text', (col) => col.notNull())
    .addColumn('score', 'smallint', (col) => col.notNull())
    .addColumn('policy_version', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('events_account_seq').on('events').columns(['account_id', 'seq']).execute();
  // The log is append-only: the database itself refuses to change or remove a row.
  await sql`
    create function bulwark_events_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'the event log is append-only (% refused)', tg_op using errcode = 'P0001';
    end $$`.execute(db);
  await sql`
    create trigger events_append_only before update or delete on events
    for each row execute function bulwark_events_append_only()`.execute(db);
  await sql`
    create trigger events_no_truncate before truncate on events
    for each statement execute function bulwark_events_append_only()`.execute(db);

  await db.schema
    .createTable('accounts')
    .addColumn('account_id', 'text', (col) => col.primaryKey())
    .addColumn('state', 'jsonb', (col) => col.notNull())
    .addColumn('first_seen_at', 'timestamptz', (col) => col.notNull())
    .addColumn('last_seen_at', 'timestamptz', (col) => col.notNull())
    .addColumn('risk', 'smallint', (col) => col.notNull())
    .addColumn('open_case_id', 'text')
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('devices')
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('device_key', 'text', (col) => col.notNull())
    .addColumn('device_id', 'text')
    .addColumn('user_agent', 'text', (col) => col.notNull())
    .addColumn('first_seen_at', 'timestamptz', (col) => col.notNull())
    .addColumn('last_seen_at', 'timestamptz', (col) => col.notNull())
    .addColumn('seen_count', 'integer', (col) => col.notNull())
    .addColumn('trusted', 'boolean', (col) => col.notNull())
    .addPrimaryKeyConstraint('devices_pk', ['account_id', 'device_key'])
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('session_id', 'text', (col) => col.notNull())
    .addColumn('issued_at', 'timestamptz', (col) => col.notNull())
    .addColumn('last_seen_at', 'timestamptz', (col) => col.notNull())
    .addColumn('ip', 'text', (col) => col.notNull())
    .addColumn('device_key', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('sessions_pk', ['account_id', 'session_id'])
    .execute();

  await db.schema
    .createTable('velocity_series')
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('snapshot', 'jsonb', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('state_checkpoint')
    .addColumn('id', 'smallint', (col) => col.primaryKey())
    .addColumn('seq', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('key_id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('secret_hash', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('cases')
    .addColumn('case_id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('reported_by', 'text', (col) => col.notNull())
    .addColumn('opened_at', 'timestamptz', (col) => col.notNull())
    .addColumn('since', 'timestamptz')
    .addColumn('opened_by_event_id', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await sql`create unique index cases_one_open_per_account on cases (account_id) where status = 'open'`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'cases',
    'api_keys',
    'state_checkpoint',
    'velocity_series',
    'sessions',
    'devices',
    'accounts',
  ]) {
    await db.schema.dropTable(table).execute();
  }
  await db.schema.dropTable('events').execute();
  await sql`drop function bulwark_events_append_only`.execute(db);
}
