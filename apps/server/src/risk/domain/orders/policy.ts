import { defaultModel, defaultRulePack, defaultRulePackVersion } from './defaults.ts';
import type { FeatureReference } from './features.ts';
import { compileModel, type CompiledModel } from './model.ts';
import { compileRuleSet, type CompiledRuleSet } from './rules.ts';

/** The order part of the risk policy: what `order.*` events are decided with. */
export interface OrderPolicy {
  /** The active rule set: its outcome is the decision's (merged with the model's). */
  readonly rules: CompiledRuleSet;
  /** Evaluated and recorded beside the active set, never acting. */
  readonly shadow?: CompiledRuleSet | undefined;
  readonly model: CompiledModel;
  readonly reference: FeatureReference;
  /** A model score at or above this holds the order (`review`) on its own. */
  readonly modelReviewScoreMin: number;
  /** Top contributing features listed in each order decision. */
  readonly contributionsMax: number;
}

export const orderPolicyDefaults = {
  modelReviewScoreMin: 80,
  contributionsMax: 3,
} as const;

/** The part of the policy version that names the order rules, shadow set and model. */
export function orderPolicyVersion(policy: OrderPolicy): string {
  const shadow = policy.shadow === undefined ? '' : `+shadow:${policy.shadow.version}`;
  return `rules:${policy.rules.version}${shadow}+model:${policy.model.version}`;
}

function mustCompile<T>(result: { ok: true; value: T } | { ok: false; error: unknown }, what: string): T {
  if (!result.ok) throw new Error(`the embedded ${what} does not compile: ${JSON.stringify(result.error)}`);
  return result.value;
}

/** The embedded default: the default rule pack, the prior model, no reference data. */
export function defaultOrderPolicy(reference: Partial<FeatureReference> = {}): OrderPolicy {
  return {
    rules: mustCompile(compileRuleSet(defaultRulePack, defaultRulePackVersion), 'rule pack'),
    model: mustCompile(compileModel(defaultModel), 'model'),
    reference: { disposableEmailDomains: new Set(), ...reference },
    ...orderPolicyDefaults,
  };
}
