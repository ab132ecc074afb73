import { dayMs, hourMs, minuteMs } from '../../../core/time.ts';
import { deviceKeyOf, type AccountState } from '../state.ts';
import type { WindowSeries } from '../velocity.ts';
import { orderValuesOf, shippingKeyOf, type OrderPlaced } from './order-facts.ts';

/**
 * The order feature namespace: every value a rule (CEL) or the model may read about one order,
 * with its type and meaning. It is the single source of the rule type-checker's declarations,
 * the feature table in `docs/order-risk.md` and the model's inputs.
 *
 * Values are computed before the order is recorded; velocity counts and sums include the order
 * itself. Amounts are integer minor units of the order's currency.
 */
export type FeatureType = 'int' | 'double' | 'bool' | 'string';
export type FeatureValue = number | boolean | string;

export interface FeatureSpec {
  /** Qualified name as written in rules: `order.amount`. */
  readonly name: string;
  readonly type: FeatureType;
  readonly description: string;
}

export const featureScopes = ['order', 'account', 'velocity'] as const;
export type FeatureScope = (typeof featureScopes)[number];

/** Minutes reported by `account.minutesSince*` when the thing never happened (about 1,900 years). */
export const neverMinutes = 1_000_000_000;

/** Velocity windows: name suffix → length. Retention of order series covers the longest. */
export const velocityWindows = [
  ['10m', 10 * minuteMs],
  ['1h', hourMs],
  ['24h', dayMs],
] as const;

/** Keys of the order series, by what they count. Each entry is labelled with the account id. */
export const orderSeriesKeys = {
  account: (accountId: string) => `order:acct:${accountId}`,
  giftCards: (accountId: string) => `order:gift:acct:${accountId}`,
  digital: (accountId: string) => `order:digital:acct:${accountId}`,
  card: (fingerprint: string) => `order:card:${fingerprint}`,
  device: (deviceKey: string) => `order:dev:${deviceKey}`,
  ip: (ip: string) => `order:ip:${ip}`,
  subnet: (subnet: string) => `order:net:${subnet}`,
  address: (address: string) => `order:addr:${address}`,
  emailDomain: (domain: string) => `order:edom:${domain}`,
} as const;

/** The velocity dimensions: feature prefix, and whether distinct accounts are counted too. */
const velocityDimensions = [
  ['account', 'the account', false],
  ['card', 'the card fingerprint', true],
  ['device', 'the device', true],
  ['ip', 'the IP address', true],
  ['subnet', 'the IPv4 /24 (IPv6 /48)', true],
  ['address', 'the shipping address', true],
  ['emailDomain', 'the delivery e-mail domain', true],
] as const;
type VelocityDimension = (typeof velocityDimensions)[number][0];

function velocitySpecs(): FeatureSpec[] {
  const out: FeatureSpec[] = [];
  for (const [dimension, what, distinct] of velocityDimensions) {
    for (const [suffix] of velocityWindows) {
      out.push({
        name: `velocity.${dimension}Count${suffix}`,
        type: 'int',
        description: `orders on ${what} in the last ${suffix}, this one included (0 when the order has none)`,
      });
      out.push({
        name: `velocity.${dimension}Amount${suffix}`,
        type: 'int',
        description: `order value on ${what} in the last ${suffix}, this one included`,
      });
    }
    if (distinct) {
      out.push({
        name: `velocity.${dimension}Accounts24h`,
        type: 'int',
        description: `distinct accounts ordering with ${what} in the last 24h, this one included`,
      });
    }
  }
  return out;
}

