/**
 * Order rule evaluation speed: a 50-rule pack (the default pack plus 35 rules of the same shapes)
 * over feature vectors of a synthetic order stream, in this process, on one core.
 *
 *   node --import tsx bench/rules.ts [--seconds 3] [--no-write]
 *
 * Prints and writes `bench/results/rules.md`. Figures are orders per CPU-second of this process
 * (process.cpuUsage), so other load on a shared machine does not count against them.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { validateEvent } from '../apps/server/src/ingest/validate.ts';
import { HotStateCache } from '../apps/server/src/ingest/hot-state.ts';
import { seededRandom } from '../apps/server/src/core/random.ts';
import { evaluateOrder, recordOrderSeries } from '../apps/server/src/risk/domain/orders/assess.ts';
import { defaultRulePack } from '../apps/server/src/risk/domain/orders/defaults.ts';
import type { FeatureValue } from '../apps/server/src/risk/domain/orders/features.ts';
import type { OrderPlaced } from '../apps/server/src/risk/domain/orders/order-facts.ts';
import { defaultOrderPolicy, type OrderPolicy } from '../apps/server/src/risk/domain/orders/policy.ts';
import {
  compileRuleSet,
  evaluateRuleSet,
  type RuleDefinition,
} from '../apps/server/src/risk/domain/orders/rules.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, 'no-write': { type: 'boolean', default: false } },
});
const seconds = Number(values.seconds);

/** 35 more rules over the same namespace: thresholds vary, shapes repeat the default pack's. */
function extraRules(count: number): RuleDefinition[] {
  const shapes = [
    (i: number) => `velocity.ipCount1h >= ${10 + i} && velocity.ipAccounts24h >= ${2 + (i % 3)}`,
    (i: number) => `order.amount > ${20000 + i * 1000} && !order.knownDevice`,
    (i: number) => `order.giftCardShare >= 0.${5 + (i % 4)} && account.ageDays < ${1 + i}.0`,
    (i: number) => `order.shippingCountry in ["NG", "GH", "KE", "X${i}"] && order.amount > ${1000 * i}`,
    (i: number) =>
      `order.emailDomain.endsWith(".x${i}") || (order.disposableEmail && order.amount > ${i * 500})`,
    (i: number) => `velocity.deviceAccounts24h >= ${3 + i} || velocity.subnetCount1h >= ${30 + i}`,
    (i: number) =>
      `account.minutesSinceCredentialChange < ${60 * (i + 1)} && order.digitalValue > ${i * 700}`,
  ];
  return Array.from({ length: count }, (_, i) => ({
    id: `extra_${i}`,
    description: 'benchmark rule',
    expression: (shapes[i % shapes.length] ?? ((n: number) => `order.amount > ${n}`))(i),
    outcome: (['challenge', 'review', 'deny'] as const)[i % 3] ?? 'review',
    priority: i,
    reasonCode: 'rule_match' as const,
  }));
}

const pack = { rules: [...defaultRulePack.rules, ...extraRules(50 - defaultRulePack.rules.length)] };
const compiled = compileRuleSet(pack, 'bench-50');
if (!compiled.ok) throw new Error(JSON.stringify(compiled.error));
const policy: OrderPolicy = { ...defaultOrderPolicy(), rules: compiled.value };

