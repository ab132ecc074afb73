import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { readOperatorLists } from '../src/adapters/login/operator-lists.ts';
import { ConfigError } from '../src/config/config.ts';
import { seriesLimitsOf } from '../src/risk/domain/engine.ts';
import { defaultLoginPolicy } from '../src/risk/domain/login/policy.ts';
import {
  asnSignInBucketMs,
  asnSignInKey,
  asnSignInLimits,
  countSignIn,
  signInsWithin,
} from '../src/risk/domain/login/sign-ins.ts';
import { judgeTravel } from '../src/risk/domain/login/travel.ts';
import { WindowSeries } from '../src/risk/domain/velocity.ts';
import { propertyParams } from './helpers/fast-check.ts';
import {
  agents,
  dayMs,
  failedEvent,
  hourMs,
  loginEvent,
  minuteMs,
  testPolicy,
  type Ctx,
} from './helpers/login.ts';
import { codes, LoginDriver } from './helpers/login-driver.ts';

const home: Ctx = { ip: '20.1.1.1', userAgent: agents.macChrome, deviceId: 'dev-home' };
const phone: Ctx = { ip: '50.7.7.7', userAgent: agents.iphone, deviceId: 'dev-phone' };

/** An account with three ordinary sign-ins from home over three days, the last at -1 day. */
function withHistory(driver: LoginDriver, accountId = 'acct-1'): void {
  for (let day = 3; day >= 1; day -= 1) {
    const decision = driver.send(loginEvent(`h-${accountId}-${String(day)}`, -day * dayMs, accountId, home));
    assert.notEqual(decision.decision, 'deny');
  }
}

interface SignInCase {
  name: string;
  /** Extra events after the history. */
  before?: Record<string, unknown>[];
  login: Record<string, unknown>;
  decision: 'allow' | 'challenge' | 'deny';
  /** These codes, in this order, are among the reasons (others may sit between them). */
  includes?: string[];
  excludes?: string[];
}

