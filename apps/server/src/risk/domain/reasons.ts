/**
 * The closed list of reason codes a decision may carry. `docs/reasons.md` explains each.
 * Detectors added later extend this list; codes are never renamed.
 */
export const reasonCodes = [
  'first_seen_account',
  'new_device',
  'new_network',
  'no_second_factor',
  'recent_login_failures',
  'source_failure_burst',
  'account_failure_burst',
  'order_velocity',
  'account_in_containment',
  'containment_opened',
] as const;
export type ReasonCode = (typeof reasonCodes)[number];