export const featureSpecs: readonly FeatureSpec[] = [
  { name: 'order.amount', type: 'int', description: 'order total in minor units' },
  { name: 'order.currency', type: 'string', description: 'ISO 4217 currency of the order' },
  { name: 'order.itemCount', type: 'int', description: 'units in the order (sum of quantities)' },
  { name: 'order.lineCount', type: 'int', description: 'lines in the order' },
  { name: 'order.giftCardValue', type: 'int', description: 'value of gift-card lines in this order' },
  { name: 'order.digitalValue', type: 'int', description: 'value of digital-goods lines in this order' },
  {
    name: 'order.giftCardShare',
    type: 'double',
    description: 'gift-card share of the order value, 0–1',
  },
  {
    name: 'order.digitalShare',
    type: 'double',
    description: 'gift-card plus digital-goods share of the order value, 0–1',
  },
  {
    name: 'order.giftCardValue24h',
    type: 'int',
    description: "gift-card value of the account's orders in the last 24h, this one included",
  },
  {
    name: 'order.giftCardCount24h',
    type: 'int',
    description: "the account's orders with gift cards in the last 24h, this one included",
  },
  {
    name: 'order.giftCardShare24h',
    type: 'double',
    description: "gift-card share of the account's order value in the last 24h, this one included",
  },
  {
    name: 'order.digitalShare24h',
    type: 'double',
    description: "gift-card plus digital share of the account's order value in the last 24h",
  },
  {
    name: 'order.amountToAccountAverage',
    type: 'double',
    description: "this amount divided by the account's average earlier order (0 when no history)",
  },
  {
    name: 'order.amountToAccountMax',
    type: 'double',
    description: "this amount divided by the account's largest earlier order (0 when no history)",
  },
  { name: 'order.paymentMethod', type: 'string', description: 'card · wallet · bank · store_credit' },
  { name: 'order.cardCountry', type: 'string', description: 'card issuing country (BIN), "" when unknown' },
  {
    name: 'order.ipCountry',
    type: 'string',
    description: 'country of the order IP from IP intelligence, "" when unknown or not configured',
  },
  {
    name: 'order.cardIpCountryMismatch',
    type: 'bool',
    description: 'card country and IP country both known and different',
  },
  { name: 'order.shippingCountry', type: 'string', description: 'shipping country, "" when none' },
  { name: 'order.hasShipping', type: 'bool', description: 'the order ships something' },
  {
    name: 'order.newShippingAddress',
    type: 'bool',
    description: 'ships to an address this account has not shipped to before',
  },
  {
    name: 'order.emailDomain',
    type: 'string',
    description: 'domain of the delivery e-mail, else of the account e-mail, lower case; "" when none',
  },
  {
    name: 'order.disposableEmail',
    type: 'bool',
    description: 'that domain is a known disposable-mail domain',
  },
  {
    name: 'order.deliveryToOtherEmail',
    type: 'bool',
    description: "digital delivery goes to an e-mail other than the account's",
  },
  {
    name: 'order.knownDevice',
    type: 'bool',
    description: 'the order comes from a device the account signed in with',
  },
  {
    name: 'order.knownIp',
    type: 'bool',
    description: 'the order comes from an IP the account signed in from',
  },
  {
    name: 'account.ageDays',
    type: 'double',
    description: 'days since the account was created (or first seen, when its creation was not sent)',
  },
  { name: 'account.known', type: 'bool', description: 'Bulwark has seen this account before this order' },
  {
    name: 'account.minutesSinceNewDevice',
    type: 'int',
    description: `minutes since the last sign-in from a new device (${neverMinutes} when never)`,
  },
  {
    name: 'account.minutesSinceCredentialChange',
    type: 'int',
    description: `minutes since the last password, 2FA, e-mail or phone change (${neverMinutes} when never)`,
  },
  {
    name: 'account.minutesSinceStolenSession',
    type: 'int',
    description: `minutes since session protection last challenged or denied this account's session activity (${neverMinutes} when never)`,
  },
  {
    name: 'account.priorOrderCount',
    type: 'int',
    description: 'orders the account placed before (not denied)',
  },
  {
    name: 'account.risk',
    type: 'int',
    description: "the account's current risk score (latest decision), 0–100",
  },
  { name: 'account.deviceCount', type: 'int', description: 'devices the account has signed in with' },
  {
    name: 'account.hiddenOrders24h',
    type: 'int',
    description: 'orders of the account archived within 30 minutes of placement in the last 24h',
  },
  ...velocitySpecs(),
];

/** Index of each feature in a feature vector. */
export const featureIndex: ReadonlyMap<string, number> = new Map(
  featureSpecs.map((spec, i) => [spec.name, i]),
);