const signIns: SignInCase[] = [
  {
    name: 'the usual device and network: allowed without reasons',
    login: loginEvent('l', 0, 'acct-1', home),
    decision: 'allow',
    includes: [],
  },
  {
    name: 'targeted: a new device on another ISP in the same country, same browser family',
    login: loginEvent('l', 0, 'acct-1', { ip: '21.4.4.4', userAgent: agents.winChrome, deviceId: 'dev-x' }),
    decision: 'challenge',
    includes: ['new_device', 'new_network', 'new_asn'],
    excludes: ['new_country'],
  },
  {
    name: "targeted on the victim's own ISP: a new device and address are still challenged",
    login: loginEvent('l', 0, 'acct-1', { ip: '20.9.9.9', userAgent: agents.macChrome, deviceId: 'dev-x' }),
    decision: 'challenge',
    includes: ['new_device', 'new_network'],
    excludes: ['new_asn'],
  },
  {
    name: "phishing relay: seconds after the victim, from a datacenter, with the victim's user agent",
    before: [loginEvent('victim', -30_000, 'acct-1', home)],
    login: loginEvent('l', 0, 'acct-1', { ip: '30.3.3.3', userAgent: agents.macChrome }),
    decision: 'deny',
    includes: ['new_device', 'new_network', 'new_asn', 'hosting_network', 'concurrent_login'],
  },
  {
    name: 'naive: another country minutes after a sign-in at home is impossible travel',
    before: [loginEvent('victim', -20 * minuteMs, 'acct-1', home)],
    login: loginEvent(
      'l',
      0,
      'acct-1',
      { ip: '60.1.1.1', userAgent: agents.firefox, deviceId: 'dev-x' },
      'none',
    ),
    decision: 'deny',
    includes: [
      'new_device',
      'new_network',
      'new_asn',
      'new_country',
      'impossible_travel',
      'no_second_factor',
    ],
  },
  {
    name: "a trip: the owner's trusted device abroad two days later is allowed",
    login: loginEvent('l', 2 * dayMs, 'acct-1', { ...home, ip: '40.2.2.2' }),
    decision: 'allow',
    includes: ['new_network', 'new_asn', 'new_country'],
    excludes: ['impossible_travel'],
  },
  {
    name: 'a phone on its carrier: a known device and a new address of a mobile network is allowed',
    before: [loginEvent('p1', -2 * hourMs, 'acct-1', phone)],
    login: loginEvent('l', 0, 'acct-1', { ...phone, ip: '50.8.8.8' }),
    decision: 'allow',
    excludes: ['new_device', 'new_asn'],
  },
  {
    name: 'a jump through a mobile network is reported but weighs less',
    before: [loginEvent('p1', -10 * minuteMs, 'acct-1', phone)],
    login: loginEvent('l', 0, 'acct-1', { ...phone, ip: '40.2.2.2' }),
    decision: 'allow',
    includes: ['impossible_travel'],
  },
  {
    name: 'a new phone at home (known address): allowed',
    login: loginEvent('l', 0, 'acct-1', { ip: home.ip, userAgent: agents.iphone, deviceId: 'dev-new-phone' }),
    decision: 'allow',
    includes: ['new_device'],
  },
  {
    name: 'an unparseable user agent decides like any other unusual one',
    login: loginEvent('l', 0, 'acct-1', {
      ip: '21.4.4.4',
      userAgent: '%%%(((\u00ff garbage ;;; ]]]',
      deviceId: 'dev-x',
    }),
    decision: 'challenge',
    includes: ['new_device'],
  },
  {
    name: 'an empty user agent without a device id is a new device',
    login: loginEvent('l', 0, 'acct-1', { ip: home.ip, userAgent: '' }),
    decision: 'allow',
    includes: ['new_device'],
  },
  {
    name: 'a private address has no AS or country: only the address is new',
    login: loginEvent('l', 0, 'acct-1', { ...home, ip: '10.0.0.5' }),
    decision: 'allow',
    includes: ['new_network'],
    excludes: ['new_asn', 'new_country'],
  },
  {
    name: 'clock skew: a sign-in dated before the last one still decides (travel counts it as simultaneous)',
    before: [loginEvent('victim', 0, 'acct-1', home)],
    login: loginEvent('l', -5 * minuteMs, 'acct-1', {
      ip: '60.1.1.1',
      userAgent: agents.firefox,
      deviceId: 'dev-x',
    }),
    decision: 'deny',
    includes: ['impossible_travel'],
  },
  {
    name: 'a sign-in from the future is decided on its own clock',
    login: loginEvent('l', 400 * dayMs, 'acct-1', home),
    decision: 'allow',
  },
];

