import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultOrderPolicy, type OrderPolicy } from '../risk/domain/orders/policy.ts';
import { defaultRiskPolicy, withOrderPolicy, type RiskPolicy } from '../risk/domain/policy.ts';

/** The disposable-mail list shipped with the project (see its SOURCE.md). */
export const shippedDisposableDomainsPath = fileURLToPath(
  new URL('../../data/disposable-email-domains/disposable_email_blocklist.conf', import.meta.url),
);

/** Lower-case domains, one a line; blank lines and `#` comments are skipped. */
export function loadDisposableEmailDomains(path = shippedDisposableDomainsPath): Set<string> {
  const domains = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const domain = line.trim().toLowerCase();
    if (domain.length > 0 && !domain.startsWith('#')) domains.add(domain);
  }
  return domains;
}

/** The order policy with the reference data shipped in `apps/server/data/`. */
export function bundledOrderPolicy(): OrderPolicy {
  return defaultOrderPolicy({ disposableEmailDomains: loadDisposableEmailDomains() });
}

/**
 * What a fresh server and `bulwark replay` decide with when nothing else is configured: the
 * embedded defaults plus the shipped reference data. One function, so both decide alike.
 */
export function bundledRiskPolicy(base: RiskPolicy = defaultRiskPolicy()): RiskPolicy {
  return withOrderPolicy(base, bundledOrderPolicy());
}
