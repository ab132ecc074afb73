import { hash } from 'node:crypto';
import type { ParsedIp } from '../ip/address.ts';
import { blockContains, parseNetworkBlock, type NetworkBlock, type OperatorLists } from './policy.ts';

/**
 * The operator's allow and deny lists, parsed once per policy. A deny entry wins over an allow
 * entry. Allowed networks (an office NAT, the store's own monitoring) skip the network-novelty and
 * stuffing signals, never the device or session checks.
 */
export interface CompiledOperatorLists {
  readonly networksDenied: readonly NetworkBlock[];
  readonly networksAllowed: readonly NetworkBlock[];
  readonly devicesDenied: ReadonlySet<string>;
  readonly devicesAllowed: ReadonlySet<string>;
  /** Short digest of the lists, '' when all are empty: part of the policy version. */
  readonly digest: string;
}

export class OperatorListError extends Error {}

function blocks(entries: readonly string[], name: string): NetworkBlock[] {
  return entries.map((entry) => {
    const block = parseNetworkBlock(entry);
    if (block === undefined) throw new OperatorListError(`${name}: "${entry}" is not an IP network (CIDR)`);
    return block;
  });
}

export function compileOperatorLists(lists: OperatorLists): CompiledOperatorLists {
  const empty =
    lists.networksDenied.length +
      lists.networksAllowed.length +
      lists.devicesDenied.length +
      lists.devicesAllowed.length ===
    0;
  return {
    networksDenied: blocks(lists.networksDenied, 'networksDenied'),
    networksAllowed: blocks(lists.networksAllowed, 'networksAllowed'),
    devicesDenied: new Set(lists.devicesDenied),
    devicesAllowed: new Set(lists.devicesAllowed),
    digest: empty ? '' : hash('sha256', JSON.stringify(lists), 'hex').slice(0, 8),
  };
}

export type ListVerdict =
  | { kind: 'denied'; what: 'network' | 'device'; entry: string }
  | { kind: 'allowed'; what: 'network' | 'device'; entry: string }
  | { kind: 'none' };

export function listVerdict(
  lists: CompiledOperatorLists,
  ip: ParsedIp | undefined,
  deviceId: string | undefined,
): ListVerdict {
  if (deviceId !== undefined && lists.devicesDenied.has(deviceId)) {
    return { kind: 'denied', what: 'device', entry: deviceId };
  }
  if (ip !== undefined) {
    const denied = lists.networksDenied.find((block) => blockContains(block, ip));
    if (denied !== undefined) return { kind: 'denied', what: 'network', entry: denied.text };
  }
  if (deviceId !== undefined && lists.devicesAllowed.has(deviceId)) {
    return { kind: 'allowed', what: 'device', entry: deviceId };
  }
  if (ip !== undefined) {
    const allowed = lists.networksAllowed.find((block) => blockContains(block, ip));
    if (allowed !== undefined) return { kind: 'allowed', what: 'network', entry: allowed.text };
  }
  return { kind: 'none' };
}
