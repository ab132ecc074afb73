import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { defaultLoginPolicy } from '../src/risk/domain/login/policy.ts';
import {
  accountProbability,
  emptyProfile,
  globalProbability,
  learn,
  rbaScore,
  unlearn,
  type GlobalFrequencies,
  type LoginObservation,
} from '../src/risk/domain/login/rba.ts';
import { parseUserAgent, userAgentParser } from '../src/risk/domain/login/user-agent.ts';
import { PlainRba } from '../src/sim/eval/plain-rba.ts';
import { propertyParams } from './helpers/fast-check.ts';
import { agents, dayMs, loginEvent, testPolicy } from './helpers/login.ts';
import { LoginDriver } from './helpers/login-driver.ts';

const policy = defaultLoginPolicy();

const observation = (overrides: Partial<LoginObservation> = {}): LoginObservation => ({
  ip: '20.1.1.1',
  asn: 'AS64500',
  country: 'JP',
  ua: 'ua:abc',
  browser: 'Chrome 130',
  os: 'Mac OS 10.15.7',
  deviceType: 'desktop',
  device: 'id:dev-home',
  ...overrides,
});

/** Global counts from a fixed table. */
function globalOf(total: number, counts: Record<string, number>, novel = 0): GlobalFrequencies {
  return {
    total: () => total,
    count: (feature, value) => counts[`${feature}=${value}`] ?? 0,
    novel: () => novel,
  };
}

describe('the RBA model (Freeman et al. / Wiefling et al.)', () => {
  test('the account probability is Laplace-smoothed over its values plus one unseen value', () => {
    let profile = emptyProfile();
    for (let i = 0; i < 8; i += 1) profile = learn(profile, observation(), policy, i * dayMs);
    profile = learn(profile, observation({ ip: '20.2.2.2' }), policy, 9 * dayMs);
    // ip: 20.1.1.1 ×8, 20.2.2.2 ×1 → (8+1)/(9+2+1), unseen (0+1)/(9+2+1)
    assert.equal(accountProbability(profile, 'ip', '20.1.1.1', 0), 9 / 12);
    assert.equal(accountProbability(profile, 'ip', '99.9.9.9', 0), 1 / 12);
  });

  test('a value never seen globally takes the global novelty rate (high-cardinality features) or 1/(N+1)', () => {
    const global = globalOf(999, { 'country=JP': 899 }, 99);
    assert.equal(globalProbability(global, 'ip', '1.2.3.4', 0), 100 / 1000);
    assert.equal(globalProbability(global, 'country', 'XX', 0), 1 / 1000);
    assert.equal(globalProbability(global, 'country', 'JP', 0), 900 / 1000);
  });

  test('a usual sign-in scores lower than one from another network and user agent', () => {
    let profile = emptyProfile();
    for (let i = 0; i < 20; i += 1) profile = learn(profile, observation(), policy, i * dayMs);
    const global = globalOf(
      100_000,
      {
        'ip=20.1.1.1': 20,
        'asn=AS64500': 30_000,
        'country=JP': 90_000,
        'asn=AS64501': 5_000,
        'browser=Chrome 130': 40_000,
        'browser=Firefox 131': 5_000,
      },
      5_000,
    );
    const usual = rbaScore(profile, observation(), global, policy, 21 * dayMs);
    const unusual = rbaScore(
      profile,
      observation({
        ip: '30.1.1.1',
        asn: 'AS64501',
        ua: 'ua:other',
        browser: 'Firefox 131',
        os: 'Linux',
        device: 'id:x',
      }),
      global,
      policy,
      21 * dayMs,
    );
    assert.ok(usual.total < 0, `usual ${String(usual.total)}`);
    assert.ok(unusual.total > usual.total + 2, `unusual ${String(unusual.total)}`);
    assert.equal(unusual.plain, unusual.ip + unusual.ua);
  });

  test('history older than six months is dropped', () => {
    let profile = learn(emptyProfile(), observation({ country: 'US' }), policy, 0);
    profile = learn(profile, observation(), policy, 200 * dayMs);
    assert.deepEqual(
      profile.values.country?.map((v) => v.value),
      ['JP'],
    );
    assert.equal(accountProbability(profile, 'country', 'US', 200 * dayMs - policy.rba.historyMs), 1 / 3);
  });

  test('unlearn takes back exactly one sign-in', () => {
    const once = learn(emptyProfile(), observation(), policy, 0);
    const twice = learn(once, observation({ ip: '20.2.2.2' }), policy, 1);
    const counts = (profile: typeof once) =>
      Object.fromEntries(
        Object.entries(profile.values).map(([feature, values]) => [
          feature,
          values.map((v) => [v.value, v.count]),
        ]),
      );
    const back = unlearn(twice, observation({ ip: '20.2.2.2' }));
    assert.equal(back.logins, 1);
    assert.deepEqual(counts(back), counts(once));
  });

  test('property: learn never changes its input and keeps every feature within its bound', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 400 })), {
          maxLength: 80,
        }),
        (steps) => {
          let profile = emptyProfile();
          for (const [ip, day] of steps) {
            const before = JSON.stringify(profile);
            const next = learn(profile, observation({ ip: `20.0.0.${String(ip)}` }), policy, day * dayMs);
            assert.equal(JSON.stringify(profile), before);
            for (const values of Object.values(next.values))
              assert.ok(values.length <= policy.rba.valuesPerFeatureMax);
            profile = next;
          }
        },
      ),
      propertyParams(100),
    );
  });
});

