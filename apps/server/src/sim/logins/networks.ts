import type { IpLookup, NetworkKind } from '../../risk/domain/ip/lookup.ts';

/**
 * Real networks for simulated traffic: random public IPv4 addresses looked up in the shipped
 * tables and grouped by country, network kind and AS, so that a simulated "home ISP in Japan" or
 * "datacenter in the same country" is one that the IP tables agree with. Deterministic for a
 * given random source and table.
 */
export interface Network {
  readonly asn: number;
  readonly country: string;
  readonly kind: NetworkKind;
  readonly addresses: readonly string[];
}

export interface NetworkPools {
  /** Networks of a country and kind, larger ones first drawn more often (by sample count). */
  pick(country: string, kind: NetworkKind, random: () => number): Network;
  has(country: string, kind: NetworkKind): boolean;
  countries(kind: NetworkKind): string[];
}

const addressesPerNetworkMax = 64;

export const dotted = (value: number): string =>
  `${String(value >>> 24)}.${String((value >>> 16) & 255)}.${String((value >>> 8) & 255)}.${String(value & 255)}`;

export function buildNetworkPools(lookup: IpLookup, random: () => number, samples = 400_000): NetworkPools {
  const groups = new Map<
    string,
    Map<number, { country: string; kind: NetworkKind; addresses: string[]; weight: number }>
  >();
  for (let i = 0; i < samples; i += 1) {
    const address = dotted(Math.floor(random() * 0xdfffffff) + 0x01000000);
    const info = lookup.lookup(address);
    if (info.country === undefined || info.asn === undefined || info.kind === undefined) continue;
    const key = `${info.country}|${info.kind}`;
    let byAsn = groups.get(key);
    if (byAsn === undefined) {
      byAsn = new Map();
      groups.set(key, byAsn);
    }
    let network = byAsn.get(info.asn);
    if (network === undefined) {
      network = { country: info.country, kind: info.kind, addresses: [], weight: 0 };
      byAsn.set(info.asn, network);
    }
    network.weight += 1;
    if (network.addresses.length < addressesPerNetworkMax) network.addresses.push(address);
  }
  const lists = new Map<string, { networks: Network[]; cumulative: number[] }>();
  for (const [key, byAsn] of groups) {
    const networks: Network[] = [];
    const cumulative: number[] = [];
    let total = 0;
    for (const [asn, n] of [...byAsn.entries()].sort((a, b) => b[1].weight - a[1].weight || a[0] - b[0])) {
      if (n.addresses.length < 4) continue;
      networks.push({ asn, country: n.country, kind: n.kind, addresses: n.addresses });
      total += n.weight;
      cumulative.push(total);
    }
    if (networks.length > 0) lists.set(key, { networks, cumulative });
  }
  return {
    has: (country, kind) => lists.has(`${country}|${kind}`),
    countries: (kind) =>
      [...lists.keys()]
        .filter((key) => key.endsWith(`|${kind}`))
        .map((key) => key.slice(0, 2))
        .sort(),
    pick(country, kind, draw) {
      const list = lists.get(`${country}|${kind}`) ?? lists.get(`US|${kind}`);
      if (list === undefined) throw new Error(`no ${kind} network sampled in ${country}`);
      const total = list.cumulative.at(-1) ?? 0;
      const roll = draw() * total;
      const index = list.cumulative.findIndex((c) => c > roll);
      return list.networks[index === -1 ? 0 : index] as Network;
    },
  };
}
