import type { BulwarkEvent, ChallengeMethod, Decision, Reason } from '@bulwark/contracts';
import type { AccountState } from '../state.ts';
import { orderStateLimits } from '../state.ts';
import type { WindowSeries } from '../velocity.ts';
import {
  featureSpecByName,
  orderFeatures,
  orderSeriesKeys,
  subnetOf,
  emailDomainOf,
  type FeatureVector,
} from './features.ts';
import { orderValuesOf, shippingKeyOf, type OrderPlaced } from './order-facts.ts';
import { deviceKeyOf } from '../state.ts';
import { scoreModel, type ModelScore } from './model.ts';
import type { OrderPolicy } from './policy.ts';
import { evaluateRuleSet, mergeOutcomes, type RuleOutcome, type RuleSetResult } from './rules.ts';

/** What the order decider answers; the engine turns it into its Assessment. */
export interface OrderAssessment {
  outcome: RuleOutcome;
  score: number;
  reasons: Reason[];
  challengeMethods?: ChallengeMethod[];
  caseAction?: 'open' | 'join';
  /** The shadow set's verdict on the same features, recorded but never acted on. */
  shadow?: ShadowVerdict;
}

export interface ShadowVerdict {
  version: string;
  outcome: RuleOutcome;
  ruleIds: string[];
}

/** Lowest score an outcome reports, so the score never contradicts the decision. */
const scoreFloor: Readonly<Record<RuleOutcome, number>> = { allow: 0, challenge: 60, review: 70, deny: 90 };

/** Everything one order decision is made of: kept whole for backtests and explanations. */
export interface OrderEvaluation {
  features: FeatureVector;
  rules: RuleSetResult;
  model: ModelScore;
  shadow?: RuleSetResult;
}

export interface OrderView {
  readonly account: AccountState | undefined;
  series(key: string): WindowSeries;
}

/** Features, rules (active and shadow) and model for one order. Pure. */
export function evaluateOrder(
  event: OrderPlaced,
  view: OrderView,
  policy: OrderPolicy,
  atMs: number,
  countryOfIp?: (ip: string) => string | undefined,
): OrderEvaluation {
  // IP intelligence is a separate part of the risk policy; when present it answers the IP country.
  const reference = countryOfIp === undefined ? policy.reference : { ...policy.reference, countryOfIp };
  const features = orderFeatures(event, view.account, (key) => view.series(key), reference, atMs);
  const rules = evaluateRuleSet(policy.rules, features);
  const model = scoreModel(policy.model, features, policy.contributionsMax);
  const evaluation: OrderEvaluation = { features, rules, model };
  if (policy.shadow !== undefined) evaluation.shadow = evaluateRuleSet(policy.shadow, features);
  return evaluation;
}

const formatValue = (value: number | boolean | string): string =>
  typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(2) : String(value);

/** Turns an evaluation into the decision's outcome, score and ordered reasons. */
export function verdictOf(
  evaluation: OrderEvaluation,
  policy: OrderPolicy,
): Omit<OrderAssessment, 'challengeMethods'> {
  const { rules, model } = evaluation;
  let outcome = rules.outcome;
  const reasons: Reason[] = rules.hits.map((rule) => ({ code: rule.reasonCode, detail: rule.id }));
  if (model.score >= policy.modelReviewScoreMin) {
    outcome = mergeOutcomes(outcome, 'review');
    reasons.push({ code: 'model_score_high', detail: `${policy.model.version}:${model.score}` });
  }
  for (const top of model.top) {
    const spec = featureSpecByName.get(top.name);
    reasons.push({
      code: 'model_contribution',
      detail: `${spec?.name ?? top.name}=${formatValue(top.value)}`,
    });
  }
  const score = Math.max(model.score, scoreFloor[outcome]);
  const verdict: Omit<OrderAssessment, 'challengeMethods'> = {
    outcome,
    score: Math.min(100, score),
    reasons,
  };
  if (evaluation.shadow !== undefined && policy.shadow !== undefined) {
    verdict.shadow = {
      version: policy.shadow.version,
      outcome: evaluation.shadow.outcome,
      ruleIds: evaluation.shadow.hits.map((rule) => rule.id),
    };
  }
  return verdict;
}