describe('bounded memory', () => {
  test('a million distinct IPs for one account: the profile keeps at most the bound per feature', () => {
    let profile = emptyProfile();
    for (let i = 0; i < 1_000_000; i += 1) {
      profile = learn(profile, observation({ ip: `ip-${String(i)}` }), policy, i * 1000);
    }
    assert.equal(profile.logins, 1_000_000);
    assert.equal(profile.values.ip?.length, policy.rba.valuesPerFeatureMax);
    assert.ok(
      JSON.stringify(profile).length < 20_000,
      `profile is ${String(JSON.stringify(profile).length)} characters`,
    );
  });

  test('through decide and apply, thousands of distinct IPs leave the account state bounded', () => {
    const driver = new LoginDriver(testPolicy());
    const sizes: number[] = [];
    for (let i = 0; i < 3_000; i += 1) {
      const ip = `20.${String(i % 250)}.${String(Math.floor(i / 250))}.7`;
      driver.send(
        loginEvent(`l${String(i)}`, i * 60_000, 'acct-1', {
          ip,
          userAgent: agents.macChrome,
          deviceId: 'dev-home',
        }),
      );
      if (i === 1_000 || i === 2_999) sizes.push(JSON.stringify(driver.account('acct-1')).length);
    }
    const state = driver.account('acct-1');
    assert.ok(state?.login !== undefined);
    assert.ok((state.login.profile.values.ip?.length ?? 0) <= policy.rba.valuesPerFeatureMax);
    assert.ok(state.login.bindings.length <= 32 && state.login.recent.length <= 4);
    assert.ok(
      (sizes[1] ?? 0) <= (sizes[0] ?? 0) * 1.1,
      `state grew from ${String(sizes[0])} to ${String(sizes[1])}`,
    );
  });
});

describe('user-agent features (ua-parser-js 1.x)', () => {
  test('browser, OS and device type of common agents', () => {
    assert.deepEqual(
      { ...parseUserAgent(agents.iphone), full: '' },
      {
        full: '',
        browser: 'Mobile Safari 17',
        browserFamily: 'Mobile Safari',
        os: 'iOS 17.5',
        deviceType: 'mobile',
      },
    );
    const mac = parseUserAgent(agents.macChrome);
    assert.equal(mac.browser, 'Chrome 130');
    assert.equal(mac.deviceType, 'desktop');
  });
  test('empty and unparseable agents give unknown parts, never an error', () => {
    assert.deepEqual(
      { ...parseUserAgent(''), full: '' },
      { full: '', browser: 'unknown', browserFamily: 'unknown', os: 'unknown', deviceType: 'unknown' },
    );
    const garbage = parseUserAgent('%%%((( ;;; ]]]');
    assert.equal(garbage.os, 'unknown');
    assert.match(garbage.full, /^ua:/);
  });
  test('the cached parser answers the same as the plain one', () => {
    const parser = userAgentParser(2);
    for (const ua of [agents.iphone, agents.firefox, agents.iphone, agents.macChrome, agents.iphone]) {
      assert.deepEqual(parser.parse(ua), parseUserAgent(ua));
    }
  });
});

describe('the plain RBA baseline', () => {
  test('scores a first sign-in as unknown and a repeated one lower than a changed one', () => {
    const plain = new PlainRba(policy);
    assert.equal(plain.scoreAndLearn('a', observation(), 0), Number.NEGATIVE_INFINITY);
    for (let i = 1; i < 10; i += 1)
      plain.scoreAndLearn(
        `other-${String(i)}`,
        observation({ ip: `20.0.0.${String(i)}`, asn: 'AS64505' }),
        i,
      );
    const same = plain.scoreAndLearn('a', observation(), 20);
    const changed = plain.scoreAndLearn('a', observation({ ip: '20.0.0.3', asn: 'AS64505', ua: 'ua:z' }), 21);
    assert.ok(changed > same);
  });
});
