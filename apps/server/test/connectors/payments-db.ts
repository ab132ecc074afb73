import type { Kysely } from 'kysely';
import { sandboxPaymentsDb } from '../../src/adapters/sandbox/payments/sandbox-payments.ts';
import type { SandboxPaymentsTables } from '../../src/adapters/sandbox/payments/schema.ts';
import { restartableDatabase, type Backend, type RestartableDatabase } from '../helpers/backends.ts';

/**
 * A migrated database for the sandbox payment provider on one backend. `reopen` closes the
 * connection and opens the same database again — a restart, for the persistence tests (a real
 * one only `onDisk` for PGlite; in memory the same instance is kept).
 */
export interface SandboxDatabase {
  readonly db: Kysely<SandboxPaymentsTables>;
  reopen(): Promise<SandboxDatabase>;
  close(): Promise<void>;
}

function asSandbox(database: RestartableDatabase): SandboxDatabase {
  return {
    db: sandboxPaymentsDb(database.db),
    reopen: async () => asSandbox(await database.reopen()),
    close: () => database.close(),
  };
}

export async function freshSandboxDatabase(
  backend: Backend,
  options: { readonly onDisk?: boolean } = {},
): Promise<SandboxDatabase> {
  return asSandbox(await restartableDatabase(backend, options));
}
