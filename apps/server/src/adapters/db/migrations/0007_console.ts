import { sql, type Kysely } from 'kysely';

/**
 * The console: analyst accounts, browser sessions (analysts' and shoppers' security-center ones),
 * the audit log of every analyst action, and an index so the decision list and the review queue
 * can page one outcome newest first without scanning the whole log.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('analysts')
    .addColumn('analyst_id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('role', 'text', (col) => col.notNull())
    .addColumn('password_hash', 'text', (col) => col.notNull())
    .addColumn('totp_secret', 'text')
    .addColumn('totp_last_step', 'bigint')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('disabled_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('console_sessions')
    // SHA-256 of the cookie's token: a database read does not reveal a usable session.
    .addColumn('token_hash', 'text', (col) => col.primaryKey())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('subject_id', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('last_seen_at', 'timestamptz', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('ended_at', 'timestamptz')
    .execute();

  // Each security-center link works once: its nonce is stored when exchanged.
  await db.schema
    .createTable('security_center_links_used')
    .addColumn('nonce', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('used_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('console_audit')
    .addColumn('seq', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('at', 'timestamptz', (col) => col.notNull())
    .addColumn('actor_kind', 'text', (col) => col.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('target', 'text')
    .addColumn('outcome', 'text', (col) => col.notNull())
    .addColumn('ip', 'text', (col) => col.notNull())
    .addColumn('detail', 'jsonb', (col) => col.notNull())
    .execute();

  // Like the event log, the audit log only grows: the database refuses to change or remove a row.
  await sql`
    create function bulwark_console_audit_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'the console audit log is append-only (% refused)', tg_op using errcode = 'P0001';
    end $$`.execute(db);
  await sql`
    create trigger console_audit_append_only before update or delete on console_audit
    for each row execute function bulwark_console_audit_append_only()`.execute(db);

  await db.schema.createIndex('events_outcome_seq').on('events').columns(['outcome', 'seq']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('events_outcome_seq').execute();
  for (const table of ['console_audit', 'security_center_links_used', 'console_sessions', 'analysts']) {
    await db.schema.dropTable(table).execute();
  }
  await sql`drop function bulwark_console_audit_append_only`.execute(db);
}
