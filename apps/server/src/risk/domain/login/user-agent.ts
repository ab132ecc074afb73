import { hash } from 'node:crypto';
import { UAParser } from 'ua-parser-js';
import { LruMap } from '../../../core/lru.ts';

/**
 * The user-agent sub-features of the RBA model (Wiefling et al.): the full string, browser name
 * and major version, OS name and version, and device type. Parsed with ua-parser-js 1.x (MIT;
 * 2.x is AGPL and must not be used). Unparseable or empty strings give "unknown" parts, never an
 * error: a bot's `curl/8` is simply an unusual browser.
 */
export interface UserAgentFeatures {
  /** A digest of the whole string (bounded size in profiles and keys). */
  readonly full: string;
  readonly browser: string;
  /** Browser name without version: "same browser family" in the targeted-attacker sense. */
  readonly browserFamily: string;
  readonly os: string;
  readonly deviceType: string;
}

export interface UserAgentParser {
  parse(userAgent: string): UserAgentFeatures;
}

const unknown = 'unknown';

/** Parses one string; see `userAgentParser` for the cached form used on the hot path. */
export function parseUserAgent(userAgent: string): UserAgentFeatures {
  const full = `ua:${hash('sha256', userAgent, 'base64url').slice(0, 16)}`;
  if (userAgent.trim().length === 0) {
    return { full, browser: unknown, browserFamily: unknown, os: unknown, deviceType: unknown };
  }
  // Only the three parts the model uses: engine and CPU detection would cost four times as much.
  const parser = new UAParser(userAgent);
  const parsedBrowser = parser.getBrowser();
  const parsedOs = parser.getOS();
  const browserFamily = parsedBrowser.name ?? unknown;
  const major = parsedBrowser.version?.split('.')[0];
  const browser = major === undefined ? browserFamily : `${browserFamily} ${major}`;
  const osName = parsedOs.name;
  const os = osName === undefined ? unknown : `${osName} ${parsedOs.version ?? ''}`.trim();
  // ua-parser-js leaves desktop browsers without a device type.
  const deviceType = parser.getDevice().type ?? (osName === undefined ? unknown : 'desktop');
  return { full, browser, browserFamily, os, deviceType };
}

/**
 * A parser with a bounded cache: the same few thousand strings make up most traffic, and parsing
 * costs tens of microseconds. One per policy (no module singleton).
 */
export function userAgentParser(entriesMax = 4096): UserAgentParser {
  const cache = new LruMap<string, UserAgentFeatures>(entriesMax);
  return {
    parse(userAgent: string): UserAgentFeatures {
      let features = cache.get(userAgent);
      if (features === undefined) {
        features = parseUserAgent(userAgent);
        cache.set(userAgent, features);
      }
      return features;
    },
  };
}
