import {
  sensitiveActions,
  type BulwarkEvent,
  type Decision,
  type Reason,
  type RequestContext,
} from '@bulwark/contracts';
import { hourMs } from '../../../core/time.ts';
import { readSeries, type Assessment, type RiskView } from '../engine.ts';
import { networkPrefixOf, parseIp, type ParsedIp } from '../ip/address.ts';
import type { IpInfo } from '../ip/lookup.ts';
import type { RiskPolicy } from '../policy.ts';
import type { ReasonCode } from '../reasons.ts';
import { deviceKeyOf, type AccountState } from '../state.ts';
import type { ReadableSeries, WindowSeries } from '../velocity.ts';
import { listVerdict } from './lists.ts';
import { asnSignInKey, countSignIn, signInsWithin } from './sign-ins.ts';
import type { LoginPolicy } from './policy.ts';
import {
  globalKeysOf,
  hasSeen,
  learnInPlace,
  observationKeysOf,
  rbaScore,
  recordGlobal,
  seriesFrequencies,
  unlearn,
  type LoginObservation,
  type ObservationKeys,
  type RbaScore,
} from './rba.ts';
import {
  emptyLoginState,
  loginStateLimits,
  type LoginState,
  type PendingLoginChallenge,
  type RecentLogin,
  type SessionBinding,
} from './state.ts';
import { judgeTravel } from './travel.ts';

/**
 * Login risk and session protection: the sign-in decision (RBA score plus the account's own
 * novelty signals and global detectors), sign-in failures (credential stuffing, password
 * spraying, brute force), and session binding with step-up for sensitive actions. Pure; reads
 * the account, the velocity series and the policy, never the clock.
 */

const reason = (code: ReasonCode, detail?: string): Reason =>
  detail === undefined ? { code } : { code, detail };

/** What one request context means, computed once per event. */
export interface ContextFacts {
  readonly ip: ParsedIp | undefined;
  readonly info: IpInfo;
  /** The /24 or /64 the address belongs to, for velocity by network. */
  readonly prefix: string | undefined;
  readonly observation: LoginObservation;
  readonly browserFamily: string;
  /** The failure series of the source (address, network, AS), keyed once per event. */
  readonly sourceKeys: SourceKeys;
  /** The RBA model's global series of the observation's values, likewise. */
  readonly observationKeys: ObservationKeys;
  /**
   * The global series found while the sign-in was scored, by key, and the series function of
   * the hot state they were found in: recording the sign-in right after writes to them without
   * looking each up again in a map of hundreds of thousands of keys.
   */
  found: FoundSeries | undefined;
}

/** Series found while scoring, by key (a sign-in reads some fifteen: a list is cheaper than a map). */
interface FoundSeries {
  owner: unknown;
  readonly keys: string[];
  readonly series: WindowSeries[];
}

interface SourceKeys {
  readonly ip: string;
  readonly prefix: string | undefined;
  readonly asn: string | undefined;
  /** The AS's successful sign-ins (`sign-ins.ts`), which its failures are weighed against. */
  readonly asnSignIns: string | undefined;
}

/**
 * Facts already computed, for the most recent request contexts (one event asks several times:
 * when its series are loaded, when it is decided and when it is applied). A ring of strong
 * references rather than a map: a `WeakMap` keyed by every event's context cost the garbage
 * collector on every young-generation pass (ephemerons), a `Map` kept its entries alive past it,
 * and only the contexts of the batch being decided are ever asked for again.
 */
const factsCacheSize = 256;
const cachedContexts: (RequestContext | undefined)[] = new Array<RequestContext | undefined>(
  factsCacheSize,
).fill(undefined);
const cachedPolicies: (RiskPolicy | undefined)[] = new Array<RiskPolicy | undefined>(factsCacheSize).fill(
  undefined,
);
const cachedFacts: (ContextFacts | undefined)[] = new Array<ContextFacts | undefined>(factsCacheSize).fill(
  undefined,
);
/** Where the next entry goes; the newest is just before it. */
let cacheNext = 0;

function cachedFactsOf(context: RequestContext, policy: RiskPolicy): ContextFacts | undefined {
  // Newest first (deciding and applying an event ask right after each other): back from the
  // newest, then back from the end, which holds the older entries. The built-in search, not a
  // loop: every event's first ask is a miss, which searches the whole ring.
  let found = cacheNext > 0 ? cachedContexts.lastIndexOf(context, cacheNext - 1) : -1;
  if (found < 0) found = cachedContexts.lastIndexOf(context);
  return found >= 0 && cachedPolicies[found] === policy ? cachedFacts[found] : undefined;
}

