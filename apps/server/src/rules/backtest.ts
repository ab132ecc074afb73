import type { BulwarkEvent } from '@bulwark/contracts';
import { derivedIds } from '../core/ids.ts';
import { HotStateCache } from '../ingest/hot-state.ts';
import { apply, decide } from '../risk/domain/decider.ts';
import { evaluateOrder } from '../risk/domain/orders/assess.ts';
import { evaluateRuleSet, type CompiledRuleSet, type RuleOutcome } from '../risk/domain/orders/rules.ts';
import type { RiskPolicy } from '../risk/domain/policy.ts';
import type { FeatureVector } from '../risk/domain/orders/features.ts';
import type { OrderPlaced } from '../risk/domain/orders/order-facts.ts';

/**
 * Backtest: replays events in order on a private state (as `bulwark replay` does, deciding with
 * the current policy so the state evolves as it did live) and, at every `order.placed`, runs the
 * candidate and the current rule set over the same features. Labels say which orders were fraud;
 * orders without a label count as legitimate (a chargeback feed lists frauds only).
 *
 * Precision and recall of a set count the orders it holds (`review` or `deny`); of a rule, the
 * orders it fires on. Money blocked is the value of held orders; money saved the value of held
 * frauds; legitimate money blocked the rest.
 */
export interface BacktestInput {
  candidate: CompiledRuleSet;
  current: CompiledRuleSet;
  policy: RiskPolicy;
  events: readonly { event: BulwarkEvent; atMs: number }[];
  /** Order id (or event id) → fraud. */
  labels: ReadonlyMap<string, boolean>;
}

export interface RuleStats {
  ruleId: string;
  outcome: RuleOutcome;
  hits: number;
  fraudHits: number;
  precision: number | null;
  recall: number | null;
  /** Value of the orders it fired on, and of the frauds among them (minor units). */
  amountHit: number;
  fraudAmountHit: number;
}

export interface SetStats {
  version: string;
  byOutcome: Record<RuleOutcome, number>;
  /** Orders held (review or deny), and frauds among them. */
  held: number;
  fraudHeld: number;
  precision: number | null;
  recall: number | null;
  moneyBlocked: number;
  moneySaved: number;
  legitimateMoneyBlocked: number;
  /** Rule evaluations that failed (division by zero…). */
  evaluationErrors: number;
  rules: RuleStats[];
}

export interface BacktestReport {
  events: number;
  orders: number;
  fraudOrders: number;
  fraudAmount: number;
  /** Labels that matched an order of the events. */
  labelsMatched: number;
  currencies: string[];
  candidate: SetStats;
  current: SetStats;
}

const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);

class Tally {
  readonly stats: SetStats;
  readonly #rules = new Map<string, RuleStats>();
  constructor(set: CompiledRuleSet) {
    this.stats = {
      version: set.version,
      byOutcome: { allow: 0, challenge: 0, review: 0, deny: 0 },
      held: 0,
      fraudHeld: 0,
      precision: null,
      recall: null,
      moneyBlocked: 0,
      moneySaved: 0,
      legitimateMoneyBlocked: 0,
      evaluationErrors: 0,
      rules: [],
    };
    for (const rule of set.definition.rules) {
      const stats: RuleStats = {
        ruleId: rule.id,
        outcome: rule.outcome,
        hits: 0,
        fraudHits: 0,
        precision: null,
        recall: null,
        amountHit: 0,
        fraudAmountHit: 0,
      };
      this.#rules.set(rule.id, stats);
      this.stats.rules.push(stats);
    }
  }

  add(result: ReturnType<typeof evaluateRuleSet>, fraud: boolean, amount: number): void {
    const s = this.stats;
    s.byOutcome[result.outcome] += 1;
    s.evaluationErrors += result.errors.length;
    if (result.outcome === 'review' || result.outcome === 'deny') {
      s.held += 1;
      s.moneyBlocked += amount;
      if (fraud) {
        s.fraudHeld += 1;
        s.moneySaved += amount;
      } else s.legitimateMoneyBlocked += amount;
    }
    for (const rule of result.hits) {
      const stats = this.#rules.get(rule.id);
      if (stats === undefined) continue;
      stats.hits += 1;
      stats.amountHit += amount;
      if (fraud) {
        stats.fraudHits += 1;
        stats.fraudAmountHit += amount;
      }
    }
  }

  finish(fraudOrders: number): SetStats {
    const s = this.stats;
    s.precision = ratio(s.fraudHeld, s.held);
    s.recall = ratio(s.fraudHeld, fraudOrders);
    for (const rule of s.rules) {
      rule.precision = ratio(rule.fraudHits, rule.hits);
      rule.recall = ratio(rule.fraudHits, fraudOrders);
    }
    return s;
  }
}

/**
 * Replays events in order on a private state, deciding with `policy` as replay does, and shows
 * each order's features (computed before it is decided) to `visit`.
 */
