import type { LoginPolicy, RbaFeature } from '../../risk/domain/login/policy.ts';
import {
  emptyProfile,
  learn,
  novelTrackedFeatures,
  rbaScore,
  type GlobalFrequencies,
  type LoginObservation,
  type RbaProfile,
} from '../../risk/domain/login/rba.ts';

/**
 * The plain published RBA model (Freeman et al. 2016 / Wiefling et al. 2022: IP with AS and
 * country, user agent with browser, OS and device type; no device id, no other detectors) as an
 * evaluation baseline: every sign-in is scored, then learned. In memory; global counts are not
 * windowed (the evaluation spans less than the six-month history).
 */
export class PlainRba {
  readonly #policy: LoginPolicy;
  readonly #profiles = new Map<string, RbaProfile>();
  readonly #counts = new Map<string, number>();
  #total = 0;
  readonly #novel = new Map<RbaFeature, number>();
  readonly #frequencies: GlobalFrequencies;

  constructor(policy: LoginPolicy) {
    this.#policy = policy;
    this.#frequencies = {
      total: () => this.#total,
      count: (feature, value) => this.#counts.get(`${feature}\u0000${value}`) ?? 0,
      novel: (feature) => this.#novel.get(feature) ?? 0,
    };
  }

  get accounts(): number {
    return this.#profiles.size;
  }

  /** Scores a sign-in (log10 of the likelihood ratio; higher is riskier), then learns it. */
  scoreAndLearn(accountId: string, observation: LoginObservation, atMs: number): number {
    const profile = this.#profiles.get(accountId) ?? emptyProfile();
    const score =
      profile.logins === 0
        ? Number.NEGATIVE_INFINITY
        : rbaScore(profile, observation, this.#frequencies, this.#policy, atMs).plain;
    this.#profiles.set(accountId, learn(profile, observation, this.#policy, atMs));
    for (const feature of novelTrackedFeatures) {
      if (!this.#counts.has(`${feature}\u0000${observation[feature]}`)) {
        this.#novel.set(feature, (this.#novel.get(feature) ?? 0) + 1);
      }
    }
    for (const [feature, value] of Object.entries(observation)) {
      const key = `${feature}\u0000${value}`;
      this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    }
    this.#total += 1;
    return score;
  }

  /** Forgets an account's profile (bounding memory on very large files). */
  forget(accountId: string): void {
    this.#profiles.delete(accountId);
  }
}

/** Threshold sweep: the share of attacks scoring above the legitimate `rate` quantile. */
export function caughtAtRate(
  legitKeys: readonly number[],
  attackCaught: readonly ((threshold: number) => boolean)[],
  rate: number,
): number {
  if (attackCaught.length === 0) return Number.NaN;
  const sorted = [...legitKeys].sort((a, b) => b - a);
  const index = Math.floor(rate * sorted.length);
  const threshold = sorted[index] ?? Number.NEGATIVE_INFINITY;
  return attackCaught.filter((caught) => caught(threshold)).length / attackCaught.length;
}
