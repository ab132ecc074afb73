// `npm run bench:cluster` (see bench/README.md): one Bulwark node (--role all) against a cluster
// (one --role worker and two --role api nodes on PostgreSQL, Redis and NATS JetStream) under the
// same saturated login traffic, in one run. Checks every answer and that the worker persisted
// every decided event exactly once; records where the CPU went; prints and writes the results.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { connectNats } from '../apps/server/src/adapters/nats/jetstream-event-stream.ts';
import { connectRedis, deleteKeysUnder } from '../apps/server/src/adapters/redis/redis-rate-limiter.ts';
import { gitCommit, repoRoot } from './children.ts';
import {
  addSamples,
  commandGroup,
  deleteStreams,
  measureGroups,
  pidGroup,
  otherRedisClients,
  redisDelta,
  sampleRedis,
  scrapeCluster,
  streamMessages,
  subtractSamples,
  type ClusterSample,
  type ProcessGroup,
} from './cluster-probes.ts';
import { parseClusterOptions, type ClusterOptions } from './cluster-options.ts';
import {
  formatClusterMarkdown,
  formatClusterText,
  type ClusterPhase,
  type ClusterReport,
  type NodeRecord,
} from './cluster-report.ts';
import { LoginTraffic, bodyTails } from './events.ts';
import { EventStream, runSaturated, summarise, type LoadResult, type Target } from './load.ts';
import { createBenchDatabase, logChecks, type BenchDatabase } from './postgres.ts';
import type { Check } from './report.ts';
import { childEnv, createKey, startBulwark, stopBulwark, type RunningServer } from './server.ts';

const startedAt = new Date();
const runTag = `${startedAt.toISOString().replace(/\D/g, '').slice(0, 14)}_${process.pid}`;
const cleanups: (() => Promise<void>)[] = [];

/** Settings the phases choose themselves: the caller's environment must not leak into them. */
const chosenHere = [
  'REDIS_URL',
  'NATS_URL',
  'BULWARK_REDIS_URL',
  'BULWARK_NATS_URL',
  'BULWARK_ROLE',
  'BULWARK_REDIS_KEY_PREFIX',
  'BULWARK_STREAM_NAME',
  'BULWARK_STREAM_SUBJECT_PREFIX',
  'BULWARK_STREAM_PARTITIONS',
];

