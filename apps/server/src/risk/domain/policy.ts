import { defaultOrderPolicy, orderPolicyVersion, type OrderPolicy } from './orders/policy.ts';
import { emptyIpLookup, type IpLookup } from './ip/lookup.ts';
import { compileOperatorLists, type CompiledOperatorLists } from './login/lists.ts';
import { defaultLoginPolicy, type LoginPolicy } from './login/policy.ts';
import { userAgentParser, type UserAgentParser } from './login/user-agent.ts';
import type { PlaybookSelector } from '../../containment/domain/triggers.ts';

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
  /** Order rules (active and shadow), model and reference data (orders/policy.ts). */
  readonly orders: OrderPolicy;
  /** Login risk and session protection: thresholds, weights, operator lists (login/policy.ts). */
  readonly login: LoginPolicy;
  /** Offline country and AS lookup; the embedded default knows no address. */
  readonly ipIntel: IpLookup;
  /** Derived from `login` once: parsed operator lists and a bounded user-agent cache. */
  readonly loginSupport: { readonly lists: CompiledOperatorLists; readonly userAgents: UserAgentParser };
  /** Which containment playbook a case-opening decision starts; the default triggers when absent. */
  readonly playbooks?: PlaybookSelector;
  /** `observe`: detectors score and explain but never challenge, hold, deny or open a case. */
  readonly enforcement?: 'enforce' | 'observe';
}

export const baselinePolicyVersion = 'baseline-1';

export function defaultRiskPolicy(): RiskPolicy {
  return withLoginPolicy(
    withOrderPolicy({ version: baselinePolicyVersion }, defaultOrderPolicy()),
    defaultLoginPolicy(),
    emptyIpLookup(),
  );
}

/** The policy with its login part replaced; the version names the login policy, its lists and IP data. */
export function withLoginPolicy<P extends { version: string }>(
  policy: P,
  login: LoginPolicy,
  ipIntel: IpLookup,
): P & Pick<RiskPolicy, 'login' | 'ipIntel' | 'loginSupport'> {
  const lists = compileOperatorLists(login.lists);
  const base = policy.version.replace(/\+login:[^+]*\+ip:[^+]*/, '');
  return {
    ...policy,
    login,
    ipIntel,
    loginSupport: { lists, userAgents: userAgentParser() },
    version: `${base}+login:${login.version}${lists.digest === '' ? '' : `-lists.${lists.digest}`}+ip:${ipIntel.dataVersion}`,
  };
}

/** The policy with its order part replaced; the version names the rule set and model it carries. */
export function withOrderPolicy<P extends { version: string }>(
  policy: P,
  orders: OrderPolicy,
): P & { orders: OrderPolicy } {
  // Only the order segment is replaced, so the other parts of the version stay as they are.
  const base = policy.version.replace(/\+rules:[^+]*(\+shadow:[^+]*)?\+model:[^+]*/, '');
  return { ...policy, orders, version: `${base}+${orderPolicyVersion(orders)}` };
}
