import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of a V8 `.cpuprofile` (written by `node --cpu-prof`) this summary reads. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    hitCount?: number;
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  /** Microseconds before each sample (the first from startTime). */
  timeDeltas?: number[];
}

/** A span of the monotonic clock in microseconds, as V8 profiles and `process.hrtime` share it. */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Self time by area: a package in node_modules, a folder of apps/server/src, Node itself. */
  byArea: { area: string; ms: number; share: number }[];
  /** Self time by function, the heaviest first. */
  byFunction: { fn: string; ms: number; share: number }[];
  /** Our own functions (apps/server/src, contracts) by inclusive time. */
  inclusiveOwn: { fn: string; ms: number; share: number }[];
}

function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules !== null) return modules[1] ?? 'node_modules';
  const source =
    /apps\/server\/src\/([^/]+(?:\/[^/]+)?)\//.exec(url) ?? /apps\/server\/src\/([^/]+)$/.exec(url);
  if (source !== null) return `src/${source[1] ?? ''}`;
  if (url.includes('packages/contracts/')) return '@bulwark/contracts';
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url.replace(/^file:\/\/.*\//, '');
}

export function summariseProfile(path: string, top: number, window?: ProfileWindow): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  let totalMs = (profile.endTime - profile.startTime) / 1000;
  const hits = new Map<number, number>();
  if (profile.samples !== undefined && profile.timeDeltas !== undefined) {
    // Only the samples inside the window (the measured load), not start-up or shutdown.
    let atUs = profile.startTime;
    let firstUs: number | undefined;
    let lastUs = atUs;
    profile.samples.forEach((id, i) => {
      atUs += profile.timeDeltas?.[i] ?? 0;
      if (window !== undefined && (atUs < window.fromUs || atUs > window.toUs)) return;
      firstUs ??= atUs;
      lastUs = atUs;
      hits.set(id, (hits.get(id) ?? 0) + 1);
    });
    totalMs = firstUs === undefined ? 0 : (lastUs - firstUs) / 1000;
  } else {
    for (const node of profile.nodes) hits.set(node.id, node.hitCount ?? 0);
  }
  let sampleCount = 0;
  for (const count of hits.values()) sampleCount += count;
  const msPerSample = sampleCount === 0 ? 0 : totalMs / sampleCount;
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const names = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    // tsx emits each module on one line: the column tells its functions apart.
    const where =
      url === ''
        ? ''
        : ` ${url.replace(/^file:\/\/.*?\/(node_modules|apps|packages)\//, '$1/')}:${lineNumber + 1}:${columnNumber + 1}`;
    names.set(node.id, `${functionName === '' ? '(anonymous)' : functionName}${where}`);
    const ms = (hits.get(node.id) ?? 0) * msPerSample;
    if (ms === 0) continue;
    const area = areaOf(url, functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
    const fn = names.get(node.id) ?? '';
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  }
  // Inclusive time of our own functions (self plus callees): which step of a request costs what.
  const parents = new Map<number, number>();
  const urls = new Map(profile.nodes.map((node) => [node.id, node.callFrame.url]));
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const inclusive = new Map<string, number>();
  for (const node of profile.nodes) {
    const ms = (hits.get(node.id) ?? 0) * msPerSample;
    if (ms === 0) continue;
    const onStack = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parents.get(id)) {
      const url = urls.get(id) ?? '';
      if (/apps\/server\/src|packages\/contracts/.test(url)) onStack.add(names.get(id) ?? '');
    }
    for (const fn of onStack) inclusive.set(fn, (inclusive.get(fn) ?? 0) + ms);
  }
  const ranked = (map: Map<string, number>): { name: string; ms: number; share: number }[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: totalMs === 0 ? 0 : ms / totalMs }));
  return {
    file: path,
    totalMs,
    byArea: ranked(byArea).map(({ name, ms, share }) => ({ area: name, ms, share })),
    byFunction: ranked(byFunction).map(({ name, ms, share }) => ({ fn: name, ms, share })),
    inclusiveOwn: ranked(inclusive).map(({ name, ms, share }) => ({ fn: name, ms, share })),
  };
}

/**
 * The main thread's profile among those a child wrote into `dir`. With tsx's loader a child has a
 * second thread (module hooks) that writes its own, mostly idle, profile; the main thread is the
 * one with the most samples, so the largest file.
 */
export function mainThreadProfile(dir: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  } catch {
    return undefined;
  }
  let best: { path: string; bytes: number } | undefined;
  for (const name of names) {
    const path = join(dir, name);
    const bytes = statSync(path).size;
    if (best === undefined || bytes > best.bytes) best = { path, bytes };
  }
  return best?.path;
}

export function formatProfile(label: string, summary: ProfileSummary): string {
  const pct = (share: number): string => `${(share * 100).toFixed(1).padStart(5)}%`;
  const lines = [`CPU profile of ${label} (${Math.round(summary.totalMs)} ms, self time): ${summary.file}`];
  lines.push('  by area:');
  for (const row of summary.byArea) lines.push(`    ${pct(row.share)}  ${row.area}`);
  lines.push('  by function:');
  for (const row of summary.byFunction) lines.push(`    ${pct(row.share)}  ${row.fn}`);
  lines.push('  our functions, inclusive:');
  for (const row of summary.inclusiveOwn) lines.push(`    ${pct(row.share)}  ${row.fn}`);
  return lines.join('\n');
}
