/**
 * What the cluster's shared decision state costs Redis per decision, without HTTP, NATS or
 * PostgreSQL in the way: the benchmark's login traffic (`bench/events.ts`) goes through a real
 * `ClusterProcessor` (load, decide, commit, spool removal) on a `RedisDecisionState` against a
 * redis-server of its own, in batches like those the cluster benchmark's API nodes commit. Time
 * is a manual clock (1 ms per event) and ids derive from event ids, so a run is deterministic:
 * the digest of the final series and accounts must match between two implementations.
 *
 *   node --import tsx bench/decision-state.ts [--warmup 20000] [--events 20000] [--batch 12]
 *     [--accounts 50000] [--seed 1] [--impl path/to/module.ts] [--callgrind]
 *
 * `--impl` loads `RedisDecisionState` from another module (e.g. an older copy of the adapter),
 * to compare. Prints Redis' own figures for the measured events (INFO commandstats and the
 * server process' CPU), per decision; writes nothing. On a shared machine CPU time varies from run
 * to run: `--callgrind` runs redis-server under valgrind (about 50 times slower: use a few
 * thousand events) and counts the instructions it executes for the measured events, which do not
 * vary with the machine's load.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { RedisDecisionState } from '../apps/server/src/adapters/redis/redis-decision-state.ts';
import { connectRedis } from '../apps/server/src/adapters/redis/redis-rate-limiter.ts';
import { ClusterProcessor } from '../apps/server/src/cluster/api-processor.ts';
import type { DecisionStateStore } from '../apps/server/src/cluster/ports.ts';
import { ManualClock } from '../apps/server/src/core/clock.ts';
import { derivedIds } from '../apps/server/src/core/ids.ts';
import { validateEvent, type ValidEvent } from '../apps/server/src/ingest/validate.ts';
import { loadRiskPolicy } from '../apps/server/src/main.ts';
import { seriesKeysOf } from '../apps/server/src/risk/domain/engine.ts';
import { MemoryEventStream } from '../apps/server/src/stream/memory-event-stream.ts';
import { processCpuS } from './cpu.ts';
import { LoginTraffic } from './events.ts';

const { values } = parseArgs({
  options: {
    warmup: { type: 'string', default: '20000' },
    events: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '12' },
    accounts: { type: 'string', default: '50000' },
    seed: { type: 'string', default: '1' },
    impl: { type: 'string' },
    callgrind: { type: 'boolean', default: false },
  },
});
const warmupCount = Number(values.warmup);
const eventCount = Number(values.events);
const batchSize = Number(values.batch);
const startMs = Date.parse('2026-11-26T09:00:00Z');

type StoreClass = new (options: ConstructorParameters<typeof RedisDecisionState>[0]) => DecisionStateStore;

async function storeClass(): Promise<StoreClass> {
  if (values.impl === undefined) return RedisDecisionState;
  const module = (await import(new URL(values.impl, `file://${process.cwd()}/`).href)) as {
    RedisDecisionState: StoreClass;
  };
  return module.RedisDecisionState;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A redis-server of this run: nobody else's commands count in its statistics. */
