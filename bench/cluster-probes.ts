/**
 * What `npm run bench:cluster` reads around a load besides the answers: CPU per process (Bulwark
 * nodes, PostgreSQL, Redis, NATS, the load generator, everything else), the nodes' own cluster
 * metrics, Redis's command counters and the JetStream stream. Linux only (/proc).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { machineCpuS, processCpuS, ticksPerS } from './cpu.ts';
import { scrapeSums } from './server.ts';

/** A set of processes whose CPU is added up: one Bulwark node, or every `postgres` process. */
export interface ProcessGroup {
  readonly name: string;
  /** What the group is, e.g. "bulwark --role api": shown in the reports. */
  /** `unused`: an engine this phase does not talk to (its CPU is other users'), shown but not counted. */
  readonly kind: 'bulwark' | 'engine' | 'unused';
  pids(): number[];
}

/** CPU seconds of every process whose command name (/proc/PID/stat) is `command`, by pid. */
function commandCpuS(command: string): Map<number, number> {
  const found = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')) !== command) continue;
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      found.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / ticksPerS);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return found;
}

/** Every process named `command` (e.g. postgres with all its backends, redis-server). */
export function commandGroup(name: string, command: string, used = true): ProcessGroup {
  return { name, kind: used ? 'engine' : 'unused', pids: () => [...commandCpuS(command).keys()] };
}

/** One child process. */
export function pidGroup(name: string, pid: number | undefined): ProcessGroup {
  return { name, kind: 'bulwark', pids: () => (pid === undefined ? [] : [pid]) };
}

/** Cores one group kept busy in a window (1.0 = one core all the time) and its CPU seconds. */
export interface GroupCpu {
  name: string;
  kind: 'bulwark' | 'engine' | 'unused' | 'generator' | 'other';
  cpuS: number;
  cores: number;
}

export interface CpuSplit {
  wallS: number;
  /** Cores of the machine. */
  cores: number;
  machineBusyCores: number;
  /** Bulwark nodes, engines, the load generator (this process) and `other` (the rest). */
  groups: GroupCpu[];
}

interface Snapshot {
  wallS: number;
  perGroup: Map<number, number>[];
  generatorS: number;
  machine: { busy: number; total: number };
}

function snapshot(groups: readonly ProcessGroup[]): Snapshot {
  const usage = process.cpuUsage();
  return {
    wallS: performance.now() / 1000,
    perGroup: groups.map((group) => new Map(group.pids().map((pid) => [pid, processCpuS(pid)]))),
    generatorS: (usage.user + usage.system) / 1e6,
    machine: machineCpuS(),
  };
}

/**
 * Starts measuring the groups; the returned function ends the window. A process that starts in
 * the window counts from zero; one that ends in it is lost (/proc forgets it): PostgreSQL keeps
 * its backends for the life of a connection pool, so this is small.
 */
export function measureGroups(groups: readonly ProcessGroup[]): () => CpuSplit {
  const start = snapshot(groups);
  return () => {
    const end = snapshot(groups);
    const wallS = Math.max(end.wallS - start.wallS, 1e-6);
    const round = (value: number): number => Math.round(value * 1000) / 1000;
    const split: GroupCpu[] = groups.map((group, i) => {
      let cpuS = 0;
      const before = start.perGroup[i] ?? new Map<number, number>();
      for (const [pid, seconds] of end.perGroup[i] ?? [])
        cpuS += Math.max(0, seconds - (before.get(pid) ?? 0));
      return { name: group.name, kind: group.kind, cpuS: round(cpuS), cores: round(cpuS / wallS) };
    });
    const generatorS = end.generatorS - start.generatorS;
    split.push({
      name: 'load generator',
      kind: 'generator',
      cpuS: round(generatorS),
      cores: round(generatorS / wallS),
    });
    const busyS = end.machine.busy - start.machine.busy;
    const accounted = split.reduce((sum, group) => sum + group.cpuS, 0);
    const otherS = Math.max(0, busyS - accounted);
    split.push({ name: 'other processes', kind: 'other', cpuS: round(otherS), cores: round(otherS / wallS) });
    return {
      wallS: round(wallS),
      cores: Math.round((end.machine.total - start.machine.total) / wallS),
      machineBusyCores: round(busyS / wallS),
      groups: split,
    };
  };
}

/** Counters a node publishes at /metrics that tell what its cluster processor did. */
export interface ClusterSample {
  decisions: number;
  eventErrors: number;
  /** Ingest cycles (batches) and the events in them. */
  cycles: number;
  cycleEventsSum: number;
  /** Round trips to Redis, summed over cycles. */
  storeRoundTrips: number;
  conflicts: number;
  publishDeferred: number;
  degraded: number;
}