export function contextFacts(context: RequestContext, policy: RiskPolicy): ContextFacts {
  const cached = cachedFactsOf(context, policy);
  if (cached !== undefined) return cached;
  const ip = parseIp(context.ip);
  const info = policy.ipIntel.lookup(context.ip);
  const ua = policy.loginSupport.userAgents.parse(context.userAgent);
  const prefix = ip === undefined ? undefined : networkPrefixOf(ip);
  const observation: LoginObservation = {
    ip: context.ip,
    asn: info.asn === undefined ? 'unknown' : `AS${String(info.asn)}`,
    country: info.country ?? 'unknown',
    ua: ua.full,
    browser: ua.browser,
    os: ua.os,
    deviceType: ua.deviceType,
    device: deviceKeyOf(context),
  };
  const facts: ContextFacts = {
    ip,
    info,
    prefix,
    observation,
    browserFamily: ua.browserFamily,
    sourceKeys: {
      ip: failureKeys.ip(context.ip),
      prefix: prefix === undefined ? undefined : failureKeys.prefix(prefix),
      asn: info.asn === undefined ? undefined : failureKeys.asn(info.asn),
      asnSignIns: info.asn === undefined ? undefined : asnSignInKey(info.asn),
    },
    observationKeys: observationKeysOf(observation),
    found: undefined,
  };
  cachedContexts[cacheNext] = context;
  cachedPolicies[cacheNext] = policy;
  cachedFacts[cacheNext] = facts;
  cacheNext = (cacheNext + 1) % factsCacheSize;
  return facts;
}

const failureKeys = {
  ip: (ip: string) => `fail:ip:${ip}`,
  prefix: (prefix: string) => `fail:net:${prefix}`,
  asn: (asn: number) => `fail:asn:${String(asn)}`,
  account: (accountId: string) => `fail:acct:${accountId}`,
};

/** The source's failure series, and the AS's successful sign-ins they are weighed against. */
function sourceFailureKeys(facts: ContextFacts): string[] {
  const keys = [facts.sourceKeys.ip];
  if (facts.sourceKeys.prefix !== undefined) keys.push(facts.sourceKeys.prefix);
  if (facts.sourceKeys.asn !== undefined) keys.push(facts.sourceKeys.asn);
  if (facts.sourceKeys.asnSignIns !== undefined) keys.push(facts.sourceKeys.asnSignIns);
  return keys;
}