/** A synthetic stream: 2,000 accounts, some gift cards, shared cards and drop addresses. */
function orders(count: number): { event: OrderPlaced; atMs: number }[] {
  const random = seededRandom(7);
  const out: { event: OrderPlaced; atMs: number }[] = [];
  let atMs = Date.UTC(2026, 10, 1);
  for (let i = 0; i < count; i += 1) {
    atMs += Math.floor(random() * 2000);
    const account = Math.floor(random() * 2000);
    const gift = random() < 0.2;
    const value = 500 + Math.floor(random() * 30000);
    const raw = {
      id: `o${i}`,
      type: 'order.placed',
      at: new Date(atMs).toISOString(),
      accountId: `a${account}`,
      context: {
        ip: `198.51.${account % 200}.${i % 250}`,
        userAgent: 'Mozilla/5.0',
        deviceId: `d${account}`,
      },
      orderId: `o${i}`,
      amount: { value, currency: 'JPY' },
      items: [
        { category: gift ? 'gift_card' : 'physical', quantity: 1, unitPrice: { value, currency: 'JPY' } },
      ],
      shipping: { addressId: `addr${random() < 0.05 ? 'drop' : account}`, country: 'JP' },
      payment: {
        method: 'card',
        cardFingerprint: `card${random() < 0.02 ? 'shared' : account}`,
        cardCountry: 'JP',
      },
      ...(random() < 0.1 ? { delivery: { email: `x${account}@mailinator.com` } } : {}),
    };
    const valid = validateEvent(raw);
    if (!valid.ok || valid.value.event.type !== 'order.placed') throw new Error(JSON.stringify(valid));
    out.push({ event: valid.value.event, atMs: valid.value.atMs });
  }
  return out;
}

/** Runs `body` over the inputs round-robin for about `seconds`; answers orders per CPU-second. */
function measure(count: number, body: (i: number) => void): { perCpuS: number; n: number; cpuS: number } {
  for (let i = 0; i < 20_000; i += 1) body(i % count);
  const startCpu = process.cpuUsage();
  const startWall = performance.now();
  let n = 0;
  while (performance.now() - startWall < seconds * 1000) {
    for (let i = 0; i < 10_000; i += 1) body((n + i) % count);
    n += 10_000;
  }
  const used = process.cpuUsage(startCpu);
  const cpuS = (used.user + used.system) / 1e6;
  return { perCpuS: n / cpuS, n, cpuS };
}

const stream = orders(20_000);
const hot = new HotStateCache({ accountsMax: 1e9, seriesMax: 1e9 });
const vectors: FeatureValue[][] = [];
let hits = 0;
for (const { event, atMs } of stream) {
  const evaluation = evaluateOrder(event, { account: undefined, series: hot.series }, policy, atMs);
  vectors.push(evaluation.features);
  if (evaluation.rules.hits.length > 0) hits += 1;
  recordOrderSeries(
    event,
    { eventId: event.id, decision: evaluation.rules.outcome, score: 0, reasons: [] },
    hot.series,
    atMs,
  );
}

const rulesOnly = measure(vectors.length, (i) => {
  evaluateRuleSet(compiled.value, vectors[i] ?? []);
});
const fresh = new HotStateCache({ accountsMax: 1e9, seriesMax: 1e9 });
for (const { event, atMs } of stream) {
  recordOrderSeries(
    event,
    { eventId: event.id, decision: 'allow', score: 0, reasons: [] },
    fresh.series,
    atMs,
  );
}
const whole = measure(stream.length, (i) => {
  const item = stream[i];
  if (item !== undefined)
    evaluateOrder(item.event, { account: undefined, series: fresh.series }, policy, item.atMs);
});

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const report = `# Order rules benchmark

\`node --import tsx bench/rules.ts\` — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, one core, in process.

A 50-rule pack (the ${defaultRulePack.rules.length} default rules and ${50 - defaultRulePack.rules.length} more of the same shapes) over the
feature vectors of a synthetic stream of ${fmt(stream.length)} orders (2,000 accounts, 20% gift cards, shared cards and a drop
address); ${fmt(hits)} of them hit at least one rule. Orders per CPU-second of this process (${seconds} s per phase).

| what | orders per CPU-second | orders timed | target |
| --- | ---: | ---: | ---: |
| rule evaluation, 50 rules (every rule runs, hits collected) | ${fmt(rulesOnly.perCpuS)} | ${fmt(rulesOnly.n)} | ≥ 100,000 |
| features (7 velocity dimensions × 3 windows) + 50 rules + model | ${fmt(whole.perCpuS)} | ${fmt(whole.n)} | — |
`;
process.stdout.write(report);
if (!values['no-write']) writeFileSync(new URL('./results/rules.md', import.meta.url), report);
