import { seededRandom } from '../../core/random.ts';
import { dayMs, minuteMs } from '../../core/time.ts';
import type { NetworkKind } from '../../risk/domain/ip/lookup.ts';
import type { Network, NetworkPools } from './networks.ts';

/**
 * Labelled sign-in traffic (`bulwark simulate logins`): shoppers with habits and attackers with
 * playbooks, as contract events plus a separate labels file. Deterministic by seed (and the IP
 * tables the network pools were drawn from).
 *
 * Shoppers: a home network, often a work network and a mobile carrier, one to three devices whose
 * browsers update every four weeks, now and then a new phone or a cleared cookie, some trips
 * abroad, some VPN users, typos before a success, sessions with ordinary and sensitive actions
 * (a phone's session may move from Wi-Fi to its carrier).
 *
 * Attackers: naive (random country), VPN (same country, datacenter AS), targeted (same country
 * and browser family as the victim, residential ISP), phishing relay (signs in seconds after the
 * victim from the relay's network with the victim's user agent, passes TOTP), stolen session
 * (the victim's session id from another device or network), credential stuffing (many accounts
 * from rotating addresses, a few hits), and the origin incident as a named scenario.
 */
export const attackKinds = [
  'naive',
  'vpn',
  'targeted',
  'relay',
  'stolen_session',
  'stuffing',
  'origin_incident',
] as const;
export type AttackKind = (typeof attackKinds)[number];
export type Actor = 'legit' | AttackKind;

export interface EventLabel {
  eventId: string;
  actor: Actor;
  /** Groups the events of one attack (its sign-in and actions). */
  attackId?: string;
  role: 'login' | 'failure' | 'activity' | 'update' | 'created';
  sensitive?: boolean;
}

export interface SimulatedEvent {
  id: string;
  type: string;
  at: string;
  accountId?: string;
  [field: string]: unknown;
}

export interface LoginSimulationOptions {
  seed: number;
  users: number;
  days: number;
  startMs: number;
  /** Attacks of each kind (stuffing: campaigns). */
  attacksPerKind: number;
}

export const defaultSimulationOptions: LoginSimulationOptions = {
  seed: 20261126,
  users: 1000,
  days: 60,
  startMs: Date.parse('2026-09-01T00:00:00Z'),
  attacksPerKind: 200,
};

interface Device {
  id: string;
  kind: 'desktop' | 'phone' | 'tablet';
  ua: (day: number) => string;
  family: string;
}

interface User {
  n: number;
  accountId: string;
  country: string;
  home: Network;
  homeIp: string;
  work?: { network: Network; ip: string };
  mobile?: Network;
  vpn?: Network;
  devices: Device[];
  loginsPerDay: number;
  totp: boolean;
  trip?: { fromDay: number; toDay: number; country: string; hotel: Network };
}

interface Pending {
  atMs: number;
  seq: number;
  event: Omit<SimulatedEvent, 'id' | 'at'>;
  label: Omit<EventLabel, 'eventId'>;
}

const sensitiveActionsList = [
  'order.archive',
  'payment_method.add',
  'giftcard.redeem',
  'address.add',
] as const;
const ordinaryActions = ['product.view', 'cart.add', 'order.view', 'wishlist.add', 'search'] as const;
const travelCountries = ['US', 'KR', 'TW', 'TH', 'FR', 'GB', 'SG', 'AU', 'DE', 'VN'] as const;
const attackerCountries = ['VN', 'RU', 'BR', 'NG', 'US', 'CN', 'IN', 'ID', 'UA', 'NL', 'DE', 'RO'] as const;
const androidModels = ['Pixel 8', 'SM-S918B', 'SO-51D', 'SH-53D', 'Pixel 7a'] as const;

const chromeMajor = (day: number, base: number) => base + Math.floor(day / 28);

