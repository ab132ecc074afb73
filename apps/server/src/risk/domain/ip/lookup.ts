import { parseIp, specialUseOf, type ParsedIp, type SpecialUse } from './address.ts';

/**
 * Offline IP intelligence: country and autonomous system for IPv4 and IPv6, from range tables
 * loaded once at start-up (see `adapters/ip/`). Pure: a binary search over sorted typed arrays,
 * no I/O, no allocation but the answer.
 *
 * Ranges are stored by their start only: the loader fills gaps with "unknown" entries, so the
 * range holding an address is the last one whose start is not above it.
 */
export interface Ipv4Ranges<V extends Uint16Array | Uint32Array> {
  readonly starts: Uint32Array;
  readonly values: V;
}

/** IPv6 ranges keyed by the upper 64 bits of their start, as two 32-bit halves. */
export interface Ipv6Ranges<V extends Uint16Array | Uint32Array> {
  readonly high: Uint32Array;
  readonly low: Uint32Array;
  readonly values: V;
}

export interface IpTableData {
  /** Names the data (its sources' dates); part of the risk policy version. */
  readonly dataVersion: string;
  /** Country codes by index; index 0 is "unknown". */
  readonly countryCodes: readonly string[];
  readonly v4Country: Ipv4Ranges<Uint16Array>;
  readonly v6Country: Ipv6Ranges<Uint16Array>;
  /** AS numbers; 0 is "no AS known". */
  readonly v4Asn: Ipv4Ranges<Uint32Array>;
  readonly v6Asn: Ipv6Ranges<Uint32Array>;
  /** Sorted AS numbers of hosting, cloud and VPN providers. */
  readonly hostingAsns: Uint32Array;
  /** Sorted AS numbers of mobile carriers (their users' addresses jump across regions). */
  readonly mobileAsns: Uint32Array;
}

export type NetworkKind = 'hosting' | 'mobile' | 'fixed';

export interface IpInfo {
  readonly valid: boolean;
  readonly family?: 4 | 6;
  /** ISO 3166-1 alpha-2, when the address is public and the data knows it. */
  readonly country?: string;
  readonly asn?: number;
  readonly kind?: NetworkKind;
  /** Set for private, loopback, documentation and other non-public addresses. */
  readonly special?: SpecialUse;
}

export interface IpLookup {
  readonly dataVersion: string;
  lookup(ip: string): IpInfo;
}

/** Index of the last start ≤ value, or -1. */
function floorIndex(starts: Uint32Array, value: number): number {
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((starts[mid] ?? 0) <= value) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}

/**
 * A first-level index over IPv4 starts: for each /16, the first range index whose start is in or
 * after it. A lookup then searches only the ranges of its own /16 (a few instead of ~19 steps).
 */
function slashSixteenIndex(starts: Uint32Array): Uint32Array {
  const index = new Uint32Array(65537);
  let position = 0;
  for (let block = 0; block <= 65536; block += 1) {
    const blockStart = block * 65536;
    while (position < starts.length && (starts[position] ?? 0) < blockStart) position += 1;
    index[block] = position;
  }
  return index;
}

/** Index of the last start ≤ value, searching only between the value's /16 bounds. */
function floorIndexIndexed(starts: Uint32Array, index: Uint32Array, value: number): number {
  const block = value >>> 16;
  let low = index[block] ?? 0;
  let high = index[block + 1] ?? starts.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((starts[mid] ?? 0) <= value) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}

function floorIndex64(highs: Uint32Array, lows: Uint32Array, high: number, low: number): number {
  let from = 0;
  let to = highs.length;
  while (from < to) {
    const mid = (from + to) >>> 1;
    const h = highs[mid] ?? 0;
    if (h < high || (h === high && (lows[mid] ?? 0) <= low)) from = mid + 1;
    else to = mid;
  }
  return from - 1;
}

function sortedHas(sorted: Uint32Array, value: number): boolean {
  const index = floorIndex(sorted, value);
  return index >= 0 && sorted[index] === value;
}

const invalid: IpInfo = { valid: false };

export function ipLookupOf(table: IpTableData): IpLookup {
  const countryAt = (index: number): string | undefined => {
    const code = table.countryCodes[index];
    return code === undefined || code === '' ? undefined : code;
  };
  const v4CountryIndex = slashSixteenIndex(table.v4Country.starts);
  const v4AsnIndex = slashSixteenIndex(table.v4Asn.starts);
  const find = (ip: ParsedIp): { country: number; asn: number } => {
    if (ip.family === 4) {
      const c = floorIndexIndexed(table.v4Country.starts, v4CountryIndex, ip.value);
      const a = floorIndexIndexed(table.v4Asn.starts, v4AsnIndex, ip.value);
      return {
        country: c < 0 ? 0 : (table.v4Country.values[c] ?? 0),
        asn: a < 0 ? 0 : (table.v4Asn.values[a] ?? 0),
      };
    }
    const c = floorIndex64(table.v6Country.high, table.v6Country.low, ip.high, ip.low);
    const a = floorIndex64(table.v6Asn.high, table.v6Asn.low, ip.high, ip.low);
    return {
      country: c < 0 ? 0 : (table.v6Country.values[c] ?? 0),
      asn: a < 0 ? 0 : (table.v6Asn.values[a] ?? 0),
    };
  };
  return {
    dataVersion: table.dataVersion,
    lookup(text: string): IpInfo {
      const ip = parseIp(text);
      if (ip === undefined) return invalid;
      const special = specialUseOf(ip);
      if (special !== undefined) return { valid: true, family: ip.family, special };
      const found = find(ip);
      const country = countryAt(found.country);
      if (found.asn === 0)
        return country === undefined
          ? { valid: true, family: ip.family }
          : { valid: true, family: ip.family, country };
      const kind: NetworkKind = sortedHas(table.hostingAsns, found.asn)
        ? 'hosting'
        : sortedHas(table.mobileAsns, found.asn)
          ? 'mobile'
          : 'fixed';
      return country === undefined
        ? { valid: true, family: ip.family, asn: found.asn, kind }
        : { valid: true, family: ip.family, country, asn: found.asn, kind };
    },
  };
}

/** A lookup that knows no public address: the embedded default when no table is loaded. */
export function emptyIpLookup(): IpLookup {
  return ipLookupOf({
    dataVersion: 'none',
    countryCodes: [''],
    v4Country: { starts: new Uint32Array(0), values: new Uint16Array(0) },
    v6Country: { high: new Uint32Array(0), low: new Uint32Array(0), values: new Uint16Array(0) },
    v4Asn: { starts: new Uint32Array(0), values: new Uint32Array(0) },
    v6Asn: { high: new Uint32Array(0), low: new Uint32Array(0), values: new Uint32Array(0) },
    hostingAsns: new Uint32Array(0),
    mobileAsns: new Uint32Array(0),
  });
}
