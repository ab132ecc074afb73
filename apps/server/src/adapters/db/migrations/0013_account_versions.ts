import { sql, type Kysely } from 'kysely';

/**
 * Cluster workers persist each account's state as the event stream carries it, with the version
 * the shared decision store gave it. Messages of one account can reach PostgreSQL out of order (a
 * redelivery after a crash, a batch retried), so the row keeps the version it holds and a write
 * with an older one is skipped. Null: written by a single-node checkpoint, which has no versions
 * (any versioned write replaces it).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table accounts add column version bigint`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table accounts drop column version`.execute(db);
}
