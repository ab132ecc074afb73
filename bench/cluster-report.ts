import type { ClusterSample, CpuSplit, GroupCpu, RedisSample } from './cluster-probes.ts';
import type { LoadResult } from './load.ts';
import type { Check } from './report.ts';

/** One Bulwark process of a phase. */
export interface NodeRecord {
  name: string;
  role: 'all' | 'api' | 'worker';
  url: string;
  readyMs: number;
  exitCode?: number;
  stopMs?: number;
  /** Kept when the node did not exit 0. */
  stderrTail?: string[];
}

/** How the event log kept up with the decisions (the worker persists behind the API nodes). */
export interface Persistence {
  rowsAtLoadStart: number;
  rowsAtLoadEnd: number;
  rowsAtDrainEnd: number;
  /** Events decided but not yet in PostgreSQL when the load ended. */
  backlogAtLoadEnd: number;
  /** From the end of the load until every decision was a row; undefined = not within the timeout. */
  drainS: number | undefined;
  /** Rows written per second while the load ran. */
  persistedDuringLoadPerS: number;
  /** Rows of the measured load per second, from its start until the last of them was written. */
  persistedPerS: number;
}

export interface ClusterPhase {
  name: 'single' | 'cluster';
  label: string;
  ok: boolean;
  error?: string;
  nodes: NodeRecord[];
  streamName?: string;
  keyPrefix?: string;
  warmup?: LoadResult;
  /** All target nodes together: events/s summed, latencies merged. */
  load?: LoadResult;
  /** The cluster: each API node's share of the load. */
  loadPerNode?: LoadResult[];
  /** CPU during the measured load, and from its end until everything was persisted. */
  cpu?: CpuSplit;
  drainCpu?: CpuSplit;
  /** The nodes' counters over the measured load and its drain, added over nodes. */
  window?: ClusterSample;
  /** Redis's own counters over the same window (the whole server), and how many other clients were active. */
  redis?: RedisSample & { otherClients: number };
  persistence?: Persistence;
  stream?: { messages: number; deadLetters: number };
  /** Publishes on the stream's subjects over the window, counted by a subscriber (--count-publishes). */
  natsPublishes?: number;
  /** Decisions the nodes counted over the whole phase. */
  decisionsCounted?: number;
  checks: Check[];
}

export interface ClusterReport {
  benchmark: 'cluster';
  startedAt: string;
  finishedAt: string;
  command: string;
  settings: Record<string, unknown>;
  machine: Record<string, unknown>;
  phases: ClusterPhase[];
  correct: boolean;
}

const int = (value: number): string => Math.round(value).toLocaleString('en-US');
const ms = (value: number): string => value.toFixed(2);
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b === 0 ? '' : `${(a / b).toFixed(2)}×`;

/** Processes that serve the traffic: the Bulwark nodes and the engines (not the load generator). */
function servingGroups(split: CpuSplit | undefined): GroupCpu[] {
  return split?.groups.filter((group) => group.kind === 'bulwark' || group.kind === 'engine') ?? [];
}

function bulwarkCores(split: CpuSplit | undefined): number {
  return (split?.groups ?? []).filter((g) => g.kind === 'bulwark').reduce((sum, g) => sum + g.cores, 0);
}

/** CPU microseconds per event of the measured load, counting its drain (persistence behind). */
function cpuPerEventUs(phase: ClusterPhase, name: string): number | undefined {
  const events = phase.window?.decisions;
  if (events === undefined || events <= 0) return undefined;
  const during = phase.cpu?.groups.find((g) => g.name === name)?.cpuS ?? 0;
  const after = phase.drainCpu?.groups.find((g) => g.name === name)?.cpuS ?? 0;
  return ((during + after) / events) * 1e6;
}

function servingCpuPerEventUs(phase: ClusterPhase): number | undefined {
  const names = servingGroups(phase.cpu).map((g) => g.name);
  const each = names.map((name) => cpuPerEventUs(phase, name));
  if (each.some((value) => value === undefined)) return undefined;
  return each.reduce<number>((sum, value) => sum + (value ?? 0), 0);
}

