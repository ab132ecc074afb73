import type { Decision } from '@bulwark/contracts';
import { derivedIds } from '../../src/core/ids.ts';
import { HotStateCache } from '../../src/ingest/hot-state.ts';
import { apply, decide } from '../../src/risk/domain/decider.ts';
import type { RiskPolicy } from '../../src/risk/domain/policy.ts';
import type { AccountState } from '../../src/risk/domain/state.ts';
import { valid } from './login.ts';

/** Decides and applies events in order on a private hot state, as replay does. */
export class LoginDriver {
  readonly hot: HotStateCache;
  readonly #ids = derivedIds();
  readonly policy: RiskPolicy;
  constructor(policy: RiskPolicy) {
    this.policy = policy;
    this.hot = new HotStateCache({ accountsMax: 1_000_000, seriesMax: 1_000_000 }, undefined, policy);
  }
  send(raw: Record<string, unknown>): Decision {
    const { event, atMs } = valid(raw);
    const { decision } = decide(event, atMs, this.hot, this.#ids, this.policy);
    apply(event, decision, atMs, this.hot, this.policy);
    return decision;
  }
  account(accountId: string): AccountState | undefined {
    return this.hot.account(accountId);
  }
}

export const codes = (decision: Decision): string[] => decision.reasons.map((r) => r.code);
