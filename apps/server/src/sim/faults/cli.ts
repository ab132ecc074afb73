import { parseArgs } from 'node:util';
import pg from 'pg';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrateToLatest, openDatabase } from '../../adapters/db/database.ts';
import { kyselyStorage } from '../../adapters/db/kysely-storage.ts';
import { InvariantViolation, runFaultSimulation, type FaultSimulationStats } from './simulate.ts';

/**
 * `npm run sim:faults -- [--orders N] [--per-incident N] [--seed N] [--seeds N]`: runs the fault
 * simulation over N fraud-cancelled orders and prints the figures; a violation prints its seed.
 */
const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '100000' },
    'per-incident': { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench/results/fault-simulation.md' },
    /** Incidents in flight at once, interleaved on event time. */
    concurrency: { type: 'string', default: '32' },
    /** Event-time granularity: due work is done together within this many milliseconds. */
    'quantum-ms': { type: 'string', default: '1000' },
    /** A PostgreSQL server to run on (a database of the simulation's own, dropped after). */
    'database-url': { type: 'string' },
  },
});
const ordersTotal = Number(values.orders);
const perIncident = Number(values['per-incident']);
const seed = Number(values.seed);
const incidents = Math.ceil(ordersTotal / perIncident);
/** A database of its own on the given server, so nothing else's data is touched. */
async function ownDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `bulwark_fault_sim_${String(process.pid)}`;
  const admin = async (sql: string): Promise<void> => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  // A throwaway database: commits need not wait for the disk (a crash here loses only the run).
  await admin(`ALTER DATABASE ${name} SET synchronous_commit = off`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
const adminUrl = values['database-url'];
const own = adminUrl === undefined ? undefined : await ownDatabase(adminUrl);
const handle = await openDatabase({ dataDir: 'memory://', databaseUrl: own?.url, poolSize: 4 });
await migrateToLatest(handle.db);
const storage = kyselyStorage(handle);
/** The figures as Markdown. */
function reportOf(stats: FaultSimulationStats, seconds: number, partial: boolean): string {
  const faults = Object.entries(stats.faults)
    .sort()
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
  const escalated = Object.entries(stats.escalatedSteps)
    .sort()
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
  const text = `# Fault simulation${partial ? ' (stopped early: a partial run)' : ''}

\`npm run sim:faults -- --orders ${String(ordersTotal)} --per-incident ${String(perIncident)} --seed ${String(seed)} --concurrency ${values.concurrency} --quantum-ms ${values['quantum-ms']}\` (${new Date().toISOString()})

| figure | value |
| --- | --- |
| fraud-cancelled orders, every case terminal and checked | ${String(stats.incidents * perIncident)}${partial ? ` of ${String(ordersTotal)} planned` : ''} |
| incidents (cases) | ${String(stats.incidents)} |
| steps settled | ${String(stats.steps)} |
| simulated crashes between a provider call and its commit | ${String(stats.crashes)} |
| injected provider faults | ${faults} |
| runs completed / escalated to a person | ${String(stats.runsCompleted)} / ${String(stats.runsEscalated)} |
| escalated steps | ${escalated === '' ? 'none' : escalated} |
| invariant violations (S1–S5, L1–L2) | ${String(stats.violations.length)} |
| most provider effects per (case, payment, action) | ${String(stats.maxEffectsPerAction)} |
| why steps escalated | ${
    Object.entries(stats.escalationReasons)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} (${String(v)})`)
      .join('<br>') || 'none'
  } |
| wall time | ${seconds.toFixed(1)} s (${((stats.incidents * perIncident) / seconds).toFixed(1)} orders/s) |
`;
  return text;
}

const started = performance.now();
let stats: FaultSimulationStats;
let latest: FaultSimulationStats | undefined;
let reported = 0;
/** Stopped early (Ctrl-C, a time limit): the figures so far are written, marked partial. */
const stopEarly = (): void => {
  const seconds = (performance.now() - started) / 1000;
  if (latest !== undefined) {
    const text = reportOf(latest, seconds, true);
    process.stdout.write(text);
    writeResult(text);
  }
  void (own?.drop() ?? Promise.resolve()).finally(() => process.exit(2));
};
process.once('SIGINT', stopEarly);
process.once('SIGTERM', stopEarly);
try {
  stats = await runFaultSimulation(storage, handle.db, {
    seed,
    incidents,
    ordersPerIncident: perIncident,
    concurrency: Number(values.concurrency),
    quantumMs: Number(values['quantum-ms']),
    onIncident: (done, s) => {
      latest = s;
      // Incidents finish a wave at a time: a line whenever another 50 are done.
      if (Math.floor(done / 50) > Math.floor(reported / 50) || done === incidents) {
        reported = done;
        const seconds = (performance.now() - started) / 1000;
        process.stderr.write(
          `${String(s.orders)} orders, ${String(done)} incidents, ${String(s.crashes)} crashes, ${seconds.toFixed(0)} s\n`,
        );
      }
    },
  });
} catch (error) {
  if (error instanceof InvariantViolation) {
    process.stderr.write(
      `INVARIANT VIOLATION: ${error.message}\nreplay: npm run sim:faults -- --orders ${String(ordersTotal)} --per-incident ${String(perIncident)} --seed ${String(seed)} --concurrency ${values.concurrency} --quantum-ms ${values['quantum-ms']}\n`,
    );
    process.exit(1);
  }
  throw error;
} finally {
  await storage.close();
  await own?.drop();
}
const text = reportOf(stats, (performance.now() - started) / 1000, false);
process.stdout.write(text);
writeResult(text);

function writeResult(text: string): void {
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, text);
}
