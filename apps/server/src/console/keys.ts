import { hkdfSync } from 'node:crypto';

/** Keys the console signs with, each derived from BULWARK_SECRET for one purpose (HKDF-SHA-256). */
export interface ConsoleKeys {
  /** Binds a CSRF token to its session. */
  readonly csrf: Buffer;
  /** Signs security-center links that a store hands to its shoppers. */
  readonly securityCenterLinks: Buffer;
}

function derive(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'bulwark-console', purpose, 32));
}

export function deriveConsoleKeys(secret: string): ConsoleKeys {
  return {
    csrf: derive(secret, 'csrf-token-v1'),
    securityCenterLinks: derive(secret, 'security-center-link-v1'),
  };
}
