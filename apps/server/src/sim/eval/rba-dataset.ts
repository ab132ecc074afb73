import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { LoginPolicy } from '../../risk/domain/login/policy.ts';
import type { LoginObservation } from '../../risk/domain/login/rba.ts';
import { caughtAtRate, PlainRba } from './plain-rba.ts';

/**
 * Streams the public "Login Data Set for Risk-Based Authentication" (Wiefling et al., CC BY 4.0;
 * 33M rows) in its published CSV format and scores every successful sign-in with the plain RBA
 * model, and with Bulwark's novelty signals on top (new AS / country / address for the account;
 * the data set has no device id), as the sign-ins happen. Memory: profiles are bounded per
 * account; `accountsMax` forgets the least recently seen accounts on very large files.
 *
 * Legitimate: successful sign-ins not marked "Is Account Takeover". Attacks: those marked.
 */
export interface RbaDatasetReport {
  rows: number;
  successfulLogins: number;
  takeovers: number;
  attackIpLogins: number;
  badRows: number;
  /** Share of takeovers caught at legitimate re-authentication rates 1 %, 2 %, 5 %. */
  plainAtRate: number[];
  bulwarkAtRate: number[];
  /** Same for successful sign-ins from addresses marked "Is Attack IP". */
  plainAttackIpAtRate: number[];
  bulwarkAttackIpAtRate: number[];
}

