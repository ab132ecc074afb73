import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import { migrateToLatest, openDatabase } from '../../src/adapters/db/database.ts';
import { PGliteDialect } from '../../src/adapters/db/pglite-dialect.ts';
import type { Database } from '../../src/adapters/db/schema.ts';
import { sandboxPaymentsDb } from '../../src/adapters/sandbox/payments/sandbox-payments.ts';
import type { SandboxPaymentsTables } from '../../src/adapters/sandbox/payments/schema.ts';
import { createPostgresDatabase, pgliteTemplate, type Backend } from '../helpers/backends.ts';

/**
 * A migrated database for the sandbox payment provider on one backend. `reopen` closes the
 * connection and opens the same database again — a restart, for the persistence tests.
 */
export interface SandboxDatabase {
  readonly db: Kysely<SandboxPaymentsTables>;
  reopen(): Promise<SandboxDatabase>;
  close(): Promise<void>;
}

export async function freshSandboxDatabase(
  backend: Backend,
  options: { readonly onDisk?: boolean } = {},
): Promise<SandboxDatabase> {
  if (backend === 'pglite') {
    // On disk when asked, so that `reopen` is a real restart: a new PGlite reading the same
    // folder. In memory otherwise (much faster to load); `reopen` then keeps the same instance.
    const dir =
      options.onDisk === true ? mkdtempSync(join(tmpdir(), 'bulwark-sandbox-payments-')) : undefined;
    const template = await pgliteTemplate();
    if (dir === undefined) {
      const database = await PGlite.create({ loadDataDir: template });
      const db = new Kysely<Database>({ dialect: new PGliteDialect(database) });
      await migrateToLatest(db);
      const memory: SandboxDatabase = {
        db: sandboxPaymentsDb(db),
        reopen: () => Promise.resolve(memory),
        close: () => db.destroy(),
      };
      return memory;
    }
    const open = async (first: boolean): Promise<SandboxDatabase> => {
      const database = await PGlite.create(dir, first ? { loadDataDir: template } : {});
      const db = new Kysely<Database>({ dialect: new PGliteDialect(database) });
      await migrateToLatest(db);
      return {
        db: sandboxPaymentsDb(db),
        reopen: async () => {
          await db.destroy();
          return open(false);
        },
        close: async () => {
          await db.destroy();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    };
    return open(true);
  }
  const { url, drop } = await createPostgresDatabase();
  const open = async (): Promise<SandboxDatabase> => {
    const handle = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 4 });
    await migrateToLatest(handle.db);
    return {
      db: sandboxPaymentsDb(handle.db),
      reopen: async () => {
        await handle.close();
        return open();
      },
      close: async () => {
        await handle.close();
        await drop();
      },
    };
  };
  return open();
}
