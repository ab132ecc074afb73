import type { ModelDefinition } from './model.ts';
import type { RuleSetDefinition } from './rules.ts';

/**
 * What a fresh installation decides orders with: the default rule pack and a prior model. Both
 * are data; analysts replace the pack through the rules API and `bulwark model train` replaces
 * the model with one trained on the store's own labelled history.
 */
export const defaultRulePackVersion = 'default-pack-1';

export const defaultRulePack: RuleSetDefinition = {
  rules: [
    // The origin incident: a sign-in from a new device, then gift cards one after another.
    {
      id: 'new_device_gift_card_burst',
      description:
        'A second gift-card order within a day of a sign-in from a new device (the origin incident).',
      expression:
        'account.minutesSinceNewDevice < 1440 && order.giftCardValue > 0 && order.giftCardCount24h >= 2',
      outcome: 'review',
      priority: 900,
      reasonCode: 'new_device_gift_cards',
    },
    {
      id: 'new_device_first_gift_card',
      description:
        'The first gift-card order within a day of a sign-in from a new device: step up before accepting.',
      expression:
        'account.minutesSinceNewDevice < 1440 && order.giftCardValue > 0 && order.giftCardCount24h == 1',
      outcome: 'challenge',
      priority: 800,
      reasonCode: 'new_device_gift_cards',
    },
    {
      id: 'credential_change_digital',
      description: 'Digital goods or gift cards within a day of a password, 2FA, e-mail or phone change.',
      expression:
        'account.minutesSinceCredentialChange < 1440 && order.digitalShare >= 0.5 && order.amount >= 10000',
      outcome: 'review',
      priority: 700,
      reasonCode: 'credential_change_purchase',
    },
    {
      id: 'stolen_session_order',
      description: 'An order within a day of session protection flagging this account’s session.',
      expression: 'account.minutesSinceStolenSession < 1440',
      outcome: 'review',
      priority: 850,
      reasonCode: 'stolen_session_purchase',
    },
    // Gift-card cash-out without the new-device signal.
    {
      id: 'gift_card_cash_out',
      description:
        'Gift cards worth ¥50,000 or more in a day, or three or more gift-card orders making up most of the spend.',
      expression:
        'order.giftCardValue > 0 && (order.giftCardValue24h >= 50000 || (order.giftCardCount24h >= 3 && order.giftCardShare24h >= 0.8))',
      outcome: 'review',
      priority: 600,
      reasonCode: 'gift_card_cash_out',
    },
    // Card testing: many small attempts on one card, or one card across accounts.
    {
      id: 'card_testing',
      description: 'Five or more orders on one card within 10 minutes at small amounts.',
      expression: 'velocity.cardCount10m >= 5 && order.amount <= 1000',
      outcome: 'deny',
      priority: 900,
      reasonCode: 'card_testing',
    },
    {
      id: 'card_many_accounts',
      description: 'One card used by three or more accounts in a day.',
      expression: 'velocity.cardAccounts24h >= 3',
      outcome: 'review',
      priority: 500,
      reasonCode: 'shared_card',
    },
    {
      id: 'ip_order_burst',
      description:
        'Ten orders from one IP, or twenty from one /24, within 10 minutes, across several accounts.',
      expression:
        '(velocity.ipCount10m >= 10 && velocity.ipAccounts24h >= 3) || (velocity.subnetCount10m >= 20 && velocity.subnetAccounts24h >= 5)',
      outcome: 'review',
      priority: 400,
      reasonCode: 'network_order_burst',
    },
    // Reshipping rings: one drop address shared by several accounts.
    {
      id: 'reshipping_ring',
      description: 'A shipping address used by three or more accounts in a day, new to this account.',
      expression: 'order.newShippingAddress && velocity.addressAccounts24h >= 3',
      outcome: 'review',
      priority: 500,
      reasonCode: 'reshipping_ring',
    },
    // New-account bursts.
    {
      id: 'new_account_burst',
      description: 'An account less than a day old placing its third order within an hour.',
      expression: 'account.ageDays < 1.0 && velocity.accountCount1h >= 3',
      outcome: 'review',
      priority: 500,
      reasonCode: 'new_account_burst',
    },
    {
      id: 'new_account_digital',
      description: 'An account less than a day old buying ¥20,000 or more of digital goods or gift cards.',
      expression: 'account.ageDays < 1.0 && order.digitalShare >= 0.5 && order.amount >= 20000',
      outcome: 'challenge',
      priority: 400,
      reasonCode: 'new_account_burst',
    },
    {
      id: 'disposable_email_digital',
      description: 'Digital goods or gift cards delivered to (or bought by) a disposable mailbox.',
      expression: 'order.disposableEmail && order.digitalShare > 0.0',
      outcome: 'challenge',
      priority: 300,
      reasonCode: 'disposable_email',
    },
    {
      id: 'card_ip_country_mismatch',
      description: 'Card issued in one country, order from an IP in another, ¥20,000 or more.',
      expression: 'order.cardIpCountryMismatch && order.amount >= 20000',
      outcome: 'challenge',
      priority: 300,
      reasonCode: 'card_country_mismatch',
    },
    {
      id: 'unusual_amount',
      description: 'Five times the largest earlier order of an account with some history.',
      expression: 'account.priorOrderCount >= 3 && order.amountToAccountMax >= 5.0',
      outcome: 'challenge',
      priority: 200,
      reasonCode: 'unusual_amount',
    },
    {
      id: 'order_velocity',
      description: 'More than five orders from one account within an hour.',
      expression: 'velocity.accountCount1h > 5',
      outcome: 'review',
      priority: 300,
      reasonCode: 'order_velocity',
    },
  ],
};

