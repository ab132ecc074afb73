import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BulwarkEvent } from '@bulwark/contracts';
import type { Config } from '../config/config.ts';
import { systemClock } from '../core/clock.ts';
import { validateEvent } from '../ingest/validate.ts';
import { defaultRulePack, defaultRulePackVersion } from '../risk/domain/orders/defaults.ts';
import { compileRuleSet, type RuleProblem } from '../risk/domain/orders/rules.ts';
import type { RiskPolicy } from '../risk/domain/policy.ts';
import type { Storage } from '../storage/ports.ts';
import { trainingSet, trainOrderModel } from '../model/train.ts';
import { backtest, formatBacktest, parseLabels } from './backtest.ts';

type Io = { out: (text: string) => void; err: (text: string) => void };

export const rulesUsage = `  bulwark rules validate RULES.json
  bulwark rules backtest --rules RULES.json --events EVENTS.jsonl --labels LABELS.jsonl [--current RULES.json] [--json]
  bulwark model train --events EVENTS.jsonl --labels LABELS.jsonl [--seed N] [--out MODEL.json] [--store] [--data DIR]`;

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

/** Reads an events file; invalid lines are reported with their number and skipped. */
function readEvents(path: string, io: Io): { event: BulwarkEvent; atMs: number }[] {
  const out: { event: BulwarkEvent; atMs: number }[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim().length === 0) return;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        io.err(`${path} line ${i + 1}: not valid JSON, skipped\n`);
        return;
      }
      const valid = validateEvent(raw);
      if (!valid.ok) io.err(`${path} line ${i + 1}: ${valid.error.message}, skipped\n`);
      else out.push({ event: valid.value.event, atMs: valid.value.atMs });
    });
  return out;
}

function readLabels(path: string, io: Io): Map<string, boolean> {
  const { labels, problems } = parseLabels(readFileSync(path, 'utf8'));
  for (const problem of problems) io.err(`${path} ${problem}, skipped\n`);
  return labels;
}

function printProblems(path: string, problems: readonly RuleProblem[], io: Io): void {
  for (const p of problems) {
    const where = p.line === undefined ? '' : ` (line ${p.line}, column ${p.column ?? 0})`;
    io.err(`${path}: ${p.field}${p.ruleId === undefined ? '' : ` [${p.ruleId}]`}: ${p.message}${where}\n`);
  }
}

/** `bulwark rules …`: validate a rule-set file, or backtest it against the current set. */
export function rulesCommand(args: string[], policy: () => RiskPolicy, io: Io): number {
  const [verb, ...rest] = args;
  if (verb === 'validate') {
    const [path] = rest;
    if (path === undefined || rest.length !== 1) {
      io.err(`usage:\n${rulesUsage}\n`);
      return 2;
    }
    const compiled = compileRuleSet(readJson(path), 'candidate');
    if (!compiled.ok) {
      printProblems(path, compiled.error, io);
      return 1;
    }
    io.out(`${path}: ${compiled.value.definition.rules.length} rules, valid\n`);
    return 0;
  }
  if (verb !== 'backtest') {
    io.err(`usage:\n${rulesUsage}\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      rules: { type: 'string' },
      events: { type: 'string' },
      labels: { type: 'string' },
      current: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.rules === undefined || values.events === undefined || values.labels === undefined) {
    io.err(`rules backtest needs --rules, --events and --labels\n\nusage:\n${rulesUsage}\n`);
    return 2;
  }
  const candidate = compileRuleSet(readJson(values.rules), `file:${values.rules}`);
  if (!candidate.ok) {
    printProblems(values.rules, candidate.error, io);
    return 1;
  }
  const current = compileRuleSet(
    values.current === undefined ? defaultRulePack : readJson(values.current),
    values.current === undefined ? defaultRulePackVersion : `file:${values.current}`,
  );
  if (!current.ok) {
    printProblems(values.current ?? 'default pack', current.error, io);
    return 1;
  }
  const report = backtest({
    candidate: candidate.value,
    current: current.value,
    policy: policy(),
    events: readEvents(values.events, io),
    labels: readLabels(values.labels, io),
  });
  io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatBacktest(report));
  return 0;
}

/** `bulwark model train`: fits the order model on labelled history; writes and/or stores it. */
export async function modelCommand(
  args: string[],
  policy: () => RiskPolicy,
  configFor: (values: { data?: string }) => Config,
  openStorage: (config: Config) => Promise<Storage>,
  io: Io,
): Promise<number> {
  const [verb, ...rest] = args;
  if (verb !== 'train') {
    io.err(`usage:\n${rulesUsage}\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      events: { type: 'string' },
      labels: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      store: { type: 'boolean', default: false },
      data: { type: 'string' },
    },
    strict: true,
  });
  const seed = Number(values.seed);
  if (values.events === undefined || values.labels === undefined || !Number.isInteger(seed)) {
    io.err(`model train needs --events and --labels (and an integer --seed)\n\nusage:\n${rulesUsage}\n`);
    return 2;
  }
  const set = trainingSet(readEvents(values.events, io), readLabels(values.labels, io), policy(), true);
  let trained;
  try {
    trained = trainOrderModel(set, { seed });
  } catch (error) {
    if (error instanceof RangeError) {
      io.err(`model train: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const { model } = trained;
  io.out(
    `model ${model.version}: ${set.rows.length} orders, ${set.labels.filter((y) => y === 1).length} fraud; on the training rows ROC-AUC ${trained.trainingRocAuc.toFixed(3)}, PR-AUC ${trained.trainingPrAuc.toFixed(3)}\n`,
  );
  if (values.out !== undefined) {
    writeFileSync(values.out, `${JSON.stringify(model, null, 2)}\n`);
    io.out(`written to ${values.out}; install it with POST /v1/models (or --store)\n`);
  }
  if (values.store) {
    const storage = await openStorage(configFor(values.data === undefined ? {} : { data: values.data }));
    try {
      const now = systemClock.now();
      await storage.ruleSets.saveModel(model, now);
      await storage.ruleSets.setSlot('model', model.version, now);
      io.out(`stored and active from the next start: ${model.version}\n`);
    } finally {
      await storage.close();
    }
  }
  return 0;
}
