import { parseIpv4, parseIpv6Groups } from '../../risk/domain/ip/address.ts';
import { encodeIpData } from './format.ts';

/**
 * Builds the compact tables from the upstream text files (used by `npm run ip:refresh`, never at
 * run time). Ranges are sorted, overlaps cut, gaps filled with value 0 ("unknown") and neighbours
 * with equal values merged, so a lookup needs only the starts.
 */
interface Range {
  start: bigint;
  end: bigint;
  value: number;
}

function compact(ranges: Range[]): { starts: bigint[]; values: number[] } {
  ranges.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  const starts: bigint[] = [];
  const values: number[] = [];
  const push = (start: bigint, value: number): void => {
    if (values.length > 0 && values[values.length - 1] === value) return;
    if (starts.length > 0 && starts[starts.length - 1] === start) {
      values[values.length - 1] = value;
      return;
    }
    starts.push(start);
    values.push(value);
  };
  let next = 0n;
  for (const range of ranges) {
    const start = range.start < next ? next : range.start;
    if (range.end < start) continue;
    if (start > next) push(next, 0);
    push(start, range.value);
    next = range.end + 1n;
  }
  push(next, 0);
  return { starts, values };
}

function ipv6To64(text: string): bigint | undefined {
  const groups = parseIpv6Groups(text.trim());
  if (groups === undefined) return undefined;
  let value = 0n;
  for (let i = 0; i < 4; i += 1) value = (value << 16n) | BigInt(groups[i] ?? 0);
  return value;
}

function split64(starts: bigint[]): { high: Uint32Array; low: Uint32Array } {
  const high = new Uint32Array(starts.length);
  const low = new Uint32Array(starts.length);
  starts.forEach((start, i) => {
    high[i] = Number(start >> 32n);
    low[i] = Number(start & 0xffffffffn);
  });
  return { high, low };
}

const dataLines = (text: string): string[] =>
  text.split('\n').filter((line) => line.length > 0 && !line.startsWith('#'));

/**
 * Tor's geoip files (from the IPFire Location database): `start,end,CC` with decimal IPv4, and
 * `start,end,CC` with IPv6 text.
 */
export function buildCountryTable(ipv4Text: string, ipv6Text: string, dataVersion: string): Buffer {
  const codes = [''];
  const indexOf = (code: string): number => {
    if (code === '??' || !/^[A-Z]{2}$/.test(code)) return 0;
    let index = codes.indexOf(code);
    if (index === -1) {
      index = codes.length;
      codes.push(code);
    }
    return index;
  };
  const v4: Range[] = [];
  for (const line of dataLines(ipv4Text)) {
    const [start, end, code] = line.trim().split(',');
    if (start === undefined || end === undefined || code === undefined) continue;
    v4.push({ start: BigInt(start), end: BigInt(end), value: indexOf(code) });
  }
  const v6: Range[] = [];
  for (const line of dataLines(ipv6Text)) {
    const [start, end, code] = line.trim().split(',');
    if (start === undefined || end === undefined || code === undefined) continue;
    const from = ipv6To64(start);
    const to = ipv6To64(end);
    if (from === undefined || to === undefined) continue;
    v6.push({ start: from, end: to, value: indexOf(code) });
  }
  const c4 = compact(v4);
  const c6 = compact(v6);
  const { high, low } = split64(c6.starts);
  return encodeIpData(
    { kind: 'country', dataVersion, countryCodes: codes },
    {
      v4Starts: Uint32Array.from(c4.starts, Number),
      v4Values: Uint16Array.from(c4.values),
      v6High: high,
      v6Low: low,
      v6Values: Uint16Array.from(c6.values),
    },
  );
}

/**
 * Hosting, cloud and VPN networks, and mobile carriers, recognised by their registered names.
 * A heuristic: good enough to say "this jump may be a VPN or a phone", never a verdict alone.
 */
const hostingName =
  /hosting|cloud|data ?cent(er|re)|datacenter|server|vps|colocation|amazon|google|microsoft|digitalocean|ovh|hetzner|linode|akamai|vultr|choopa|m247|leaseweb|contabo|alibaba|tencent|oracle|scaleway|vpn|proxy|private internet access|nordvpn|mullvad|datacamp|cdn77|fastly|cloudflare|hostinger|ionos|godaddy|rackspace|hivelocity|quadranet|psychz|sakura internet|xserver|gmo internet|constant company|kamatera|hostwinds|netcup|packethub|zenlayer|worldstream|clouvider|g-core|gcore|ucloud|kagoya|idcf|aruba s\.p\.a/i;
const mobileName =
  /mobile|wireless|cellular|docomo|kddi|softbank|rakuten|t-mobile|vodafone|telefonica movil|jio|airtel|\bmts\b|beeline|megafon|celcom|maxis|globe telecom|smart comm|telkomsel|viettel|ais\b|dtac|true move/i;

function parseAsnLine(line: string): { start: string; end: string; asn: number; name: string } | undefined {
  const first = line.indexOf(',');
  const second = line.indexOf(',', first + 1);
  const third = line.indexOf(',', second + 1);
  if (first < 0 || second < 0 || third < 0) return undefined;
  const asn = Number(line.slice(second + 1, third));
  if (!Number.isInteger(asn) || asn <= 0 || asn > 0xffffffff) return undefined;
  let name = line.slice(third + 1).trim();
  if (name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1).replaceAll('""', '"');
  return { start: line.slice(0, first), end: line.slice(first + 1, second), asn, name };
}

/**
 * ip-location-db's ASN files: `asn-ipv4-num.csv` (decimal starts and ends) and `asn-ipv6.csv`
 * (IPv6 text), each `start,end,asn,organisation`.
 */
export function buildAsnTable(ipv4NumText: string, ipv6Text: string, dataVersion: string): Buffer {
  const hosting = new Set<number>();
  const mobile = new Set<number>();
  const classify = (asn: number, name: string): void => {
    if (hostingName.test(name)) hosting.add(asn);
    else if (mobileName.test(name)) mobile.add(asn);
  };
  const v4: Range[] = [];
  for (const line of dataLines(ipv4NumText)) {
    const row = parseAsnLine(line);
    if (row === undefined) continue;
    classify(row.asn, row.name);
    v4.push({ start: BigInt(row.start), end: BigInt(row.end), value: row.asn });
  }
  const v6: Range[] = [];
  for (const line of dataLines(ipv6Text)) {
    const row = parseAsnLine(line);
    if (row === undefined) continue;
    const from = ipv6To64(row.start);
    const to = ipv6To64(row.end);
    if (from === undefined || to === undefined) continue;
    classify(row.asn, row.name);
    v6.push({ start: from, end: to, value: row.asn });
  }
  const c4 = compact(v4);
  const c6 = compact(v6);
  const { high, low } = split64(c6.starts);
  const sorted = (set: Set<number>): Uint32Array => Uint32Array.from([...set].sort((x, y) => x - y));
  return encodeIpData(
    { kind: 'asn', dataVersion },
    {
      v4Starts: Uint32Array.from(c4.starts, Number),
      v4Values: Uint32Array.from(c4.values),
      v6High: high,
      v6Low: low,
      v6Values: Uint32Array.from(c6.values),
      hostingAsns: sorted(hosting),
      mobileAsns: sorted(mobile),
    },
  );
}

/** Reads an IPv4 dotted quad to its number (for tests of the built table). */
export const ipv4Number = parseIpv4;
