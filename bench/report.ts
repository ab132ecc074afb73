import type { CpuUse } from './cpu.ts';
import type { LoadResult } from './load.ts';
import type { ProfileSummary } from './profile.ts';
import type { ReplayRun } from './replay.ts';
import type { ServerView } from './server.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface IngestPhase {
  name: 'baseline' | 'pglite' | 'postgres';
  label: string;
  ok: boolean;
  error?: string;
  /** Spawn to "ready" printed (bulwark) or listening (baseline). */
  readyMs?: number;
  stopMs?: number;
  exitCode?: number;
  warmup?: LoadResult;
  load?: LoadResult;
  /** PostgreSQL only: open-loop at the target rate, for latency at that load. */
  paced?: LoadResult;
  /** CPU use during the measured load and the paced check. */
  cpu?: CpuUse;
  pacedCpu?: CpuUse;
  server?: ServerView;
  pacedServer?: ServerView;
  /** Decisions the server counted over warm-up, load and paced check. */
  decisionsCounted?: number;
  ratioToBaseline?: number;
  checks: Check[];
  profile?: ProfileSummary;
}

export interface ReplayPhase {
  name: 'replay';
  label: string;
  ok: boolean;
  error?: string;
  fileBytes?: number;
  generateMs?: number;
  full?: ReplayRun;
  startup?: ReplayRun;
  /** Lines over the whole child process, start and file writing included. */
  linesPerSEndToEnd?: number;
  /** (full − startup lines) / (full − startup time): the rate once the process is up. */
  linesPerSExcludingStart?: number;
  /** CPU use during the full replay run (the replay child counts among "other processes"). */
  cpu?: CpuUse;
  checks: Check[];
  profile?: ProfileSummary;
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  met: boolean | undefined;
}

export interface BenchReport {
  benchmark: 'foundation';
  startedAt: string;
  finishedAt: string;
  command: string;
  settings: Record<string, unknown>;
  machine: Record<string, unknown>;
  phases: (IngestPhase | ReplayPhase)[];
  targets: Target[];
  correct: boolean;
}

const int = (value: number): string => Math.round(value).toLocaleString('en-US');
const ms = (value: number): string => value.toFixed(2);

function ingestRow(
  label: string,
  load: LoadResult,
  ratio: number | undefined,
  cpu: CpuUse | undefined,
): string[] {
  return [
    label,
    int(load.eventsPerS),
    cpu === undefined ? '' : cpu.serverCores.toFixed(2),
    cpu === undefined || cpu.serverCores <= 0 ? '' : int(load.eventsPerS / cpu.serverCores),
    ms(load.latencyMs.p50),
    ms(load.latencyMs.p99),
    int(load.non2xx),
    int(load.errors + load.timeouts + load.verifyFailures),
    ratio === undefined ? '' : `${(ratio * 100).toFixed(1)}%`,
  ];
}

/** The results table: the same rows in the terminal and in the Markdown file. */
export function tableRows(report: BenchReport): { header: string[]; rows: string[][] } {
  const header = [
    'phase',
    'events/s',
    'server cores',
    'per server core-s',
    'p50 ms',
    'p99 ms',
    'non-2xx',
    'errors',
    'vs (a)',
  ];
  const blank = (first: string, second: string, errors: string): string[] => {
    const row = header.map(() => '');
    row[0] = first;
    row[1] = second;
    row[7] = errors;
    return row;
  };
  const rows: string[][] = [];
  for (const phase of report.phases) {
    if (phase.name === 'replay') {
      if (phase.full === undefined || phase.linesPerSEndToEnd === undefined) {
        rows.push(blank(phase.label, 'failed', ''));
        continue;
      }
      const full = phase.full;
      const wallS = (full.wallMs / 1000).toFixed(1);
      const endToEnd = blank(
        `${phase.label}, end to end (${wallS} s)`,
        int(phase.linesPerSEndToEnd),
        int(full.errors),
      );
      // For replay the "server" is the replay process itself.
      if (full.cpuS > 0) {
        endToEnd[2] = (full.cpuS / (full.wallMs / 1000)).toFixed(2);
        endToEnd[3] = int(full.lines / full.cpuS);
      }
      rows.push(endToEnd);
      if (phase.linesPerSExcludingStart !== undefined) {
        const net = blank(`${phase.label}, excluding process start`, int(phase.linesPerSExcludingStart), '');
        const startup = phase.startup;
        if (startup !== undefined && full.cpuS > startup.cpuS) {
          net[3] = int((full.lines - startup.lines) / (full.cpuS - startup.cpuS));
        }
        rows.push(net);
      }
      continue;
    }
    if (phase.load === undefined) {
      rows.push(blank(phase.label, 'failed', ''));
      continue;
    }
    rows.push(ingestRow(phase.label, phase.load, phase.ratioToBaseline, phase.cpu));
    if (phase.paced !== undefined) {
      const label = `${phase.label}, paced at ${int(phase.paced.targetRatePerS ?? 0)}/s`;
      rows.push(ingestRow(label, phase.paced, undefined, phase.pacedCpu));
    }
  }
  return { header, rows };
}