/** The main table: the same rows in the terminal and in the Markdown file. */
export function mainTable(report: ClusterReport): { header: string[]; rows: string[][] } {
  const header = [
    'phase',
    'events/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'non-2xx',
    'errors',
    'bulwark cores',
    'machine busy',
    'CPU µs/event',
    'backlog at end',
    'drain s',
    'persisted/s',
  ];
  const rows: string[][] = [];
  for (const phase of report.phases) {
    const load = phase.load;
    if (load === undefined) {
      rows.push([phase.label, 'failed', ...header.slice(2).map(() => '')]);
      continue;
    }
    const perEvent = servingCpuPerEventUs(phase);
    const persisted = phase.persistence;
    rows.push([
      phase.label,
      int(load.eventsPerS),
      ms(load.latencyMs.p50),
      ms(load.latencyMs.p90),
      ms(load.latencyMs.p99),
      int(load.non2xx),
      int(load.errors + load.timeouts + load.verifyFailures),
      bulwarkCores(phase.cpu).toFixed(2),
      phase.cpu === undefined ? '' : `${phase.cpu.machineBusyCores.toFixed(2)} of ${phase.cpu.cores}`,
      perEvent === undefined ? '' : int(perEvent),
      persisted === undefined ? '' : int(persisted.backlogAtLoadEnd),
      persisted?.drainS === undefined ? 'timeout' : persisted.drainS.toFixed(2),
      persisted === undefined ? '' : int(persisted.persistedPerS),
    ]);
  }
  const single = report.phases.find((p) => p.name === 'single');
  const cluster = report.phases.find((p) => p.name === 'cluster');
  if (single?.load !== undefined && cluster?.load !== undefined) {
    rows.push([
      'cluster / one node',
      ratio(cluster.load.eventsPerS, single.load.eventsPerS),
      ratio(cluster.load.latencyMs.p50, single.load.latencyMs.p50),
      ratio(cluster.load.latencyMs.p90, single.load.latencyMs.p90),
      ratio(cluster.load.latencyMs.p99, single.load.latencyMs.p99),
      '',
      '',
      ratio(bulwarkCores(cluster.cpu), bulwarkCores(single.cpu)),
      ratio(cluster.cpu?.machineBusyCores, single.cpu?.machineBusyCores),
      ratio(servingCpuPerEventUs(cluster), servingCpuPerEventUs(single)),
      '',
      '',
      ratio(cluster.persistence?.persistedPerS, single.persistence?.persistedPerS),
    ]);
  }
  return { header, rows };
}

/** Where the CPU went, per process, in both phases: cores during the load and µs per event. */
export function cpuTable(report: ClusterReport): { header: string[]; rows: string[][] } {
  const header = ['process'];
  for (const phase of report.phases) {
    header.push(`${phase.name}: cores`, `${phase.name}: CPU s`, `${phase.name}: µs/event`);
  }
  const names: string[] = [];
  for (const phase of report.phases) {
    for (const group of phase.cpu?.groups ?? []) if (!names.includes(group.name)) names.push(group.name);
  }
  const rows = names.map((name) => {
    const row = [name];
    for (const phase of report.phases) {
      const group = phase.cpu?.groups.find((g) => g.name === name);
      const perEvent =
        group === undefined || group.kind === 'unused' ? undefined : cpuPerEventUs(phase, name);
      const drained = phase.drainCpu?.groups.find((g) => g.name === name)?.cpuS ?? 0;
      row.push(
        group === undefined ? '' : group.cores.toFixed(2),
        group === undefined ? '' : (group.cpuS + drained).toFixed(2),
        perEvent === undefined ? '' : int(perEvent),
      );
    }
    return row;
  });
  return { header, rows };
}