/** The series a sign-in event reads or writes (loaded before deciding). */
export function loginSeriesKeysOf(event: BulwarkEvent, policy: RiskPolicy): string[] {
  switch (event.type) {
    case 'login.failed': {
      const keys = sourceFailureKeys(contextFacts(event.context, policy));
      if (event.accountId !== undefined) keys.push(failureKeys.account(event.accountId));
      return keys;
    }
    case 'login.succeeded': {
      const facts = contextFacts(event.context, policy);
      return [
        failureKeys.account(event.accountId),
        ...sourceFailureKeys(facts),
        ...globalKeysOf(facts.observation, facts.observationKeys),
      ];
    }
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Global detectors over failures

type SourceFinding = { code: 'stuffing_source' | 'spraying_source'; detail: string } | undefined;

/** What the event being decided adds to its source's counts (read before it is recorded). */
interface SourceExtra {
  /** 1 for a failure being decided. */
  failures: number;
  /** The account (or username) it failed on. */
  account: string | undefined;
  /** 1 for a successful sign-in being decided. */
  signIns: number;
}

/**
 * Credential stuffing: many failures over many accounts from one IP, /24 (/64) or AS in a short
 * window; an AS also needs failures to be most of its sign-in attempts. Password spraying: many
 * distinct accounts from one network over a longer window, few tries each.
 */
function sourceFinding(
  series: (key: string) => ReadableSeries,
  facts: ContextFacts,
  ipText: string,
  login: LoginPolicy,
  atMs: number,
  extra: SourceExtra,
): SourceFinding {
  const s = login.stuffing;
  return (
    checkSource(
      series(facts.sourceKeys.ip),
      `ip ${ipText}`,
      s.ipFailuresMin,
      s.ipAccountsMin,
      undefined,
      series,
      s,
      atMs,
      extra,
    ) ??
    (facts.prefix === undefined
      ? undefined
      : checkSource(
          series(facts.sourceKeys.prefix ?? failureKeys.prefix(facts.prefix)),
          `network ${facts.prefix}`,
          s.prefixFailuresMin,
          s.prefixAccountsMin,
          undefined,
          series,
          s,
          atMs,
          extra,
        )) ??
    (facts.info.asn === undefined
      ? undefined
      : // A whole AS holds many shoppers: its failures count when they are most of its attempts,
        // and its spread (spraying) does not count.
        checkSource(
          series(facts.sourceKeys.asn ?? failureKeys.asn(facts.info.asn)),
          `AS${String(facts.info.asn)}`,
          s.asnFailuresMin,
          s.asnAccountsMin,
          facts.sourceKeys.asnSignIns ?? asnSignInKey(facts.info.asn),
          series,
          s,
          atMs,
          extra,
        ))
  );
}

/**
 * One source's series against its bars (a module function: no closure per event). With
 * `signInsKey` (an AS: the series of its successful sign-ins), the failures must also be at
 * least `asnFailureShareMin` of the attempts, and spraying is not judged.
 */
function checkSource(
  windowed: ReadableSeries,
  label: string,
  failuresMin: number,
  accountsMin: number,
  signInsKey: string | undefined,
  series: (key: string) => ReadableSeries,
  s: LoginPolicy['stuffing'],
  atMs: number,
  extra: SourceExtra,
): SourceFinding {
  const failures = windowed.count(atMs, s.windowMs) + extra.failures;
  // Distinct accounts are only counted when the failures alone reach the bar (most sources
  // have few failures; a busy AS's series holds thousands of labelled entries).
  if (failures >= failuresMin) {
    const newAccount =
      extra.account !== undefined && !windowed.hasLabel(atMs, s.windowMs, extra.account) ? 1 : 0;
    const accounts = windowed.distinct(atMs, s.windowMs).count + newAccount;
    if (accounts >= accountsMin) {
      if (signInsKey === undefined) {
        return {
          code: 'stuffing_source',
          detail: `${label}: ${String(failures)} failures, ${String(accounts)} accounts`,
        };
      }
      const succeeded = signInsWithin(series(signInsKey), atMs, s.windowMs) + extra.signIns;
      const share = failures / (failures + succeeded);
      if (share >= s.asnFailureShareMin) {
        return {
          code: 'stuffing_source',
          detail: `${label}: ${String(failures)} failures, ${String(accounts)} accounts, ${String(Math.floor(share * 100))} % of sign-in attempts`,
        };
      }
    }
  }
  if (signInsKey !== undefined) return undefined;
  // There are never more distinct accounts than entries (plus this one): fewer cannot reach the bar.
  const sprayBound = windowed.count(atMs, s.sprayWindowMs) + (extra.account === undefined ? 0 : 1);
  if (sprayBound < s.sprayAccountsMin) return undefined;
  const sprayNew =
    extra.account !== undefined && !windowed.hasLabel(atMs, s.sprayWindowMs, extra.account) ? 1 : 0;
  const sprayed = windowed.distinct(atMs, s.sprayWindowMs).count + sprayNew;
  if (sprayed >= s.sprayAccountsMin) {
    return { code: 'spraying_source', detail: `${label}: ${String(sprayed)} accounts` };
  }
  return undefined;
}

/** The sign-in's outcome by its score's band, with the signals that scored it. */
function banded(
  score: number,
  reasons: Reason[],
  login: LoginPolicy,
  signals: LoginSignals,
): Assessment & { signals: LoginSignals } {
  const bounded = Math.max(0, Math.min(100, Math.round(score)));
  const outcome =
    bounded >= login.bands.denyScoreMin
      ? 'deny'
      : bounded >= login.bands.challengeScoreMin
        ? 'challenge'
        : 'allow';
  return { outcome, score: bounded, reasons, signals };
}

// ---------------------------------------------------------------------------------------------
// login.failed

/**
 * A failed sign-in: the baseline bursts first (unchanged), then stuffing and spraying sources,
 * then brute force on the account (NIST SP 800-63B: throttle with a challenge from
 * `throttleFailuresMin` consecutive failures, refuse from `lockFailuresMin`).
 */
export function assessLoginFailed(
  event: Extract<BulwarkEvent, { type: 'login.failed' }>,
  view: RiskView,
  atMs: number,
  baseline: () => Assessment,
): Assessment {
  const first = baseline();
  if (first.outcome !== 'allow') return first;
  const policy = view.policy;
  const login = policy.login;
  const facts = contextFacts(event.context, policy);
  const verdict = listVerdict(policy.loginSupport.lists, facts.ip, event.context.deviceId);
  if (verdict.kind === 'denied') {
    return {
      outcome: 'deny',
      score: 100,
      reasons: [reason('operator_denied', `${verdict.what} ${verdict.entry}`)],
    };
  }
  if (verdict.kind !== 'allowed') {
    const finding = sourceFinding((key) => readSeries(view, key), facts, event.context.ip, login, atMs, {
      failures: 1,
      account: event.accountId ?? event.username,
      signIns: 0,
    });
    if (finding !== undefined)
      return { outcome: 'deny', score: 95, reasons: [reason(finding.code, finding.detail)] };
  }
  const consecutive = (view.account?.login?.consecutiveFailures ?? 0) + 1;
  if (event.accountId !== undefined && consecutive >= login.bruteForce.lockFailuresMin) {
    return { outcome: 'deny', score: 95, reasons: [reason('brute_force', String(consecutive))] };
  }
  if (event.accountId !== undefined && consecutive >= login.bruteForce.throttleFailuresMin) {
    return { outcome: 'challenge', score: 70, reasons: [reason('brute_force', String(consecutive))] };
  }
  return first;
}

// ---------------------------------------------------------------------------------------------
// login.succeeded

export interface LoginSignals {
  rba: RbaScore | undefined;
  coldStart: boolean;
}

/**
 * A sign-in. Order of checks: containment (engine), operator deny list, cold start, then the
 * scored signals: device and network novelty against the account's history, the RBA likelihood
 * ratio, impossible travel, a concurrent sign-in from elsewhere (phishing relay), a stuffing
 * source, recent failures and a missing second factor. Reasons come in that order.
 */
export function assessLoginSucceeded(
  event: Extract<BulwarkEvent, { type: 'login.succeeded' }>,
  view: RiskView,
  atMs: number,
): Assessment & { signals: LoginSignals } {
  const policy = view.policy;
  const login = policy.login;
  const account = view.account;
  const facts = contextFacts(event.context, policy);
  const verdict = listVerdict(policy.loginSupport.lists, facts.ip, event.context.deviceId);
  if (verdict.kind === 'denied') {
    return {
      outcome: 'deny',
      score: 100,
      reasons: [reason('operator_denied', `${verdict.what} ${verdict.entry}`)],
      signals: { rba: undefined, coldStart: false },
    };
  }
  const allowedSource = verdict.kind === 'allowed';
  const stuffing = allowedSource
    ? undefined
    : sourceFinding((key) => readSeries(view, key), facts, event.context.ip, login, atMs, {
        failures: 0,
        account: undefined,
        signIns: 1,
      });
  const state = account?.login;
  const deviceKey = facts.observation.device;
  const coldStart =
    account === undefined ||
    account.devices.length === 0 ||
    state === undefined ||
    state.profile.logins < login.rba.loginsMin;

  if (coldStart) {
    // Cold start: nothing of the account's own to compare with. A first sign-in is allowed and
    // teaches the profile, unless a global signal speaks (operator list, stuffing source).
    if (stuffing !== undefined) {
      return {
        outcome: 'challenge',
        score: login.points.stuffingSource + 10,
        reasons: [reason('first_seen_account'), reason(stuffing.code, stuffing.detail)],
        signals: { rba: undefined, coldStart },
      };
    }
    return {
      outcome: 'allow',
      score: 10,
      reasons: [reason('first_seen_account')],
      signals: { rba: undefined, coldStart },
    };
  }

  const p = login.points;
  const reasons: Reason[] = [];
  let score = 0;
  const fromMs = atMs - login.rba.historyMs;
  const device = deviceOf(account, deviceKey);
  const knownTrusted = device !== undefined && device.trusted;
  const networkFactor = knownTrusted || allowedSource ? p.knownDeviceNetworkFactor : 1;
  if (device === undefined) {
    score += p.newDevice;
    reasons.push(reason('new_device'));
  }
  if (!usedNetwork(account, event.context.ip)) {
    score += p.newNetwork * networkFactor;
    reasons.push(reason('new_network', event.context.ip));
  }
  const newAsn =
    facts.info.asn !== undefined && !hasSeen(state.profile, 'asn', facts.observation.asn, fromMs);
  if (newAsn) {
    score += p.newAsn * networkFactor;
    reasons.push(reason('new_asn', facts.observation.asn));
  }
  const previousCountry = state.recent.at(-1)?.country;
  if (facts.info.country !== undefined && !hasSeen(state.profile, 'country', facts.info.country, fromMs)) {
    score += p.newCountry * networkFactor;
    reasons.push(
      reason(
        'new_country',
        previousCountry === undefined ? facts.info.country : `${previousCountry}→${facts.info.country}`,
      ),
    );
  }
  if (newAsn && facts.info.kind === 'hosting' && !allowedSource) {
    score += p.hostingNetwork;
    reasons.push(reason('hosting_network', facts.observation.asn));
  }
  const frequencies = seriesFrequencies(
    (key) => readRemembered(view, facts, key),
    facts.observation,
    facts.observationKeys,
  );
  const rba = rbaScore(state.profile, facts.observation, frequencies, login, atMs);
  const globalKnown = frequencies.total(atMs) >= login.rba.globalLoginsMin;
  const rbaPoints = globalKnown
    ? Math.min(login.rba.pointsMax, Math.max(0, rba.total * login.rba.pointsPerDecade))
    : 0;
  if (rbaPoints >= 1) {
    score += rbaPoints;
    reasons.push(reason('unusual_for_account', rba.total.toFixed(1)));
  }
  const last = state.recent.at(-1);
  if (last !== undefined) {
    const travel = judgeTravel(
      last,
      {
        atMs,
        ...(facts.info.country === undefined ? {} : { country: facts.info.country }),
        ...(facts.info.kind === undefined ? {} : { kind: facts.info.kind }),
      },
      login.travel,
    );
    if (travel.kind === 'impossible') {
      score += travel.jumpy ? p.impossibleTravel / 3 : p.impossibleTravel;
      reasons.push(
        reason(
          'impossible_travel',
          `${last.country ?? '?'}→${facts.info.country ?? '?'} ${String(travel.distanceKm)} km at ${String(travel.speedKmPerHour)} km/h${travel.jumpy ? ' (mobile or VPN network)' : ''}`,
        ),
      );
    }
  }
  // A phishing relay signs in right after the victim, from its own network and without the
  // victim's device cookie.
  const concurrent = state.recent.find(
    (r) =>
      Math.abs(atMs - r.atMs) <= login.concurrency.windowMs &&
      r.deviceKey !== deviceKey &&
      (r.asn === undefined || facts.info.asn === undefined
        ? r.ip !== event.context.ip
        : r.asn !== facts.info.asn),
  );
  if (concurrent !== undefined && device === undefined) {
    score += p.concurrentLogin;
    reasons.push(
      reason('concurrent_login', `${String(Math.round(Math.abs(atMs - concurrent.atMs) / 1000))} s`),
    );
  }
  if (stuffing !== undefined) {
    score += p.stuffingSource;
    reasons.push(reason(stuffing.code, stuffing.detail));
  }
  const failures = readSeries(view, failureKeys.account(event.accountId)).stats(atMs, hourMs);
  if (failures.count >= login.bruteForce.recentFailuresPerHourMin) {
    score += p.recentFailures;
    reasons.push(reason('recent_login_failures', String(failures.count)));
  }
  if (device === undefined && (event.secondFactor === undefined || event.secondFactor === 'none')) {
    score += p.noSecondFactor;
    reasons.push(reason('no_second_factor'));
  }
  return banded(score, reasons, login, { rba, coldStart });
}

// ---------------------------------------------------------------------------------------------
// Session protection

export const sensitiveFields: readonly string[] = [
  'email',
  'phone',
  'password',
  'mfa',
  'payment_method',
  'address',
];
const sensitiveActionSet: ReadonlySet<string> = new Set(sensitiveActions);

type ContextChange = { what: 'device' | 'country' | 'asn'; detail: string; strong: boolean } | undefined;

/** How the request differs from the context its session was issued in, worst first. */
function contextChange(
  binding: SessionBinding,
  context: RequestContext,
  facts: ContextFacts,
  state: LoginState,
  atMs: number,
  login: LoginPolicy,
): ContextChange {
  const otherDevice =
    binding.deviceId !== undefined && context.deviceId !== undefined
      ? binding.deviceId !== context.deviceId
      : binding.uaFull !== facts.observation.ua && binding.browserFamily !== facts.browserFamily;
  if (otherDevice) return { what: 'device', detail: 'device', strong: true };
  if (
    binding.country !== undefined &&
    facts.info.country !== undefined &&
    binding.country !== facts.info.country
  ) {
    // A phone's or a VPN's address may jump countries; the owner's own countries are plausible.
    const jumpy = facts.info.kind === 'mobile' || facts.info.kind === 'hosting' || binding.kind === 'mobile';
    const own = hasSeen(state.profile, 'country', facts.info.country, atMs - login.rba.historyMs);
    return {
      what: 'country',
      detail: `country ${binding.country}→${facts.info.country}`,
      strong: !jumpy && !own,
    };
  }
  if (binding.asn !== undefined && facts.info.asn !== undefined && binding.asn !== facts.info.asn) {
    // Home Wi-Fi to the owner's mobile carrier is ordinary; an AS the account never used is not,
    // unless the same device id moved to a mobile carrier (a phone leaving Wi-Fi).
    if (hasSeen(state.profile, 'asn', facts.observation.asn, atMs - login.rba.historyMs)) return undefined;
    const sameDevice = binding.deviceId !== undefined && binding.deviceId === context.deviceId;
    if (sameDevice && facts.info.kind === 'mobile') return undefined;
    return { what: 'asn', detail: `AS${String(binding.asn)}→AS${String(facts.info.asn)}`, strong: false };
  }
  return undefined;
}

function bindingFor(
  state: LoginState | undefined,
  sessionId: string | undefined,
): SessionBinding | undefined {
  if (state === undefined) return undefined;
  if (sessionId !== undefined) return state.bindings.find((b) => b.sessionId === sessionId);
  return undefined;
}

/**
 * `session.activity` and `account.updated`: a revoked session is refused; a session used from
 * another device, country or AS than it was issued in is stolen-session evidence (deny when
 * strong, else challenge; either way the session is revoked); a sensitive action on a risky
 * session needs a strong step-up no older than `stepUpFreshMs`.
 */
export function assessSessionUse(
  event: Extract<BulwarkEvent, { type: 'session.activity' | 'account.updated' }>,
  view: RiskView,
  atMs: number,
): Assessment {
  const account = view.account;
  const risk = account?.risk ?? 0;
  const state = account?.login;
  const binding = bindingFor(state, event.context.sessionId);
  const sensitive =
    event.type === 'account.updated'
      ? sensitiveFields.includes(event.field)
      : sensitiveActionSet.has(event.action);
  if (state === undefined || binding === undefined) {
    // An unknown session (the store did not report its sign-in): judged by the account's risk.
    if (sensitive && state !== undefined && risk >= view.policy.login.session.riskyScoreMin) {
      return { outcome: 'challenge', score: risk, reasons: [reason('step_up_required', 'unknown session')] };
    }
    return { outcome: 'allow', score: risk, reasons: [] };
  }
  if (binding.revokedAtMs !== undefined && binding.revokedAtMs <= atMs) {
    return { outcome: 'deny', score: 100, reasons: [reason('session_revoked', binding.revokedReason)] };
  }
  const login = view.policy.login;
  const facts = contextFacts(event.context, view.policy);
  const change = contextChange(binding, event.context, facts, state, atMs, login);
  if (change !== undefined) {
    return change.strong
      ? { outcome: 'deny', score: 95, reasons: [reason('session_context_changed', change.detail)] }
      : { outcome: 'challenge', score: 75, reasons: [reason('session_context_changed', change.detail)] };
  }
  if (sensitive && binding.risk >= login.session.riskyScoreMin) {
    const fresh =
      binding.strongAtMs !== undefined && atMs - binding.strongAtMs <= login.session.stepUpFreshMs;
    if (!fresh) {
      return {
        outcome: 'challenge',
        score: Math.max(binding.risk, login.bands.challengeScoreMin),
        reasons: [reason('step_up_required', event.type === 'account.updated' ? event.field : event.action)],
      };
    }
  }
  return { outcome: 'allow', score: risk, reasons: [] };
}

// ---------------------------------------------------------------------------------------------
// Recording and learning

/** Writes what sign-in events feed into series; answers the keys changed. */
export function recordLoginSeries(
  event: BulwarkEvent,
  decision: Decision,
  view: RiskView,
  atMs: number,
): string[] {
  switch (event.type) {
    case 'login.failed': {
      const facts = contextFacts(event.context, view.policy);
      const label = event.accountId ?? event.username;
      const changed: string[] = [];
      // fail:ip is the baseline's; the network and AS series are login risk's.
      if (facts.sourceKeys.prefix !== undefined) changed.push(facts.sourceKeys.prefix);
      if (facts.sourceKeys.asn !== undefined) changed.push(facts.sourceKeys.asn);
      for (const key of changed) view.series(key).record(atMs, 1, label);
      return changed;
    }
    case 'login.succeeded': {
      const facts = contextFacts(event.context, view.policy);
      // What scoring found serves this one apply only: afterwards the hot state may be reset or
      // trimmed (a rebuild applies logged events again, maybe these very objects).
      const found = facts.found;
      facts.found = undefined;
      // Every sign-in with the right credentials counts for its AS, denied or not: a stuffing
      // network's share of failures must not grow because its hits were refused.
      const signIns = facts.sourceKeys.asnSignIns;
      if (signIns !== undefined) countSignIn(view.series(signIns), atMs);
      if (decision.decision === 'deny') return signIns === undefined ? [] : [signIns];
      const changed = recordGlobal(
        (key) => writableRemembered(view, found, key),
        facts.observation,
        atMs,
        facts.observationKeys,
      );
      if (signIns !== undefined) changed.push(signIns);
      return changed;
    }
    default:
      return [];
  }
}

/** Reads a series for scoring, remembering it in the facts when the hot state holds it. */
function readRemembered(view: RiskView, facts: ContextFacts, key: string): ReadableSeries {
  const held = view.peek === undefined ? view.series(key) : view.peek(key);
  if (held === undefined) return readSeries(view, key);
  if (facts.found?.owner !== view.series)
    // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to compare identity, never called
    facts.found = { owner: view.series, keys: [], series: [] };
  facts.found.keys.push(key);
  facts.found.series.push(held);
  return held;
}

/**
 * The series under `key` to record into: the one remembered while scoring when it came from
 * this same hot state (nothing is evicted between deciding an event and applying it), else
 * looked up (and made when missing).
 */
function writableRemembered(view: RiskView, found: FoundSeries | undefined, key: string): WindowSeries {
  if (found !== undefined && found.owner === view.series) {
    const index = found.keys.indexOf(key);
    const held = index < 0 ? undefined : found.series[index];
    if (held !== undefined) return held;
  }
  return view.series(key);
}

// Plain loops rather than `find` with a closure: these run on every sign-in.

function deviceOf(account: AccountState, deviceKey: string): AccountState['devices'][number] | undefined {
  for (const device of account.devices) if (device.key === deviceKey) return device;
  return undefined;
}

function usedNetwork(account: AccountState, ip: string): boolean {
  for (const network of account.networks) if (network.ip === ip) return true;
  return false;
}

function indexOfSession(bindings: readonly SessionBinding[], sessionId: string): number {
  for (let i = 0; i < bindings.length; i += 1) if (bindings[i]?.sessionId === sessionId) return i;
  return -1;
}

/** Adds or replaces the binding of `binding.sessionId`; the least recently used goes beyond the bound. */
function bindInPlace(state: LoginState, binding: SessionBinding): void {
  const bindings = state.bindings;
  if (bindings.length === 0) {
    // A list of one (pushing onto an empty list reserves room for seventeen).
    state.bindings = [binding];
    return;
  }
  const index = indexOfSession(bindings, binding.sessionId);
  if (index >= 0) bindings.splice(index, 1);
  bindings.push(binding);
  if (bindings.length > loginStateLimits.bindingsMax) {
    let oldest = 0;
    for (let i = 1; i < bindings.length; i += 1) {
      if ((bindings[i]?.lastSeenAtMs ?? 0) < (bindings[oldest]?.lastSeenAtMs ?? 0)) oldest = i;
    }
    bindings.splice(oldest, 1);
  }
}

/** Replaces the binding of `sessionId` by `change(binding)` (bindings themselves are never changed). */
function replaceBinding(
  bindings: SessionBinding[],
  sessionId: string,
  change: (b: SessionBinding) => SessionBinding,
): void {
  const index = indexOfSession(bindings, sessionId);
  const binding = bindings[index];
  if (binding !== undefined) bindings[index] = change(binding);
}

/** Appends `pending`, keeping the newest `pendingMax`. */
function addPending(state: LoginState, pending: PendingLoginChallenge): void {
  state.pending.push(pending);
  if (state.pending.length > loginStateLimits.pendingMax)
    state.pending.splice(0, state.pending.length - loginStateLimits.pendingMax);
}

/** Adds a sign-in to the recent ones: in time order, within the history, the newest `recentMax`. */
function addRecent(state: LoginState, entry: RecentLogin, fromMs: number): void {
  const recent = state.recent;
  if (recent.length === 0) {
    state.recent = [entry];
    return;
  }
  let write = 0;
  for (const r of recent) {
    if (r.atMs < fromMs) continue;
    recent[write] = r;
    write += 1;
  }
  recent.length = write;
  // Sign-ins nearly always come in time order: an append keeps the list sorted.
  let at = recent.length;
  while (at > 0 && (recent[at - 1] as RecentLogin).atMs > entry.atMs) at -= 1;
  if (at === recent.length) recent.push(entry);
  else recent.splice(at, 0, entry);
  if (recent.length > loginStateLimits.recentMax)
    recent.splice(0, recent.length - loginStateLimits.recentMax);
}

/**
 * Teaches the account's login state what a decided event means. Runs after the baseline
 * `evolveAccount` (it reads the state that produced), so rebuilding from the log gives the same
 * state as live processing.
 *
 * Unlike the rest of the account state, the login state is changed in place: its lists (profile
 * values, recent sign-ins, bindings, pending challenges) and the state object itself. Copying
 * them on every sign-in made most of what the garbage collector had to move. The entries of the
 * lists are never changed, only replaced, so `copyLoginState` (a copy of the lists) is a stable
 * snapshot: whoever keeps a login state beyond the event (a checkpoint) keeps such a copy.
 */
export function evolveLogin(
  account: AccountState | undefined,
  event: BulwarkEvent,
  decision: Decision,
  atMs: number,
  policy: RiskPolicy,
): AccountState | undefined {
  if (account === undefined) return account;
  const state = account.login ?? emptyLoginState();
  const next = account.login === state ? account : { ...account, login: state };
  switch (event.type) {
    case 'login.failed': {
      if (event.accountId === undefined) return account;
      state.consecutiveFailures += 1;
      return next;
    }
    case 'login.succeeded': {
      if (decision.decision === 'deny') return account;
      const facts = contextFacts(event.context, policy);
      const info = facts.info;
      // Optional fields are assigned in the order a spread would add them (the stored JSON keeps
      // its key order), without a temporary object per field.
      const entry: RecentLogin = { atMs, ip: event.context.ip, deviceKey: facts.observation.device };
      if (info.country !== undefined) entry.country = info.country;
      if (info.asn !== undefined) entry.asn = info.asn;
      if (info.kind !== undefined) entry.kind = info.kind;
      addRecent(state, entry, atMs - policy.login.rba.historyMs);
      learnInPlace(state.profile, facts.observation, policy.login, atMs);
      state.consecutiveFailures = 0;
      const challenged = decision.decision === 'challenge';
      if (event.context.sessionId !== undefined) {
        const binding: SessionBinding = {
          sessionId: event.context.sessionId,
          issuedAtMs: atMs,
          lastSeenAtMs: atMs,
          deviceKey: facts.observation.device,
          uaFull: facts.observation.ua,
          browserFamily: facts.browserFamily,
          risk: decision.score,
        };
        if (event.context.deviceId !== undefined) binding.deviceId = event.context.deviceId;
        if (info.country !== undefined) binding.country = info.country;
        if (info.asn !== undefined) binding.asn = info.asn;
        if (info.kind !== undefined) binding.kind = info.kind;
        // A challenge is taken as passed until a completion says otherwise (contract §4).
        if (challenged) binding.strongAtMs = atMs;
        bindInPlace(state, binding);
      }
      if (challenged && decision.challenge !== undefined) {
        const pending: PendingLoginChallenge = {
          challengeId: decision.challenge.id,
          atMs,
          observation: facts.observation,
        };
        if (event.context.sessionId !== undefined) pending.sessionId = event.context.sessionId;
        addPending(state, pending);
      }
      return next;
    }
    case 'challenge.completed': {
      const index =
        event.challengeId === undefined
          ? state.pending.length - 1
          : state.pending.findIndex((p) => p.challengeId === event.challengeId);
      const pending = state.pending[index];
      if (pending === undefined) return account;
      state.pending.splice(index, 1);
      if (event.result === 'failed') {
        if (pending.observation !== undefined) {
          const taken = pending.observation;
          state.profile = unlearn(state.profile, taken);
          const kept = state.recent.filter((r) => r.atMs !== pending.atMs || r.deviceKey !== taken.device);
          state.recent.splice(0, state.recent.length, ...kept);
        }
        if (pending.sessionId !== undefined) {
          replaceBinding(state.bindings, pending.sessionId, (b) => ({
            ...b,
            revokedAtMs: atMs,
            revokedReason: 'challenge failed',
          }));
        }
      } else if (pending.sessionId !== undefined) {
        replaceBinding(state.bindings, pending.sessionId, (b) => ({ ...b, strongAtMs: atMs }));
      }
      return next;
    }
    case 'session.activity':
    case 'account.updated': {
      const sessionId = event.context.sessionId;
      if (sessionId === undefined || !state.bindings.some((b) => b.sessionId === sessionId)) return account;
      const changed = decision.reasons.find((r) => r.code === 'session_context_changed');
      replaceBinding(state.bindings, sessionId, (b) => ({
        ...b,
        lastSeenAtMs: Math.max(b.lastSeenAtMs, atMs),
        ...(changed !== undefined && b.revokedAtMs === undefined
          ? { revokedAtMs: atMs, revokedReason: changed.detail ?? 'context changed' }
          : {}),
        // A step-up answered on the session is taken as passed until told otherwise.
        ...(decision.decision === 'challenge' && changed === undefined ? { strongAtMs: atMs } : {}),
      }));
      if (decision.decision === 'challenge' && decision.challenge !== undefined && changed === undefined) {
        addPending(state, { challengeId: decision.challenge.id, atMs, sessionId });
      }
      return next;
    }
    default:
      return account;
  }
}
