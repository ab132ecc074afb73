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

  // Devices and sessions live inside each account's state (written behind as one document); these
  // views make them queryable as rows without writing them twice.
  await sql`
    create view devices as
    select a.account_id, d.key as device_key, d."deviceId" as device_id, d."userAgent" as user_agent,
           to_timestamp(d."firstSeenAt" / 1000.0) as first_seen_at, to_timestamp(d."lastSeenAt" / 1000.0) as last_seen_at,
           d."seenCount" as seen_count, d.trusted
    from accounts a
    cross join lateral jsonb_to_recordset(a.state -> 'devices')
      as d(key text, "deviceId" text, "userAgent" text, "firstSeenAt" bigint, "lastSeenAt" bigint,
           "seenCount" integer, trusted boolean)`.execute(db);
  await sql`
    create view sessions as
    select a.account_id, x."sessionId" as session_id, to_timestamp(x."issuedAt" / 1000.0) as issued_at,
           to_timestamp(x."lastSeenAt" / 1000.0) as last_seen_at, x.ip, x."deviceKey" as device_key
    from accounts a
    cross join lateral jsonb_to_recordset(a.state -> 'sessions')
      as x("sessionId" text, "issuedAt" bigint, "lastSeenAt" bigint, ip text, "deviceKey" text)`.execute(db);

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
  await sql`drop view sessions`.execute(db);
  await sql`drop view devices`.execute(db);
  for (const table of ['cases', 'api_keys', 'state_checkpoint', 'velocity_series', 'accounts']) {
    await db.schema.dropTable(table).execute();
  }
  await db.schema.dropTable('events').execute();
  await sql`drop function bulwark_events_append_only`.execute(db);
}
