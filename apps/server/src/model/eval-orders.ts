/**
 * `npm run eval:orders`: how well the order model's learner (model/logistic.ts, the one
 * `bulwark model train` uses) ranks fraud on two public labelled data sets, with a simple
 * baseline in the same run:
 *
 * - aws-fraud-detector-samples `transaction_data_2K_coldstart.csv` (810 labelled transactions,
 *   95 fraud; synthetic), 5-fold stratified cross-validation, features built the way Bulwark
 *   builds them — amount, category, hour, free-mail domain, and the customer's own history
 *   (prior count, amount against their average, time since the previous order);
 * - ulb-creditcard-sample (5,412 card transactions, 492 fraud; PCA features), 5-fold CV.
 *
 * The baseline scores by order amount alone. Out-of-fold scores are pooled for ROC-AUC and
 * PR-AUC (average precision). Data sets are read from `--datasets DIR` (default
 * `../shared/datasets`); they are evaluation inputs, not shipped with the product.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '../core/random.ts';
import { defaultLogisticOptions, fitLogistic, predict, standardise, standardiser } from './logistic.ts';
import { prAuc, rocAuc } from './metrics.ts';

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charAt(i);
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += c;
  }
  if (field.length > 0 || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

interface Dataset {
  name: string;
  rows: number[][];
  labels: number[];
  /** The baseline's score per row: the order amount. */
  amounts: number[];
}

const freeMail = new Set(['gmail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'aol.com']);

function awsTransactions(dir: string): Dataset {
  const [header, ...records] = parseCsv(readFileSync(join(dir, 'transaction_data_2K_coldstart.csv'), 'utf8'));
  if (header === undefined) throw new Error('empty file');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i === -1) throw new Error(`no column ${name}`);
    return i;
  };
  const [label, time, entity, category, price, email] = [
    'EVENT_LABEL',
    'EVENT_TIMESTAMP',
    'ENTITY_ID',
    'product_category',
    'order_price',
    'customer_email',
  ].map(col) as [number, number, number, number, number, number];
  const categories = [...new Set(records.map((r) => r[category] ?? ''))].sort();
  // History features read every earlier transaction of the customer, labelled or not.
  const sorted = records.map((r) => ({ r, atMs: Date.parse(r[time] ?? '') })).sort((a, b) => a.atMs - b.atMs);
  const history = new Map<string, { count: number; sum: number; lastMs: number }>();
  const out: Dataset = { name: 'aws transactions', rows: [], labels: [], amounts: [] };
  for (const { r, atMs } of sorted) {
    const amount = Number(r[price]);
    const who = r[entity] ?? '';
    const seen = history.get(who);
    const hour = new Date(atMs).getUTCHours();
    const domain = (r[email] ?? '').split('@')[1]?.toLowerCase() ?? '';
    const features = [
      Math.log1p(amount),
      Math.sin((2 * Math.PI * hour) / 24),
      Math.cos((2 * Math.PI * hour) / 24),
      hour < 5 || hour >= 22 ? 1 : 0,
      freeMail.has(domain) ? 1 : 0,
      Math.log1p(seen?.count ?? 0),
      seen === undefined || seen.sum <= 0 ? 0 : Math.log(amount / (seen.sum / seen.count) + 1e-6),
      seen === undefined ? 10 : Math.log1p((atMs - seen.lastMs) / 60_000),
      ...categories.map((c) => (r[category] === c ? 1 : 0)),
    ];
    history.set(who, { count: (seen?.count ?? 0) + 1, sum: (seen?.sum ?? 0) + amount, lastMs: atMs });
    const y = r[label];
    if (y !== '0' && y !== '1') continue;
    out.rows.push(features);
    out.labels.push(Number(y));
    out.amounts.push(amount);
  }
  return out;
}

function ulbCreditCards(dir: string): Dataset {
  const [header, ...records] = parseCsv(readFileSync(join(dir, 'creditcard_sample.csv'), 'utf8'));
  if (header === undefined) throw new Error('empty file');
  const amountAt = header.indexOf('Amount');
  const classAt = header.indexOf('Class');
  const pca = header.map((name, i) => (/^V\d+$/.test(name) ? i : -1)).filter((i) => i >= 0);
  const out: Dataset = { name: 'ulb credit cards', rows: [], labels: [], amounts: [] };
  for (const r of records) {
    const amount = Number(r[amountAt]);
    out.rows.push([...pca.map((i) => Number(r[i])), Math.log1p(amount)]);
    out.labels.push(Number(r[classAt]) === 1 ? 1 : 0);
    out.amounts.push(amount);
  }
  return out;
}

/** Stratified folds: each fold gets its share of frauds and of legitimate rows, by seed. */
function folds(labels: readonly number[], k: number, seed: number): number[] {
  const random = seededRandom(seed);
  const assignment = new Array<number>(labels.length).fill(0);
  for (const cls of [0, 1]) {
    const members = labels.flatMap((y, i) => (y === cls ? [i] : []));
    for (let i = members.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j] ?? 0, members[i] ?? 0];
    }
    members.forEach((row, n) => (assignment[row] = n % k));
  }
  return assignment;
}

function crossValidate(data: Dataset, k: number, seed: number): number[] {
  const fold = folds(data.labels, k, seed);
  const scores = new Array<number>(data.rows.length).fill(0);
  for (let f = 0; f < k; f += 1) {
    const train = data.rows.flatMap((row, i) => (fold[i] === f ? [] : [row]));
    const trainLabels = data.labels.filter((_, i) => fold[i] !== f);
    const scaler = standardiser(train);
    const fit = fitLogistic(standardise(train, scaler), trainLabels, { ...defaultLogisticOptions, seed });
    data.rows.forEach((row, i) => {
      if (fold[i] === f) scores[i] = predict(fit, standardise([row], scaler)[0] ?? row);
    });
  }
  return scores;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      datasets: { type: 'string', default: '../shared/datasets' },
      seed: { type: 'string', default: '1' },
      folds: { type: 'string', default: '5' },
    },
  });
  const dir = resolve(values.datasets);
  const seed = Number(values.seed);
  const k = Number(values.folds);
  const sets = [
    awsTransactions(join(dir, 'aws-fraud-detector-samples')),
    ulbCreditCards(join(dir, 'ulb-creditcard-sample')),
  ];
  const lines = [
    `Order model evaluation — logistic regression (model/logistic.ts), ${k}-fold stratified CV, seed ${seed}`,
    '',
    '| data set | rows | fraud | model ROC-AUC | model PR-AUC | baseline (amount) ROC-AUC | baseline PR-AUC |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const data of sets) {
    const scores = crossValidate(data, k, seed);
    const frauds = data.labels.filter((y) => y === 1).length;
    lines.push(
      `| ${data.name} | ${data.rows.length} | ${frauds} | ${rocAuc(scores, data.labels).toFixed(3)} | ${prAuc(scores, data.labels).toFixed(3)} | ${rocAuc(data.amounts, data.labels).toFixed(3)} | ${prAuc(data.amounts, data.labels).toFixed(3)} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname))
  main();