describe('sign-in detectors (table)', () => {
  for (const c of signIns) {
    test(c.name, () => {
      const driver = new LoginDriver(testPolicy());
      withHistory(driver);
      for (const event of c.before ?? []) driver.send(event);
      const decision = driver.send(c.login);
      const got = codes(decision);
      assert.equal(decision.decision, c.decision, `${c.name}: ${JSON.stringify(decision.reasons)}`);
      if (c.includes !== undefined) {
        if (c.includes.length === 0) assert.deepEqual(got, []);
        let from = 0;
        for (const code of c.includes) {
          const index = got.indexOf(code, from);
          assert.ok(index >= 0, `${code} in order among ${got.join(',')}`);
          from = index + 1;
        }
      }
      for (const code of c.excludes ?? [])
        assert.ok(!got.includes(code), `${code} not among ${got.join(',')}`);
      if (decision.decision === 'challenge') assert.ok((decision.challenge?.methods.length ?? 0) > 0);
    });
  }

  test('cold start: a first sign-in is allowed, even from a datacenter, and teaches the profile', () => {
    const driver = new LoginDriver(testPolicy());
    const first = driver.send(
      loginEvent('l1', 0, 'fresh', { ip: '30.1.1.1', userAgent: agents.firefox, deviceId: 'd' }),
    );
    assert.equal(first.decision, 'allow');
    assert.deepEqual(codes(first), ['first_seen_account']);
    assert.equal(driver.account('fresh')?.login?.profile.logins, 1);
  });

  test('the operator deny list refuses a network or a device; the allow list softens network novelty', () => {
    const lists = {
      networksDenied: ['60.0.0.0/8'],
      networksAllowed: ['21.4.0.0/16'],
      devicesDenied: ['dev-bad'],
      devicesAllowed: [],
    };
    const driver = new LoginDriver(testPolicy(undefined, lists));
    withHistory(driver);
    const denied = driver.send(loginEvent('l1', 0, 'acct-1', { ...home, ip: '60.2.3.4' }));
    assert.equal(denied.decision, 'deny');
    assert.deepEqual(denied.reasons, [{ code: 'operator_denied', detail: 'network 60.0.0.0/8' }]);
    const device = driver.send(loginEvent('l2', minuteMs, 'acct-1', { ...home, deviceId: 'dev-bad' }));
    assert.deepEqual(device.reasons, [{ code: 'operator_denied', detail: 'device dev-bad' }]);
    const office = driver.send(loginEvent('l3', 2 * minuteMs, 'acct-1', { ...home, ip: '21.4.9.9' }));
    assert.equal(office.decision, 'allow');
    assert.match(driver.policy.version, /\+login:login-2-lists\.[0-9a-f]{8}\+ip:/);
  });

  test('a bad operator list entry is refused when the policy is built', () => {
    assert.throws(
      () =>
        testPolicy(undefined, {
          networksDenied: ['not-a-network'],
          networksAllowed: [],
          devicesDenied: [],
          devicesAllowed: [],
        }),
      /not an IP network/,
    );
  });
});