async function startRedis(): Promise<{ client: Redis; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const server = [
    'redis-server',
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ];
  const command = values.callgrind
    ? ['valgrind', '--tool=callgrind', `--callgrind-out-file=${callgrindOut}`, ...server]
    : server;
  const child = spawn(command[0] ?? '', command.slice(1), { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${String(port)}`;
  for (let attempt = 0; ; attempt += 1) {
    try {
      const client = await connectRedis(url, { commandTimeoutMs: 10_000, connectTimeoutMs: 500 });
      const stop = async (): Promise<void> => {
        client.disconnect();
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      };
      return { client, pid: child.pid ?? 0, stop };
    } catch (error) {
      if (attempt > 300 || child.exitCode !== null) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function events(count: number, traffic: LoginTraffic, firstIndex: number): ValidEvent[] {
  const out: ValidEvent[] = [];
  for (let i = 0; i < count; i += 1) {
    const index = firstIndex + i;
    const raw = {
      ...traffic.next(),
      id: `evt_${String(index)}`,
      at: new Date(startMs + index).toISOString(),
    };
    const result = validateEvent(raw);
    if (!result.ok) throw new Error(JSON.stringify(result.error));
    out.push(result.value);
  }
  return out;
}

const callgrindOut = `/tmp/decision-state-callgrind.${String(process.pid)}`;

function callgrindControl(option: string, pid: number): void {
  execFileSync('callgrind_control', [option, String(pid)], { stdio: 'ignore' });
}

/** Instructions executed since the counters were zeroed: dumps them and reads the dump's total. */
function callgrindInstructions(pid: number): number {
  callgrindControl('-d', pid);
  const dumps = readdirSync('/tmp').filter((name) => name.startsWith(basename(callgrindOut)));
  let total = 0;
  for (const name of dumps) {
    const text = readFileSync(join('/tmp', name), 'utf8');
    // Each dump counts from the last zeroing or dump: the newest one is the measured window.
    if (/^part: *[1-9]/m.test(text))
      total = Math.max(total, Number(/^summary: *(\d+)/m.exec(text)?.[1] ?? 0));
    rmSync(join('/tmp', name));
  }
  return total;
}

/** `cmdstat_x:calls=…,usec=…` lines as numbers per command. */
function commandStats(info: string): Map<string, { calls: number; usec: number }> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(match[1] ?? '', { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

async function run(): Promise<void> {
  const Store = await storeClass();
  const redis = await startRedis();
  try {
    const clock = new ManualClock(startMs);
    const policy = loadRiskPolicy();
    const store = new Store({ client: redis.client, keyPrefix: 'bench', clock });
    // Counts what the measured commits carry (series changed, ops), to read the figures by.
    const shape = { commits: 0, series: 0, ops: 0, stateBytes: 0, messageBytes: 0 };
    const state: DecisionStateStore = {
      load: (query) => store.load(query),
      commit: (commit) => {
        shape.commits += 1;
        shape.series += commit.series.length;
        for (const change of commit.series) shape.ops += change.ops.length;
        for (const { state } of commit.accounts) shape.stateBytes += JSON.stringify(state).length;
        for (const { message } of commit.pending) shape.messageBytes += message.length;
        return store.commit(commit);
      },
      published: (eventIds) => store.published(eventIds),
      pendingOlderThan: (olderThanMs, limit) => store.pendingOlderThan(olderThanMs, limit),
      close: () => store.close(),
    };
    const processor = new ClusterProcessor({
      state,
      stream: new MemoryEventStream({ partitions: 16, deliveriesMax: 3, retryDelayMs: 10 }),
      clock,
      ids: derivedIds(),
      policy,
      options: {
        cycleEventsMax: batchSize,
        conflictRetriesMax: 10,
        republishAfterMs: 60_000,
        republishIntervalMs: 60_000,
        degraded: { login: 'closed', order: 'open' },
      },
    });
    const traffic = new LoginTraffic({ accountsCount: Number(values.accounts), seed: Number(values.seed) });
    const warmup = events(warmupCount, traffic, 0);
    const measured = events(eventCount, traffic, warmupCount);
    const decide = async (list: readonly ValidEvent[]): Promise<number> => {
      let decided = 0;
      for (let from = 0; from < list.length; from += batchSize) {
        const batch = list.slice(from, from + batchSize);
        clock.set(batch[0]?.atMs ?? clock.now());
        const answers = await processor.submit(batch, clock.now());
        for (const answer of answers) {
          if (!answer.ok) throw new Error(`refused: ${JSON.stringify(answer)}`);
          decided += 1;
        }
      }
      return decided;
    };
    await decide(warmup);
    // The spool removal is not awaited by the processor: let the last one land.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await redis.client.config('RESETSTAT');
    Object.assign(shape, { commits: 0, series: 0, ops: 0, stateBytes: 0, messageBytes: 0 });
    if (values.callgrind) callgrindControl('-z', redis.pid);
    const cpuBefore = processCpuS(redis.pid);
    const wallBefore = performance.now();
    const decided = await decide(measured);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const wallS = (performance.now() - wallBefore) / 1000;
    const cpuS = processCpuS(redis.pid) - cpuBefore;
    const instructions = values.callgrind ? callgrindInstructions(redis.pid) : undefined;
    const stats = commandStats(await redis.client.info('commandstats'));
    await processor.stop();
    report(decided, wallS, cpuS, stats, await digest(state, [...warmup, ...measured], policy));
    if (instructions !== undefined)
      console.log(
        `instructions         ${(instructions / decided / 1000).toFixed(0)} k per decision (callgrind)`,
      );
    console.log(
      `commits              ${String(shape.commits)}: ${(shape.series / shape.commits).toFixed(1)} series changed and ` +
        `${(shape.ops / shape.commits).toFixed(1)} ops each; ` +
        `${(shape.stateBytes / shape.commits / 1024).toFixed(1)} KiB of account states and ` +
        `${(shape.messageBytes / shape.commits / 1024).toFixed(1)} KiB of messages each`,
    );
  } finally {
    await redis.stop();
    if (values.callgrind) rmSync(callgrindOut, { force: true });
  }
}

/** A hash of every series and account the run touched, as the store loads them. */
async function digest(
  state: DecisionStateStore,
  all: readonly ValidEvent[],
  policy: ReturnType<typeof loadRiskPolicy>,
): Promise<string> {
  const seriesKeys = [...new Set(all.flatMap(({ event }) => seriesKeysOf(event, policy)))].sort();
  const accountIds = [
    ...new Set(all.flatMap(({ event }) => (event.accountId === undefined ? [] : [event.accountId]))),
  ].sort();
  const hash = createHash('sha256');
  for (let from = 0; from < Math.max(seriesKeys.length, accountIds.length); from += 500) {
    const load = await state.load({
      accountIds: accountIds.slice(from, from + 500),
      seriesKeys: seriesKeys.slice(from, from + 500),
      eventIds: [],
    });
    hash.update(JSON.stringify([...load.series]));
    hash.update(JSON.stringify([...load.accounts]));
  }
  return `${hash.digest('hex').slice(0, 16)} (${String(seriesKeys.length)} series, ${String(accountIds.length)} accounts)`;
}

function report(
  decided: number,
  wallS: number,
  cpuS: number,
  stats: Map<string, { calls: number; usec: number }>,
  digestText: string,
): void {
  const per = (value: number): string => (value / decided).toFixed(1);
  const usecOf = (name: string): number => stats.get(name)?.usec ?? 0;
  const scripts = usecOf('evalsha') + usecOf('eval');
  const commits = (stats.get('evalsha')?.calls ?? 0) + (stats.get('eval')?.calls ?? 0);
  console.log(
    `decisions measured   ${String(decided)} in ${wallS.toFixed(1)} s (batches of ${String(batchSize)})`,
  );
  console.log(`redis-server CPU     ${per(cpuS * 1e6)} µs per decision (process utime + stime)`);
  console.log(
    `scripts (commit)     ${per(scripts)} µs per decision, ${(scripts / Math.max(1, commits)).toFixed(0)} µs per script`,
  );
  console.log(`exec (load)          ${per(usecOf('exec'))} µs per decision`);
  console.log('calls per decision (inside scripts and transactions too), µs per call:');
  const rows = [...stats].filter(([name]) => !['config', 'info'].includes(name));
  rows.sort((x, y) => y[1].calls - x[1].calls);
  for (const [name, { calls, usec }] of rows) {
    console.log(`  ${name.padEnd(18)} ${per(calls).padStart(7)}   ${(usec / Math.max(1, calls)).toFixed(2)}`);
  }
  console.log(`digest               ${digestText}`);
}

await run();