/** The cluster's own counters, per decision of the measured load (and its drain). */
export function clusterLines(report: ClusterReport): string[] {
  const phase = report.phases.find((p) => p.name === 'cluster');
  const w = phase?.window;
  if (phase === undefined || w === undefined || w.decisions <= 0) return [];
  const per = (value: number): string => (value / w.decisions).toFixed(3);
  const lines = [
    `decisions in the window: ${int(w.decisions)} in ${int(w.cycles)} batches (${(w.cycleEventsSum / Math.max(1, w.cycles)).toFixed(1)} events per batch)`,
    `Redis round trips per decision: ${per(w.storeRoundTrips)} (${(w.storeRoundTrips / Math.max(1, w.cycles)).toFixed(2)} per batch; bulwark_cluster_store_round_trips)`,
    `commit conflicts: ${int(w.conflicts)} (${per(w.conflicts)} per decision; batches decided again)`,
    `publishes deferred to the spool: ${int(w.publishDeferred)}; degraded decisions: ${int(w.degraded)}`,
    phase.natsPublishes === undefined
      ? `NATS publishes per decision: ${(1 + w.publishDeferred / w.decisions).toFixed(3)} (estimated: one per decided event, plus a republish per deferred one; --count-publishes counts them)`
      : `NATS publishes per decision: ${per(phase.natsPublishes)} (${int(phase.natsPublishes)} counted by a subscriber on the stream's subjects, republishes included)`,
  ];
  if (phase.stream !== undefined) {
    lines.push(
      `stream ${phase.streamName ?? ''}: ${int(phase.stream.messages)} messages for ${int(phase.decisionsCounted ?? 0)} decisions of the phase; ${int(phase.stream.deadLetters)} dead letters`,
    );
  }
  const r = phase.redis;
  if (r !== undefined) {
    const scripts = (r.calls.evalsha ?? 0) + (r.calls.eval ?? 0);
    const scriptUs = (r.usec.evalsha ?? 0) + (r.usec.eval ?? 0);
    const top = Object.entries(r.calls)
      .slice(0, 6)
      .map(([name, calls]) => `${name} ${per(calls)}`)
      .join(', ');
    lines.push(
      `Redis server side: ${per(r.reads)} round trips (socket reads), ${per(scripts)} scripts (EVAL/EVALSHA) per ` +
        `decision, ${(scriptUs / w.decisions).toFixed(0)} µs of script time per decision; calls per decision, ` +
        `commands inside scripts included: ${top}` +
        (r.otherClients > 0
          ? ` — NOTE: ${r.otherClients} other Redis clients were active in the window, so these include their work`
          : ' (no other Redis client was active in the window)'),
    );
    // The decision state's trips are counted by the nodes; anything else on the request path
    // (e.g. a rate limiter's check per request) shows up only on the server.
    const beyond = (r.reads - w.storeRoundTrips) / w.decisions;
    lines.push(
      `Redis round trips per decision beyond bulwark_cluster_store_round_trips (server reads − node count): ` +
        `${beyond.toFixed(3)}${r.otherClients > 0 ? ' (includes other clients)' : ''}`,
    );
  }
  for (const [i, load] of (phase.loadPerNode ?? []).entries()) {
    lines.push(
      `API node ${i + 1}: ${int(load.eventsPerS)} events/s, p50 ${ms(load.latencyMs.p50)} ms, p99 ${ms(load.latencyMs.p99)} ms`,
    );
  }
  return lines;
}

const listOf = (items: readonly string[]): string =>
  items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] ?? ''}`;

/** The biggest CPU users of a phase's load, largest first, as "name 0.93". */
function topUsers(split: CpuSplit, count: number): string {
  return listOf(
    [...split.groups]
      .sort((a, b) => b.cores - a.cores)
      .slice(0, count)
      .map((g) => `${g.name} ${g.cores.toFixed(2)}`),
  );
}

/** What limited one phase, read from its CPU split. */
function limitOf(phase: ClusterPhase): string {
  const split = phase.cpu;
  if (split === undefined) return 'not measured';
  const busyShare = split.machineBusyCores / Math.max(1, split.cores);
  // Node runs JavaScript on one thread: a process near one core is bound by its main thread.
  const pinned = split.groups.filter((g) => g.kind !== 'other' && g.cores >= 0.85);
  if (busyShare >= 0.9) {
    return (
      `the machine's CPU (${split.machineBusyCores.toFixed(2)} of ${split.cores} cores busy; ` +
      `largest users ${topUsers(split, 4)})`
    );
  }
  if (pinned.length > 0) {
    return `one busy thread: ${listOf(pinned.map((g) => `${g.name} at ${g.cores.toFixed(2)} cores`))}`;
  }
  return (
    `waiting, not CPU (${split.machineBusyCores.toFixed(2)} of ${split.cores} cores busy): with a closed loop ` +
    `the rate is connections ÷ latency, so round trips set it`
  );
}