export function assessOrderPlaced(
  event: OrderPlaced,
  view: OrderView,
  policy: OrderPolicy,
  atMs: number,
  countryOfIp?: (ip: string) => string | undefined,
): OrderAssessment {
  const account = view.account;
  if (account?.openCaseId !== undefined) {
    return {
      outcome: 'deny',
      score: 100,
      reasons: [{ code: 'account_in_containment', detail: account.openCaseId }],
    };
  }
  return verdictOf(evaluateOrder(event, view, policy, atMs, countryOfIp), policy);
}

/**
 * `order.archived`: an order hidden within minutes of its placement is the incident's tell when
 * the order was risky — gift cards or digital goods, a sign-in from a new device within a day, or
 * an order we already held. Then the account is re-scored: the archive is refused (`deny`) and
 * containment opens.
 */
export function assessOrderArchived(
  event: Extract<BulwarkEvent, { type: 'order.archived' }>,
  account: AccountState | undefined,
  atMs: number,
): OrderAssessment {
  if (account?.openCaseId !== undefined) {
    return {
      outcome: 'deny',
      score: 100,
      reasons: [{ code: 'account_in_containment', detail: account.openCaseId }],
    };
  }
  const order = account?.recentOrders?.find((o) => o.orderId === event.orderId);
  const risk = account?.risk ?? 0;
  if (order === undefined || atMs - order.placedAt > orderStateLimits.archiveSoonMs) {
    return { outcome: 'allow', score: risk, reasons: [] };
  }
  const newDeviceRecently =
    account?.lastNewDeviceLoginAt !== undefined &&
    order.placedAt - account.lastNewDeviceLoginAt < 24 * 60 * 60 * 1000;
  const risky =
    order.giftCardValue + order.digitalValue > 0 ||
    newDeviceRecently ||
    order.decision !== 'allow' ||
    risk >= 60;
  if (!risky) return { outcome: 'allow', score: risk, reasons: [] };
  const minutes = Math.max(0, Math.round((atMs - order.placedAt) / 60000));
  return {
    outcome: 'deny',
    score: Math.max(95, risk),
    reasons: [
      {
        code: 'order_hidden_after_purchase',
        detail: `${event.orderId} archived ${minutes} min after placement`,
      },
    ],
    caseAction: 'open',
  };
}

/** Every series an order reads and writes. */
export function orderSeriesKeysOf(event: OrderPlaced): string[] {
  const keys = [
    orderSeriesKeys.account(event.accountId),
    orderSeriesKeys.giftCards(event.accountId),
    orderSeriesKeys.digital(event.accountId),
    orderSeriesKeys.device(deviceKeyOf(event.context)),
    orderSeriesKeys.ip(event.context.ip),
    orderSeriesKeys.subnet(subnetOf(event.context.ip)),
  ];
  if (event.payment.cardFingerprint !== undefined)
    keys.push(orderSeriesKeys.card(event.payment.cardFingerprint));
  const shippingKey = shippingKeyOf(event);
  if (shippingKey !== undefined) keys.push(orderSeriesKeys.address(shippingKey));
  const domain = emailDomainOf(event.delivery?.email);
  if (domain !== '') keys.push(orderSeriesKeys.emailDomain(domain));
  return keys;
}

/**
 * Records an order in its series and answers the keys written. The account's own windows learn
 * only orders that were not denied (what the account actually bought); the shared ones (card,
 * device, network, address, e-mail domain) learn every attempt, since card testing is attempts.
 */
export function recordOrderSeries(
  event: OrderPlaced,
  decision: Decision,
  series: (key: string) => WindowSeries,
  atMs: number,
): string[] {
  const written: string[] = [];
  const amount = event.amount.value;
  const accountId = event.accountId;
  if (decision.decision !== 'deny') {
    const values = orderValuesOf(event);
    const key = orderSeriesKeys.account(accountId);
    series(key).record(atMs, amount);
    written.push(key);
    if (values.giftCardValue > 0) {
      const gift = orderSeriesKeys.giftCards(accountId);
      series(gift).record(atMs, values.giftCardValue);
      written.push(gift);
    }
    if (values.digitalValue > 0) {
      const digital = orderSeriesKeys.digital(accountId);
      series(digital).record(atMs, values.digitalValue);
      written.push(digital);
    }
  }
  for (const key of orderSeriesKeysOf(event).slice(3)) {
    series(key).record(atMs, amount, accountId);
    written.push(key);
  }
  return written;
}