export const featureSpecByName: ReadonlyMap<string, FeatureSpec> = new Map(
  featureSpecs.map((spec) => [spec.name, spec]),
);

/** One order's features, in `featureSpecs` order (a flat array: fast for compiled rules). */
export type FeatureVector = FeatureValue[];

/** Features as a plain object by qualified name, for explanations, backtests and docs. */
export function featuresToObject(vector: readonly FeatureValue[]): Record<string, FeatureValue> {
  const out: Record<string, FeatureValue> = {};
  featureSpecs.forEach((spec, i) => {
    out[spec.name] = vector[i] ?? defaultOf(spec.type);
  });
  return out;
}

function defaultOf(type: FeatureType): FeatureValue {
  if (type === 'bool') return false;
  if (type === 'string') return '';
  return 0;
}

/** Reference data the features read (set by the policy). */
export interface FeatureReference {
  /** Lower-case domains of disposable mail services. */
  readonly disposableEmailDomains: ReadonlySet<string>;
  /** Country (ISO alpha-2) of an IP, when IP intelligence is configured. */
  readonly countryOfIp?: (ip: string) => string | undefined;
}

export function emailDomainOf(email: string | undefined): string {
  if (email === undefined) return '';
  const at = email.lastIndexOf('@');
  return at === -1
    ? ''
    : email
        .slice(at + 1)
        .trim()
        .toLowerCase();
}

/** The /24 of an IPv4 address, the /48 of an IPv6 one: the unit of a hosting or carrier-grade NAT pool. */
export function subnetOf(ip: string): string {
  if (ip.includes(':')) return `${ip.split(':').slice(0, 3).join(':')}::/48`;
  const parts = ip.split('.');
  return `${parts.slice(0, 3).join('.')}.0/24`;
}

const minutesSince = (atMs: number, thenMs: number | undefined): number =>
  thenMs === undefined ? neverMinutes : Math.max(0, Math.floor((atMs - thenMs) / minuteMs));

const ratio = (part: number, whole: number): number => (whole > 0 ? Math.min(1, part / whole) : 0);

/**
 * Computes one order's features from what is known before it. Pure: reads the account state and
 * series, changes nothing.
 */