const clusterMetricNames: Readonly<Record<keyof ClusterSample, string>> = {
  decisions: 'bulwark_decisions_total',
  eventErrors: 'bulwark_event_errors_total',
  cycles: 'bulwark_ingest_cycle_events_count',
  cycleEventsSum: 'bulwark_ingest_cycle_events_sum',
  storeRoundTrips: 'bulwark_cluster_store_round_trips_sum',
  conflicts: 'bulwark_cluster_commit_conflicts_total',
  publishDeferred: 'bulwark_cluster_publish_deferred_total',
  degraded: 'bulwark_cluster_degraded_decisions_total',
};

export function scrapeCluster(url: string): Promise<ClusterSample> {
  return scrapeSums(url, clusterMetricNames);
}

/** Samples of several nodes added up, or the difference of two such sums. */
export function addSamples(samples: readonly ClusterSample[]): ClusterSample {
  const total: ClusterSample = {
    decisions: 0,
    eventErrors: 0,
    cycles: 0,
    cycleEventsSum: 0,
    storeRoundTrips: 0,
    conflicts: 0,
    publishDeferred: 0,
    degraded: 0,
  };
  for (const sample of samples) {
    for (const name of Object.keys(total) as (keyof ClusterSample)[]) total[name] += sample[name];
  }
  return total;
}

export function subtractSamples(after: ClusterSample, before: ClusterSample): ClusterSample {
  const delta = { ...after };
  for (const name of Object.keys(delta) as (keyof ClusterSample)[]) delta[name] = after[name] - before[name];
  return delta;
}

/** Redis's own counters (server-wide): round trips it served, and commands by name. */
export interface RedisSample {
  /** Reads from client sockets: one per round trip (a pipeline of several commands is one). */
  reads: number;
  /** Calls by command name; commands run inside scripts are counted too. */
  calls: Record<string, number>;
  /** Microseconds Redis spent in each command, scripts' inner commands included in the script's. */
  usec: Record<string, number>;
}

export async function sampleRedis(client: Redis): Promise<RedisSample> {
  const stats = await client.info('stats');
  const commandStats = await client.info('commandstats');
  const calls: Record<string, number> = {};
  const usec: Record<string, number> = {};
  for (const match of commandStats.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
    calls[match[1] ?? ''] = Number(match[2]);
    usec[match[1] ?? ''] = Number(match[3]);
  }
  return { reads: Number(/^total_reads_processed:(\d+)/m.exec(stats)?.[1] ?? 0), calls, usec };
}

/** What Redis did between two samples. */
export function redisDelta(before: RedisSample, after: RedisSample): RedisSample {
  const minus = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
    Object.fromEntries(
      Object.entries(a)
        .map(([name, value]): [string, number] => [name, value - (b[name] ?? 0)])
        .filter(([, value]) => value > 0)
        .sort((x, y) => y[1] - x[1]),
    );
  return {
    reads: after.reads - before.reads,
    calls: minus(after.calls, before.calls),
    usec: minus(after.usec, before.usec),
  };
}

/** Local ports of TCP connections to `port` held by the given processes (from `ss -tnp`). */
function localPortsOf(pids: ReadonlySet<number>, port: number): Set<number> {
  const ports = new Set<number>();
  let text = '';
  try {
    text = execFileSync('ss', ['-tnpH', 'dport', '=', `:${port}`], { encoding: 'utf8' });
  } catch {
    return ports;
  }
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const local = fields[3] ?? '';
    const owners = [...line.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1]));
    if (owners.some((pid) => pids.has(pid))) ports.add(Number(local.slice(local.lastIndexOf(':') + 1)));
  }
  return ports;
}

/**
 * Clients of the Redis server, not ours (the nodes' and this process's), that ran a command in
 * the last `withinS` seconds: if there are any, Redis's server-wide counters include their work.
 */
export async function otherRedisClients(
  client: Redis,
  ownPids: readonly number[],
  redisPort: number,
  withinS: number,
): Promise<number> {
  const own = localPortsOf(new Set([...ownPids, process.pid]), redisPort);
  const list = String(await client.call('CLIENT', 'LIST'));
  let others = 0;
  for (const line of list.split('\n')) {
    const addr = /\baddr=\S+:(\d+)/.exec(line)?.[1];
    const idle = Number(/\bidle=(\d+)/.exec(line)?.[1] ?? Infinity);
    if (addr !== undefined && !own.has(Number(addr)) && idle <= withinS) others += 1;
  }
  return others;
}

/** Messages a JetStream stream holds (0 when it does not exist). */
export async function streamMessages(nats: NatsConnection, name: string): Promise<number> {
  const jsm = await nats.jetstreamManager();
  try {
    return (await jsm.streams.info(name)).state.messages;
  } catch {
    return 0;
  }
}

/** Deletes the event stream and its dead-letter stream. */
export async function deleteStreams(nats: NatsConnection, name: string): Promise<void> {
  const jsm = await nats.jetstreamManager();
  for (const stream of [name, `${name}_DEAD`]) await jsm.streams.delete(stream).catch(() => false);
}
