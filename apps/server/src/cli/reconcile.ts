import { parseArgs } from 'node:util';
import pino from 'pino';
import type { Config } from '../config/config.ts';
import { databaseOf } from '../adapters/db/kysely-storage.ts';
import { KyselyReconcileStore } from '../adapters/db/reconcile-store.ts';
import { sandboxOrderFeed } from '../adapters/sandbox/store/order-feed.ts';
import { SandboxWorld } from '../adapters/sandbox/world.ts';
import { systemClock } from '../core/clock.ts';
import { randomIds } from '../core/ids.ts';
import { runView } from '../http/routes/reconcile.ts';
import { Reconciler } from '../reconcile/service.ts';
import type { Storage } from '../storage/ports.ts';
import { UsageError } from './login-commands.ts';

export const reconcileUsage = `  bulwark reconcile [--full] [--data DIR]         one pass over the providers' books; prints the run (JSON)`;

/**
 * `bulwark reconcile [--full]`: one pass now, against the configured connectors. Repairs reopen
 * containment steps, which the running service's engine takes up (or the next start does).
 */
export async function reconcileCommand(
  args: string[],
  configOf: (values: { data?: string }) => Config,
  openStorage: (config: Config) => Promise<Storage>,
  io: { out: (text: string) => void },
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { full: { type: 'boolean' }, data: { type: 'string' } },
    strict: true,
  });
  const config = configOf(values);
  if (config.connectors === 'none')
    throw new UsageError('BULWARK_CONNECTORS=none: there are no providers to reconcile against');
  const storage = await openStorage(config);
  try {
    const db = databaseOf(storage);
    if (db === undefined) throw new UsageError('reconciliation needs the SQL storage');
    const world = new SandboxWorld({
      db,
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      webhookSecret: config.secret,
    });
    const reconciler = new Reconciler({
      store: new KyselyReconcileStore(db),
      runs: storage.containment,
      payments: world.ports.payments,
      fulfilment: world.ports.fulfilment,
      orders: sandboxOrderFeed(db),
      clock: systemClock,
      ids: randomIds(systemClock),
    });
    const run = await reconciler.run(values.full === true ? 'full' : 'incremental');
    io.out(`${JSON.stringify(runView(run), null, 2)}\n`);
    return 0;
  } finally {
    await storage.close();
  }
}
