/**
 * A small, hand-made IP table and policy for login-risk tests, built through the same code path as
 * the shipped tables (adapters/ip/build.ts → format → load), plus contract event makers.
 *
 *   20.0.0.0/8   JP  AS64500 "Example Broadband"  (fixed)     2400::/16  JP  AS64500
 *   21.0.0.0/8   JP  AS64505 "Other Broadband"    (fixed)
 *   30.0.0.0/8   JP  AS64501 "Example Hosting"    (hosting)
 *   40.0.0.0/8   US  AS64502 "Example Cable"      (fixed)
 *   50.0.0.0/8   JP  AS64503 "Example Mobile"     (mobile)
 *   60.0.0.0/8   VN  AS64504 "Example Telecom"    (fixed)
 */
import assert from 'node:assert/strict';
import type { BulwarkEvent } from '@bulwark/contracts';
import { buildAsnTable, buildCountryTable } from '../../src/adapters/ip/build.ts';
import { ipTableOf } from '../../src/adapters/ip/load.ts';
import { ipLookupOf, type IpLookup } from '../../src/risk/domain/ip/lookup.ts';
import {
  defaultLoginPolicy,
  type LoginPolicy,
  type OperatorLists,
} from '../../src/risk/domain/login/policy.ts';
import { defaultRiskPolicy, withLoginPolicy, type RiskPolicy } from '../../src/risk/domain/policy.ts';
import { validateEvent } from '../../src/ingest/validate.ts';

const block = (octet: number): [number, number] => [octet * 2 ** 24, (octet + 1) * 2 ** 24 - 1];

export function testIpLookup(): IpLookup {
  const countryV4 = [
    [20, 'JP'],
    [21, 'JP'],
    [30, 'JP'],
    [40, 'US'],
    [50, 'JP'],
    [60, 'VN'],
  ]
    .map(([octet, cc]) => `${block(octet as number).join(',')},${String(cc)}`)
    .join('\n');
  const asnV4 = [
    [20, 64500, 'Example Broadband'],
    [21, 64505, 'Other Broadband'],
    [30, 64501, 'Example Hosting'],
    [40, 64502, 'Example Cable'],
    [50, 64503, 'Example Mobile'],
    [60, 64504, 'Example Telecom'],
  ]
    .map(([octet, asn, name]) => `${block(octet as number).join(',')},${String(asn)},"${String(name)}"`)
    .join('\n');
  const country = buildCountryTable(
    `# test\n${countryV4}\n`,
    '2400::,2400:ffff:ffff:ffff:ffff:ffff:ffff:ffff,JP\n',
    'test-country',
  );
  const asn = buildAsnTable(
    `${asnV4}\n`,
    '2400::,2400:ffff:ffff:ffff:ffff:ffff:ffff:ffff,64500,Example Broadband\n',
    'test-asn',
  );
  return ipLookupOf(ipTableOf(country, asn));
}

export function testPolicy(
  change: (login: LoginPolicy) => LoginPolicy = (login) => login,
  lists?: OperatorLists,
): RiskPolicy {
  return withLoginPolicy(defaultRiskPolicy(), change(defaultLoginPolicy(lists)), testIpLookup());
}

export const agents = {
  macChrome:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  winChrome:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0',
} as const;

export const baseMs = Date.parse('2026-11-25T09:00:00Z');
export const minuteMs = 60_000;
export const hourMs = 60 * minuteMs;
export const dayMs = 24 * hourMs;
export const at = (offsetMs: number): string => new Date(baseMs + offsetMs).toISOString();

export interface Ctx {
  ip: string;
  userAgent: string;
  deviceId?: string;
  sessionId?: string;
}

export const loginEvent = (
  id: string,
  offsetMs: number,
  accountId: string,
  context: Ctx,
  secondFactor = 'totp',
): Record<string, unknown> => ({
  id,
  type: 'login.succeeded',
  at: at(offsetMs),
  accountId,
  context: { sessionId: `s-${id}`, ...context },
  method: 'password',
  secondFactor,
});

export const failedEvent = (
  id: string,
  offsetMs: number,
  context: Ctx,
  who: { accountId?: string; username?: string },
): Record<string, unknown> => ({
  id,
  type: 'login.failed',
  at: at(offsetMs),
  context,
  reason: who.accountId === undefined ? 'unknown_account' : 'bad_password',
  ...who,
});

export const activityEvent = (
  id: string,
  offsetMs: number,
  accountId: string,
  context: Ctx & { sessionId: string },
  action: string,
): Record<string, unknown> => ({
  id,
  type: 'session.activity',
  at: at(offsetMs),
  accountId,
  context,
  action,
});

/** Parses an event as the server would, so every test event is a valid contract event. */
export function valid(raw: Record<string, unknown>): { event: BulwarkEvent; atMs: number } {
  const result = validateEvent(raw);
  if (!result.ok) assert.fail(`test event ${JSON.stringify(raw)} is invalid: ${result.error.message}`);
  return { event: result.value.event, atMs: result.value.atMs };
}