/** Splits one CSV line (RFC 4180 quoting). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line.charAt(i);
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i += 1;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(field);
      field = '';
    } else field += ch;
  }
  out.push(field);
  return out;
}

const columns = [
  'index',
  'Login Timestamp',
  'User ID',
  'Round-Trip Time [ms]',
  'IP Address',
  'Country',
  'Region',
  'City',
  'ASN',
  'User Agent String',
  'Browser Name and Version',
  'OS Name and Version',
  'Device Type',
  'Login Successful',
  'Is Attack IP',
  'Is Account Takeover',
] as const;

export async function evaluateRbaDataset(
  input: Readable,
  policy: LoginPolicy,
  options: { accountsMax?: number; rates?: readonly number[] } = {},
): Promise<RbaDatasetReport> {
  const rates = options.rates ?? [0.01, 0.02, 0.05];
  const plain = new PlainRba(policy);
  const seen = new Map<string, { asns: Set<string>; countries: Set<string>; ips: Set<string> }>();
  const accountsMax = options.accountsMax ?? 2_000_000;
  const legitPlain: number[] = [];
  const legitBulwark: number[] = [];
  const takeover: [number, number][] = [];
  const attackIp: [number, number][] = [];
  const report: RbaDatasetReport = {
    rows: 0,
    successfulLogins: 0,
    takeovers: 0,
    attackIpLogins: 0,
    badRows: 0,
    plainAtRate: [],
    bulwarkAtRate: [],
    plainAttackIpAtRate: [],
    bulwarkAttackIpAtRate: [],
  };
  let header: Map<string, number> | undefined;
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length === 0) continue;
    const fields = splitCsvLine(line);
    if (header === undefined) {
      header = new Map(fields.map((name, i) => [name.trim(), i]));
      const missing = columns.filter((c) => c !== 'index' && !header?.has(c));
      if (missing.length > 0) throw new Error(`not the RBA data set format: missing ${missing.join(', ')}`);
      continue;
    }
    report.rows += 1;
    const get = (name: (typeof columns)[number]): string => fields[header?.get(name) ?? -1] ?? '';
    const atMs = Date.parse(`${get('Login Timestamp').replace(' ', 'T')}Z`);
    if (Number.isNaN(atMs) || fields.length < columns.length - 1) {
      report.badRows += 1;
      continue;
    }
    if (get('Login Successful') !== 'True') continue;
    report.successfulLogins += 1;
    const accountId = get('User ID');
    const userAgent = get('User Agent String');
    const observation: LoginObservation = {
      ip: get('IP Address'),
      asn: `AS${get('ASN')}`,
      country: get('Country') || 'unknown',
      ua: `ua:${createHash('sha256').update(userAgent).digest('base64url').slice(0, 16)}`,
      browser: get('Browser Name and Version') || 'unknown',
      os: get('OS Name and Version') || 'unknown',
      deviceType: get('Device Type') || 'unknown',
      device: 'none',
    };
    const rba = plain.scoreAndLearn(accountId, observation, atMs);
    let history = seen.get(accountId);
    let novelty = 0;
    if (history === undefined) {
      history = { asns: new Set(), countries: new Set(), ips: new Set() };
      if (seen.size >= accountsMax) {
        const oldest = seen.keys().next().value;
        if (oldest !== undefined) {
          seen.delete(oldest);
          plain.forget(oldest);
        }
      }
    } else {
      seen.delete(accountId);
      const p = policy.points;
      if (!history.ips.has(observation.ip)) novelty += p.newNetwork;
      if (!history.asns.has(observation.asn)) novelty += p.newAsn;
      if (!history.countries.has(observation.country)) novelty += p.newCountry;
    }
    seen.set(accountId, history);
    const bound = (set: Set<string>, value: string): void => {
      set.add(value);
      if (set.size > policy.rba.valuesPerFeatureMax) set.delete(set.values().next().value as string);
    };
    bound(history.ips, observation.ip);
    bound(history.asns, observation.asn);
    bound(history.countries, observation.country);
    const rbaPoints = Number.isFinite(rba)
      ? Math.min(policy.rba.pointsMax, Math.max(0, rba * policy.rba.pointsPerDecade))
      : 0;
    const bulwark =
      novelty + rbaPoints + (Number.isFinite(rba) ? Math.max(-9.9, Math.min(9.9, rba)) / 100 : -0.1);
    if (get('Is Account Takeover') === 'True') {
      report.takeovers += 1;
      takeover.push([rba, bulwark]);
    } else {
      legitPlain.push(rba);
      legitBulwark.push(bulwark);
      if (get('Is Attack IP') === 'True') {
        report.attackIpLogins += 1;
        attackIp.push([rba, bulwark]);
      }
    }
  }
  const at = (keys: number[], attacks: number[]) =>
    rates.map((rate) =>
      caughtAtRate(
        keys,
        attacks.map((k) => (t: number) => k > t),
        rate,
      ),
    );
  report.plainAtRate = at(
    legitPlain,
    takeover.map(([p]) => p),
  );
  report.bulwarkAtRate = at(
    legitBulwark,
    takeover.map(([, b]) => b),
  );
  report.plainAttackIpAtRate = at(
    legitPlain,
    attackIp.map(([p]) => p),
  );
  report.bulwarkAttackIpAtRate = at(
    legitBulwark,
    attackIp.map(([, b]) => b),
  );
  return report;
}

export function formatRbaDatasetReport(report: RbaDatasetReport): string {
  const pct = (share: number): string => (Number.isNaN(share) ? 'n/a' : `${(share * 100).toFixed(1)} %`);
  return [
    `rows ${String(report.rows)} (${String(report.badRows)} unreadable); successful sign-ins ${String(report.successfulLogins)}; account takeovers ${String(report.takeovers)}; from attack IPs ${String(report.attackIpLogins)}`,
    '                       @1 %     @2 %     @5 % of legitimate sign-ins re-authenticated',
    `takeovers  plain RBA   ${report.plainAtRate.map(pct).join('  ')}`,
    `takeovers  Bulwark     ${report.bulwarkAtRate.map(pct).join('  ')}`,
    `attack IPs plain RBA   ${report.plainAttackIpAtRate.map(pct).join('  ')}`,
    `attack IPs Bulwark     ${report.bulwarkAttackIpAtRate.map(pct).join('  ')}`,
    '',
  ].join('\n');
}