export function orderFeatures(
  event: OrderPlaced,
  account: AccountState | undefined,
  series: (key: string) => WindowSeries,
  reference: FeatureReference,
  atMs: number,
): FeatureVector {
  const values = orderValuesOf(event);
  const amount = event.amount.value;
  const v: FeatureVector = new Array<FeatureValue>(featureSpecs.length);
  const set = (name: string, value: FeatureValue): void => {
    const index = featureIndex.get(name);
    if (index === undefined) throw new Error(`no feature ${name}`);
    v[index] = value;
  };

  const accountEmail = account?.email;
  const deliveryEmail = event.delivery?.email;
  const deliveryDomain = emailDomainOf(deliveryEmail);
  const emailDomain = deliveryDomain === '' ? emailDomainOf(accountEmail) : deliveryDomain;
  const shippingKey = shippingKeyOf(event);
  const deviceKey = deviceKeyOf(event.context);
  const cardCountry = event.payment.cardCountry ?? '';
  const ipCountry = reference.countryOfIp?.(event.context.ip) ?? '';
  const history = account?.orderHistory;

  set('order.amount', amount);
  set('order.currency', event.amount.currency);
  set('order.itemCount', values.itemCount);
  set('order.lineCount', event.items.length);
  set('order.giftCardValue', values.giftCardValue);
  set('order.digitalValue', values.digitalValue);
  set('order.giftCardShare', ratio(values.giftCardValue, amount));
  set('order.digitalShare', ratio(values.giftCardValue + values.digitalValue, amount));
  set('order.paymentMethod', event.payment.method);
  set('order.cardCountry', cardCountry);
  set('order.ipCountry', ipCountry);
  set('order.cardIpCountryMismatch', cardCountry !== '' && ipCountry !== '' && cardCountry !== ipCountry);
  set('order.shippingCountry', event.shipping?.country ?? '');
  set('order.hasShipping', shippingKey !== undefined);
  set(
    'order.newShippingAddress',
    shippingKey !== undefined && !(account?.shippingAddresses ?? []).includes(shippingKey),
  );
  set('order.emailDomain', emailDomain);
  set('order.disposableEmail', emailDomain !== '' && reference.disposableEmailDomains.has(emailDomain));
  set(
    'order.deliveryToOtherEmail',
    deliveryEmail !== undefined &&
      deliveryEmail.trim().toLowerCase() !== (accountEmail ?? '').trim().toLowerCase(),
  );
  set('order.knownDevice', account?.devices.some((d) => d.key === deviceKey) ?? false);
  set('order.knownIp', account?.networks.some((n) => n.ip === event.context.ip) ?? false);
  set(
    'order.amountToAccountAverage',
    history !== undefined && history.count > 0 && history.sum > 0
      ? amount / (history.sum / history.count)
      : 0,
  );
  set('order.amountToAccountMax', history !== undefined && history.max > 0 ? amount / history.max : 0);

  const created = account?.createdAt ?? account?.firstSeenAt;
  set('account.ageDays', created === undefined ? 0 : Math.max(0, (atMs - created) / dayMs));
  set('account.known', account !== undefined);
  set('account.minutesSinceNewDevice', minutesSince(atMs, account?.lastNewDeviceLoginAt));
  set('account.minutesSinceCredentialChange', minutesSince(atMs, account?.lastCredentialChangeAt));
  set('account.minutesSinceStolenSession', minutesSince(atMs, account?.lastStolenSessionAt));
  set('account.priorOrderCount', history?.count ?? 0);
  set('account.risk', account?.risk ?? 0);
  set('account.deviceCount', account?.devices.length ?? 0);
  set(
    'account.hiddenOrders24h',
    (account?.recentOrders ?? []).filter((o) => o.hiddenSoonAt !== undefined && o.hiddenSoonAt > atMs - dayMs)
      .length,
  );

  // Account windows: gift-card and digital value are separate series so shares are exact.
  const accountId = event.accountId;
  const day = dayMs;
  const gift24h = series(orderSeriesKeys.giftCards(accountId)).stats(atMs, day);
  const digital24h = series(orderSeriesKeys.digital(accountId)).stats(atMs, day);
  const account24h = series(orderSeriesKeys.account(accountId)).stats(atMs, day);
  const giftValue24h = gift24h.sum + values.giftCardValue;
  const orderValue24h = account24h.sum + amount;
  set('order.giftCardValue24h', giftValue24h);
  set('order.giftCardCount24h', gift24h.count + (values.giftCardValue > 0 ? 1 : 0));
  set('order.giftCardShare24h', ratio(giftValue24h, orderValue24h));
  set('order.digitalShare24h', ratio(giftValue24h + digital24h.sum + values.digitalValue, orderValue24h));

  const keyOf: Record<VelocityDimension, string | undefined> = {
    account: orderSeriesKeys.account(accountId),
    card:
      event.payment.cardFingerprint === undefined
        ? undefined
        : orderSeriesKeys.card(event.payment.cardFingerprint),
    device: orderSeriesKeys.device(deviceKey),
    ip: orderSeriesKeys.ip(event.context.ip),
    subnet: orderSeriesKeys.subnet(subnetOf(event.context.ip)),
    address: shippingKey === undefined ? undefined : orderSeriesKeys.address(shippingKey),
    emailDomain: deliveryDomain === '' ? undefined : orderSeriesKeys.emailDomain(deliveryDomain),
  };
  for (const [dimension, , distinct] of velocityDimensions) {
    const key = keyOf[dimension];
    const s = key === undefined ? undefined : series(key);
    for (const [suffix, windowMs] of velocityWindows) {
      const stats = s?.stats(atMs, windowMs);
      set(`velocity.${dimension}Count${suffix}`, stats === undefined ? 0 : stats.count + 1);
      set(`velocity.${dimension}Amount${suffix}`, stats === undefined ? 0 : stats.sum + amount);
    }
    if (distinct) {
      const accounts = s === undefined ? 0 : s.distinctIncluding(atMs, day, accountId);
      set(`velocity.${dimension}Accounts24h`, accounts);
    }
  }
  return v;
}