export function forEachOrder(
  events: readonly { event: BulwarkEvent; atMs: number }[],
  policy: RiskPolicy,
  visit: (event: OrderPlaced, features: FeatureVector) => void,
): void {
  const hot = new HotStateCache(
    { accountsMax: Number.MAX_SAFE_INTEGER, seriesMax: Number.MAX_SAFE_INTEGER },
    undefined,
    policy,
  );
  const ids = derivedIds();
  const countryOfIp = (ip: string): string | undefined => policy.ipIntel.lookup(ip).country;
  for (const { event, atMs } of events) {
    if (event.type === 'order.placed') {
      const view = { account: hot.account(event.accountId), series: hot.series };
      visit(event, evaluateOrder(event, view, policy.orders, atMs, countryOfIp).features);
    }
    const { decision } = decide(event, atMs, hot, ids, policy);
    apply(event, decision, atMs, hot, policy);
  }
}

export function backtest(input: BacktestInput): BacktestReport {
  const { labels } = input;
  const candidate = new Tally(input.candidate);
  const current = new Tally(input.current);
  const currencies = new Set<string>();
  let orders = 0;
  let fraudOrders = 0;
  let fraudAmount = 0;
  let labelsMatched = 0;
  forEachOrder(input.events, input.policy, (event, features) => {
    const label = labels.get(event.orderId) ?? labels.get(event.id);
    if (label !== undefined) labelsMatched += 1;
    const fraud = label === true;
    const amount = event.amount.value;
    orders += 1;
    currencies.add(event.amount.currency);
    if (fraud) {
      fraudOrders += 1;
      fraudAmount += amount;
    }
    candidate.add(evaluateRuleSet(input.candidate, features), fraud, amount);
    current.add(evaluateRuleSet(input.current, features), fraud, amount);
  });
  return {
    events: input.events.length,
    orders,
    fraudOrders,
    fraudAmount,
    labelsMatched,
    currencies: [...currencies].sort(),
    candidate: candidate.finish(fraudOrders),
    current: current.finish(fraudOrders),
  };
}

/** Reads labels: JSON Lines of `{"orderId"|"eventId": "…", "fraud": true|false}` or `"label": "fraud"|"legit"`. */
export function parseLabels(text: string): { labels: Map<string, boolean>; problems: string[] } {
  const labels = new Map<string, boolean>();
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed.length === 0) return;
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed);
    } catch {
      problems.push(`line ${i + 1}: not valid JSON`);
      return;
    }
    const record = raw as { orderId?: unknown; eventId?: unknown; fraud?: unknown; label?: unknown };
    const id = typeof record.orderId === 'string' ? record.orderId : record.eventId;
    const fraud =
      typeof record.fraud === 'boolean'
        ? record.fraud
        : record.label === 'fraud'
          ? true
          : record.label === 'legit'
            ? false
            : undefined;
    if (typeof id !== 'string' || fraud === undefined) {
      problems.push(
        `line ${i + 1}: needs "orderId" (or "eventId") and "fraud": true|false (or "label": "fraud"|"legit")`,
      );
      return;
    }
    labels.set(id, fraud);
  });
  return { labels, problems };
}

const pct = (value: number | null): string => (value === null ? '—' : `${(value * 100).toFixed(1)}%`);
const money = (value: number): string => value.toLocaleString('en-US');

/** The report as text for the CLI: one table per set, the whole set first. */
export function formatBacktest(report: BacktestReport): string {
  const lines: string[] = [];
  const currency =
    report.currencies.length === 1 ? ` ${report.currencies[0] ?? ''}` : ' (minor units, mixed currencies)';
  lines.push(
    `${report.events} events, ${report.orders} orders, ${report.fraudOrders} labelled fraud (${money(report.fraudAmount)}${currency}); ${report.labelsMatched} labels matched an order`,
  );
  for (const [title, s] of [
    ['candidate', report.candidate],
    ['current', report.current],
  ] as const) {
    lines.push('');
    lines.push(
      `${title} ${s.version}: held ${s.held} (precision ${pct(s.precision)}, recall ${pct(s.recall)}), money saved ${money(s.moneySaved)}, blocked ${money(s.moneyBlocked)} (legitimate ${money(s.legitimateMoneyBlocked)}); outcomes allow ${s.byOutcome.allow} · challenge ${s.byOutcome.challenge} · review ${s.byOutcome.review} · deny ${s.byOutcome.deny}${s.evaluationErrors > 0 ? `; ${s.evaluationErrors} evaluation errors` : ''}`,
    );
    lines.push(
      '  rule                                outcome    hits  fraud  precision  recall   amount hit   fraud amount',
    );
    for (const r of s.rules) {
      lines.push(
        `  ${r.ruleId.padEnd(35)} ${r.outcome.padEnd(9)} ${String(r.hits).padStart(5)} ${String(r.fraudHits).padStart(6)} ${pct(r.precision).padStart(10)} ${pct(r.recall).padStart(7)} ${money(r.amountHit).padStart(12)} ${money(r.fraudAmountHit).padStart(14)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
