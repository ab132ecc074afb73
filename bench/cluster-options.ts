import { parseArgs } from 'node:util';

/** Settings of `npm run bench:cluster`: the foundation bench's load shape, plus the engines. */
export interface ClusterOptions {
  readonly quick: boolean;
  /** Connections in total: one node gets all, the cluster's API nodes share them evenly. */
  readonly connections: number;
  readonly pipelining: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly accountsCount: number;
  readonly bodyPoolSize: number;
  readonly seed: number;
  readonly adminDatabaseUrl: string;
  readonly redisUrl: string;
  readonly natsUrl: string;
  readonly apiNodes: number;
  readonly partitions: number;
  /** How long the worker may take to persist what the API nodes decided before the run fails. */
  readonly drainTimeoutS: number;
  /** Counts every publish on the stream's subjects with a subscriber of the benchmark's own. */
  readonly countPublishes: boolean;
  /** Where cluster.md and cluster.json go; undefined writes nothing. */
  readonly outDir: string | undefined;
}

export const clusterUsage = `npm run bench:cluster -- [options]

One node (--role all) against a cluster (one --role worker, N --role api nodes) on PostgreSQL,
Redis and NATS JetStream, under the same saturated login traffic in one run.

  --quick                 smoke run: 1 s warm-up, 2 s per load; writes nothing unless --out
  --connections N         connections in total (default 50)          BENCH_CONNECTIONS
                          (the cluster's API nodes share them evenly)
  --pipelining N          requests in flight per connection (1)      BENCH_PIPELINING
  --warmup S              warm-up seconds before each load (2)       BENCH_WARMUP_S
  --duration S            measured seconds of each load (10)         BENCH_DURATION_S
  --accounts N            accounts in the generated traffic (50000)  BENCH_ACCOUNTS
  --seed N                seed of the generated traffic (1)          BENCH_SEED
  --api-nodes N           API nodes of the cluster (2)               BENCH_API_NODES
  --partitions N          stream partitions (16)                     BENCH_STREAM_PARTITIONS
  --drain-timeout S       time the worker may take to persist (120)  BENCH_DRAIN_TIMEOUT_S
  --database-url URL      PostgreSQL server to create databases on   BENCH_DATABASE_URL
                          (postgres://postgres@127.0.0.1:5432/postgres)
  --redis-url URL         Redis (redis://127.0.0.1:6379)             BENCH_REDIS_URL
  --nats-url URL          NATS with JetStream (nats://127.0.0.1:4222) BENCH_NATS_URL
  --count-publishes       count NATS publishes exactly with a subscriber on the stream's
                          subjects (nats-server then delivers each message once more)
  --out DIR               where cluster.md and cluster.json go (bench/results; a --quick run
                          writes only when this is given)
  --no-write              print only
`;

function positive(name: string, text: string | undefined, fallback: number, integer: boolean): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, not "${text}"`);
  }
  return value;
}

/** Flags win over the environment, which wins over the defaults (or the --quick defaults). */
export function parseClusterOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  defaultOutDir: string,
): ClusterOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean' },
      connections: { type: 'string' },
      pipelining: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      accounts: { type: 'string' },
      seed: { type: 'string' },
      'api-nodes': { type: 'string' },
      partitions: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      'nats-url': { type: 'string' },
      'count-publishes': { type: 'boolean' },
      out: { type: 'string' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(clusterUsage);
    process.exit(0);
  }
  const quick = values.quick === true || env.BENCH_QUICK === '1';
  const apiNodes = positive('--api-nodes', values['api-nodes'] ?? env.BENCH_API_NODES, 2, true);
  const connections = positive('--connections', values.connections ?? env.BENCH_CONNECTIONS, 50, true);
  if (connections < apiNodes) throw new Error(`--connections must be at least --api-nodes (${apiNodes})`);
  // A quick run is a smoke test: its numbers must not replace the committed results by accident.
  const outDir =
    values['no-write'] === true ? undefined : (values.out ?? (quick ? undefined : defaultOutDir));
  return {
    quick,
    connections,
    pipelining: positive('--pipelining', values.pipelining ?? env.BENCH_PIPELINING, 1, true),
    warmupS: positive('--warmup', values.warmup ?? env.BENCH_WARMUP_S, quick ? 1 : 2, false),
    durationS: positive('--duration', values.duration ?? env.BENCH_DURATION_S, quick ? 2 : 10, false),
    accountsCount: positive('--accounts', values.accounts ?? env.BENCH_ACCOUNTS, 50_000, true),
    bodyPoolSize: quick ? 20_000 : 100_000,
    seed: positive('--seed', values.seed ?? env.BENCH_SEED, 1, true),
    adminDatabaseUrl:
      values['database-url'] ?? env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: values['redis-url'] ?? env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    natsUrl: values['nats-url'] ?? env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
    apiNodes,
    partitions: positive('--partitions', values.partitions ?? env.BENCH_STREAM_PARTITIONS, 16, true),
    drainTimeoutS: positive(
      '--drain-timeout',
      values['drain-timeout'] ?? env.BENCH_DRAIN_TIMEOUT_S,
      120,
      false,
    ),
    countPublishes: values['count-publishes'] === true || env.BENCH_COUNT_PUBLISHES === '1',
    outDir,
  };
}
