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
  // Login risk and session protection (docs/login-risk.md).
  'new_asn',
  'new_country',
  'hosting_network',
  'unusual_for_account',
  'impossible_travel',
  'concurrent_login',
  'stuffing_source',
  'spraying_source',
  'brute_force',
  'operator_denied',
  'session_context_changed',
  'session_revoked',
  'step_up_required',
  // Order risk (docs/order-risk.md): codes the default rule pack and the model give.
  'new_device_gift_cards',
  'credential_change_purchase',
  'stolen_session_purchase',
  'gift_card_cash_out',
  'card_testing',
  'shared_card',
  'network_order_burst',
  'reshipping_ring',
  'new_account_burst',
  'disposable_email',
  'card_country_mismatch',
  'unusual_amount',
  'order_hidden_after_purchase',
  'model_score_high',
  'model_contribution',
  'rule_match',
  // Cluster mode (docs/scaling.md): decided without the shared state, from the event alone.
  'shared_state_unavailable',
] as const;
export type ReasonCode = (typeof reasonCodes)[number];
