import { Child, bulwarkBin, runToEnd } from './children.ts';

/** PGlite creates and migrates its database on first start: that takes seconds on this machine. */
const readyTimeoutMs = 120_000;
const stopGraceMs = 60_000;

export interface RunningServer {
  readonly child: Child;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** The key printed at first start (PGlite), if any. */
  readonly printedKey: string | undefined;
  /** From spawning the process to the URL printed. */
  readonly readyMs: number;
}

/** Environment for a server child: the caller's, less settings a phase must choose itself. */
export function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const chosenHere = new Set(['DATABASE_URL', 'BULWARK_DATA_DIR', 'BULWARK_PORT', 'NODE_OPTIONS']);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!chosenHere.has(name)) env[name] = value;
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

/** Starts `bulwark start --port 0` and reads the URL (and a first-start key) from its stdout. */
export async function startBulwark(options: {
  env: NodeJS.ProcessEnv;
  dataDir: string | undefined;
  expectKey: boolean;
  /** Node flags before the script, e.g. --cpu-prof (which NODE_OPTIONS may not carry). */
  nodeArgs: readonly string[];
  /** More `bulwark start` arguments, e.g. `--role api` (bench/cluster.ts). */
  startArgs?: readonly string[];
}): Promise<RunningServer> {
  const args = [...options.nodeArgs, bulwarkBin, 'start', '--host', '127.0.0.1', '--port', '0'];
  args.push(...(options.startArgs ?? []));
  if (options.dataDir !== undefined) args.push('--data', options.dataDir);
  const startedMs = performance.now();
  const child = new Child(process.execPath, args, options.env);
  try {
    const api = await child.waitForLine(/API:\s+(http:\/\/\S+)\/v1\/events/, readyTimeoutMs, 'bulwark start');
    const readyMs = performance.now() - startedMs;
    const url = api[1] ?? '';
    let printedKey: string | undefined;
    if (options.expectKey) {
      // The key line follows the URL lines at once.
      const key = await child.waitForLine(/API key \(shown once, keep it\): (\S+)/, 10_000, 'bulwark start');
      printedKey = key[1];
    }
    const ready = await fetch(`${url}/readyz`);
    if (ready.status !== 200) throw new Error(`GET /readyz answered ${ready.status}`);
    return { child, url, printedKey, readyMs };
  } catch (error) {
    await child.stop(5_000);
    throw error;
  }
}

export async function stopBulwark(server: RunningServer): Promise<{ exitCode: number; stopMs: number }> {
  const startedMs = performance.now();
  const exitCode = await server.child.stop(stopGraceMs);
  return { exitCode, stopMs: performance.now() - startedMs };
}

/** `bulwark keys create --name NAME`: prints the key alone on stdout. */
export async function createKey(env: NodeJS.ProcessEnv, name: string): Promise<string> {
  const run = await runToEnd(process.execPath, [bulwarkBin, 'keys', 'create', '--name', name], env);
  const key = run.stdout.trim();
  if (run.code !== 0 || !/^bwk_\S+$/.test(key)) {
    throw new Error(`bulwark keys create exited ${run.code}: ${run.stderr.trim() || run.stdout.trim()}`);
  }
  return key;
}

/** Counters from the server's own /metrics: group commit, cycle time, refusals. */
export interface MetricsSample {
  decisions: number;
  eventErrors: number;
  cycles: number;
  cycleEventsSum: number;
  cycleSecondsSum: number;
  checkpoints: number;
  checkpointSecondsSum: number;
  httpRequests: number;
  httpSecondsSum: number;
}

/** Sum of every sample of one metric in a Prometheus text page, over all its labels. */
export function sumOf(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^(\S+?)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name) total += Number(match[3]);
  }
  return total;
}

/** The sums of the named metrics (each over all its labels) in a node's /metrics page. */
export async function scrapeSums<K extends string>(
  url: string,
  names: Readonly<Record<K, string>>,
): Promise<Record<K, number>> {
  const response = await fetch(`${url}/metrics`);
  const text = await response.text();
  const sums = {} as Record<K, number>;
  for (const key of Object.keys(names) as K[]) sums[key] = sumOf(text, names[key]);
  return sums;
}

const serverMetricNames: Readonly<Record<keyof MetricsSample, string>> = {
  decisions: 'bulwark_decisions_total',
  eventErrors: 'bulwark_event_errors_total',
  cycles: 'bulwark_ingest_cycle_events_count',
  cycleEventsSum: 'bulwark_ingest_cycle_events_sum',
  cycleSecondsSum: 'bulwark_ingest_cycle_duration_seconds_sum',
  checkpoints: 'bulwark_state_checkpoint_duration_seconds_count',
  checkpointSecondsSum: 'bulwark_state_checkpoint_duration_seconds_sum',
  httpRequests: 'bulwark_http_request_duration_seconds_count',
  httpSecondsSum: 'bulwark_http_request_duration_seconds_sum',
};

export function scrapeMetrics(url: string): Promise<MetricsSample> {
  return scrapeSums(url, serverMetricNames);
}

/** What the server says one load did: the difference of two samples, as means. */
export interface ServerView {
  decisions: number;
  eventErrors: number;
  /** Ingest cycles (group commits) and their mean size and time. */
  cycles: number;
  cycleEventsMean: number;
  cycleMsMean: number;
  checkpoints: number;
  checkpointMsMean: number;
  /** Time inside the server per request (Fastify's own measure), excluding the network. */
  serverRequestMsMean: number;
}

export function serverView(before: MetricsSample, after: MetricsSample): ServerView {
  const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
  const cycles = after.cycles - before.cycles;
  const checkpoints = after.checkpoints - before.checkpoints;
  return {
    decisions: after.decisions - before.decisions,
    eventErrors: after.eventErrors - before.eventErrors,
    cycles,
    cycleEventsMean: ratio(after.cycleEventsSum - before.cycleEventsSum, cycles),
    cycleMsMean: ratio((after.cycleSecondsSum - before.cycleSecondsSum) * 1000, cycles),
    checkpoints,
    checkpointMsMean: ratio((after.checkpointSecondsSum - before.checkpointSecondsSum) * 1000, checkpoints),
    serverRequestMsMean: ratio(
      (after.httpSecondsSum - before.httpSecondsSum) * 1000,
      after.httpRequests - before.httpRequests,
    ),
  };
}
