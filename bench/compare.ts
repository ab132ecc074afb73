/**
 * The foundation benchmark for this checkout and another commit, side by side:
 *
 *   npm run bench:compare -- 38e6b25                 # two rounds of every phase, each side
 *   npm run bench:compare -- 38e6b25 --rounds 3 --phases postgres,replay
 *
 * The other commit is checked out in a temporary git worktree that uses this checkout's
 * `node_modules` (so it must run on them), and its server is driven by this checkout's harness:
 * the same generated traffic, load generator, replay file and checks (`--server-root`). The
 * sides alternate within each round (A B, then B A) so that a machine that speeds up or slows
 * down during the run does not favour one of them, and the median of each side is compared.
 * Writes bench/results/compare-<commit>-<date>.md and .json (not with --no-write).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gitCommit, repoRoot } from './children.ts';
import { benchArgs } from './options.ts';
import type { BenchReport } from './report.ts';

const usage = `npm run bench:compare -- COMMIT [--rounds N] [--no-write] [bench options]

  COMMIT        the commit to compare this checkout with (e.g. 38e6b25)
  --rounds N    runs of each side (default 2); the median of each side is reported
  --no-write    print only
  Other options (--phases, --duration, --replay-lines, …) go to both runs: npm run bench -- --help
`;

/** Folders whose node_modules the worktree borrows from this checkout. */
const moduleFolders = ['.', 'apps/server', 'apps/console', 'packages/contracts'];

interface Side {
  name: string;
  commit: string;
  root: string | undefined;
  reports: BenchReport[];
}

