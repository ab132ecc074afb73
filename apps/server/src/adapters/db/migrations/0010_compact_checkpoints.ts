import { sql, type Kysely, type RawBuilder } from 'kysely';

/**
 * Cheaper write-behind checkpoints: an account's state and a velocity series' snapshot are kept
 * as the JSON text the server wrote, not as jsonb. The server only ever reads them back whole, so
 * PostgreSQL has no reason to parse and re-encode every document of every checkpoint (most of a
 * checkpoint's database time). The devices and sessions views parse the state when they are read.
 * Existing rows are converted in place.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop view devices`.execute(db);
  await sql`drop view sessions`.execute(db);
  await sql`alter table accounts alter column state type text using state::text`.execute(db);
  await sql`alter table velocity_series alter column snapshot type text using snapshot::text`.execute(db);
  await createViews(db, sql`a.state::jsonb`);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop view devices`.execute(db);
  await sql`drop view sessions`.execute(db);
  await sql`alter table accounts alter column state type jsonb using state::jsonb`.execute(db);
  await sql`alter table velocity_series alter column snapshot type jsonb using snapshot::jsonb`.execute(db);
  await createViews(db, sql`a.state`);
}

/** The views of 0001_init over the account state, reading it as `state` (jsonb). */
async function createViews(db: Kysely<unknown>, state: RawBuilder<unknown>): Promise<void> {
  await sql`
    create view devices as
    select a.account_id, d.key as device_key, d."deviceId" as device_id, d."userAgent" as user_agent,
           to_timestamp(d."firstSeenAt" / 1000.0) as first_seen_at, to_timestamp(d."lastSeenAt" / 1000.0) as last_seen_at,
           d."seenCount" as seen_count, d.trusted
    from accounts a
    cross join lateral jsonb_to_recordset((${state}) -> 'devices')
      as d(key text, "deviceId" text, "userAgent" text, "firstSeenAt" bigint, "lastSeenAt" bigint,
           "seenCount" integer, trusted boolean)`.execute(db);
  await sql`
    create view sessions as
    select a.account_id, x."sessionId" as session_id, to_timestamp(x."issuedAt" / 1000.0) as issued_at,
           to_timestamp(x."lastSeenAt" / 1000.0) as last_seen_at, x.ip, x."deviceKey" as device_key
    from accounts a
    cross join lateral jsonb_to_recordset((${state}) -> 'sessions')
      as x("sessionId" text, "issuedAt" bigint, "lastSeenAt" bigint, ip text, "deviceKey" text)`.execute(db);
}
