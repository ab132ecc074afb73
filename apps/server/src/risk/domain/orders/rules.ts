import type { Environment } from '@marcbachmann/cel-js';
import { err, ok, type Result } from '../../../core/result.ts';
import { reasonCodes, type ReasonCode } from '../reasons.ts';
import { compileRuleExpression, ruleEnvironment, RuleEvaluationError } from './cel.ts';
import type { FeatureValue } from './features.ts';

/**
 * Order rules: a CEL condition over the feature namespace with an outcome, a priority, a reason
 * code and a description. A rule set is versioned data; evaluating it runs every rule (so that
 * backtests and shadow mode see each hit) and merges the outcomes by severity.
 */
export const ruleOutcomes = ['allow', 'challenge', 'review', 'deny'] as const;
export type RuleOutcome = (typeof ruleOutcomes)[number];

/** Severity order: a later outcome wins a merge. Review holds an order, so it outranks a step-up. */
export const outcomeSeverity: Readonly<Record<RuleOutcome, number>> = {
  allow: 0,
  challenge: 1,
  review: 2,
  deny: 3,
};

export const ruleLimits = {
  rulesMax: 200,
  idPattern: /^[a-z0-9][a-z0-9_.-]{0,63}$/,
  descriptionCharsMax: 500,
  priorityMax: 1000,
} as const;

export interface RuleDefinition {
  /** Stable id, lower case: `new_device_gift_cards`. Shown as the reason's detail. */
  id: string;
  description: string;
  /** CEL, must be a bool: `order.giftCardCount24h >= 2 && account.minutesSinceNewDevice < 1440`. */
  expression: string;
  outcome: RuleOutcome;
  /** 0–1000; among hits of the same outcome, higher priority is listed first. */
  priority: number;
  reasonCode: ReasonCode;
  /** A disabled rule is kept and versioned but not evaluated. Default true. */
  enabled?: boolean;
}

export interface RuleSetDefinition {
  rules: RuleDefinition[];
}

export interface CompiledRule {
  readonly definition: RuleDefinition;
  readonly test: (features: readonly FeatureValue[]) => boolean;
}

export interface CompiledRuleSet {
  /** e.g. `default-pack-1` or `rules-7`; recorded with each decision through the policy version. */
  readonly version: string;
  readonly definition: RuleSetDefinition;
  /** Enabled rules, most severe outcome first, then by priority (descending), then id. */
  readonly rules: readonly CompiledRule[];
}

/** Where a rule set fails validation: `rules[3].expression` with the CEL position when there is one. */
export interface RuleProblem {
  field: string;
  ruleId?: string;
  message: string;
  offset?: number;
  line?: number;
  column?: number;
}

export interface RuleSetResult {
  outcome: RuleOutcome;
  /** Rules that fired, in reporting order (severity, then priority). */
  hits: RuleDefinition[];
  /** Rules that failed to evaluate (division by zero…): they do not fire. */
  errors: { ruleId: string; message: string }[];
}

