import { parseArgs } from 'node:util';
import { writeFileSync, mkdirSync } from 'node:fs';
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
  },
});
const ordersTotal = Number(values.orders);
const perIncident = Number(values['per-incident']);
const seed = Number(values.seed);
const incidents = Math.ceil(ordersTotal / perIncident);
const handle = await openDatabase({ dataDir: 'memory://' });
await migrateToLatest(handle.db);
const storage = kyselyStorage(handle);
const started = performance.now();
let stats: FaultSimulationStats;
try {
  stats = await runFaultSimulation(storage, handle.db, {
    seed,
    incidents,
    ordersPerIncident: perIncident,
    onIncident: (done, s) => {
      if (done % 50 === 0 || done === incidents) {
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
      `INVARIANT VIOLATION: ${error.message}\nreplay: npm run sim:faults -- --orders ${String(ordersTotal)} --per-incident ${String(perIncident)} --seed ${String(seed)}\n`,
    );
    process.exit(1);
  }
  throw error;
} finally {
  await storage.close();
}
const seconds = (performance.now() - started) / 1000;
const faults = Object.entries(stats.faults)
  .sort()
  .map(([k, v]) => `${k} ${String(v)}`)
  .join(', ');
const escalated = Object.entries(stats.escalatedSteps)
  .sort()
  .map(([k, v]) => `${k} ${String(v)}`)
  .join(', ');
const report = `# Fault simulation

\`npm run sim:faults -- --orders ${String(ordersTotal)} --per-incident ${String(perIncident)} --seed ${String(seed)}\` (${new Date().toISOString()})

| figure | value |
| --- | --- |
| fraud-cancelled orders | ${String(stats.orders)} |
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
| wall time | ${seconds.toFixed(1)} s (${(stats.orders / seconds).toFixed(1)} orders/s) |
`;
process.stdout.write(report);
mkdirSync('bench/results', { recursive: true });
writeFileSync(values.out, report);
