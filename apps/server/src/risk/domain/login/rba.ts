import type { ReadableSeries, WindowSeries } from '../velocity.ts';
import type { LoginPolicy, RbaFeature } from './policy.ts';

/**
 * Risk-based authentication after Freeman et al. ("Who Are You?", NDSS 2016) as refined by
 * Wiefling et al. ("Pump Up Password Security!", ACM TOPS 2022):
 *
 *   score(x) = Π_k  p(x_k) / p(x_k | account)
 *
 * the likelihood ratio of an attacker (who looks like the global population) against this
 * account's own history, per feature k. Features with sub-features combine them by weight,
 * numerator and denominator alike: IP (address, AS, country) and user agent (string, browser,
 * OS, device type); the device id stands alone.
 *
 * Smoothing: the account's probability is Laplace-smoothed over the values it has used plus one
 * "unseen" value; the global probability of a value never seen globally is the global rate of
 * never-seen values (for the high-cardinality features) or Laplace's 1/(N+1).
 */
export interface FeatureValue {
  value: string;
  count: number;
  lastSeenAt: number;
}

/** Per-account value counts; plain JSON, bounded per feature, nothing older than the history. */
export interface RbaProfile {
  logins: number;
  values: Partial<Record<RbaFeature, FeatureValue[]>>;
}

export type LoginObservation = Readonly<Record<RbaFeature, string>>;

export const emptyProfile = (): RbaProfile => ({ logins: 0, values: {} });

/** What a feature the profile has no values of reads as (one shared empty list, not one per read). */
const noValues: readonly FeatureValue[] = [];

/** Global counts over the history, read before the current sign-in is recorded. */
export interface GlobalFrequencies {
  total(atMs: number): number;
  count(feature: RbaFeature, value: string, atMs: number): number;
  /** Sign-ins whose value of `feature` had never been seen globally before. */
  novel(feature: RbaFeature, atMs: number): number;
}

/** Features whose global novelty rate is tracked (values are nearly unique: addresses, devices). */
export const novelTrackedFeatures: readonly RbaFeature[] = ['ip', 'ua', 'device'];

const globalKeys = {
  total: 'rba:total',
  value: (feature: RbaFeature, value: string) => `rba:${feature}:${value}`,
  novel: (feature: RbaFeature) => novelKeys.get(feature) ?? `rba:new:${feature}`,
};
/** Built once: they are read on every sign-in. */
const novelKeys: ReadonlyMap<RbaFeature, string> = new Map(
  novelTrackedFeatures.map((feature) => [feature, `rba:new:${feature}`]),
);

/** Global counts are weekly buckets kept for six months (26 weeks, plus the current one). */
export const globalBucketMs = 7 * 24 * 3_600_000;
export const globalHistoryMs = 26 * globalBucketMs;
export const globalSeriesLimits = { retentionMs: globalHistoryMs, entriesMax: 40 } as const;
export const isGlobalFrequencyKey = (key: string): boolean => key.startsWith('rba:');

/** The series key of each value of one observation, in the observation's order. */
export type ObservationKeys = Readonly<Partial<Record<RbaFeature, string>>>;

/**
 * Builds the keys of an observation's values. A sign-in reads and then writes each of them: the
 * caller builds them once per event and passes them along (see `ContextFacts`).
 */
export function observationKeysOf(observation: LoginObservation): ObservationKeys {
  const keys: Partial<Record<RbaFeature, string>> = {};
  for (const feature in observation) {
    const value = observation[feature as RbaFeature];
    const table = recurringKeys[feature as RbaFeature];
    keys[feature as RbaFeature] =
      table === undefined
        ? globalKeys.value(feature as RbaFeature, value)
        : recurringKey(table, feature as RbaFeature, value);
  }
  return keys;
}

/**
 * Keys of the features whose values recur across sign-ins (the AS, country and user-agent
 * parts), built once per value. Their values are mostly the same string objects each time (from
 * the address data and the user-agent cache), so finding the key costs no hashing, and the key
 * is one string whose hash is computed once, not a new concatenation to hash in every map it is
 * looked up in. Bounded: a table that fills is started afresh.
 */
const recurringKeysMax = 4096;
const recurringKeys: Partial<Record<RbaFeature, Map<string, string>>> = {
  asn: new Map(),
  country: new Map(),
  ua: new Map(),
  browser: new Map(),
  os: new Map(),
  deviceType: new Map(),
};

function recurringKey(table: Map<string, string>, feature: RbaFeature, value: string): string {
  let key = table.get(value);
  if (key === undefined) {
    if (table.size >= recurringKeysMax) table.clear();
    key = globalKeys.value(feature, value);
    table.set(value, key);
  }
  return key;
}

export function globalKeysOf(
  observation: LoginObservation,
  valueKeys: ObservationKeys = observationKeysOf(observation),
): string[] {
  const keys = [globalKeys.total];
  for (const key of Object.values(valueKeys)) keys.push(key);
  for (const feature of novelTrackedFeatures) keys.push(globalKeys.novel(feature));
  return keys;
}

function bucketSum(series: ReadableSeries, atMs: number): number {
  return series.sum(atMs, globalHistoryMs);
}