describe('credential stuffing, spraying and brute force (injected time)', () => {
  interface FailureCase {
    name: string;
    /** The i-th failure (0-based). */
    failure: (i: number) => Record<string, unknown>;
    count: number;
    /** The first failure denied, and its reason. */
    firstDenied: number;
    code: string;
    detail: RegExp;
  }
  const cases: FailureCase[] = [
    {
      name: 'one IP: 10 failures over 5 accounts in 10 minutes',
      failure: (i) =>
        failedEvent(
          `f${String(i)}`,
          i * 20_000,
          { ip: '40.0.0.9', userAgent: 'bot' },
          { username: `u${String(i)}` },
        ),
      count: 12,
      firstDenied: 9,
      code: 'stuffing_source',
      detail: /^ip 40\.0\.0\.9: 10 failures, 10 accounts$/,
    },
    {
      name: 'one /24 with rotating addresses: 20 failures over 10 accounts',
      failure: (i) =>
        failedEvent(
          `f${String(i)}`,
          i * 10_000,
          { ip: `40.0.0.${String(i + 1)}`, userAgent: 'bot' },
          { username: `u${String(i)}` },
        ),
      count: 22,
      firstDenied: 19,
      code: 'stuffing_source',
      detail: /^network 40\.0\.0\.0\/24: 20 failures/,
    },
    {
      name: 'one IPv6 /64 with rotating addresses',
      failure: (i) =>
        failedEvent(
          `f${String(i)}`,
          i * 10_000,
          { ip: `2400:1:2:3::${(i + 1).toString(16)}`, userAgent: 'bot' },
          { username: `u${String(i)}` },
        ),
      count: 21,
      firstDenied: 19,
      code: 'stuffing_source',
      detail: /^network 2400:1:2:3::\/64: 20 failures/,
    },
    {
      name: 'one AS with rotating networks: 200 failures over 100 accounts',
      failure: (i) =>
        failedEvent(
          `f${String(i)}`,
          i * 2_000,
          { ip: `21.${String(i % 250)}.${String(Math.floor(i / 250))}.1`, userAgent: 'bot' },
          { username: `u${String(i % 150)}` },
        ),
      count: 201,
      firstDenied: 199,
      code: 'stuffing_source',
      detail: /^AS64505: 200 failures, 150 accounts, 100 % of sign-in attempts$/,
    },
    {
      name: 'spraying: 20 accounts from one IP within an hour, a few minutes apart',
      failure: (i) =>
        failedEvent(
          `f${String(i)}`,
          i * 3 * minuteMs,
          { ip: '40.0.0.9', userAgent: 'bot' },
          { username: `u${String(i)}` },
        ),
      count: 21,
      firstDenied: 19,
      code: 'spraying_source',
      detail: /^ip 40\.0\.0\.9: 20 accounts$/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const driver = new LoginDriver(testPolicy());
      for (let i = 0; i < c.count; i += 1) {
        const decision = driver.send(c.failure(i));
        if (i < c.firstDenied) {
          assert.equal(
            decision.decision,
            'allow',
            `failure ${String(i)}: ${JSON.stringify(decision.reasons)}`,
          );
        } else {
          assert.equal(decision.decision, 'deny', `failure ${String(i)}`);
          const [first] = decision.reasons;
          assert.ok(first !== undefined);
          assert.equal(first.code, c.code);
          if (i === c.firstDenied) assert.match(first.detail ?? '', c.detail);
        }
      }
    });
  }

  test("a stuffing source's successful sign-in is challenged even on a fresh account", () => {
    const driver = new LoginDriver(testPolicy());
    for (let i = 0; i < 12; i += 1) {
      driver.send(
        failedEvent(
          `f${String(i)}`,
          i * 10_000,
          { ip: '40.0.0.9', userAgent: 'bot' },
          { username: `u${String(i)}` },
        ),
      );
    }
    const hit = driver.send(
      loginEvent('hit', 130_000, 'reused', { ip: '40.0.0.9', userAgent: 'bot', deviceId: 'b' }, 'none'),
    );
    assert.equal(hit.decision, 'challenge');
    assert.deepEqual(codes(hit), ['first_seen_account', 'stuffing_source']);
  });

  test('brute force on one account: throttled (challenge) from the 10th consecutive failure, refused from the 100th', () => {
    const driver = new LoginDriver(testPolicy());
    withHistory(driver);
    // Two minutes apart: never the 10-in-10-minutes burst, always consecutive.
    for (let i = 1; i <= 101; i += 1) {
      const decision = driver.send(
        failedEvent(`f${String(i)}`, i * 2 * minuteMs, home, { accountId: 'acct-1' }),
      );
      const expected = i < 10 ? 'allow' : i < 100 ? 'challenge' : 'deny';
      assert.equal(decision.decision, expected, `failure ${String(i)}`);
      if (i >= 10) assert.deepEqual(decision.reasons, [{ code: 'brute_force', detail: String(i) }]);
    }
    assert.equal(driver.account('acct-1')?.login?.consecutiveFailures, 101);
    driver.send(loginEvent('ok', 300 * minuteMs, 'acct-1', home));
    assert.equal(driver.account('acct-1')?.login?.consecutiveFailures, 0);
  });

  test('property: the consecutive-failure counter is the number of failures since the last accepted sign-in', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('fail', 'login'), { minLength: 1, maxLength: 60 }), (steps) => {
        const driver = new LoginDriver(testPolicy());
        withHistory(driver);
        let expected = 0;
        steps.forEach((step, i) => {
          // Far apart: no burst or stuffing window is reached, only the counter matters.
          const offsetMs = (i + 1) * 20 * minuteMs;
          if (step === 'fail') {
            driver.send(failedEvent(`f${String(i)}`, offsetMs, home, { accountId: 'acct-1' }));
            expected += 1;
          } else {
            const decision = driver.send(loginEvent(`l${String(i)}`, offsetMs, 'acct-1', home));
            if (decision.decision !== 'deny') expected = 0;
          }
          assert.equal(driver.account('acct-1')?.login?.consecutiveFailures ?? 0, expected);
        });
      }),
      propertyParams(60),
    );
  });

  /** A failure from AS64505 whose address, /24 and username stay below every other bar. */
  const asFailure = (
    id: string,
    offsetMs: number,
    i: number,
    username = `u${String(i)}`,
  ): Record<string, unknown> =>
    failedEvent(
      id,
      offsetMs,
      { ip: `21.${String(i % 250)}.${String(Math.floor(i / 250) % 250)}.1`, userAgent: 'bot' },
      { username },
    );
  /** A first sign-in of a fresh account from AS64505 (allowed as a cold start, unless a source speaks). */
  const asSignIn = (id: string, offsetMs: number, i: number): Record<string, unknown> =>
    loginEvent(id, offsetMs, `shopper-${String(i)}`, {
      ip: `21.200.${String(i % 250)}.${String(2 + (Math.floor(i / 250) % 250))}`,
      userAgent: agents.iphone,
      deviceId: `d-${String(i)}`,
    });

  test('a busy AS whose failures are a minority of its sign-in attempts is not a stuffing source', () => {
    const driver = new LoginDriver(testPolicy());
    // Ten minutes of a large ISP at a busy store: two successful sign-ins to each failure,
    // 400 failures over 400 usernames, far over the AS's 200-failure and 100-account bars.
    for (let i = 0; i < 400; i += 1) {
      for (const k of [0, 1]) {
        const signIn = driver.send(asSignIn(`ok${String(i)}-${String(k)}`, i * 1_500 + k, 2 * i + k));
        assert.equal(signIn.decision, 'allow', `sign-in ${String(i)}: ${JSON.stringify(signIn.reasons)}`);
      }
      const failure = driver.send(asFailure(`f${String(i)}`, i * 1_500 + 2, i));
      assert.equal(failure.decision, 'allow', `failure ${String(i)}: ${JSON.stringify(failure.reasons)}`);
    }
  });

  test('an AS becomes a stuffing source when its failures reach half of its attempts, and its sign-ins are challenged', () => {
    const driver = new LoginDriver(testPolicy());
    // 300 successful sign-ins in the first five minutes, then failures a second apart: the
    // 200-failure bar is reached first, the share of 50 % only at the 300th failure.
    for (let i = 0; i < 300; i += 1) driver.send(asSignIn(`ok${String(i)}`, i * 1_000, i));
    for (let i = 0; i < 300; i += 1) {
      const decision = driver.send(asFailure(`f${String(i)}`, 300_000 + i * 1_000, i));
      if (i < 299) {
        assert.equal(decision.decision, 'allow', `failure ${String(i)}: ${JSON.stringify(decision.reasons)}`);
      } else {
        assert.equal(decision.decision, 'deny');
        assert.deepEqual(decision.reasons, [
          {
            code: 'stuffing_source',
            detail: 'AS64505: 300 failures, 300 accounts, 50 % of sign-in attempts',
          },
        ]);
      }
    }
    // A fresh account's sign-in from the AS now: 300 failures against 301 sign-ins with this one.
    const below = driver.send(asSignIn('hit-0', 600_000, 1000));
    assert.equal(below.decision, 'allow', JSON.stringify(below.reasons));
    driver.send(asFailure('f300', 600_001, 300));
    driver.send(asFailure('f301', 600_002, 301));
    // 302 failures, 301 sign-ins before this one and this one: 302 / 604 = 50 %.
    const hit = driver.send(asSignIn('hit-1', 600_003, 1001));
    assert.equal(hit.decision, 'challenge');
    assert.deepEqual(codes(hit), ['first_seen_account', 'stuffing_source']);
  });

  test('an AS source fades as its failures leave the window, and denied sign-ins still count as sign-ins', () => {
    const driver = new LoginDriver(testPolicy());
    for (let i = 0; i < 250; i += 1) driver.send(asFailure(`f${String(i)}`, i * 1_000, i));
    assert.equal(driver.send(asFailure('f-more', 250_000, 250)).decision, 'deny');
    // Eleven minutes after the last failure the window holds none of them.
    const later = driver.send(asFailure('f-late', 250_000 + 11 * minuteMs, 251));
    assert.equal(later.decision, 'allow', JSON.stringify(later.reasons));
    // A sign-in denied for another reason (an operator-denied device) is still counted for its AS.
    const lists = { networksDenied: [], networksAllowed: [], devicesDenied: ['d-bad'], devicesAllowed: [] };
    const listed = new LoginDriver(testPolicy(undefined, lists));
    for (let i = 0; i < 250; i += 1) {
      const denied = listed.send(
        loginEvent(`bad${String(i)}`, i * 100, `victim-${String(i)}`, {
          ip: `21.201.${String(i)}.9`,
          userAgent: agents.iphone,
          deviceId: 'd-bad',
        }),
      );
      assert.equal(denied.decision, 'deny');
    }
    // 250 sign-ins against the failures to come: the 250th failure is exactly half (without
    // the denied sign-ins counted, the 200th would already be denied).
    for (let i = 0; i < 251; i += 1) {
      const decision = listed.send(asFailure(`g${String(i)}`, 30_000 + i * 1_000, i));
      assert.equal(
        decision.decision === 'deny',
        i >= 249,
        `failure ${String(i)}: ${JSON.stringify(decision.reasons)}`,
      );
    }
  });

  test("the AS's sign-in counts cover the stuffing window", () => {
    // The share is read over the window plus the bucket it starts in; older buckets are gone.
    const { windowMs } = defaultLoginPolicy().stuffing;
    assert.ok(windowMs + asnSignInBucketMs <= asnSignInLimits.retentionMs);
    assert.deepEqual(seriesLimitsOf(asnSignInKey(64505)), asnSignInLimits);
    // A bucket that overlaps the window counts whole: a sign-in 10 min 30 s before is still in.
    const series = new WindowSeries(asnSignInLimits);
    countSignIn(series, 0);
    countSignIn(series, 30_000);
    countSignIn(series, 11 * minuteMs);
    assert.equal(signInsWithin(series, 10 * minuteMs + 30_000, windowMs), 2);
    assert.equal(signInsWithin(series, 11 * minuteMs + 1, windowMs), 1);
    assert.equal(signInsWithin(series, 11 * minuteMs, windowMs), 1);
    assert.equal(signInsWithin(series, 11 * minuteMs - 1, windowMs), 2);
  });

  test('property: an AS is a source exactly when its failures, accounts and share of attempts reach their bars', () => {
    // Lower AS bars than the default (20 failures over 10 accounts), so that short runs cross them
    // and a failing case shrinks quickly; the IP and /24 bars are never reached (one failure each).
    const policy = testPolicy((login) => ({
      ...login,
      stuffing: { ...login.stuffing, asnFailuresMin: 20, asnAccountsMin: 10 },
    }));
    fc.assert(
      fc.property(
        // As many sign-ins as failures on average: the share of failures wanders around 50 %.
        fc.array(fc.record({ signIn: fc.boolean(), account: fc.integer({ min: 0, max: 15 }) }), {
          minLength: 40,
          maxLength: 80,
        }),
        (steps) => {
          const driver = new LoginDriver(policy);
          const accounts = new Set<number>();
          let failures = 0;
          let signIns = 0;
          const isSource = (): boolean =>
            failures >= 20 && accounts.size >= 10 && failures / (failures + signIns) >= 0.5;
          steps.forEach((step, i) => {
            // Five seconds apart: every step stays inside the ten-minute window (400 s at most).
            if (step.signIn) {
              signIns += 1;
              const decision = driver.send(asSignIn(`s${String(i)}`, i * 5_000, i));
              assert.equal(decision.decision === 'challenge', isSource(), `sign-in ${String(i)}`);
              return;
            }
            failures += 1;
            accounts.add(step.account);
            const decision = driver.send(
              asFailure(`f${String(i)}`, i * 5_000, i, `u${String(step.account)}`),
            );
            assert.equal(decision.decision === 'deny', isSource(), `failure ${String(i)}`);
          });
        },
      ),
      propertyParams(100),
    );
  });

  test('property: stuffing counts per source are exact — the first denial comes at the threshold, whatever the order of accounts', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 40 }), (accounts) => {
        const driver = new LoginDriver(testPolicy());
        const seen = new Set<number>();
        accounts.forEach((account, i) => {
          seen.add(account);
          const decision = driver.send(
            failedEvent(
              `f${String(i)}`,
              i * 5_000,
              { ip: '40.0.0.9', userAgent: 'bot' },
              { username: `u${String(account)}` },
            ),
          );
          // Failures within 10 minutes here (40 × 5 s): denial exactly when both counts are reached.
          const stuffing = i + 1 >= 10 && seen.size >= 5;
          const burst = i + 1 > 20;
          assert.equal(decision.decision === 'deny', stuffing || burst, `failure ${String(i)}`);
        });
      }),
      propertyParams(80),
    );
  });
});