/**
 * "Where the bottleneck moves": computed from the CPU split of both phases — what limited each,
 * and where the CPU per event went.
 */
export function bottleneckParagraph(report: ClusterReport): string {
  const single = report.phases.find((p) => p.name === 'single');
  const cluster = report.phases.find((p) => p.name === 'cluster');
  if (single?.cpu === undefined || cluster?.cpu === undefined) return 'Not computed: a phase did not run.';
  const costs = (phase: ClusterPhase): string =>
    listOf(
      servingGroups(phase.cpu)
        .map((g) => ({ name: g.name, us: cpuPerEventUs(phase, g.name) ?? 0 }))
        .filter((g) => g.us >= 1)
        .sort((a, b) => b.us - a.us)
        .map((g) => `${g.name} ${int(g.us)}`),
    );
  const singleUs = servingCpuPerEventUs(single) ?? 0;
  const clusterUs = servingCpuPerEventUs(cluster) ?? 0;
  const engineUs = (phase: ClusterPhase, names: string[]): number =>
    names.reduce((sum, name) => sum + (cpuPerEventUs(phase, name) ?? 0), 0);
  const sharedUs = engineUs(cluster, ['redis-server', 'nats-server']);
  const sentences = [
    `One node was limited by ${limitOf(single)}; the cluster by ${limitOf(cluster)}.`,
    `Per event (CPU of the measured load and of persisting it afterwards), one node spent ${int(singleUs)} µs ` +
      `(${costs(single)}); the cluster spent ${int(clusterUs)} µs (${costs(cluster)}), ` +
      `${(clusterUs / Math.max(1, singleUs)).toFixed(2)}× as much, of which Redis and NATS together ${int(sharedUs)} µs.`,
  ];
  const others = [single, cluster].map(
    (phase) => phase.cpu?.groups.find((g) => g.kind === 'other')?.cores ?? 0,
  );
  if (Math.max(...others) >= 0.2) {
    sentences.push(
      `Other work on the machine took ${others.map((cores) => cores.toFixed(2)).join(' and ')} cores during the ` +
        `loads: the rates are disturbed, so compare the CPU per event rather than events/s.`,
    );
  }
  const generator = (phase: ClusterPhase): number =>
    phase.cpu?.groups.find((g) => g.kind === 'generator')?.cores ?? 0;
  sentences.push(
    `The load generator shared the ${String(report.machine.cpuCount)} cores (${generator(single).toFixed(2)} and ` +
      `${generator(cluster).toFixed(2)} cores), so here every process of the cluster competes with the others for ` +
      `the same CPU.`,
  );
  // One core's worth of each part, from its CPU per event: what it could carry on a machine of its own.
  const apiUs = cluster.cpu.groups
    .filter((g) => g.name.startsWith('api-'))
    .reduce((sum, g) => sum + (cpuPerEventUs(cluster, g.name) ?? 0), 0);
  const shared = ['worker', 'postgres', 'redis-server', 'nats-server']
    .map((name) => ({ name, us: cpuPerEventUs(cluster, name) ?? 0 }))
    .filter((part) => part.us >= 1)
    .map((part) => ({ ...part, perCoreS: 1e6 / part.us }))
    .sort((a, b) => a.perCoreS - b.perCoreS);
  const first = shared[0];
  if (apiUs > 0 && first !== undefined) {
    sentences.push(
      `Per core, from these costs: an API node decides about ${int(1e6 / apiUs)} events/s, and API nodes scale ` +
        `out; one core of each shared part carries ${listOf(shared.map((p) => `${p.name} ${int(p.perCoreS)}`))} ` +
        `events/s. With API nodes on machines of their own the bottleneck moves to ${first.name} ` +
        `(${first.name === 'redis-server' || first.name === 'worker' ? 'one thread, so about' : 'per core'} ` +
        `${int(first.perCoreS)} events/s).`,
    );
  }
  return sentences.join(' ');
}

function failedChecks(report: ClusterReport): string[] {
  return report.phases.flatMap((phase) =>
    phase.checks.filter((check) => !check.ok).map((c) => `${phase.label}: ${c.name} — ${c.detail}`),
  );
}