function desktopAgent(random: () => number): Pick<Device, 'ua' | 'family'> {
  const base = 128 + Math.floor(random() * 4);
  const roll = random();
  if (roll < 0.45) {
    return {
      family: 'Chrome',
      ua: (day) =>
        `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${String(chromeMajor(day, base))}.0.0.0 Safari/537.36`,
    };
  }
  if (roll < 0.65) {
    return {
      family: 'Chrome',
      ua: (day) =>
        `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${String(chromeMajor(day, base))}.0.0.0 Safari/537.36`,
    };
  }
  if (roll < 0.85) {
    const v = 17 + Math.floor(random() * 2);
    return {
      family: 'Safari',
      ua: () =>
        `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${String(v)}.1 Safari/605.1.15`,
    };
  }
  const ff = 128 + Math.floor(random() * 4);
  return {
    family: 'Firefox',
    ua: (day) =>
      `Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${String(chromeMajor(day, ff))}.0) Gecko/20100101 Firefox/${String(chromeMajor(day, ff))}.0`,
  };
}

function phoneAgent(random: () => number): Pick<Device, 'ua' | 'family'> {
  if (random() < 0.6) {
    const os = 17 + Math.floor(random() * 2);
    return {
      family: 'Mobile Safari',
      ua: () =>
        `Mozilla/5.0 (iPhone; CPU iPhone OS ${String(os)}_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${String(os)}.5 Mobile/15E148 Safari/604.1`,
    };
  }
  const android = 13 + Math.floor(random() * 2);
  const model = androidModels[Math.floor(random() * androidModels.length)] ?? 'Pixel 8';
  const base = 128 + Math.floor(random() * 4);
  return {
    family: 'Chrome',
    ua: (day) =>
      `Mozilla/5.0 (Linux; Android ${String(android)}; ${model}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${String(chromeMajor(day, base))}.0.0.0 Mobile Safari/537.36`,
  };
}

