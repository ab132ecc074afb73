/**
 * IP addresses as numbers, without allocation on the hot path. IPv4 is one unsigned 32-bit
 * number; IPv6 is reduced to its upper 64 bits as two unsigned 32-bit halves, because routing and
 * registry data never allocate below a /64 and a /64 is what one customer line gets.
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is read as the IPv4 address it carries.
 */
export type ParsedIp =
  | { readonly family: 4; readonly value: number }
  | { readonly family: 6; readonly high: number; readonly low: number };

/** Parses dotted-quad IPv4; undefined when it is not exactly four decimal octets. */
export function parseIpv4(text: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code === 46) {
      if (digits === 0) return undefined;
      value = value * 256 + octet;
      parts += 1;
      octet = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57) {
      octet = octet * 10 + (code - 48);
      digits += 1;
      if (octet > 255 || digits > 3) return undefined;
    } else {
      return undefined;
    }
  }
  if (digits === 0 || parts !== 3) return undefined;
  return value * 256 + octet;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/**
 * The eight 16-bit groups of an IPv6 address, or undefined when it is not one. One pass over the
 * text without splitting (this runs for every event with an IPv6 address).
 */
export function parseIpv6Groups(text: string): number[] | undefined {
  const zone = text.indexOf('%');
  const end = zone === -1 ? text.length : zone;
  const head: number[] = [];
  const tail: number[] = [];
  let groups = head;
  let compressed = false;
  let i = 0;
  if (end >= 2 && text.charCodeAt(0) === 58 && text.charCodeAt(1) === 58) {
    compressed = true;
    groups = tail;
    i = 2;
    if (end === 2) return [0, 0, 0, 0, 0, 0, 0, 0];
  }
  while (i < end) {
    let value = 0;
    let digits = 0;
    const start = i;
    while (i < end) {
      const digit = hexValue(text.charCodeAt(i));
      if (digit < 0) break;
      value = value * 16 + digit;
      digits += 1;
      i += 1;
    }
    if (i < end && text.charCodeAt(i) === 46) {
      // Embedded IPv4 in the last 32 bits.
      const v4 = parseIpv4(text.slice(start, end));
      if (v4 === undefined) return undefined;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return undefined;
    groups.push(value);
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return undefined;
    i += 1;
    if (i < end && text.charCodeAt(i) === 58) {
      if (compressed) return undefined;
      compressed = true;
      groups = tail;
      i += 1;
      if (i === end) break;
    } else if (i === end) {
      return undefined;
    }
  }
  if (!compressed) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  for (let k = 0; k < missing; k += 1) head.push(0);
  for (const group of tail) head.push(group);
  return head;
}

export function parseIp(text: string): ParsedIp | undefined {
  if (!text.includes(':')) {
    const value = parseIpv4(text);
    return value === undefined ? undefined : { family: 4, value };
  }
  const groups = parseIpv6Groups(text);
  if (groups === undefined) return undefined;
  // Read directly, not through a helper closure made per call: this runs for every IPv6 event.
  const g0 = groups[0] ?? 0;
  const g1 = groups[1] ?? 0;
  const g2 = groups[2] ?? 0;
  const g3 = groups[3] ?? 0;
  const g4 = groups[4] ?? 0;
  const g5 = groups[5] ?? 0;
  const g6 = groups[6] ?? 0;
  const g7 = groups[7] ?? 0;
  // ::ffff:a.b.c.d carries an IPv4 address.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) {
    return { family: 4, value: g6 * 65536 + g7 };
  }
  return { family: 6, high: g0 * 65536 + g1, low: g2 * 65536 + g3 };
}

/** Why an address has no public owner: the special-purpose registries (RFC 6890 and successors). */
export type SpecialUse = 'private' | 'loopback' | 'link_local' | 'shared' | 'documentation' | 'reserved';

const ipv4SpecialBlocks: readonly [number, number, SpecialUse][] = [
  [0x00000000, 8, 'reserved'],
  [0x0a000000, 8, 'private'],
  [0x64400000, 10, 'shared'],
  [0x7f000000, 8, 'loopback'],
  [0xa9fe0000, 16, 'link_local'],
  [0xac100000, 12, 'private'],
  [0xc0000000, 24, 'reserved'],
  [0xc0000200, 24, 'documentation'],
  [0xc0a80000, 16, 'private'],
  [0xc6120000, 15, 'reserved'],
  [0xc6336400, 24, 'documentation'],
  [0xcb007100, 24, 'documentation'],
  [0xe0000000, 3, 'reserved'],
];

/** [first, end (exclusive), use] */
const ipv4Special: readonly [number, number, SpecialUse][] = ipv4SpecialBlocks.map(([start, bits, use]) => [
  start,
  start + 2 ** (32 - bits),
  use,
]);

export function specialUseOf(ip: ParsedIp): SpecialUse | undefined {
  if (ip.family === 4) {
    for (const [start, end, use] of ipv4Special) if (ip.value >= start && ip.value < end) return use;
    return undefined;
  }
  const top16 = ip.high >>> 16;
  if (ip.high === 0 && ip.low === 0) return 'loopback'; // ::/64 holds ::1 and ::
  if ((top16 & 0xfe00) === 0xfc00) return 'private';
  if ((top16 & 0xffc0) === 0xfe80) return 'link_local';
  if (ip.high === 0x20010db8) return 'documentation';
  if ((top16 & 0xe000) !== 0x2000) return 'reserved'; // only 2000::/3 is global unicast
  return undefined;
}

const hex = (n: number): string => n.toString(16);

/**
 * The network an address belongs to for velocity counting: the IPv4 /24 or the IPv6 /64, as
 * text (`203.0.113.0/24`, `2001:db8:1:2::/64`). Undefined for unparseable text.
 */
export function networkPrefixOf(ip: ParsedIp): string {
  if (ip.family === 4) {
    const base = ip.value - (ip.value % 256);
    return `${String(Math.floor(base / 16777216))}.${String(Math.floor(base / 65536) % 256)}.${String(
      Math.floor(base / 256) % 256,
    )}.0/24`;
  }
  return `${hex(ip.high >>> 16)}:${hex(ip.high & 0xffff)}:${hex(ip.low >>> 16)}:${hex(ip.low & 0xffff)}::/64`;
}