function log(message: string): void {
  const seconds = ((Date.now() - startedAt.getTime()) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${seconds} s] ${message}\n`);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let cleaning: Promise<void> | undefined;
let interrupted = false;

/**
 * Runs the clean-ups registered so far, last first. A caller that comes while they run (the normal
 * end of the run while Ctrl-C is cleaning up) waits for the same run instead of racing it.
 */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log(`clean-up failed: ${errorText(error)}`);
      }
    }
  })().finally(() => {
    cleaning = undefined;
  });
  return cleaning;
}

/** Refuses to create anything more once the run was interrupted. */
function checkNotInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

process.once('SIGINT', () => {
  interrupted = true;
  log('interrupted: stopping nodes, dropping databases, deleting Redis keys and streams');
  void cleanUp().finally(() => process.exit(130));
});

/** Environment of every node of a phase: the caller's, less what the phase decides. */
function nodeEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const skipped = new Set(chosenHere.filter((name) => !(name in extra)));
  return Object.fromEntries(Object.entries(childEnv(extra)).filter(([name]) => !skipped.has(name)));
}

interface RunningNode {
  readonly name: string;
  readonly role: 'all' | 'api' | 'worker';
  readonly server: RunningServer;
}

async function startNode(
  name: string,
  role: RunningNode['role'],
  env: NodeJS.ProcessEnv,
): Promise<RunningNode> {
  checkNotInterrupted();
  const server = await startBulwark({
    env,
    dataDir: undefined,
    expectKey: false,
    nodeArgs: [],
    startArgs: role === 'all' ? [] : ['--role', role],
  });
  // Started while Ctrl-C was cleaning up: nobody else would stop it.
  if (interrupted) {
    await server.child.stop(5000);
    throw new Error('interrupted');
  }
  cleanups.push(async () => {
    await server.child.stop(5000);
  });
  log(`${name} (--role ${role}): ready in ${(server.readyMs / 1000).toFixed(1)} s at ${server.url}`);
  return { name, role, server };
}

async function sampleNodes(nodes: readonly RunningNode[]): Promise<ClusterSample> {
  return addSamples(await Promise.all(nodes.map((node) => scrapeCluster(node.server.url))));
}

/** Answers of loads run side by side, as one load: rates summed, latencies merged. */
function mergeLoads(loads: readonly LoadResult[], latencies: readonly number[]): LoadResult {
  const statusCodes: Record<string, number> = {};
  const decisions: Record<string, number> = {};
  const add = (into: Record<string, number>, from: Record<string, number>): void => {
    for (const [name, count] of Object.entries(from)) into[name] = (into[name] ?? 0) + count;
  };
  const sum = (pick: (load: LoadResult) => number): number =>
    loads.reduce((total, load) => total + pick(load), 0);
  for (const load of loads) {
    add(statusCodes, load.statusCodes);
    add(decisions, load.decisions);
  }
  return {
    mode: 'saturated',
    durationS: Math.max(...loads.map((load) => load.durationS)),
    completed: sum((load) => load.completed),
    ok2xx: sum((load) => load.ok2xx),
    non2xx: sum((load) => load.non2xx),
    statusCodes,
    errors: sum((load) => load.errors),
    timeouts: sum((load) => load.timeouts),
    eventsPerS: sum((load) => load.eventsPerS),
    latencyMs: summarise(latencies),
    verifyFailures: sum((load) => load.verifyFailures),
    decisions,
  };
}

/**
 * One autocannon per target node at once, the connections shared evenly, all drawing event ids
 * from one stream (so an answer from any node is checked against everything sent).
 */
async function runSpread(
  options: ClusterOptions,
  targets: readonly Target[],
  stream: EventStream,
  durationS: number,
): Promise<{ merged: LoadResult; perTarget: LoadResult[] }> {
  const latencies: number[] = [];
  const perTarget = await Promise.all(
    targets.map((target, i) => {
      const connections =
        Math.floor(options.connections / targets.length) + (i < options.connections % targets.length ? 1 : 0);
      return runSaturated(
        target,
        stream,
        { connections, pipelining: options.pipelining, durationS },
        latencies,
      );
    }),
  );
  return { merged: mergeLoads(perTarget, latencies), perTarget };
}

function summaryLine(label: string, load: LoadResult): string {
  return (
    `${label}: ${Math.round(load.eventsPerS).toLocaleString('en-US')} events/s over ${load.durationS.toFixed(1)} s, ` +
    `p50 ${load.latencyMs.p50.toFixed(2)} ms, p90 ${load.latencyMs.p90.toFixed(2)} ms, ` +
    `p99 ${load.latencyMs.p99.toFixed(2)} ms, ${load.non2xx} non-2xx, ${load.errors + load.timeouts} errors`
  );
}

/** Waits until the nodes' decision count stops moving (requests cut off at the end of a load). */
async function settle(nodes: readonly RunningNode[]): Promise<ClusterSample> {
  const deadline = performance.now() + 30_000;
  let last = await sampleNodes(nodes);
  while (performance.now() < deadline) {
    await sleep(150);
    const now = await sampleNodes(nodes);
    if (now.decisions === last.decisions) return now;
    last = now;
  }
  return last;
}

/**
 * Waits until the event log holds as many rows as the nodes counted decisions: the worker
 * persists behind the API nodes. Answers the rows and decisions at the end, and whether it got
 * there in time (more rows than decisions also ends the wait: a check then fails).
 */
async function drain(
  database: BenchDatabase,
  nodes: readonly RunningNode[],
  timeoutS: number,
): Promise<{ rows: number; decisions: number; done: boolean }> {
  const deadline = performance.now() + timeoutS * 1000;
  for (;;) {
    const decisions = (await sampleNodes(nodes)).decisions;
    const rows = await database.countEvents();
    if (rows >= decisions) return { rows, decisions, done: true };
    if (performance.now() > deadline) return { rows, decisions, done: false };
    await sleep(100);
  }
}

function loadChecks(what: string, load: LoadResult): Check[] {
  return [
    {
      name: `${what}: no non-2xx`,
      ok: load.non2xx === 0,
      detail: `${load.non2xx} non-2xx ${JSON.stringify(load.statusCodes)}`,
    },
    {
      name: `${what}: no connection errors or timeouts`,
      ok: load.errors + load.timeouts === 0,
      detail: `${load.errors} errors, ${load.timeouts} timeouts`,
    },
    {
      name: `${what}: every 2xx is the decision for a fresh event of ours`,
      ok: load.verifyFailures === 0,
      detail: `${load.verifyFailures} answers were not`,
    },
  ];
}

/** The engines, for the process split; one node (role all) uses PostgreSQL only. */
function engineGroups(cluster: boolean): ProcessGroup[] {
  return [
    commandGroup('postgres', 'postgres'),
    commandGroup('redis-server', 'redis-server', cluster),
    commandGroup('nats-server', 'nats-server', cluster),
  ];
}

/** The warm-up, answered and persisted, so the measured load starts with no backlog. */
async function warmUp(
  options: ClusterOptions,
  phase: ClusterPhase,
  setup: {
    nodes: readonly RunningNode[];
    targets: readonly Target[];
    stream: EventStream;
    database: BenchDatabase;
  },
): Promise<void> {
  const { nodes, database } = setup;
  const warmup = await runSpread(options, setup.targets, setup.stream, options.warmupS);
  phase.warmup = warmup.merged;
  log(summaryLine(`${phase.label} warm-up`, warmup.merged));
  await settle(nodes);
  const startMs = performance.now();
  const drained = await drain(database, nodes, options.drainTimeoutS);
  if (!drained.done) throw new Error(`the warm-up was not persisted: ${describeDrain(drained)}`);
  log(
    `${phase.label}: warm-up persisted ${((performance.now() - startMs) / 1000).toFixed(2)} s after it settled`,
  );
}

/** Checks of the loads of a phase against what the nodes counted and what was persisted. */
function exerciseChecks(
  options: ClusterOptions,
  phase: ClusterPhase,
  seen: {
    atStart: ClusterSample;
    after: ClusterSample;
    drained: { rows: number; decisions: number; done: boolean };
    sent: number;
  },
): Check[] {
  const { atStart, after, drained } = seen;
  const checks: Check[] = [];
  if (phase.warmup !== undefined) checks.push(...loadChecks('warm-up', phase.warmup));
  if (phase.load !== undefined) checks.push(...loadChecks('load', phase.load));
  const answered = (phase.warmup?.ok2xx ?? 0) + (phase.load?.ok2xx ?? 0);
  checks.push(
    {
      // Requests cut off when a load ends were decided but never answered: at least, not equal.
      name: 'the nodes decided every 2xx event and none we did not send',
      ok: after.decisions >= answered && after.decisions <= seen.sent,
      detail: `${after.decisions} decisions counted, ${answered} answered 2xx, ${seen.sent} sent`,
    },
    {
      name: 'no event refused',
      ok: after.eventErrors === atStart.eventErrors,
      detail: `${after.eventErrors - atStart.eventErrors} events refused (bulwark_event_errors_total)`,
    },
    {
      name: 'no decision made without the shared state (degraded)',
      ok: after.degraded === atStart.degraded,
      detail: `${after.degraded - atStart.degraded} degraded decisions (bulwark_cluster_degraded_decisions_total)`,
    },
    {
      name: `everything decided was persisted within ${options.drainTimeoutS} s`,
      ok: drained.done,
      detail: describeDrain(drained),
    },
  );
  return checks;
}

/** The load of one phase: warm-up, persistence caught up, measured load, persistence caught up. */
async function exercise(
  options: ClusterOptions,
  phase: ClusterPhase,
  setup: {
    nodes: readonly RunningNode[];
    targets: readonly RunningNode[];
    key: string;
    stream: EventStream;
    database: BenchDatabase;
    /** The benchmark's own Redis connection and the server's port, for its counters. */
    redis: { client: Redis; port: number } | undefined;
    /** Publishes seen so far on the stream's subjects (--count-publishes). */
    publishes: (() => Promise<number>) | undefined;
  },
): Promise<void> {
  const { nodes, stream, database, redis } = setup;
  const targets: Target[] = setup.targets.map((node) => ({
    url: node.server.url,
    path: '/v1/events',
    headers: { authorization: `Bearer ${setup.key}` },
    verifyDecisions: true,
  }));
  const groups = [
    ...nodes.map((node) => pidGroup(node.name, node.server.child.process.pid)),
    ...engineGroups(redis !== undefined),
  ];
  const atStart = await sampleNodes(nodes);
  await warmUp(options, phase, { nodes, targets, stream, database });

  const before = await sampleNodes(nodes);
  const redisBefore = redis === undefined ? undefined : await sampleRedis(redis.client);
  const rowsAtLoadStart = await database.countEvents();
  const publishesBefore = await setup.publishes?.();
  const cpuDone = measureGroups(groups);
  const loadStartMs = performance.now();
  const load = await runSpread(options, targets, stream, options.durationS);
  const loadEndMs = performance.now();
  phase.cpu = cpuDone();
  phase.load = load.merged;
  if (targets.length > 1) phase.loadPerNode = load.perTarget;
  const decidedAtLoadEnd = (await sampleNodes(nodes)).decisions;
  const rowsAtLoadEnd = await database.countEvents();
  log(summaryLine(phase.label, load.merged));
  log(
    `${phase.label} CPU (cores): ${phase.cpu.groups.map((g) => `${g.name} ${g.cores.toFixed(2)}`).join(', ')}`,
  );

  const drainCpuDone = measureGroups(groups);
  await settle(nodes);
  const drained = await drain(database, nodes, options.drainTimeoutS);
  const drainEndMs = performance.now();
  phase.drainCpu = drainCpuDone();
  const after = await sampleNodes(nodes);
  const redisAfter = redis === undefined ? undefined : await sampleRedis(redis.client);
  phase.window = subtractSamples(after, before);
  const publishesAfter = await setup.publishes?.();
  if (publishesBefore !== undefined && publishesAfter !== undefined) {
    phase.natsPublishes = publishesAfter - publishesBefore;
  }
  const windowS = (drainEndMs - loadStartMs) / 1000;
  if (redis !== undefined && redisBefore !== undefined && redisAfter !== undefined) {
    const pids = nodes.flatMap((node) =>
      node.server.child.process.pid === undefined ? [] : [node.server.child.process.pid],
    );
    phase.redis = {
      ...redisDelta(redisBefore, redisAfter),
      otherClients: await otherRedisClients(redis.client, pids, redis.port, Math.ceil(windowS) + 1),
    };
  }
  const loadS = (loadEndMs - loadStartMs) / 1000;
  phase.persistence = {
    rowsAtLoadStart,
    rowsAtLoadEnd,
    rowsAtDrainEnd: drained.rows,
    backlogAtLoadEnd: Math.max(0, decidedAtLoadEnd - rowsAtLoadEnd),
    drainS: drained.done ? (drainEndMs - loadEndMs) / 1000 : undefined,
    persistedDuringLoadPerS: (rowsAtLoadEnd - rowsAtLoadStart) / loadS,
    persistedPerS: (drained.rows - rowsAtLoadStart) / ((drainEndMs - loadStartMs) / 1000),
  };
  phase.decisionsCounted = after.decisions;
  log(
    `${phase.label} persistence: ${phase.persistence.backlogAtLoadEnd} events not yet persisted when the load ` +
      `ended; ${drained.done ? `all persisted ${phase.persistence.drainS?.toFixed(2)} s after it` : `NOT persisted within ${options.drainTimeoutS} s: ${describeDrain(drained)}`}; ` +
      `${Math.round(phase.persistence.persistedDuringLoadPerS)} rows/s during the load, ` +
      `${Math.round(phase.persistence.persistedPerS)} rows/s from load start to all persisted`,
  );

  phase.checks.push(...exerciseChecks(options, phase, { atStart, after, drained, sent: stream.sentCount }));
}

function describeDrain(state: { rows: number; decisions: number }): string {
  return `${state.rows} rows in events, ${state.decisions} decisions counted`;
}

/** Stops nodes one after another (API nodes before the worker) and records the exits. */
async function stopNodes(phase: ClusterPhase, nodes: readonly RunningNode[]): Promise<void> {
  for (const node of nodes) {
    const stopped = await stopBulwark(node.server);
    const record = phase.nodes.find((entry) => entry.name === node.name);
    if (record !== undefined) {
      record.exitCode = stopped.exitCode;
      record.stopMs = Math.round(stopped.stopMs);
      if (stopped.exitCode !== 0) record.stderrTail = [...node.server.child.stderrTail];
    }
    phase.checks.push({
      name: `${node.name}: SIGTERM drains and exits 0`,
      ok: stopped.exitCode === 0,
      detail: `exit ${stopped.exitCode} after ${Math.round(stopped.stopMs)} ms`,
    });
  }
}

function nodeRecord(node: RunningNode): NodeRecord {
  return { name: node.name, role: node.role, url: node.server.url, readyMs: Math.round(node.server.readyMs) };
}

async function freshDatabase(options: ClusterOptions, suffix: string): Promise<BenchDatabase> {
  checkNotInterrupted();
  const database = await createBenchDatabase(
    options.adminDatabaseUrl,
    `bulwark_bench_cluster_${runTag}_${suffix}`,
  );
  if (interrupted) {
    await database.drop();
    throw new Error('interrupted');
  }
  cleanups.push(() => database.drop());
  return database;
}

/** Phase A: one `bulwark start` (role all) on a fresh PostgreSQL database. */
async function singlePhase(options: ClusterOptions, tails: readonly string[]): Promise<ClusterPhase> {
  const phase: ClusterPhase = { name: 'single', label: '(A) one node', ok: false, nodes: [], checks: [] };
  let database: BenchDatabase | undefined;
  let node: RunningNode | undefined;
  const stream = new EventStream(tails, `bench_${runTag}_A_`);
  try {
    database = await freshDatabase(options, 'a');
    const env = nodeEnv({ DATABASE_URL: database.url });
    const key = await createKey(env, 'bench');
    node = await startNode('bulwark', 'all', env);
    phase.nodes.push(nodeRecord(node));
    await exercise(options, phase, {
      nodes: [node],
      targets: [node],
      key,
      stream,
      database,
      redis: undefined,
      publishes: undefined,
    });
  } catch (error) {
    phase.error = errorText(error);
  } finally {
    if (node !== undefined) await stopNodes(phase, [node]);
    if (database !== undefined) {
      try {
        if (phase.error === undefined)
          phase.checks.push(
            ...(await logChecks(database, stream.answeredIds(), phase.decisionsCounted, 'the nodes')),
          );
      } catch (error) {
        phase.error = errorText(error);
      } finally {
        await database.drop();
      }
    }
  }
  return phase;
}

/** Phase B: a worker and API nodes on a fresh database, Redis key prefix and stream. */
async function clusterPhase(
  options: ClusterOptions,
  tails: readonly string[],
  engines: { redis: Redis; nats: NatsConnection },
): Promise<ClusterPhase> {
  const phase: ClusterPhase = {
    name: 'cluster',
    label: `(B) cluster: ${options.apiNodes} API nodes + 1 worker`,
    ok: false,
    nodes: [],
    checks: [],
  };
  const keyPrefix = `bulwark-bench:cluster-${runTag}`;
  const streamName = `BENCH_CLUSTER_${runTag}`;
  const subjectPrefix = `bench${runTag}`;
  let database: BenchDatabase | undefined;
  const nodes: RunningNode[] = [];
  const stream = new EventStream(tails, `bench_${runTag}_B_`);
  // Registered before anything exists, so an interrupted run leaves no keys or streams behind.
  const forgetEngines = async (): Promise<void> => {
    const keys = await deleteKeysUnder(engines.redis, keyPrefix);
    await deleteStreams(engines.nats, streamName);
    log(`${phase.label}: deleted ${keys} Redis keys under ${keyPrefix} and streams ${streamName}(_DEAD)`);
  };
  cleanups.push(forgetEngines);
  // Every publish of every node, a repeated one (a republish JetStream drops) included.
  let published = 0;
  const subscription = options.countPublishes
    ? engines.nats.subscribe(`${subjectPrefix}.events.*`, {
        callback: () => {
          published += 1;
        },
      })
    : undefined;
  const publishes =
    subscription === undefined
      ? undefined
      : async (): Promise<number> => {
          await engines.nats.flush();
          return published;
        };
  try {
    database = await freshDatabase(options, 'b');
    const env = nodeEnv({
      DATABASE_URL: database.url,
      REDIS_URL: options.redisUrl,
      NATS_URL: options.natsUrl,
      BULWARK_REDIS_KEY_PREFIX: keyPrefix,
      BULWARK_STREAM_NAME: streamName,
      BULWARK_STREAM_SUBJECT_PREFIX: subjectPrefix,
      BULWARK_STREAM_PARTITIONS: String(options.partitions),
    });
    const key = await createKey(env, 'bench');
    // The worker first: it creates the stream and its consumers before any node publishes.
    nodes.push(await startNode('worker', 'worker', env));
    const apis = await Promise.all(
      Array.from({ length: options.apiNodes }, (_, i) => startNode(`api-${i + 1}`, 'api', env)),
    );
    nodes.unshift(...apis);
    phase.nodes.push(...nodes.map(nodeRecord));
    phase.streamName = streamName;
    phase.keyPrefix = keyPrefix;
    await exercise(options, phase, {
      nodes,
      targets: apis,
      key,
      stream,
      database,
      redis: { client: engines.redis, port: Number(new URL(options.redisUrl).port || '6379') },
      publishes,
    });
    const messages = await streamMessages(engines.nats, streamName);
    const deadLetters = await streamMessages(engines.nats, `${streamName}_DEAD`);
    phase.stream = { messages, deadLetters };
    phase.checks.push(
      {
        name: 'the stream holds one message per decision',
        ok: messages === phase.decisionsCounted,
        detail: `${messages} messages in ${streamName}, ${phase.decisionsCounted ?? 'no'} decisions counted`,
      },
      { name: 'no dead letters', ok: deadLetters === 0, detail: `${deadLetters} in ${streamName}_DEAD` },
    );
  } catch (error) {
    phase.error = errorText(error);
  } finally {
    subscription?.unsubscribe();
    await stopNodes(phase, nodes);
    if (database !== undefined) {
      try {
        if (phase.error === undefined)
          phase.checks.push(
            ...(await logChecks(database, stream.answeredIds(), phase.decisionsCounted, 'the nodes')),
          );
      } catch (error) {
        phase.error = errorText(error);
      } finally {
        await database.drop();
      }
    }
    // Gone already if Ctrl-C ran the clean-ups.
    const registered = cleanups.indexOf(forgetEngines);
    if (registered >= 0) cleanups.splice(registered, 1);
    await forgetEngines().catch((error: unknown) => log(`clean-up failed: ${errorText(error)}`));
  }
  return phase;
}

function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
}

async function main(): Promise<number> {
  const options = parseClusterOptions(process.argv.slice(2), process.env, join(repoRoot, 'bench/results'));
  const machine: Record<string, unknown> = {
    cpuCount: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${osType()} ${release()}`,
    commit: gitCommit(),
    loadAverageStart: loadAverage(),
  };
  log(
    `cluster benchmark${options.quick ? ' (quick)' : ''}: ${options.connections} connections, pipelining ` +
      `${options.pipelining}, ${options.warmupS} s warm-up + ${options.durationS} s; load average ${loadAverage()}`,
  );
  const traffic = new LoginTraffic({ accountsCount: options.accountsCount, seed: options.seed });
  const tails = bodyTails(traffic, options.bodyPoolSize);

  // The benchmark's own connections: Redis and JetStream counters, and clean-up.
  const redis = await connectRedis(options.redisUrl, { commandTimeoutMs: 5000 });
  const nats = await connectNats(options.natsUrl, 'bulwark-bench');
  const phases: ClusterPhase[] = [];
  try {
    machine.redis = /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? 'unknown';
    machine.nats = nats.info?.version ?? 'unknown';
    phases.push(await singlePhase(options, tails));
    if (!interrupted) phases.push(await clusterPhase(options, tails, { redis, nats }));
  } finally {
    await cleanUp();
    redis.disconnect();
    await nats.close();
  }

  for (const phase of phases) {
    if (phase.error !== undefined) {
      phase.checks.push({ name: 'ran to the end', ok: false, detail: phase.error });
      log(`${phase.label} FAILED: ${phase.error}`);
    }
    phase.ok = phase.error === undefined && phase.checks.every((check) => check.ok);
  }
  machine.loadAverageEnd = loadAverage();
  const argv = process.argv.slice(2);
  const report: ClusterReport = {
    benchmark: 'cluster',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench:cluster${argv.length === 0 ? '' : ` -- ${argv.join(' ')}`}`,
    settings: {
      ...options,
      environment: Object.fromEntries(
        Object.entries(process.env).filter(
          ([name]) => name.startsWith('BULWARK_') || name.startsWith('BENCH_'),
        ),
      ),
    },
    machine,
    phases,
    correct: phases.every((phase) => phase.ok),
  };
  process.stdout.write(`\n${formatClusterText(report)}\n`);

  if (options.outDir !== undefined) {
    mkdirSync(options.outDir, { recursive: true });
    writeFileSync(join(options.outDir, 'cluster.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(options.outDir, 'cluster.md'), formatClusterMarkdown(report, 'cluster.json'));
    log(`wrote ${join(options.outDir, 'cluster.md')} and cluster.json`);
  } else {
    log(
      options.quick ? 'quick run: nothing written (give --out DIR to write)' : '--no-write: nothing written',
    );
  }
  return report.correct ? 0 : 1;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  async (error: unknown) => {
    process.stderr.write(
      `bench:cluster failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    await cleanUp();
    process.exitCode = 1;
  },
);