/**
 * Global counts read from the series. Reads nothing twice: the total is asked once per feature
 * and the series do not change while one sign-in is scored. With `observation` and its keys,
 * the values of that observation are read under the keys already built. A class rather than an
 * object of closures: one is made per sign-in.
 */
class SeriesFrequencies implements GlobalFrequencies {
  readonly #series: (key: string) => ReadableSeries;
  readonly #observation: LoginObservation | undefined;
  readonly #keys: ObservationKeys | undefined;
  #totalAtMs = Number.NaN;
  #total = 0;

  constructor(
    series: (key: string) => ReadableSeries,
    observation?: LoginObservation,
    keys?: ObservationKeys,
  ) {
    this.#series = series;
    this.#observation = observation;
    this.#keys = keys;
  }

  total(atMs: number): number {
    if (atMs !== this.#totalAtMs) {
      this.#total = bucketSum(this.#series(globalKeys.total), atMs);
      this.#totalAtMs = atMs;
    }
    return this.#total;
  }

  count(feature: RbaFeature, value: string, atMs: number): number {
    const key = this.#observation?.[feature] === value ? this.#keys?.[feature] : undefined;
    return bucketSum(this.#series(key ?? globalKeys.value(feature, value)), atMs);
  }

  novel(feature: RbaFeature, atMs: number): number {
    return bucketSum(this.#series(globalKeys.novel(feature)), atMs);
  }
}

export function seriesFrequencies(
  series: (key: string) => ReadableSeries,
  observation?: LoginObservation,
  keys?: ObservationKeys,
): GlobalFrequencies {
  return new SeriesFrequencies(series, observation, keys);
}

/** Adds one to the bucket holding `atMs` (buckets are single entries whose value is the count). */
function increment(series: WindowSeries, atMs: number): void {
  const bucket = atMs - (((atMs % globalBucketMs) + globalBucketMs) % globalBucketMs);
  series.addToBucket(bucket, 1);
}

/**
 * Counts one sign-in globally; answers the keys it changed (the total, the novelty counts that
 * moved, then the observation's values). Each series is looked up once.
 */
export function recordGlobal(
  series: (key: string) => WindowSeries,
  observation: LoginObservation,
  atMs: number,
  keys: ObservationKeys = observationKeysOf(observation),
): string[] {
  const changed = [globalKeys.total];
  const values: string[] = [];
  for (const feature of Object.keys(keys) as RbaFeature[]) {
    const key = keys[feature] ?? globalKeys.value(feature, observation[feature]);
    const counts = series(key);
    // Whether the value had never been seen globally: read before its own count goes up.
    if (counts.size === 0 && novelTrackedFeatures.includes(feature)) {
      increment(series(globalKeys.novel(feature)), atMs);
      changed.push(globalKeys.novel(feature));
    }
    increment(counts, atMs);
    values.push(key);
  }
  increment(series(globalKeys.total), atMs);
  for (const key of values) changed.push(key);
  return changed;
}

/** p(value | account): Laplace over the account's values plus one unseen value. */
export function accountProbability(
  profile: RbaProfile,
  feature: RbaFeature,
  value: string,
  fromMs: number,
): number {
  // One pass, no copies: this runs for eight features on every sign-in.
  let total = 0;
  let count = 0;
  let distinct = 0;
  for (const v of profile.values[feature] ?? noValues) {
    if (v.lastSeenAt < fromMs) continue;
    total += v.count;
    distinct += 1;
    if (v.value === value) count = v.count;
  }
  return (count + 1) / (total + distinct + 1);
}

export function globalProbability(
  global: GlobalFrequencies,
  feature: RbaFeature,
  value: string,
  atMs: number,
): number {
  const total = global.total(atMs);
  const count = global.count(feature, value, atMs);
  if (count === 0 && novelTrackedFeatures.includes(feature)) {
    return (global.novel(feature, atMs) + 1) / (total + 1);
  }
  return Math.min(1, (count + 1) / (total + 1));
}

export interface RbaScore {
  /** log10 of the likelihood ratio per feature group; their sum is the model's score. */
  ip: number;
  ua: number;
  device: number;
  /** Freeman/Wiefling as published (IP and user agent). */
  plain: number;
  /** With the device id as a third feature. */
  total: number;
}

/** A feature group's features with their weights, as `logRatio` reads them. */
type FeatureGroup = readonly (readonly [RbaFeature, number])[];

/** The three groups of a policy's weights, made once per policy (a sign-in is scored with them). */
const groupsByPolicy = new WeakMap<
  LoginPolicy,
  { ip: FeatureGroup; ua: FeatureGroup; device: FeatureGroup }
>();

function groupsOf(policy: LoginPolicy): { ip: FeatureGroup; ua: FeatureGroup; device: FeatureGroup } {
  let groups = groupsByPolicy.get(policy);
  if (groups === undefined) {
    const w = policy.rba.weights;
    groups = {
      ip: [
        ['ip', w.ip.ip],
        ['asn', w.ip.asn],
        ['country', w.ip.country],
      ],
      ua: [
        ['ua', w.ua.ua],
        ['browser', w.ua.browser],
        ['os', w.ua.os],
        ['deviceType', w.ua.deviceType],
      ],
      device: [['device', 1]],
    };
    groupsByPolicy.set(policy, groups);
  }
  return groups;
}

export function rbaScore(
  profile: RbaProfile,
  observation: LoginObservation,
  global: GlobalFrequencies,
  policy: LoginPolicy,
  atMs: number,
): RbaScore {
  const fromMs = atMs - policy.rba.historyMs;
  const groups = groupsOf(policy);
  const ip = logRatio(groups.ip, profile, observation, global, atMs, fromMs);
  const ua = logRatio(groups.ua, profile, observation, global, atMs, fromMs);
  const device = logRatio(groups.device, profile, observation, global, atMs, fromMs);
  return { ip, ua, device, plain: ip + ua, total: ip + ua + device };
}

/** log10 of one feature group's likelihood ratio (weights apply to numerator and denominator). */
function logRatio(
  parts: readonly (readonly [RbaFeature, number])[],
  profile: RbaProfile,
  observation: LoginObservation,
  global: GlobalFrequencies,
  atMs: number,
  fromMs: number,
): number {
  let numerator = 0;
  let denominator = 0;
  for (const [feature, weight] of parts) {
    numerator += weight * globalProbability(global, feature, observation[feature], atMs);
    denominator += weight * accountProbability(profile, feature, observation[feature], fromMs);
  }
  return Math.log10(numerator / denominator);
}

/** Whether the account has used `value` for `feature` within the history. */
export function hasSeen(profile: RbaProfile, feature: RbaFeature, value: string, fromMs: number): boolean {
  // A plain loop: this runs for two features on every sign-in.
  for (const v of profile.values[feature] ?? noValues)
    if (v.value === value && v.lastSeenAt >= fromMs) return true;
  return false;
}

/**
 * The profile after one more sign-in: counts up, values older than the history dropped, at most
 * `valuesPerFeatureMax` values per feature (least recently seen go first). Copy-on-write; the hot
 * state's sign-ins use `learnInPlace`.
 */
export function learn(
  profile: RbaProfile,
  observation: LoginObservation,
  policy: LoginPolicy,
  atMs: number,
): RbaProfile {
  const copy = copyProfile(profile);
  learnInPlace(copy, observation, policy, atMs);
  return copy;
}

/** A copy whose value lists can be changed without changing `profile` (their entries are shared). */
export function copyProfile(profile: RbaProfile): RbaProfile {
  const values: Partial<Record<RbaFeature, FeatureValue[]>> = {};
  for (const feature in profile.values) {
    const list = profile.values[feature as RbaFeature];
    if (list !== undefined) values[feature as RbaFeature] = list.slice();
  }
  return { ...profile, values };
}

/**
 * `learn`, changing the profile's value lists in place. The entries of the lists are replaced,
 * never changed, so a copy of the lists (`copyProfile`) is a stable snapshot.
 */
export function learnInPlace(
  profile: RbaProfile,
  observation: LoginObservation,
  policy: LoginPolicy,
  atMs: number,
): void {
  const fromMs = atMs - policy.rba.historyMs;
  const values = profile.values;
  for (const key in observation) {
    const feature = key as RbaFeature;
    const value = observation[feature];
    const kept = values[feature];
    if (kept === undefined || kept.length === 0) {
      // A list of one (pushing onto an empty list reserves room for seventeen).
      values[feature] = [{ value, count: 1, lastSeenAt: atMs }];
      continue;
    }
    let index = -1;
    let write = 0;
    for (let read = 0; read < kept.length; read += 1) {
      const entry = kept[read] as FeatureValue;
      if (entry.lastSeenAt < fromMs) continue;
      if (entry.value === value) index = write;
      kept[write] = entry;
      write += 1;
    }
    kept.length = write;
    if (index >= 0) {
      const known = kept[index] as FeatureValue;
      kept[index] = { value, count: known.count + 1, lastSeenAt: Math.max(known.lastSeenAt, atMs) };
      continue;
    }
    if (kept.length >= policy.rba.valuesPerFeatureMax) {
      let oldest = 0;
      for (let i = 1; i < kept.length; i += 1) {
        if ((kept[i]?.lastSeenAt ?? 0) < (kept[oldest]?.lastSeenAt ?? 0)) oldest = i;
      }
      kept.splice(oldest, 1);
    }
    kept.push({ value, count: 1, lastSeenAt: atMs });
  }
  profile.logins += 1;
}

/** Takes one sign-in back (a failed challenge): counts down, values at zero removed. */
export function unlearn(profile: RbaProfile, observation: LoginObservation): RbaProfile {
  const values: Partial<Record<RbaFeature, FeatureValue[]>> = { ...profile.values };
  for (const [feature, value] of Object.entries(observation) as [RbaFeature, string][]) {
    const list = profile.values[feature];
    if (list === undefined) continue;
    values[feature] = list
      .map((v) => (v.value === value ? { ...v, count: v.count - 1 } : v))
      .filter((v) => v.count > 0);
  }
  return { logins: Math.max(0, profile.logins - 1), values };
}
