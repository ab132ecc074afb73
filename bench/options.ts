import { parseArgs } from 'node:util';

export const phaseNames = ['baseline', 'pglite', 'postgres', 'replay'] as const;
export type PhaseName = (typeof phaseNames)[number];

export interface BenchOptions {
  readonly quick: boolean;
  readonly phases: ReadonlySet<PhaseName>;
  /** Load shape shared by the baseline and both servers, so their rates compare. */
  readonly connections: number;
  readonly pipelining: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Paced (open-loop) check on PostgreSQL: latency at the target rate, not at saturation. */
  readonly pacedRatePerS: number;
  readonly pacedDurationS: number;
  /** Accounts the generated login traffic is spread over. */
  readonly accountsCount: number;
  /** Distinct pre-built event bodies the load cycles through (each sent with a fresh id). */
  readonly bodyPoolSize: number;
  readonly replayLines: number;
  /** A short replay run timed to subtract process start from the long one. */
  readonly replayStartupLines: number;
  readonly seed: number;
  /** Server of an existing PostgreSQL; the benchmark creates and drops its own database on it. */
  readonly adminDatabaseUrl: string;
  /** Writes V8 CPU profiles of the server and replay children and prints their hot spots. */
  readonly profile: boolean;
  readonly write: boolean;
  /** The checkout whose server runs (another commit's worktree); this one when absent. */
  readonly serverRoot: string | undefined;
  /** Also writes the full JSON report here (even with --no-write). */
  readonly reportPath: string | undefined;
}

export const usage = `npm run bench -- [options]

  --quick                 smoke run: 2 s per load, 20,000 replay lines
  --phases LIST           comma list of ${phaseNames.join(',')} (default: all)
  --connections N         concurrent connections (default 50)        BENCH_CONNECTIONS
  --pipelining N          requests in flight per connection (1)      BENCH_PIPELINING
  --warmup S              warm-up seconds before each load (2)       BENCH_WARMUP_S
  --duration S            measured seconds of each load (10)         BENCH_DURATION_S
  --paced-rate N          paced PostgreSQL check, events/s (5000)    BENCH_PACED_RATE
  --paced-duration S      seconds of the paced check (5)             BENCH_PACED_DURATION_S
  --accounts N            accounts in the generated traffic (50000)  BENCH_ACCOUNTS
  --replay-lines N        lines of the replay file (1000000)         BENCH_REPLAY_LINES
  --seed N                seed of the generated traffic (1)          BENCH_SEED
  --database-url URL      PostgreSQL server to create a database on  BENCH_DATABASE_URL
                          (postgres://postgres@127.0.0.1:5432/postgres)
  --profile               CPU-profile the server and replay children BENCH_PROFILE=1
  --no-write              print only; write nothing to bench/results/
  --server-root DIR       benchmark the server of another checkout   BENCH_SERVER_ROOT
                          (same load and checks; see bench/compare.ts)
  --report FILE           also write the JSON report to FILE
`;

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, not "${text}"`);
  return value;
}

function positiveNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, not "${text}"`);
  return value;
}

function parsePhases(text: string | undefined): Set<PhaseName> {
  if (text === undefined || text === '') return new Set(phaseNames);
  const phases = new Set<PhaseName>();
  for (const part of text.split(',')) {
    const name = part.trim();
    if (!(phaseNames as readonly string[]).includes(name)) {
      throw new Error(`unknown phase "${name}"; expected some of ${phaseNames.join(', ')}`);
    }
    phases.add(name as PhaseName);
  }
  return phases;
}

/** The command line the benchmark takes (bench/compare.ts passes most of it on). */
export const benchArgs = {
  quick: { type: 'boolean' },
  phases: { type: 'string' },
  connections: { type: 'string' },
  pipelining: { type: 'string' },
  warmup: { type: 'string' },
  duration: { type: 'string' },
  'paced-rate': { type: 'string' },
  'paced-duration': { type: 'string' },
  accounts: { type: 'string' },
  'replay-lines': { type: 'string' },
  seed: { type: 'string' },
  'database-url': { type: 'string' },
  profile: { type: 'boolean' },
  'no-write': { type: 'boolean' },
  'server-root': { type: 'string' },
  report: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Flags win over the environment, which wins over the defaults (or the --quick defaults). */
export function parseOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): BenchOptions {
  const { values } = parseArgs({ args: [...argv], strict: true, options: benchArgs });
  if (values.help === true) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const quick = values.quick === true || env.BENCH_QUICK === '1';
  return {
    quick,
    phases: parsePhases(values.phases ?? env.BENCH_PHASES),
    connections: positiveInteger('--connections', values.connections ?? env.BENCH_CONNECTIONS, 50),
    pipelining: positiveInteger('--pipelining', values.pipelining ?? env.BENCH_PIPELINING, 1),
    warmupS: positiveNumber('--warmup', values.warmup ?? env.BENCH_WARMUP_S, quick ? 1 : 2),
    durationS: positiveNumber('--duration', values.duration ?? env.BENCH_DURATION_S, quick ? 2 : 10),
    pacedRatePerS: positiveInteger('--paced-rate', values['paced-rate'] ?? env.BENCH_PACED_RATE, 5000),
    pacedDurationS: positiveNumber(
      '--paced-duration',
      values['paced-duration'] ?? env.BENCH_PACED_DURATION_S,
      quick ? 2 : 5,
    ),
    accountsCount: positiveInteger('--accounts', values.accounts ?? env.BENCH_ACCOUNTS, 50_000),
    bodyPoolSize: quick ? 20_000 : 100_000,
    replayLines: positiveInteger(
      '--replay-lines',
      values['replay-lines'] ?? env.BENCH_REPLAY_LINES,
      quick ? 20_000 : 1_000_000,
    ),
    replayStartupLines: 1000,
    seed: positiveInteger('--seed', values.seed ?? env.BENCH_SEED, 1),
    adminDatabaseUrl:
      values['database-url'] ?? env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    profile: values.profile === true || env.BENCH_PROFILE === '1',
    write: values['no-write'] !== true,
    serverRoot: values['server-root'] ?? (env.BENCH_SERVER_ROOT || undefined),
    reportPath: values.report,
  };
}