function parse(argv: readonly string[]): { commit: string; rounds: number; write: boolean; rest: string[] } {
  const { values, positionals, tokens } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    tokens: true,
    options: { ...benchArgs, rounds: { type: 'string' } },
  });
  if (values.help === true || positionals.length !== 1) {
    process.stdout.write(usage);
    process.exit(values.help === true ? 0 : 2);
  }
  const rounds = Number(values.rounds ?? 2);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer`);
  // What is not ours goes to the benchmark itself, as given.
  const rest: string[] = [];
  for (const token of tokens) {
    if (token.kind !== 'option' || ['rounds', 'no-write', 'help'].includes(token.name)) continue;
    if (['server-root', 'report', 'profile'].includes(token.name))
      throw new Error(`--${token.name} is set by the comparison itself`);
    rest.push(token.rawName);
    if (token.value !== undefined) rest.push(token.value);
  }
  return { commit: positionals[0] ?? '', rounds, write: values['no-write'] !== true, rest };
}

function git(args: readonly string[], cwd = repoRoot): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

async function runBench(side: Side, rest: readonly string[], reportPath: string): Promise<BenchReport> {
  const args = ['--import', 'tsx', join(repoRoot, 'bench/run.ts'), '--no-write', '--report', reportPath];
  if (side.root !== undefined) args.push('--server-root', side.root);
  process.stdout.write(`\n=== ${side.name} (${side.commit}) ===\n`);
  const child = spawn(process.execPath, [...args, ...rest], { cwd: repoRoot, stdio: 'inherit' });
  const [code] = (await once(child, 'close')) as [number | null];
  if (!existsSync(reportPath))
    throw new Error(`the benchmark of ${side.name} wrote no report (exit ${String(code)})`);
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as BenchReport;
  if (!report.correct)
    throw new Error(`the benchmark of ${side.name} failed its checks (exit ${String(code)})`);
  return report;
}

const median = (values: readonly number[]): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

interface Row {
  phase: string;
  label: string;
  other: number[];
  ours: number[];
  otherPerCore: number[];
  oursPerCore: number[];
}

/** Events per second of each phase (replay: lines per second end to end) and per server core-second. */
function figures(report: BenchReport): Map<string, { label: string; rate: number; perCore?: number }> {
  const out = new Map<string, { label: string; rate: number; perCore?: number }>();
  for (const phase of report.phases) {
    if (phase.name === 'replay') {
      const replay = phase;
      if (replay.linesPerSEndToEnd !== undefined)
        out.set('replay', { label: replay.label, rate: replay.linesPerSEndToEnd });
      continue;
    }
    const ingest = phase;
    if (ingest.load === undefined) continue;
    const cores = ingest.cpu?.serverCores;
    const entry: { label: string; rate: number; perCore?: number } = {
      label: ingest.label,
      rate: ingest.load.eventsPerS,
    };
    if (cores !== undefined && cores > 0) entry.perCore = ingest.load.eventsPerS / cores;
    out.set(ingest.name, entry);
  }
  return out;
}

function rowsOf(other: Side, ours: Side): Row[] {
  const rows = new Map<string, Row>();
  const add = (side: 'other' | 'ours', report: BenchReport): void => {
    for (const [phase, figure] of figures(report)) {
      const row = rows.get(phase) ?? {
        phase,
        label: figure.label,
        other: [],
        ours: [],
        otherPerCore: [],
        oursPerCore: [],
      };
      row[side].push(figure.rate);
      if (figure.perCore !== undefined)
        row[side === 'other' ? 'otherPerCore' : 'oursPerCore'].push(figure.perCore);
      rows.set(phase, row);
    }
  };
  for (const report of other.reports) add('other', report);
  for (const report of ours.reports) add('ours', report);
  return [...rows.values()];
}

const int = (value: number | undefined): string =>
  value === undefined ? '' : Math.round(value).toLocaleString('en-US');
const share = (ours: number | undefined, other: number | undefined): string =>
  ours === undefined || other === undefined || other === 0 ? '' : `${((100 * ours) / other).toFixed(0)} %`;

function table(rows: readonly Row[], other: Side, ours: Side): string {
  const a = other.commit;
  // "abc1234 (with uncommitted changes)" is said in the title; the columns keep the commit.
  const b = ours.commit.split(' ')[0] ?? ours.commit;
  const head = [
    'phase',
    `${a} /s (median)`,
    `${b} /s (median)`,
    'share',
    `${a} per server core-s`,
    `${b} per server core-s`,
    'share',
    'runs (other | this)',
  ];
  const lines = [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_h, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const row of rows) {
    const rate = median(row.other);
    const ourRate = median(row.ours);
    const perCore = median(row.otherPerCore);
    const ourPerCore = median(row.oursPerCore);
    lines.push(
      `| ${[
        row.label,
        int(rate),
        int(ourRate),
        share(ourRate, rate),
        int(perCore),
        int(ourPerCore),
        share(ourPerCore, perCore),
        `${row.other.map(int).join(', ')} \\| ${row.ours.map(int).join(', ')}`,
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { commit, rounds, write, rest } = parse(process.argv.slice(2));
  const resolved = git(['rev-parse', '--short', `${commit}^{commit}`]);
  const root = mkdtempSync(join(tmpdir(), 'bulwark-compare-'));
  const scratch = mkdtempSync(join(tmpdir(), 'bulwark-compare-reports-'));
  git(['worktree', 'add', '--detach', root, resolved]);
  try {
    for (const folder of moduleFolders) {
      const modules = join(repoRoot, folder, 'node_modules');
      if (
        existsSync(modules) &&
        existsSync(join(root, folder)) &&
        !existsSync(join(root, folder, 'node_modules'))
      )
        symlinkSync(modules, join(root, folder, 'node_modules'), 'dir');
    }
    const other: Side = { name: 'other', commit: resolved, root, reports: [] };
    const ours: Side = { name: 'this checkout', commit: gitCommit(repoRoot), root: undefined, reports: [] };
    for (let round = 0; round < rounds; round += 1) {
      const order = round % 2 === 0 ? [other, ours] : [ours, other];
      for (const side of order) {
        const reportPath = join(scratch, `${side === other ? 'other' : 'ours'}-${String(round)}.json`);
        side.reports.push(await runBench(side, rest, reportPath));
      }
    }
    const rows = rowsOf(other, ours);
    const text = table(rows, other, ours);
    process.stdout.write(`\n${text}\n`);
    if (write) {
      const date = new Date().toISOString().slice(0, 10);
      const base = join(repoRoot, 'bench/results', `compare-${resolved}-${date}`);
      const command = `npm run bench:compare -- ${process.argv.slice(2).join(' ')}`;
      const markdown = [
        `# Foundation benchmark: ${ours.commit} beside ${resolved} — ${date}`,
        '',
        `Command: \`${command}\` (${String(rounds)} rounds, sides alternating; each run is \`npm run bench\` with the same traffic, load and checks, the server of ${resolved} from a worktree).`,
        '',
        text,
        '',
      ].join('\n');
      writeFileSync(`${base}.md`, markdown);
      writeFileSync(
        `${base}.json`,
        `${JSON.stringify({ command, other: other.reports, ours: ours.reports }, null, 2)}\n`,
      );
      process.stdout.write(`wrote ${base}.md and .json\n`);
    }
    return 0;
  } finally {
    git(['worktree', 'remove', '--force', root]);
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(`bench:compare failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