/**
 * A prior, set by hand from the incident and the fraud literature (not trained): it ranks
 * gift-card bursts after a new-device sign-in highest. Features are used on their transformed
 * scale (mean 0, scale 1), so each weight is the log-odds one unit adds.
 */
export const defaultModel: ModelDefinition = {
  version: 'prior-1',
  kind: 'logistic-regression',
  bias: -5,
  features: [
    { name: 'order.giftCardShare24h', transform: { kind: 'identity' }, mean: 0, scale: 1, weight: 1.5 },
    { name: 'order.giftCardValue24h', transform: { kind: 'log1p' }, mean: 0, scale: 1, weight: 0.25 },
    { name: 'order.giftCardCount24h', transform: { kind: 'log1p' }, mean: 0, scale: 1, weight: 0.8 },
    {
      name: 'account.minutesSinceNewDevice',
      transform: { kind: 'below', threshold: 1440 },
      mean: 0,
      scale: 1,
      weight: 2,
    },
    {
      name: 'account.minutesSinceCredentialChange',
      transform: { kind: 'below', threshold: 1440 },
      mean: 0,
      scale: 1,
      weight: 1,
    },
    {
      name: 'account.minutesSinceStolenSession',
      transform: { kind: 'below', threshold: 1440 },
      mean: 0,
      scale: 1,
      weight: 2,
    },
    { name: 'account.ageDays', transform: { kind: 'below', threshold: 1 }, mean: 0, scale: 1, weight: 1 },
    { name: 'order.knownDevice', transform: { kind: 'identity' }, mean: 0, scale: 1, weight: -0.8 },
    { name: 'order.deliveryToOtherEmail', transform: { kind: 'identity' }, mean: 0, scale: 1, weight: 0.5 },
    { name: 'order.disposableEmail', transform: { kind: 'identity' }, mean: 0, scale: 1, weight: 1 },
    { name: 'order.cardIpCountryMismatch', transform: { kind: 'identity' }, mean: 0, scale: 1, weight: 0.8 },
    { name: 'order.newShippingAddress', transform: { kind: 'identity' }, mean: 0, scale: 1, weight: 0.4 },
    { name: 'velocity.cardAccounts24h', transform: { kind: 'log1p' }, mean: 0, scale: 1, weight: 0.6 },
    { name: 'velocity.accountCount1h', transform: { kind: 'log1p' }, mean: 0, scale: 1, weight: 0.5 },
    { name: 'order.amountToAccountMax', transform: { kind: 'log1p' }, mean: 0, scale: 1, weight: 0.3 },
  ],
};