describe('impossible travel (table)', () => {
  const limits = { speedKmPerHourMax: 1000, distanceKmMin: 800 };
  const cases: [string, Parameters<typeof judgeTravel>[0], Parameters<typeof judgeTravel>[1], string][] = [
    [
      'Tokyo → Hanoi in 10 minutes',
      { atMs: 0, country: 'JP' },
      { atMs: 10 * minuteMs, country: 'VN' },
      'impossible',
    ],
    [
      'Tokyo → Hanoi in 10 hours',
      { atMs: 0, country: 'JP' },
      { atMs: 10 * hourMs, country: 'VN' },
      'plausible',
    ],
    [
      'Tokyo → Seoul in 30 minutes',
      { atMs: 0, country: 'JP' },
      { atMs: 30 * minuteMs, country: 'KR' },
      'impossible',
    ],
    ['same country', { atMs: 0, country: 'JP' }, { atMs: 1, country: 'JP' }, 'plausible'],
    ['unknown country', { atMs: 0, country: 'JP' }, { atMs: 1 }, 'plausible'],
    ['country without a position', { atMs: 0, country: 'JP' }, { atMs: 1, country: 'AQ' }, 'plausible'],
    ['neighbours', { atMs: 0, country: 'DE' }, { atMs: 1, country: 'NL' }, 'plausible'],
  ];
  for (const [name, from, to, kind] of cases) {
    test(name, () => assert.equal(judgeTravel(from, to, limits).kind, kind));
  }
  test('a mobile or hosting network on either side marks the jump as possibly not travel', () => {
    const verdict = judgeTravel(
      { atMs: 0, country: 'JP', kind: 'mobile' },
      { atMs: minuteMs, country: 'US' },
      limits,
    );
    assert.ok(verdict.kind === 'impossible');
    assert.equal(verdict.jumpy, true);
    const plain = judgeTravel(
      { atMs: 0, country: 'JP', kind: 'fixed' },
      { atMs: minuteMs, country: 'US', kind: 'fixed' },
      limits,
    );
    assert.equal(plain.kind === 'impossible' && plain.jumpy, false);
  });
});

