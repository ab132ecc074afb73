/**
 * Realistic login traffic for the benchmark: a fixed population of accounts, each with its own
 * home network, devices, browser and language, signing in mostly from home, sometimes from a new
 * phone or while travelling; failed passwords from owners and from a credential-stuffing botnet
 * that also tries usernames that do not exist. Deterministic for a seed, so runs compare.
 */

import { seededRandom } from '../apps/server/src/core/random.ts';

export { seededRandom };

const desktopUserAgents = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
];
const mobileUserAgents = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
  'Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 13; SO-51C) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.107 Mobile Safari/537.36',
];
/** What credential-stuffing tools send when they do not bother to look like a browser. */
const botUserAgents = [
  'python-requests/2.32.3',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'curl/8.5.0',
  'Go-http-client/1.1',
];
const languages = [
  'ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7',
  'ja',
  'en-US,en;q=0.9',
  'en-GB,en;q=0.9',
  'zh-CN,zh;q=0.9',
];

/** First octets of public consumer-ISP IPv4 space (documentation only: nothing is ever sent there). */
const ipv4FirstOctets = [
  1, 14, 27, 36, 42, 49, 58, 60, 61, 106, 110, 111, 114, 118, 119, 121, 124, 126, 133, 153, 180, 182, 219,
  220, 221,
];
/** /32 prefixes of public IPv6 access networks. */
const ipv6Prefixes = ['2400:4050', '2400:2410', '240b:10', '2001:268', '2404:7a80', '2001:240'];

interface Account {
  readonly id: string;
  readonly email: string;
  readonly homeIps: readonly string[];
  readonly devices: readonly { deviceId: string; userAgent: string }[];
  readonly language: string;
}

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;

function hex(random: () => number, digits: number): string {
  let text = '';
  // Eight hex digits per draw: id generation must not slow the million-line file down.
  while (text.length < digits)
    text += Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return text.slice(0, digits);
}

function ipv4(random: () => number): string {
  const octet = (): number => 1 + Math.floor(random() * 254);
  return `${pick(random, ipv4FirstOctets)}.${octet()}.${octet()}.${octet()}`;
}

function ipv6(random: () => number): string {
  return `${pick(random, ipv6Prefixes)}:${hex(random, 4)}:${hex(random, 4)}:${hex(random, 4)}::${hex(random, 3)}`;
}

export type LoginEvent = Record<string, unknown> & { type: 'login.succeeded' | 'login.failed' };

/** Makes login events without `id` and `at`: the caller stamps those when it sends or writes them. */
export class LoginTraffic {
  readonly #random: () => number;
  readonly #accounts: Account[] = [];
  readonly #botnetIps: string[] = [];
  #sessionCounter = 0;

  constructor(options: { accountsCount: number; seed: number }) {
    this.#random = seededRandom(options.seed);
    const random = this.#random;
    for (let i = 0; i < options.accountsCount; i += 1) {
      // About one account in seven is on an IPv6 home network.
      const home = random() < 0.15 ? ipv6(random) : ipv4(random);
      const homeIps = random() < 0.3 ? [home, ipv4(random)] : [home];
      const devices = [{ deviceId: `dev_${hex(random, 16)}`, userAgent: pick(random, desktopUserAgents) }];
      if (random() < 0.7)
        devices.push({ deviceId: `dev_${hex(random, 16)}`, userAgent: pick(random, mobileUserAgents) });
      this.#accounts.push({
        id: `acct_${(100_000 + i).toString(36)}`,
        email: `user${i}@example.com`,
        homeIps,
        devices,
        language: pick(random, languages),
      });
    }
    for (let i = 0; i < 500; i += 1) this.#botnetIps.push(random() < 0.1 ? ipv6(random) : ipv4(random));
  }

  /**
   * Accounts are picked with a skew (square of a uniform draw): a few sign in often, most rarely,
   * so the server sees both warm cached accounts and cold ones it has to load.
   */
  #account(): Account {
    const r = this.#random();
    return this.#accounts[Math.floor(this.#accounts.length * r * r)] as Account;
  }

  #sessionId(): string {
    this.#sessionCounter += 1;
    return `sess_${this.#sessionCounter.toString(36)}${hex(this.#random, 12)}`;
  }

  next(): LoginEvent {
    const random = this.#random;
    const roll = random();
    if (roll < 0.8) return this.#succeeded();
    if (roll < 0.97) return this.#badPassword();
    if (roll < 0.99) return this.#unknownAccount();
    return this.#badSecondFactor();
  }

  /** The owner at home (92%), on a new phone at home (5%) or travelling (3%). */
  #context(account: Account): Record<string, string> {
    const random = this.#random;
    const where = random();
    const device = pick(random, account.devices);
    if (where < 0.92) {
      return {
        ip: pick(random, account.homeIps),
        userAgent: device.userAgent,
        deviceId: device.deviceId,
        acceptLanguage: account.language,
      };
    }
    if (where < 0.97) {
      return {
        ip: pick(random, account.homeIps),
        userAgent: pick(random, mobileUserAgents),
        deviceId: `dev_${hex(random, 16)}`,
        acceptLanguage: account.language,
      };
    }
    return {
      ip: random() < 0.2 ? ipv6(random) : ipv4(random),
      userAgent: device.userAgent,
      deviceId: device.deviceId,
      acceptLanguage: account.language,
    };
  }

  #botContext(): Record<string, string> {
    return {
      ip: pick(this.#random, this.#botnetIps),
      userAgent: pick(this.#random, botUserAgents),
      acceptLanguage: 'en-US,en;q=0.9',
    };
  }

  #succeeded(): LoginEvent {
    const random = this.#random;
    const account = this.#account();
    const methodRoll = random();
    const method =
      methodRoll < 0.7
        ? 'password'
        : methodRoll < 0.85
          ? 'passkey'
          : methodRoll < 0.95
            ? 'social'
            : 'magic_link';
    const event: LoginEvent = {
      type: 'login.succeeded',
      accountId: account.id,
      context: { ...this.#context(account), sessionId: this.#sessionId() },
      method,
    };
    if (method === 'password') event.secondFactor = pick(random, ['none', 'none', 'totp', 'sms', 'email']);
    return event;
  }

  #badPassword(): LoginEvent {
    const account = this.#account();
    // Three in ten failed passwords on real accounts come from the stuffing botnet.
    const context = this.#random() < 0.3 ? this.#botContext() : this.#context(account);
    return { type: 'login.failed', accountId: account.id, context, reason: 'bad_password' };
  }

  #unknownAccount(): LoginEvent {
    return {
      type: 'login.failed',
      context: this.#botContext(),
      reason: 'unknown_account',
      username: `${hex(this.#random, 8)}@example.net`,
    };
  }

  #badSecondFactor(): LoginEvent {
    const account = this.#account();
    return {
      type: 'login.failed',
      accountId: account.id,
      context: this.#context(account),
      reason: 'bad_second_factor',
    };
  }
}

/**
 * Event bodies without `id` and `at`, as the JSON text after the opening brace, so a sender only
 * concatenates the fresh id and time in front: building a body costs the load generator almost
 * nothing, which keeps its CPU for sending.
 */
export function bodyTails(traffic: LoginTraffic, count: number): string[] {
  const tails: string[] = [];
  for (let i = 0; i < count; i += 1) tails.push(JSON.stringify(traffic.next()).slice(1));
  return tails;
}

export function eventJson(tail: string, id: string, at: string): string {
  return `{"id":"${id}","at":"${at}",${tail}`;
}
