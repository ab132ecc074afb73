import { dayMs, hourMs, minuteMs } from '../../../core/time.ts';
import { parseIp, type ParsedIp } from '../ip/address.ts';

/**
 * Versioned thresholds and weights of login risk and session protection. Any change to a number
 * here must change `version`: the risk policy version recorded with every decision includes it.
 */
export const loginPolicyVersion = 'login-2';

/** The RBA features (Freeman et al. 2016, sub-features and weights after Wiefling et al. 2022). */
export const rbaFeatures = ['ip', 'asn', 'country', 'ua', 'browser', 'os', 'deviceType', 'device'] as const;
export type RbaFeature = (typeof rbaFeatures)[number];

export interface RbaWeights {
  /** Sub-feature weights within the IP feature; they sum to 1. */
  readonly ip: { readonly ip: number; readonly asn: number; readonly country: number };
  /** Sub-feature weights within the user-agent feature; they sum to 1. */
  readonly ua: {
    readonly ua: number;
    readonly browser: number;
    readonly os: number;
    readonly deviceType: number;
  };
}

/** An operator's allow or deny entry: a network in CIDR form, or a device key / device id. */
export interface OperatorLists {
  readonly networksDenied: readonly string[];
  readonly networksAllowed: readonly string[];
  /** `context.deviceId` values. */
  readonly devicesDenied: readonly string[];
  readonly devicesAllowed: readonly string[];
}

export interface LoginPolicy {
  readonly version: string;
  readonly rba: {
    readonly weights: RbaWeights;
    /** History older than this is dropped from the account's profile (six months). */
    readonly historyMs: number;
    /** Values kept per feature and account; the least recently seen go first. */
    readonly valuesPerFeatureMax: number;
    /** Global counts are kept in buckets of this width (their retention is `historyMs`). */
    readonly globalBucketMs: number;
    /** Score points per decade of the likelihood ratio above 1, capped at `pointsMax`. */
    readonly pointsPerDecade: number;
    readonly pointsMax: number;
    /** An account needs this many sign-ins before its profile speaks (cold start below that). */
    readonly loginsMin: number;
    /**
     * Global sign-ins (over the history) below which the likelihood ratio is not used: on a fresh
     * installation "global frequency" is a handful of sign-ins and means nothing yet.
     */
    readonly globalLoginsMin: number;
  };
  /** Score points of the sign-in signals. */
  readonly points: {
    readonly newDevice: number;
    readonly newNetwork: number;
    readonly newAsn: number;
    readonly newCountry: number;
    readonly hostingNetwork: number;
    readonly impossibleTravel: number;
    readonly concurrentLogin: number;
    readonly recentFailures: number;
    readonly noSecondFactor: number;
    readonly stuffingSource: number;
    /** Network novelty on a known, trusted device counts this fraction (a trip, a new café). */
    readonly knownDeviceNetworkFactor: number;
  };
  readonly bands: { readonly challengeScoreMin: number; readonly denyScoreMin: number };
  readonly stuffing: {
    readonly windowMs: number;
    /** Per IP, /24 or /64, and AS: failures and distinct accounts (or usernames) in the window. */
    readonly ipFailuresMin: number;
    readonly ipAccountsMin: number;
    readonly prefixFailuresMin: number;
    readonly prefixAccountsMin: number;
    readonly asnFailuresMin: number;
    readonly asnAccountsMin: number;
    /**
     * An AS is a source only when its failures are also at least this share of its sign-in
     * attempts in the window (failures plus successful sign-ins). An access network holds many
     * shoppers, and their everyday failures grow with the store's traffic: absolute bars alone
     * would mark a large ISP at a busy store all day. Successful sign-ins per AS are counted in
     * one-minute buckets kept for an hour (`asnSignInLimits`), so `windowMs` and one more minute
     * must fit in the hour (tested).
     */
    readonly asnFailureShareMin: number;
    /** Spraying: many accounts, few tries each, over a longer window. */
    readonly sprayWindowMs: number;
    readonly sprayAccountsMin: number;
  };
  readonly bruteForce: {
    /** Consecutive failures from which each further attempt must pass a challenge (throttling). */
    readonly throttleFailuresMin: number;
    /** NIST SP 800-63B §5.2.2: no more than 100 consecutive failed attempts. */
    readonly lockFailuresMin: number;
    /** A sign-in after at least this many failures on the account in the past hour scores `recentFailures`. */
    readonly recentFailuresPerHourMin: number;
  };
  readonly travel: {
    /** Faster than an airliner, with margin for country-level positions. */
    readonly speedKmPerHourMax: number;
    /** Jumps shorter than this are not judged (neighbouring countries, centroid error). */
    readonly distanceKmMin: number;
  };
  readonly concurrency: {
    /** A sign-in from another network this soon after one that succeeded looks like a relay. */
    readonly windowMs: number;
  };
  readonly session: {
    /** A sign-in scoring at least this makes its session "risky". */
    readonly riskyScoreMin: number;
    /** Sensitive actions on a risky session need a strong step-up at most this old. */
    readonly stepUpFreshMs: number;
  };
  readonly lists: OperatorLists;
}