describe('the operator lists file (BULWARK_LOGIN_LISTS_FILE, replay --login-lists)', () => {
  test('reads valid lists and refuses a missing file, bad JSON, unknown keys and bad networks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-lists-'));
    try {
      const write = (name: string, text: string): string => {
        const path = join(dir, name);
        writeFileSync(path, text);
        return path;
      };
      const good = write(
        'good.json',
        JSON.stringify({ networksDenied: ['60.0.0.0/8', '2400:1::/32'], devicesDenied: ['d1'] }),
      );
      assert.deepEqual(readOperatorLists(good), {
        networksDenied: ['60.0.0.0/8', '2400:1::/32'],
        networksAllowed: [],
        devicesDenied: ['d1'],
        devicesAllowed: [],
      });
      assert.deepEqual(readOperatorLists(undefined).networksDenied, []);
      for (const [name, text, message] of [
        ['json.json', '{nope', /login lists file .*json\.json/],
        ['keys.json', JSON.stringify({ networksBlocked: [] }), /login lists file/],
        ['cidr.json', JSON.stringify({ networksDenied: ['300.1.1.1/8'] }), /not an IP network/],
      ] as const) {
        assert.throws(
          () => readOperatorLists(write(name, text)),
          (error: unknown) => error instanceof ConfigError && message.test(error.message),
        );
      }
      assert.throws(() => readOperatorLists(join(dir, 'missing.json')), ConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