function textTable(table: { header: string[]; rows: string[][] }): string[] {
  const { header, rows } = table;
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ');
  return [line(header), ...rows.map(line)];
}

function markdownTable(table: { header: string[]; rows: string[][] }): string[] {
  const escape = (cell: string): string => cell.replaceAll('|', '\\|');
  return [
    `| ${table.header.join(' | ')} |`,
    `| ${table.header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map(escape).join(' | ')} |`),
  ];
}

export function formatClusterText(report: ClusterReport): string {
  const out = [...textTable(mainTable(report)), '', 'CPU by process during the measured load:'];
  out.push(...textTable(cpuTable(report)), '');
  const lines = clusterLines(report);
  if (lines.length > 0) out.push('Cluster counters:', ...lines.map((line) => `  ${line}`), '');
  out.push(`Where the bottleneck moves: ${bottleneckParagraph(report)}`, '');
  const failed = failedChecks(report);
  out.push(
    failed.length === 0
      ? 'Correctness checks: all passed.'
      : `Correctness checks FAILED:\n  ${failed.join('\n  ')}`,
  );
  return out.join('\n');
}

export function formatClusterMarkdown(report: ClusterReport, jsonName: string): string {
  const md: string[] = [];
  const m = report.machine;
  const s = report.settings;
  md.push(`# Cluster benchmark — ${report.startedAt.slice(0, 10)}`, '');
  md.push(`Command: \`${report.command}\` · full results: [${jsonName}](${jsonName})`, '');
  md.push(
    `Machine: ${String(m.cpuCount)} × ${String(m.cpuModel)}, ${String(m.memoryGiB)} GiB, Node ${String(m.node)}, ` +
      `${String(m.os)}; Redis ${String(m.redis)}, NATS ${String(m.nats)}; load average at start ` +
      `${String(m.loadAverageStart)}, at end ${String(m.loadAverageEnd)}; commit ${String(m.commit)}.`,
    '',
  );
  md.push(
    `Load: ${String(s.connections)} connections in total, pipelining ${String(s.pipelining)}, ${String(s.warmupS)} s ` +
      `warm-up then ${String(s.durationS)} s measured, login traffic over ${int(Number(s.accountsCount))} accounts ` +
      `(bench/events.ts). (A) is one \`bulwark start\` on PostgreSQL. (B) is one \`--role worker\` and ` +
      `${String(s.apiNodes)} \`--role api\` nodes on PostgreSQL, Redis and NATS JetStream ` +
      `(${String(s.partitions)} partitions); the load is one autocannon per API node at once, the connections ` +
      `shared evenly; events/s are summed and latencies merged. Everything, load generator included, runs on ` +
      `this one machine.`,
    '',
  );
  md.push(
    '**CPU µs/event** is the CPU the Bulwark nodes, PostgreSQL, Redis and NATS used during the measured load ' +
      'and while the worker persisted the rest of it, per event decided. **backlog at end** is events decided ' +
      'but not yet in PostgreSQL when the load ended; **drain s** the time from then until all were; ' +
      '**persisted/s** the measured load’s events over the time from its start until the last was written.',
    '',
  );
  md.push(...markdownTable(mainTable(report)), '');
  md.push('## CPU by process', '');
  md.push(
    'Cores kept busy during the measured load; CPU seconds over the load and its drain, and per event decided. ' +
      '`postgres` is every ' +
      'PostgreSQL process on the machine, `other processes` everything not listed (other work on the machine). ' +
      'One node does not use Redis or NATS: their CPU in (A) is other users’ and is left out of its µs/event.',
    '',
  );
  md.push(...markdownTable(cpuTable(report)), '');
  const lines = clusterLines(report);
  if (lines.length > 0) md.push('## Cluster counters', '', ...lines.map((line) => `- ${line}`), '');
  md.push('## Where the bottleneck moves', '', bottleneckParagraph(report), '');
  const failed = failedChecks(report);
  md.push(
    failed.length === 0
      ? 'Correctness checks: all passed.'
      : `Correctness checks **failed**:\n\n- ${failed.join('\n- ')}`,
    '',
  );
  return md.join('\n');
}
