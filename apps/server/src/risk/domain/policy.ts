/**
 * Everything the risk engine decides with that is not state: versioned thresholds and weights,
 * reference data (IP intelligence) and the active rule set. Built once at start-up (or per replay)
 * and handed to every decision, so the engine stays pure and a decision can name the exact
 * policy it was made under.
 *
 * Each capability adds its own member here; all members have an embedded default so replay and
 * tests can decide with `defaultRiskPolicy()`.
 */
export interface RiskPolicy {
  /** Recorded with every decision (`events.policy_version`). Changes whenever any part changes. */
  readonly version: string;
}

export const baselinePolicyVersion = 'baseline-1';

export function defaultRiskPolicy(): RiskPolicy {
  return { version: baselinePolicyVersion };
}