function tabletAgent(): Pick<Device, 'ua' | 'family'> {
  return {
    family: 'Mobile Safari',
    ua: () =>
      'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  };
}

export interface LoginSimulation {
  events: SimulatedEvent[];
  labels: EventLabel[];
}

export function simulateLogins(pools: NetworkPools, options: LoginSimulationOptions): LoginSimulation {
  const random = seededRandom(options.seed);
  const chance = (p: number): boolean => random() < p;
  const pickOf = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const addressIn = (network: Network): string => pickOf(network.addresses);
  const pending: Pending[] = [];
  let seq = 0;
  let deviceSeq = 0;
  let sessionSeq = 0;
  const push = (atMs: number, event: Pending['event'], label: Pending['label']): void => {
    pending.push({ atMs, seq: seq++, event, label });
  };
  const newDeviceId = (): string =>
    `d-${(deviceSeq++).toString(36)}-${Math.floor(random() * 1e9).toString(36)}`;
  const newSessionId = (): string =>
    `s-${(sessionSeq++).toString(36)}-${Math.floor(random() * 1e9).toString(36)}`;
  const networkOf = (country: string, kind: NetworkKind): Network => pools.pick(country, kind, random);

  // ---------------------------------------------------------------- shoppers
  const users: User[] = [];
  for (let n = 0; n < options.users; n += 1) {
    const country = chance(0.9) ? 'JP' : pickOf(['US', 'KR', 'TW'] as const);
    const home = networkOf(country, 'fixed');
    const devices: Device[] = [];
    const deviceCount = 1 + Math.floor(random() * 3);
    devices.push({ id: newDeviceId(), kind: 'phone', ...phoneAgent(random) });
    if (deviceCount >= 2) devices.push({ id: newDeviceId(), kind: 'desktop', ...desktopAgent(random) });
    if (deviceCount >= 3) devices.push({ id: newDeviceId(), kind: 'tablet', ...tabletAgent() });
    const user: User = {
      n,
      accountId: `acct-${String(n)}`,
      country,
      home,
      homeIp: addressIn(home),
      devices,
      loginsPerDay: 0.2 + random() * 1.3,
      totp: chance(0.6),
    };
    if (chance(0.5)) {
      const network = networkOf(country, 'fixed');
      user.work = { network, ip: addressIn(network) };
    }
    if (pools.has(country, 'mobile') && chance(0.75)) user.mobile = networkOf(country, 'mobile');
    if (chance(0.05)) user.vpn = networkOf(chance(0.5) ? country : 'US', 'hosting');
    if (chance(0.12)) {
      const fromDay = Math.floor(random() * Math.max(1, options.days - 10));
      const destination = pickOf(travelCountries);
      user.trip = {
        fromDay,
        toDay: fromDay + 3 + Math.floor(random() * 8),
        country: destination,
        hotel: networkOf(destination, 'fixed'),
      };
    }
    users.push(user);
    push(
      options.startMs - dayMs + n * 1000,
      {
        type: 'account.created',
        accountId: user.accountId,
        email: `shopper-${String(n)}@example.jp`,
        ...(chance(0.4) ? { phone: `+8190${String(n).padStart(8, '0')}` } : {}),
      },
      { actor: 'legit', role: 'created' },
    );
  }

  interface Context {
    ip: string;
    userAgent: string;
    deviceId?: string;
    sessionId?: string;
    acceptLanguage?: string;
  }
  interface LegitLogin {
    user: User;
    atMs: number;
    context: Context;
    device: Device;
  }
  const legitLogins: LegitLogin[] = [];

  /** Where a shopper is and on which network, for a sign-in on `device` on `day`. */
  const legitContext = (user: User, device: Device, day: number): Context => {
    const traveling = user.trip !== undefined && day >= user.trip.fromDay && day <= user.trip.toDay;
    let ip: string;
    if (traveling && user.trip !== undefined) {
      // Abroad: hotel Wi-Fi, or roaming on the home carrier (roaming keeps the home carrier's addresses).
      ip =
        device.kind === 'phone' && user.mobile !== undefined && chance(0.5)
          ? addressIn(user.mobile)
          : addressIn(user.trip.hotel);
    } else if (user.vpn !== undefined && chance(0.4)) {
      ip = addressIn(user.vpn);
    } else if (device.kind === 'phone' && user.mobile !== undefined && chance(0.5)) {
      ip = addressIn(user.mobile);
    } else if (device.kind === 'desktop' && user.work !== undefined && chance(0.4)) {
      ip = user.work.ip;
    } else {
      ip = user.homeIp;
    }
    return { ip, userAgent: device.ua(day), deviceId: device.id, acceptLanguage: 'ja-JP,ja;q=0.9' };
  };

  const sessionActions = (
    atMs: number,
    accountId: string,
    context: Context,
    actor: Actor,
    attackId: string | undefined,
    mobileSwitch: Network | undefined,
  ): void => {
    const count = Math.floor(random() * 4);
    let t = atMs;
    for (let i = 0; i < count; i += 1) {
      t += (1 + Math.floor(random() * 15)) * minuteMs;
      const sensitive = chance(0.08);
      const action = sensitive ? pickOf(sensitiveActionsList) : pickOf(ordinaryActions);
      // A phone leaving Wi-Fi continues the session on its carrier.
      const switched = mobileSwitch !== undefined && chance(0.15);
      push(
        t,
        {
          type: 'session.activity',
          accountId,
          context: switched ? { ...context, ip: addressIn(mobileSwitch) } : context,
          action,
        },
        { actor, role: 'activity', sensitive, ...(attackId === undefined ? {} : { attackId }) },
      );
    }
  };

  for (const user of users) {
    let t = options.startMs + random() * dayMs;
    const endMs = options.startMs + options.days * dayMs;
    while (t < endMs) {
      const day = Math.floor((t - options.startMs) / dayMs);
      // A new phone now and then (once a year or so), or a cleared cookie.
      const change = random();
      if (change < 0.004) {
        const old = user.devices.findIndex((d) => d.kind === 'phone');
        const phone: Device = { id: newDeviceId(), kind: 'phone', ...phoneAgent(random) };
        if (old >= 0) user.devices[old] = phone;
        else user.devices.push(phone);
      } else if (change < 0.008) {
        const index = Math.floor(random() * user.devices.length);
        const device = user.devices[index] as Device;
        user.devices[index] = { ...device, id: newDeviceId() };
      }
      const device = pickOf(user.devices);
      const context = legitContext(user, device, day);
      if (chance(0.04)) {
        push(
          t - 30_000,
          { type: 'login.failed', accountId: user.accountId, context, reason: 'bad_password' },
          { actor: 'legit', role: 'failure' },
        );
      }
      const sessionId = newSessionId();
      const withSession = { ...context, sessionId };
      push(
        t,
        {
          type: 'login.succeeded',
          accountId: user.accountId,
          context: withSession,
          method: 'password',
          secondFactor: user.totp ? 'totp' : 'none',
        },
        { actor: 'legit', role: 'login' },
      );
      legitLogins.push({ user, atMs: t, context: withSession, device });
      const onWifi =
        device.kind === 'phone' && user.mobile !== undefined && !user.mobile.addresses.includes(context.ip);
      sessionActions(t, user.accountId, withSession, 'legit', undefined, onWifi ? user.mobile : undefined);
      // Exponential gaps between sign-ins, at the shopper's own rate.
      t += (-Math.log(1 - random()) / user.loginsPerDay) * dayMs;
    }
  }

  // ---------------------------------------------------------------- attackers
  const attackWindowStart = options.startMs + Math.min(14, options.days / 3) * dayMs;
  const lateLogins = legitLogins.filter(
    (l) => l.atMs >= options.startMs + Math.min(14, options.days / 3) * dayMs,
  );
  const relayable = lateLogins.length > 0 ? lateLogins : legitLogins;
  if (relayable.length === 0) throw new Error('the simulation has no shopper sign-ins: raise users or days');
  const attackTime = (): number =>
    attackWindowStart + random() * (options.startMs + options.days * dayMs - attackWindowStart);
  const victim = (): User => pickOf(users);
  let attackSeq = 0;

  const attackLogin = (
    kind: AttackKind,
    target: User,
    atMs: number,
    context: Context,
    secondFactor: string,
  ): void => {
    const attackId = `${kind}-${String(attackSeq++)}`;
    const sessionId = newSessionId();
    const withSession = { ...context, sessionId };
    push(
      atMs,
      {
        type: 'login.succeeded',
        accountId: target.accountId,
        context: withSession,
        method: 'password',
        secondFactor,
      },
      { actor: kind, role: 'login', attackId },
    );
    // What the attacker came for: cash out and hide it.
    let t = atMs;
    const actions = kind === 'origin_incident' ? 17 : 1 + Math.floor(random() * 3);
    for (let i = 0; i < actions; i += 1) {
      t += (20 + Math.floor(random() * 120)) * 1000;
      const action =
        kind === 'origin_incident'
          ? i < 16
            ? 'giftcard.redeem'
            : 'order.archive'
          : pickOf(sensitiveActionsList);
      push(
        t,
        { type: 'session.activity', accountId: target.accountId, context: withSession, action },
        { actor: kind, role: 'activity', sensitive: true, attackId },
      );
    }
  };

  const randomAgent = (): string =>
    (chance(0.5) ? desktopAgent(random) : phoneAgent(random)).ua(Math.floor(random() * 60));

  for (let i = 0; i < options.attacksPerKind; i += 1) {
    // Naive: anywhere in the world, its own device.
    {
      const target = victim();
      const country = pickOf(attackerCountries);
      const network = networkOf(country, chance(0.5) ? 'hosting' : 'fixed');
      attackLogin(
        'naive',
        target,
        attackTime(),
        { ip: addressIn(network), userAgent: randomAgent(), deviceId: newDeviceId() },
        chance(0.5) ? 'none' : 'totp',
      );
    }
    // VPN: the victim's country, a datacenter network.
    {
      const target = victim();
      const network = networkOf(target.country, 'hosting');
      attackLogin(
        'vpn',
        target,
        attackTime(),
        { ip: addressIn(network), userAgent: randomAgent(), deviceId: newDeviceId() },
        'totp',
      );
    }
    // Targeted: the victim's country and browser family, a residential ISP (sometimes the victim's own).
    {
      const target = victim();
      const network = chance(0.3) ? target.home : networkOf(target.country, 'fixed');
      const model = pickOf(target.devices);
      const agent = model.kind === 'phone' ? phoneAgent(random) : desktopAgent(random);
      const day = Math.floor(random() * options.days);
      const userAgent = agent.family === model.family ? agent.ua(day) : model.ua(day);
      attackLogin(
        'targeted',
        target,
        attackTime(),
        { ip: addressIn(network), userAgent, deviceId: newDeviceId() },
        'totp',
      );
    }
    // Phishing relay: seconds after one of the victim's own sign-ins, from the relay's network,
    // with the victim's user agent (the relay forwards it) but not its device cookie.
    {
      const legit = pickOf(relayable);
      const network = chance(0.75)
        ? networkOf(chance(0.6) ? legit.user.country : pickOf(attackerCountries), 'hosting')
        : networkOf(legit.user.country, 'fixed');
      attackLogin(
        'relay',
        legit.user,
        legit.atMs + (5 + Math.floor(random() * 55)) * 1000,
        {
          ip: addressIn(network),
          userAgent: legit.context.userAgent,
          ...(chance(0.5) ? { deviceId: newDeviceId() } : {}),
        },
        'totp',
      );
    }
    // Stolen session: the victim's session id, replayed from the thief's device and network.
    {
      const legit = pickOf(relayable);
      const attackId = `stolen_session-${String(attackSeq++)}`;
      const roll = random();
      const network = networkOf(
        chance(0.5) ? legit.user.country : pickOf(attackerCountries),
        chance(0.6) ? 'hosting' : 'fixed',
      );
      const context: Context =
        roll < 0.6
          ? { ip: addressIn(network), userAgent: randomAgent(), deviceId: newDeviceId() }
          : roll < 0.85
            ? // The whole cookie jar and the user agent copied: only the network differs.
              {
                ip: addressIn(network),
                userAgent: legit.context.userAgent,
                ...(legit.context.deviceId === undefined ? {} : { deviceId: legit.context.deviceId }),
              }
            : { ip: addressIn(network), userAgent: randomAgent() };
      let t = legit.atMs + (2 + Math.floor(random() * 120)) * minuteMs;
      for (let k = 0; k < 1 + Math.floor(random() * 3); k += 1) {
        push(
          t,
          {
            type: 'session.activity',
            accountId: legit.user.accountId,
            context: { ...context, sessionId: legit.context.sessionId },
            action: k === 0 && chance(0.5) ? pickOf(ordinaryActions) : pickOf(sensitiveActionsList),
          },
          { actor: 'stolen_session', role: 'activity', attackId, sensitive: true },
        );
        t += (30 + Math.floor(random() * 300)) * 1000;
      }
    }
  }
  // Credential stuffing: campaigns over many accounts from rotating addresses of a few networks.
  const campaigns = Math.max(1, Math.floor(options.attacksPerKind / 20));
  for (let c = 0; c < campaigns; c += 1) {
    const startMs = attackTime();
    const networks = [0, 1, 2].map(() =>
      networkOf(pickOf(['US', 'NL', 'DE', 'VN', 'JP'] as const), chance(0.7) ? 'hosting' : 'fixed'),
    );
    const attempts = 400;
    const userAgent = randomAgent();
    for (let a = 0; a < attempts; a += 1) {
      const network = pickOf(networks);
      const atMs = startMs + a * 1500;
      const context = { ip: addressIn(network), userAgent };
      const known = chance(0.6);
      const target = victim();
      if (known && chance(0.02)) {
        // A reused password: the sign-in succeeds.
        attackLogin('stuffing', target, atMs, { ...context, deviceId: newDeviceId() }, 'none');
      } else {
        push(
          atMs,
          known
            ? { type: 'login.failed', accountId: target.accountId, context, reason: 'bad_password' }
            : {
                type: 'login.failed',
                context,
                reason: 'unknown_account',
                username: `u${String(Math.floor(random() * 1e9))}@mail.example`,
              },
          { actor: 'stuffing', role: 'failure', attackId: `stuffing-campaign-${String(c)}` },
        );
      }
    }
  }
  // The origin incident: a shopper with TOTP on; the attacker passes it through a real-time relay
  // from a new device, network and country, then buys sixteen gift cards and archives the orders.
  {
    const target = users.find((u) => u.country === 'JP' && u.totp) ?? users[0];
    if (target === undefined) throw new Error('the simulation has no shoppers');
    const legit = legitLogins.filter((l) => l.user === target).at(-1);
    const atMs = (legit?.atMs ?? attackTime()) + 40_000;
    const network = networkOf('VN', 'fixed');
    attackLogin(
      'origin_incident',
      target,
      atMs,
      {
        ip: addressIn(network),
        userAgent: legit?.context.userAgent ?? randomAgent(),
        deviceId: newDeviceId(),
      },
      'totp',
    );
  }

  pending.sort((x, y) => x.atMs - y.atMs || x.seq - y.seq);
  const events: SimulatedEvent[] = [];
  const labels: EventLabel[] = [];
  pending.forEach((p, index) => {
    const id = `sim-${String(index)}`;
    events.push({ id, at: new Date(Math.round(p.atMs)).toISOString(), ...p.event } as SimulatedEvent);
    labels.push({ eventId: id, ...p.label });
  });
  return { events, labels };
}
