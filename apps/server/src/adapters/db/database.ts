import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import type { Database } from './schema.ts';
import * as init from './migrations/0001_init.ts';
import * as sandboxPayments from './migrations/0002_sandbox_payments.ts';
import * as sandboxFulfilmentStore from './migrations/0003_sandbox_fulfilment_store.ts';
import * as containment from './migrations/0004_containment.ts';
import * as ruleSets from './migrations/0005_rule_sets.ts';
import * as verification from './migrations/0006_verification.ts';
import * as consoleTables from './migrations/0007_console.ts';
import * as reconciliation from './migrations/0008_reconciliation.ts';
import * as consoleMore from './migrations/0009_console_more.ts';
import * as compactCheckpoints from './migrations/0010_compact_checkpoints.ts';
import * as reviews from './migrations/0011_reviews.ts';
import * as openSteps from './migrations/0012_open_steps.ts';
import * as accountVersions from './migrations/0013_account_versions.ts';

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: DatabaseKind;
  /**
   * Makes this process the database's only writer of decisions, until close. PGlite's folder lock
   * already ensures it; on PostgreSQL a session-level advisory lock held on a dedicated connection
   * does (released by the server if the process dies).
   */
  lockWriter?: () => Promise<void>;
  close(): Promise<void>;
}

/** Advisory lock id of the decision writer ("Bulw" in ASCII). */
const writerLockId = 0x42756c77;

export interface DatabaseOptions {
  /** A `postgres://` URL; when absent the embedded PGlite database is used. */
  readonly databaseUrl?: string | undefined;
  /** PGlite data folder, created when missing; `memory://` keeps it in memory. */
  readonly dataDir: string;
  readonly poolSize?: number;
}

/** Every migration, in order. One set for PGlite and PostgreSQL alike. */
const migrations: Record<string, Migration> = {
  '0001_init': init,
  '0002_sandbox_payments': sandboxPayments,
  '0003_sandbox_fulfilment_store': sandboxFulfilmentStore,
  '0004_containment': containment,
  '0005_rule_sets': ruleSets,
  '0006_verification': verification,
  '0007_console': consoleTables,
  '0008_reconciliation': reconciliation,
  '0009_console_more': consoleMore,
  '0010_compact_checkpoints': compactCheckpoints,
  '0011_reviews': reviews,
  '0012_open_steps': openSteps,
  '0013_account_versions': accountVersions,
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl !== undefined) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 8 });
    // A broken idle connection must not crash the process; the next query reports the outage.
    pool.on('error', () => undefined);
    // Nor one ended while a query or transaction holds it (the server restarted, or ended our
    // backends): the pool listens only to idle clients, and the query in flight fails anyway.
    pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const databaseUrl = options.databaseUrl;
    let lockClient: pg.Client | undefined;
    return {
      db,
      kind: 'postgres',
      lockWriter: async () => {
        if (lockClient !== undefined) return;
        const client = new pg.Client({ connectionString: databaseUrl });
        client.on('error', () => undefined);
        await client.connect();
        const result = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [
          writerLockId,
        ]);
        if (result.rows[0]?.locked !== true) {
          await client.end();
          throw new Error(
            'another Bulwark process is already deciding on this PostgreSQL database; stop it first (one writer per database)',
          );
        }
        lockClient = client;
      },
      close: async () => {
        await db.destroy();
        await lockClient?.end();
      },
    };
  }
  const inMemory = options.dataDir.startsWith('memory://');
  const unlock = inMemory ? () => undefined : lockDataDir(options.dataDir);
  try {
    const database = await PGlite.create(options.dataDir);
    const db = new Kysely<Database>({ dialect: new PGliteDialect(database) });
    return {
      db,
      kind: 'pglite',
      close: async () => {
        await db.destroy();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}

/** Applies every pending migration; answers the names applied now. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'bulwark_migrations',
    migrationLockTableName: 'bulwark_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) throw new Error('database migration failed', { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