/** CPU used by processes outside the benchmark during the loads: what made this run noisy. */
export function contentionNote(report: BenchReport): string {
  const uses = report.phases.flatMap((phase) =>
    phase.name === 'replay' || phase.cpu === undefined ? [] : [`${phase.name} ${phase.cpu.otherCores}`],
  );
  return uses.length === 0
    ? ''
    : `Cores used by other processes on the machine during each load (of ${String(report.machine.cpuCount)}): ${uses.join(', ')}.`;
}

export function formatText(report: BenchReport): string {
  const { header, rows } = tableRows(report);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ');
  const out = [line(header), ...rows.map(line), ''];
  const contention = contentionNote(report);
  if (contention !== '') out.push(contention, '');
  out.push('Targets (from the issue):');
  for (const target of report.targets) {
    const verdict = target.met === undefined ? 'n/a ' : target.met ? 'MET ' : 'MISS';
    out.push(`  ${verdict}  ${target.name}: goal ${target.goal}, measured ${target.measured}`);
  }
  const failed = report.phases.flatMap((phase) =>
    phase.checks.filter((check) => !check.ok).map((c) => `${phase.label}: ${c.name} — ${c.detail}`),
  );
  out.push('');
  out.push(
    failed.length === 0
      ? 'Correctness checks: all passed.'
      : `Correctness checks FAILED:\n  ${failed.join('\n  ')}`,
  );
  return out.join('\n');
}

export function formatMarkdown(report: BenchReport, jsonName: string): string {
  const { header, rows } = tableRows(report);
  const escape = (cell: string): string => cell.replaceAll('|', '\\|');
  const md: string[] = [];
  md.push(`# Foundation benchmark — ${report.startedAt.slice(0, 10)}`);
  md.push('');
  md.push(`Command: \`${report.command}\` · full results: [${jsonName}](${jsonName})`);
  md.push('');
  const m = report.machine;
  md.push(
    `Machine: ${String(m.cpuCount)} × ${String(m.cpuModel)}, ${String(m.memoryGiB)} GiB, Node ${String(m.node)}, ` +
      `${String(m.os)}; PostgreSQL ${String(m.postgres)}; load average at start ${String(m.loadAverageStart)}, ` +
      `at end ${String(m.loadAverageEnd)}; commit ${String(m.commit)}.`,
  );
  const s = report.settings;
  md.push('');
  md.push(
    `Load: ${String(s.connections)} connections, pipelining ${String(s.pipelining)}, ${String(s.warmupS)} s warm-up then ` +
      `${String(s.durationS)} s measured, from autocannon in the benchmark process (it shares the 2 cores with ` +
      `the server). Latency is per response, exact (not autocannon's whole-millisecond histogram). The paced row is ` +
      `open-loop at a fixed rate, latency counted from when each request was due.`,
  );
  md.push('');
  const contention = contentionNote(report);
  if (contention !== '') md.push(contention, '');
  md.push(`| ${header.join(' | ')} |`);
  md.push(`| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
  for (const row of rows) md.push(`| ${row.map(escape).join(' | ')} |`);
  md.push('');
  md.push('| target | goal | measured | |');
  md.push('| --- | --- | --- | --- |');
  for (const target of report.targets) {
    md.push(
      `| ${target.name} | ${target.goal} | ${target.measured} | ${target.met === undefined ? 'n/a' : target.met ? 'met' : '**missed**'} |`,
    );
  }
  md.push('');
  const failed = report.phases.flatMap((phase) =>
    phase.checks.filter((check) => !check.ok).map((c) => `${phase.label}: ${c.name} — ${c.detail}`),
  );
  md.push(
    failed.length === 0
      ? 'Correctness checks: all passed.'
      : `Correctness checks **failed**:\n\n- ${failed.join('\n- ')}`,
  );
  md.push('');
  return md.join('\n');
}
