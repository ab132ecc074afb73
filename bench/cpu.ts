import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/**
 * Where the CPU went during a measured window, from /proc (Linux): the server child, the load
 * generator (this process), PostgreSQL's processes, and the whole machine. Other work on the same
 * machine shows up as machine time nobody here used: on a shared 2-core box that is what makes
 * two runs differ, so the results say it.
 */
export interface CpuUse {
  /** Cores kept busy on average (1.0 = one core all the time). */
  serverCores: number;
  generatorCores: number;
  postgresCores: number;
  machineBusyCores: number;
  /** machineBusy − the three above: other processes on this machine. */
  otherCores: number;
  cores: number;
}

function clockTicksPerS(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** Clock ticks per second of /proc/PID/stat times. */
export const ticksPerS = clockTicksPerS();

/** utime + stime of one process in seconds; 0 once it is gone. */
export function processCpuS(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerS;
  } catch {
    return 0;
  }
}

/** CPU seconds of every process named `postgres` (the server and its backends). */
function postgresCpuS(): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const open = text.indexOf('(');
      if (text.slice(open + 1, text.lastIndexOf(')')) !== 'postgres') continue;
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / ticksPerS;
    } catch {
      // The process ended between listing and reading.
    }
  }
  return total;
}

/** Busy and total CPU seconds of the machine, summed over cores. */
export function machineCpuS(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((sum, value) => sum + value, 0);
    // idle and iowait are not busy.
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: (total - idle) / ticksPerS, total: total / ticksPerS };
  } catch {
    return { busy: 0, total: 0 };
  }
}

interface Snapshot {
  wallS: number;
  server: number;
  generator: number;
  postgres: number;
  machine: { busy: number; total: number };
}

function snapshot(serverPid: number | undefined): Snapshot {
  const usage = process.cpuUsage();
  return {
    wallS: performance.now() / 1000,
    server: serverPid === undefined ? 0 : processCpuS(serverPid),
    generator: (usage.user + usage.system) / 1e6,
    postgres: postgresCpuS(),
    machine: machineCpuS(),
  };
}

/** Starts measuring; the returned function ends the window and answers the CPU used in it. */
export function measureCpu(serverPid: number | undefined): () => CpuUse {
  const start = snapshot(serverPid);
  return () => {
    const end = snapshot(serverPid);
    const wallS = Math.max(end.wallS - start.wallS, 1e-6);
    const cores = (end.machine.total - start.machine.total) / wallS;
    const serverCores = (end.server - start.server) / wallS;
    const generatorCores = (end.generator - start.generator) / wallS;
    const postgresCores = (end.postgres - start.postgres) / wallS;
    const machineBusyCores = (end.machine.busy - start.machine.busy) / wallS;
    const round = (value: number): number => Math.round(value * 100) / 100;
    return {
      serverCores: round(serverCores),
      generatorCores: round(generatorCores),
      postgresCores: round(postgresCores),
      machineBusyCores: round(machineBusyCores),
      otherCores: round(Math.max(0, machineBusyCores - serverCores - generatorCores - postgresCores)),
      cores: Math.round(cores),
    };
  };
}
