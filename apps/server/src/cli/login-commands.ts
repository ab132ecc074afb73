import { createReadStream, createWriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { loadIpLookup } from '../adapters/ip/load.ts';
import { seededRandom } from '../core/random.ts';
import { loadRiskPolicy } from '../main.ts';
import { evaluateLogins, formatLoginReport } from '../sim/eval/login-eval.ts';
import { evaluateRbaDataset, formatRbaDatasetReport } from '../sim/eval/rba-dataset.ts';
import { defaultSimulationOptions, simulateLogins, type LoginSimulation } from '../sim/logins/generate.ts';
import { buildNetworkPools } from '../sim/logins/networks.ts';

type Io = { out: (text: string) => void; err: (text: string) => void };

const simulationOptions = {
  seed: { type: 'string' },
  users: { type: 'string' },
  days: { type: 'string' },
  attacks: { type: 'string' },
} as const;

function positiveInt(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name} must be a positive integer`);
  return value;
}

export class UsageError extends Error {}

function simulate(values: {
  seed?: string;
  users?: string;
  days?: string;
  attacks?: string;
}): LoginSimulation {
  const options = {
    ...defaultSimulationOptions,
    seed: positiveInt(values.seed, defaultSimulationOptions.seed, 'seed'),
    users: positiveInt(values.users, defaultSimulationOptions.users, 'users'),
    days: positiveInt(values.days, defaultSimulationOptions.days, 'days'),
    attacksPerKind: positiveInt(values.attacks, defaultSimulationOptions.attacksPerKind, 'attacks'),
  };
  // Networks are drawn from the shipped IP tables with a random source of their own, so the
  // same seed gives the same traffic.
  const pools = buildNetworkPools(loadIpLookup(), seededRandom(options.seed ^ 0x5eed));
  return simulateLogins(pools, options);
}

async function writeLines(path: string, items: readonly unknown[]): Promise<void> {
  const out = createWriteStream(path);
  let chunk = '';
  for (const item of items) {
    chunk += `${JSON.stringify(item)}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** `bulwark simulate logins --out EVENTS.jsonl --labels LABELS.jsonl [--seed N] [--users N] [--days N] [--attacks N]` */
export async function simulateCommand(args: string[], io: Io): Promise<number> {
  const [what, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: { ...simulationOptions, out: { type: 'string' }, labels: { type: 'string' } },
    strict: true,
  });
  if (what !== 'logins' || values.out === undefined || values.labels === undefined) {
    io.err(
      'usage: bulwark simulate logins --out EVENTS.jsonl --labels LABELS.jsonl [--seed N] [--users N] [--days N] [--attacks N]\n',
    );
    return 2;
  }
  const simulation = simulate(values);
  await writeLines(values.out, simulation.events);
  await writeLines(values.labels, simulation.labels);
  io.err(
    `wrote ${String(simulation.events.length)} events to ${values.out} and their labels to ${values.labels}\n`,
  );
  return 0;
}

/**
 * `bulwark eval logins [--seed N] [--users N] [--days N] [--attacks N] [--out REPORT.md]` and
 * `bulwark eval rba FILE.csv [--accounts-max N]`.
 */
export async function evalCommand(args: string[], io: Io): Promise<number> {
  const [what, ...rest] = args;
  if (what === 'logins') {
    const { values } = parseArgs({
      args: rest,
      options: { ...simulationOptions, out: { type: 'string' } },
      strict: true,
    });
    const simulation = simulate(values);
    const report = evaluateLogins(simulation, loadRiskPolicy());
    const command = [
      'bulwark eval logins',
      ...rest.filter((a) => !a.startsWith('--out') && a !== values.out),
    ].join(' ');
    const text = formatLoginReport(report, command);
    io.out(text);
    if (values.out !== undefined) writeFileSync(values.out, text);
    return 0;
  }
  if (what === 'rba') {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { 'accounts-max': { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    const [file] = positionals;
    if (file === undefined || positionals.length !== 1) {
      io.err('usage: bulwark eval rba FILE.csv [--accounts-max N]\n');
      return 2;
    }
    const input = createReadStream(file);
    await Promise.race([
      once(input, 'open'),
      once(input, 'error').then(([error]) => Promise.reject(error as Error)),
    ]);
    const report = await evaluateRbaDataset(input, loadRiskPolicy().login, {
      accountsMax: positiveInt(values['accounts-max'], 2_000_000, 'accounts-max'),
    });
    io.out(formatRbaDatasetReport(report));
    return 0;
  }
  io.err(
    'usage: bulwark eval logins [--seed N] [--users N] [--days N] [--attacks N] [--out REPORT.md]\n       bulwark eval rba FILE.csv [--accounts-max N]\n',
  );
  return 2;
}