export const defaultOperatorLists: OperatorLists = {
  networksDenied: [],
  networksAllowed: [],
  devicesDenied: [],
  devicesAllowed: [],
};

export function defaultLoginPolicy(lists: OperatorLists = defaultOperatorLists): LoginPolicy {
  return {
    version: loginPolicyVersion,
    rba: {
      // Wiefling et al. (TOPS 2022) weigh the IP above its AS above its country, and the full
      // user-agent string above browser, OS and device type.
      weights: {
        ip: { ip: 0.6, asn: 0.3, country: 0.1 },
        ua: { ua: 0.54, browser: 0.29, os: 0.12, deviceType: 0.05 },
      },
      historyMs: 183 * dayMs,
      valuesPerFeatureMax: 24,
      globalBucketMs: 7 * dayMs,
      pointsPerDecade: 6,
      pointsMax: 20,
      loginsMin: 1,
      globalLoginsMin: 1000,
    },
    points: {
      newDevice: 45,
      newNetwork: 20,
      newAsn: 10,
      newCountry: 15,
      hostingNetwork: 10,
      impossibleTravel: 35,
      concurrentLogin: 15,
      recentFailures: 15,
      noSecondFactor: 10,
      stuffingSource: 60,
      knownDeviceNetworkFactor: 0.5,
    },
    bands: { challengeScoreMin: 60, denyScoreMin: 90 },
    stuffing: {
      windowMs: 10 * minuteMs,
      ipFailuresMin: 10,
      ipAccountsMin: 5,
      prefixFailuresMin: 20,
      prefixAccountsMin: 10,
      asnFailuresMin: 200,
      asnAccountsMin: 100,
      asnFailureShareMin: 0.5,
      sprayWindowMs: hourMs,
      sprayAccountsMin: 20,
    },
    bruteForce: { throttleFailuresMin: 10, lockFailuresMin: 100, recentFailuresPerHourMin: 3 },
    travel: { speedKmPerHourMax: 1000, distanceKmMin: 800 },
    concurrency: { windowMs: 10 * minuteMs },
    session: { riskyScoreMin: 30, stepUpFreshMs: 15 * minuteMs },
    lists,
  };
}

/** A CIDR block parsed for matching (IPv6 compared at /64 granularity and coarser). */
export interface NetworkBlock {
  readonly text: string;
  readonly ip: ParsedIp;
  readonly bits: number;
}

/** Parses `a.b.c.d/n` or `x:y::/n` (a bare address is a /32 or /64); undefined when invalid. */
export function parseNetworkBlock(text: string): NetworkBlock | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(address.trim());
  if (ip === undefined) return undefined;
  const maxBits = ip.family === 4 ? 32 : 64;
  const bits = slash === -1 ? maxBits : Number(text.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > (ip.family === 4 ? 32 : 128)) return undefined;
  return { text, ip, bits: Math.min(bits, maxBits) };
}

const prefixOf = (value: number, bits: number): number =>
  bits === 0 ? 0 : bits >= 32 ? value : Math.floor(value / 2 ** (32 - bits));

export function blockContains(block: NetworkBlock, ip: ParsedIp): boolean {
  if (block.ip.family !== ip.family) return false;
  if (block.ip.family === 4 && ip.family === 4) {
    return prefixOf(block.ip.value, block.bits) === prefixOf(ip.value, block.bits);
  }
  if (block.ip.family === 6 && ip.family === 6) {
    if (block.bits <= 32) return prefixOf(block.ip.high, block.bits) === prefixOf(ip.high, block.bits);
    return (
      block.ip.high === ip.high &&
      prefixOf(block.ip.low, block.bits - 32) === prefixOf(ip.low, block.bits - 32)
    );
  }
  return false;
}
