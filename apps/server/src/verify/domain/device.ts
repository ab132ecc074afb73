import { UAParser } from 'ua-parser-js';
import { LruMap } from '../../core/lru.ts';

/** Parsing a user agent costs tens of microseconds; a store's traffic repeats a few thousand. */
const described = new LruMap<string, string>(4096);

/** "Chrome on macOS" from a user agent, for messages a person reads; the raw string as a fallback. */
export function describeDevice(userAgent: string): string {
  const known = described.get(userAgent);
  if (known !== undefined) return known;
  const description = describe(userAgent);
  described.set(userAgent, description);
  return description;
}

function describe(userAgent: string): string {
  const parsed = new UAParser(userAgent).getResult();
  const browser = parsed.browser.name;
  const os = parsed.os.name;
  if (browser !== undefined && os !== undefined) return `${browser} on ${os}`;
  if (browser !== undefined) return browser;
  if (os !== undefined) return os;
  const trimmed = userAgent.trim().slice(0, 60);
  return trimmed.length === 0 ? 'an unknown device' : trimmed;
}

/** A coarse network description when no location data is wired in: the /24 (IPv4) or /48 (IPv6). */
export function coarseNetwork(ip: string): string {
  if (ip.includes('.')) {
    const parts = ip.split('.');
    return parts.length === 4 ? `network ${parts.slice(0, 3).join('.')}.0/24` : 'an unknown network';
  }
  const groups = ip.split(':').filter((g) => g.length > 0);
  return groups.length >= 3 ? `network ${groups.slice(0, 3).join(':')}::/48` : 'an unknown network';
}

/** Masks an address for display: j•••@example.com, +81•••••5678. */
export function maskDestination(to: string): string {
  const at = to.indexOf('@');
  if (at > 0) return `${to.slice(0, 1)}•••${to.slice(at)}`;
  return to.length > 6 ? `${to.slice(0, 3)}•••••${to.slice(-4)}` : '•••';
}

/** A country's name in the reader's language ("Japan", "日本") from its ISO 3166-1 code. */
export function countryName(code: string, locale: 'en' | 'ja'): string {
  try {
    return regionNames(locale).of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** One `Intl.DisplayNames` per locale: making one costs far more than asking it. */
const regionNamesByLocale = new Map<string, Intl.DisplayNames>();
function regionNames(locale: 'en' | 'ja'): Intl.DisplayNames {
  let names = regionNamesByLocale.get(locale);
  if (names === undefined) {
    names = new Intl.DisplayNames([locale], { type: 'region' });
    regionNamesByLocale.set(locale, names);
  }
  return names;
}
