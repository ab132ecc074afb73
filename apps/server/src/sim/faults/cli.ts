import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest, openDatabase } from '../../adapters/db/database.ts';
import { kyselyStorage } from '../../adapters/db/kysely-storage.ts';
import { InvariantViolation, runFaultSimulation, type FaultSimulationStats } from './simulate.ts';

/**
 * `npm run sim:faults -- [--orders N] [--per-incident N] [--seed N] [--workers W]`: runs the fault
 * simulation over N fraud-cancelled orders and prints the figures; a violation prints its seed.
 *
 * With `--workers W` the orders are split over W processes, worker i simulating with seed S + i on
 * a database of its own: each is deterministic by its seed (concurrency inside one simulation
 * would make the order of fault draws depend on I/O timing), and together they use the cores.
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
    /** Processes, each a simulation with a seed of its own (seed, seed + 1, …). */
    workers: { type: 'string', default: '1' },
    /** Internal: a worker writes its figures here as JSON for the parent. */
    'stats-out': { type: 'string' },
  },
});
const ordersTotal = Number(values.orders);
const perIncident = Number(values['per-incident']);
const seed = Number(values.seed);
const incidents = Math.ceil(ordersTotal / perIncident);
const workers = Number(values.workers);
for (const [name, value] of [
  ['orders', ordersTotal],
  ['per-incident', perIncident],
  ['workers', workers],
  ['concurrency', Number(values.concurrency)],
] as const) {
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`--${name} must be a whole number ≥ 1 (got ${String(value)})\n`);
    process.exit(64);
  }
}
if (!Number.isInteger(seed)) {
  process.stderr.write(`--seed must be a whole number (got ${values.seed})\n`);
  process.exit(64);
}
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
if (workers > 1) await runWorkers();
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

\`npm run sim:faults -- --orders ${String(ordersTotal)} --per-incident ${String(perIncident)} --seed ${String(seed)} --concurrency ${values.concurrency} --quantum-ms ${values['quantum-ms']}${workers > 1 ? ` --workers ${String(workers)}` : ''}${adminUrl === undefined ? '' : ' --database-url …'}\` (${new Date().toISOString()})${workers > 1 ? `\n\n${String(workers)} processes, worker i simulating with seed ${String(seed)} + i on a database of its own; the figures are their sums (largest for the per-action maximum).` : ''}

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

/** The tables the simulation churns: kept vacuumed and analysed as autovacuum would (it may be off). */
const busyTables = [
  'containment_steps',
  'containment_runs',
  'sandbox_payments',
  'sandbox_payment_webhooks',
  'sandbox_payment_idempotency',
  'sandbox_fulfilment_orders',
  'sandbox_fulfilment_webhooks',
  'sandbox_store_orders',
  'sandbox_store_webhooks',
];
let waves = 0;
const maintain = async (): Promise<void> => {
  waves += 1;
  // Every few waves: often enough that statistics follow the growing tables, rarely enough to cost little.
  if (waves % 4 !== 1) return;
  for (const table of busyTables) await sql`vacuum analyze ${sql.table(table)}`.execute(handle.db);
};

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
    writeStats(latest, true);
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
    maintain,
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
writeStats(stats, false);

function writeResult(text: string): void {
  if (values['stats-out'] !== undefined) return;
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, text);
}

function writeStats(s: FaultSimulationStats, partial: boolean): void {
  const file = values['stats-out'];
  if (file !== undefined) writeFileSync(file, JSON.stringify({ partial, stats: s }));
}

/** The figures of several workers as one: sums, and the largest per-action count. */
function merged(all: readonly FaultSimulationStats[]): FaultSimulationStats {
  const sum = (pick: (s: FaultSimulationStats) => number): number => all.reduce((t, s) => t + pick(s), 0);
  const add = (pick: (s: FaultSimulationStats) => Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const s of all) for (const [k, v] of Object.entries(pick(s))) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    seed,
    incidents: sum((s) => s.incidents),
    orders: sum((s) => s.orders),
    steps: sum((s) => s.steps),
    crashes: sum((s) => s.crashes),
    faults: add((s) => s.faults),
    runsCompleted: sum((s) => s.runsCompleted),
    runsEscalated: sum((s) => s.runsEscalated),
    escalatedSteps: add((s) => s.escalatedSteps),
    escalationReasons: add((s) => s.escalationReasons),
    violations: all.flatMap((s) => s.violations),
    maxEffectsPerAction: Math.max(0, ...all.map((s) => s.maxEffectsPerAction)),
  };
}

/**
 * The parent of `--workers W`: starts W simulations, worker i with seed + i and its share of the
 * incidents, passes a stop on to them, and writes their figures as one report. Never returns.
 */
async function runWorkers(): Promise<never> {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-fault-sim-'));
  const script = fileURLToPath(import.meta.url);
  const share = Math.ceil(incidents / workers);
  const begun = performance.now();
  const children = Array.from({ length: workers }, (_, i) => {
    const mine = Math.max(0, Math.min(share, incidents - i * share));
    const statsFile = join(dir, `worker-${String(i)}.json`);
    const args = [
      ...process.execArgv,
      script,
      '--orders',
      String(mine * perIncident),
      '--per-incident',
      String(perIncident),
      '--seed',
      String(seed + i),
      '--concurrency',
      values.concurrency,
      '--quantum-ms',
      values['quantum-ms'],
      '--stats-out',
      statsFile,
      ...(adminUrl === undefined ? [] : ['--database-url', adminUrl]),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n'))
        if (line !== '') process.stderr.write(`[worker ${String(i)} seed ${String(seed + i)}] ${line}\n`);
    });
    const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 2)));
    return { child, statsFile, exited, mine };
  }).filter((w) => w.mine > 0);
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    for (const w of children) w.child.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const codes = await Promise.all(
    children.map(async (w) => {
      const code = await w.exited;
      // One worker's violation stops the others: its seed is printed, the run has failed.
      if (code === 1 && !stopping) stop();
      return code;
    }),
  );
  const results = children.flatMap((w) => {
    try {
      return [
        JSON.parse(readFileSync(w.statsFile, 'utf8')) as { partial: boolean; stats: FaultSimulationStats },
      ];
    } catch {
      return [];
    }
  });
  rmSync(dir, { recursive: true, force: true });
  const violated = codes.some((c) => c === 1);
  const partial = violated || stopping || results.length < children.length || results.some((r) => r.partial);
  if (results.length > 0) {
    const text = reportOf(merged(results.map((r) => r.stats)), (performance.now() - begun) / 1000, partial);
    process.stdout.write(text);
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(values.out, text);
  }
  process.exit(violated ? 1 : codes.every((c) => c === 0) ? 0 : 2);
}