const knownReasonCodes: ReadonlySet<string> = new Set(reasonCodes);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the shape of a rule set as received (JSON): every problem, with its field. */
export function parseRuleSetDefinition(raw: unknown): Result<RuleSetDefinition, RuleProblem[]> {
  if (!isRecord(raw) || !Array.isArray(raw.rules)) {
    return err([{ field: 'rules', message: 'a rule set is an object with a "rules" array' }]);
  }
  const problems: RuleProblem[] = [];
  if (raw.rules.length > ruleLimits.rulesMax) {
    problems.push({ field: 'rules', message: `at most ${ruleLimits.rulesMax} rules in a set` });
  }
  const rules: RuleDefinition[] = [];
  const seen = new Set<string>();
  raw.rules.forEach((item: unknown, i) => {
    const at = (name: string): string => `rules[${i}].${name}`;
    if (!isRecord(item)) {
      problems.push({ field: `rules[${i}]`, message: 'a rule is an object' });
      return;
    }
    const { id, description, expression, outcome, priority, reasonCode, enabled } = item;
    const ruleId = typeof id === 'string' ? id : undefined;
    const add = (field: string, message: string): void => {
      problems.push({ field: at(field), message, ...(ruleId === undefined ? {} : { ruleId }) });
    };
    if (typeof id !== 'string' || !ruleLimits.idPattern.test(id)) {
      add('id', 'must be 1–64 lower-case letters, digits, _ . - (starting with a letter or digit)');
    } else if (seen.has(id)) add('id', `"${id}" is used by another rule of this set`);
    else seen.add(id);
    if (typeof description !== 'string' || description.length > ruleLimits.descriptionCharsMax) {
      add('description', `must be a string of at most ${ruleLimits.descriptionCharsMax} characters`);
    }
    if (typeof expression !== 'string') add('expression', 'must be a CEL expression (a string)');
    if (typeof outcome !== 'string' || !(ruleOutcomes as readonly string[]).includes(outcome)) {
      add('outcome', `must be one of ${ruleOutcomes.join(', ')}`);
    }
    if (
      typeof priority !== 'number' ||
      !Number.isInteger(priority) ||
      priority < 0 ||
      priority > ruleLimits.priorityMax
    ) {
      add('priority', `must be an integer from 0 to ${ruleLimits.priorityMax}`);
    }
    if (typeof reasonCode !== 'string' || !knownReasonCodes.has(reasonCode)) {
      add('reasonCode', 'must be a reason code from docs/reasons.md (use rule_match for a rule of your own)');
    }
    if (enabled !== undefined && typeof enabled !== 'boolean') add('enabled', 'must be true or false');
    rules.push({
      id: String(id),
      description: String(description),
      expression: String(expression),
      outcome: outcome as RuleOutcome,
      priority: Number(priority),
      reasonCode: reasonCode as ReasonCode,
      ...(enabled === false ? { enabled: false } : {}),
    });
  });
  return problems.length > 0 ? err(problems) : ok({ rules });
}

/** Orders hits for reporting: most severe first, then higher priority, then id. */
function byReportingOrder(a: RuleDefinition, b: RuleDefinition): number {
  return (
    outcomeSeverity[b.outcome] - outcomeSeverity[a.outcome] ||
    b.priority - a.priority ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/**
 * Validates, type-checks and compiles a rule set. Every problem is reported (not just the
 * first), each with the rule and, for expressions, the position.
 */
export function compileRuleSet(
  raw: unknown,
  version: string,
  env: Environment = ruleEnvironment(),
): Result<CompiledRuleSet, RuleProblem[]> {
  const parsed = parseRuleSetDefinition(raw);
  if (!parsed.ok) return parsed;
  const problems: RuleProblem[] = [];
  const compiled: CompiledRule[] = [];
  parsed.value.rules.forEach((rule, i) => {
    const result = compileRuleExpression(env, rule.expression);
    if (!result.ok) {
      problems.push({ field: `rules[${i}].expression`, ruleId: rule.id, ...result.problem });
      return;
    }
    if (rule.enabled !== false) compiled.push({ definition: rule, test: result.fn });
  });
  if (problems.length > 0) return err(problems);
  compiled.sort((a, b) => byReportingOrder(a.definition, b.definition));
  return ok({ version, definition: parsed.value, rules: compiled });
}

/** Runs every rule of a compiled set over one feature vector. Never throws for a rule's failure. */
export function evaluateRuleSet(set: CompiledRuleSet, features: readonly FeatureValue[]): RuleSetResult {
  let outcome: RuleOutcome = 'allow';
  const hits: RuleDefinition[] = [];
  let errors: { ruleId: string; message: string }[] | undefined;
  for (const rule of set.rules) {
    let fired: boolean;
    try {
      fired = rule.test(features);
    } catch (error) {
      if (!(error instanceof RuleEvaluationError)) throw error;
      (errors ??= []).push({ ruleId: rule.definition.id, message: error.message });
      continue;
    }
    if (!fired) continue;
    hits.push(rule.definition);
    if (outcomeSeverity[rule.definition.outcome] > outcomeSeverity[outcome])
      outcome = rule.definition.outcome;
  }
  return { outcome, hits, errors: errors ?? [] };
}

/** The more severe of two outcomes. */
export function mergeOutcomes(a: RuleOutcome, b: RuleOutcome): RuleOutcome {
  return outcomeSeverity[b] > outcomeSeverity[a] ? b : a;
}
