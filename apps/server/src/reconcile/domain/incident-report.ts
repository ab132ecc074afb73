import type { Dispute, PaymentState, RefundState } from '../../connectors/domain/payments.ts';
import { dayMs } from '../../core/time.ts';
import type { LedgerEntry } from './ledger.ts';

/**
 * The shopper's incident report: every unauthorized order of a contained account, with what the
 * payment provider, the carrier and the store CONFIRMED — never what Bulwark asked for — what to
 * look for on the card statement and until when, and how to dispute what remains. Built from
 * provider state read at generation time; a line Bulwark cannot confirm says so.
 */
export type ReportLocale = 'en' | 'ja';

/** How long an authorization hold can show before the issuer drops it (card networks: 7 days online). */
export const holdDropsWithinMs = 7 * dayMs;
/** How long a refund can take to appear as a credit on a statement. */
export const refundAppearsWithinMs = 10 * dayMs;

export type PaymentOutcome =
  | 'voided'
  | 'refunded'
  | 'refund_pending'
  | 'charged'
  | 'disputed'
  | 'nothing_charged'
  | 'no_card_payment'
  | 'unconfirmed';

export type ShipmentOutcome =
  'intercepted' | 'cancelled' | 'held' | 'delivered' | 'in_transit' | 'codes_delivered' | 'nothing_to_ship';

export interface ReportTransaction {
  readonly atMs: number;
  readonly kind: LedgerEntry['kind'];
  readonly amountMinor: number;
  readonly reference: string;
}

export interface ReportOrder {
  readonly orderId: string;
  readonly placedAtMs: number;
  readonly amountMinor: number;
  readonly currency: string;
  readonly paymentId: string | undefined;
  readonly payment: PaymentOutcome;
  readonly authorizedMinor: number;
  readonly capturedMinor: number;
  readonly refundedMinor: number;
  readonly refunds: readonly {
    readonly refundId: string;
    readonly amountMinor: number;
    readonly status: string;
    readonly atMs: number;
  }[];
  readonly disputes: readonly {
    readonly disputeId: string;
    readonly status: string;
    readonly amountMinor: number;
  }[];
  /** Money still charged to the card: captured less confirmed refunds and chargebacks. */
  readonly remainingMinor: number;
  readonly transactions: readonly ReportTransaction[];
  readonly shipment: ShipmentOutcome;
  readonly trackingNumbers: readonly string[];
  readonly codesDeactivated: number;
  readonly codesRedeemed: number;
  /** When the shopper should look at the statement for this order's line to be settled. */
  readonly checkStatementByMs: number;
}

export interface IncidentReport {
  readonly accountId: string;
  readonly caseId: string;
  readonly storeName: string;
  readonly provider: string;
  readonly decidedAtMs: number;
  readonly generatedAtMs: number;
  readonly orders: readonly ReportOrder[];
  readonly totals: {
    readonly currency: string;
    readonly orderedMinor: number;
    readonly voidedMinor: number;
    readonly refundedMinor: number;
    readonly remainingMinor: number;
  };
  /** True when a charge remains: the shopper should dispute it with the issuer. */
  readonly disputeAdvised: boolean;
}

export interface ReportOrderInput {
  readonly orderId: string;
  readonly placedAtMs: number;
  readonly amountMinor: number;
  readonly currency: string;
  readonly paymentId: string | undefined;
  /** Read from the provider now; undefined when the read failed (the line says unconfirmed). */
  readonly payment: PaymentState | undefined;
  readonly refunds: readonly RefundState[];
  readonly disputes: readonly Dispute[];
  readonly transactions: readonly ReportTransaction[];
  readonly shipments: readonly {
    readonly kind: string;
    readonly status: string;
    readonly intercept: string;
    readonly trackingNumber: string;
  }[];
  readonly codes: { readonly deactivated: number; readonly redeemed: number };
}

function paymentOutcome(o: ReportOrderInput): PaymentOutcome {
  if (o.paymentId === undefined) return 'no_card_payment';
  const p = o.payment;
  if (p === undefined) return 'unconfirmed';
  if (p.disputed) return 'disputed';
  switch (p.status) {
    case 'voided':
      return 'voided';
    case 'expired':
    case 'incomplete':
      return 'nothing_charged';
    case 'authorized':
      return 'unconfirmed';
    case 'captured':
      if (p.refundedMinor >= p.capturedMinor) return 'refunded';
      if (p.refundPendingMinor > 0) return 'refund_pending';
      return 'charged';
  }
}

function shipmentOutcome(o: ReportOrderInput): ShipmentOutcome {
  const physical = o.shipments.filter((s) => s.kind === 'physical');
  if (physical.some((s) => s.status === 'delivered')) return 'delivered';
  if (physical.some((s) => s.status === 'in_transit' || s.status === 'intercepting')) return 'in_transit';
  if (physical.some((s) => s.status === 'returned')) return 'intercepted';
  if (physical.some((s) => s.status === 'cancelled')) return 'cancelled';
  if (physical.some((s) => s.status === 'held' || s.status === 'pending' || s.status === 'labelled'))
    return 'held';
  if (o.shipments.some((s) => s.kind === 'digital' && s.status === 'delivered')) return 'codes_delivered';
  return 'nothing_to_ship';
}

export function buildIncidentReport(input: {
  readonly accountId: string;
  readonly caseId: string;
  readonly storeName: string;
  readonly provider: string;
  readonly decidedAtMs: number;
  readonly generatedAtMs: number;
  readonly orders: readonly ReportOrderInput[];
}): IncidentReport {
  const orders = [...input.orders]
    .sort((a, b) => a.placedAtMs - b.placedAtMs || (a.orderId < b.orderId ? -1 : 1))
    .map((o): ReportOrder => {
      const p = o.payment;
      const chargedBack = o.disputes
        .filter((d) => d.stage === 'chargeback' && d.status !== 'won')
        .reduce((s, d) => s + d.amountMinor, 0);
      const remainingMinor =
        p === undefined ? 0 : Math.max(0, p.capturedMinor - p.refundedMinor - chargedBack);
      const lastRefundAt = Math.max(0, ...o.refunds.map((r) => r.createdAtMs));
      const checkStatementByMs =
        p?.status === 'captured'
          ? Math.max(lastRefundAt, p.createdAtMs) + refundAppearsWithinMs
          : (p?.createdAtMs ?? o.placedAtMs) + holdDropsWithinMs;
      return {
        orderId: o.orderId,
        placedAtMs: o.placedAtMs,
        amountMinor: o.amountMinor,
        currency: o.currency,
        paymentId: o.paymentId,
        payment: paymentOutcome(o),
        authorizedMinor: p?.authorizedMinor ?? 0,
        capturedMinor: p?.capturedMinor ?? 0,
        refundedMinor: p?.refundedMinor ?? 0,
        refunds: o.refunds.map((r) => ({
          refundId: r.refundId,
          amountMinor: r.amountMinor,
          status: r.status,
          atMs: r.createdAtMs,
        })),
        disputes: o.disputes.map((d) => ({
          disputeId: d.disputeId,
          status: d.status,
          amountMinor: d.amountMinor,
        })),
        remainingMinor,
        transactions: [...o.transactions].sort((a, b) => a.atMs - b.atMs),
        shipment: shipmentOutcome(o),
        trackingNumbers: o.shipments.filter((s) => s.kind === 'physical').map((s) => s.trackingNumber),
        codesDeactivated: o.codes.deactivated,
        codesRedeemed: o.codes.redeemed,
        checkStatementByMs,
      };
    });
  const sum = (f: (o: ReportOrder) => number): number => orders.reduce((s, o) => s + f(o), 0);
  return {
    accountId: input.accountId,
    caseId: input.caseId,
    storeName: input.storeName,
    provider: input.provider,
    decidedAtMs: input.decidedAtMs,
    generatedAtMs: input.generatedAtMs,
    orders,
    totals: {
      currency: orders[0]?.currency ?? 'JPY',
      orderedMinor: sum((o) => o.amountMinor),
      voidedMinor: sum((o) => (o.payment === 'voided' ? o.authorizedMinor : 0)),
      refundedMinor: sum((o) => o.refundedMinor),
      remainingMinor: sum((o) => o.remainingMinor),
    },
    disputeAdvised: orders.some((o) => o.remainingMinor > 0 || o.payment === 'unconfirmed'),
  };
}

// ---- wording (English and Japanese) ----

const zeroDecimal = new Set(['JPY', 'KRW', 'VND', 'CLP', 'ISK', 'UGX', 'XAF', 'XOF']);

export function formatMoney(minor: number, currency: string, locale: ReportLocale): string {
  const digits = zeroDecimal.has(currency) ? 0 : 2;
  return new Intl.NumberFormat(locale === 'ja' ? 'ja-JP' : 'en-GB', {
    style: 'currency',
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(minor / 10 ** digits);
}

/** Dates in UTC, written the same way in both languages so a line can be checked against the bank's. */
export const formatDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
export const formatTime = (ms: number): string =>
  `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

interface Words {
  readonly title: string;
  readonly intro: (r: IncidentReport) => string;
  readonly columns: readonly string[];
  readonly payment: Record<PaymentOutcome, string>;
  readonly shipment: Record<ShipmentOutcome, string>;
  readonly codes: (n: number, redeemed: number) => string;
  readonly transactions: string;
  readonly txn: Record<LedgerEntry['kind'], string>;
  readonly totals: string;
  readonly totalLabels: readonly [string, string, string, string];
  readonly statementTitle: string;
  readonly statementLine: (o: ReportOrder, locale: ReportLocale) => string;
  readonly disputeTitle: string;
  readonly disputeSteps: (r: IncidentReport, locale: ReportLocale) => readonly string[];
  readonly nothingRemains: string;
  readonly footer: (r: IncidentReport) => string;
}

const en: Words = {
  title: 'Incident report: unauthorized orders on your account',
  intro: (r) =>
    `Someone else used your ${r.storeName} account. On ${formatTime(r.decidedAtMs)} we stopped it (case ${r.caseId}). ` +
    `This report lists every order placed without you and what the payment provider (${r.provider}), the carrier and the store confirm was done. ` +
    'Hand it to your card issuer if you need to.',
  columns: ['Date', 'Order', 'Amount', 'Payment', 'Shipment', 'Gift-card codes'],
  payment: {
    voided: 'Authorization voided: never charged',
    refunded: 'Refunded in full',
    refund_pending: 'Refund accepted, not yet settled',
    charged: 'Still charged',
    disputed: 'In dispute with your issuer',
    nothing_charged: 'Nothing charged',
    no_card_payment: 'No card payment',
    unconfirmed: 'Not yet confirmed by the provider',
  },
  shipment: {
    intercepted: 'Parcel intercepted and returned',
    cancelled: 'Shipment cancelled',
    held: 'Held at the warehouse',
    delivered: 'Delivered (could not be stopped)',
    in_transit: 'With the carrier',
    codes_delivered: 'Codes sent by e-mail',
    nothing_to_ship: 'Nothing shipped',
  },
  codes: (n, redeemed) =>
    n + redeemed === 0
      ? '-'
      : `${String(n)} deactivated${redeemed > 0 ? `, ${String(redeemed)} already redeemed` : ''}`,
  transactions: 'Transactions at the payment provider',
  txn: {
    authorization: 'Authorization',
    capture: 'Charge',
    refund: 'Refund',
    refund_failure: 'Refund failed',
    dispute: 'Chargeback',
    dispute_reversal: 'Chargeback reversed',
  },
  totals: 'Totals',
  totalLabels: ['Ordered without you', 'Voided (never charged)', 'Refunded', 'Still charged'],
  statementTitle: 'What to check on your card statement',
  statementLine: (o, l) => {
    const amount = formatMoney(o.amountMinor, o.currency, l);
    switch (o.payment) {
      case 'voided':
      case 'nothing_charged':
        return `${formatDate(o.placedAtMs)} ${amount} (order ${o.orderId}): a pending authorization may show; it must be gone by ${formatDate(o.checkStatementByMs)} and never become a charge.`;
      case 'refunded':
      case 'refund_pending':
        return `${formatDate(o.placedAtMs)} ${amount} (order ${o.orderId}): a charge and a credit of ${formatMoney(o.refundedMinor + (o.payment === 'refund_pending' ? o.capturedMinor - o.refundedMinor : 0), o.currency, l)} (refund ${o.refunds.map((r) => r.refundId).join(', ')}); the credit must appear by ${formatDate(o.checkStatementByMs)}.`;
      default:
        return `${formatDate(o.placedAtMs)} ${amount} (order ${o.orderId}): ${formatMoney(o.remainingMinor, o.currency, l)} is still charged — dispute it with your issuer (below).`;
    }
  },
  disputeTitle: 'If a charge remains: dispute it with your card issuer',
  disputeSteps: (r) => [
    'Call the number on the back of your card or use the issuer\'s app, and say the charge was not made by you (unauthorized use, "fraud").',
    `Give the order numbers, dates and amounts from this report, and the store's case reference ${r.caseId}.`,
    'The issuer confirms the dispute by a message or letter: answer it, or the dispute may be closed. Keep this report until the credit shows.',
    "If your card was reissued, credits still reach your account: the new card carries the old card's balance.",
  ],
  nothingRemains:
    'Nothing remains charged: you do not need to dispute anything, only check the lines above by their dates.',
  footer: (r) =>
    `Generated ${formatTime(r.generatedAtMs)} from the providers' confirmed records. Account ${r.accountId}.`,
};

const ja: Words = {
  title: 'インシデント報告書：お客様のアカウントでの不正注文',
  intro: (r) =>
    `お客様の${r.storeName}アカウントが第三者に使用されました。${formatTime(r.decidedAtMs)}に不正利用を停止しました（ケース ${r.caseId}）。` +
    `本報告書は、お客様が行っていないすべての注文と、決済事業者（${r.provider}）・配送業者・ストアが実施を確認した対応を記載しています。` +
    '必要に応じてカード発行会社へご提出ください。',
  columns: ['日付', '注文', '金額', '決済', '配送', 'ギフトカードコード'],
  payment: {
    voided: 'オーソリ取消済み（請求なし）',
    refunded: '全額返金済み',
    refund_pending: '返金受付済み（未確定）',
    charged: '請求が残っています',
    disputed: 'カード発行会社で異議申立て中',
    nothing_charged: '請求なし',
    no_card_payment: 'カード決済なし',
    unconfirmed: '決済事業者の確認待ち',
  },
  shipment: {
    intercepted: '配送を止め、返送済み',
    cancelled: '出荷取消済み',
    held: '倉庫で保留中',
    delivered: '配達済み（止められませんでした）',
    in_transit: '配送中',
    codes_delivered: 'コードをメール送信済み',
    nothing_to_ship: '出荷なし',
  },
  codes: (n, redeemed) =>
    n + redeemed === 0
      ? '-'
      : `${String(n)}件無効化${redeemed > 0 ? `（${String(redeemed)}件は使用済み）` : ''}`,
  transactions: '決済事業者での取引',
  txn: {
    authorization: 'オーソリ',
    capture: '請求',
    refund: '返金',
    refund_failure: '返金失敗',
    dispute: 'チャージバック',
    dispute_reversal: 'チャージバック取消',
  },
  totals: '合計',
  totalLabels: ['不正に注文された金額', '取消（請求なし）', '返金済み', '請求が残っている金額'],
  statementTitle: 'カードのご利用明細で確認していただくこと',
  statementLine: (o, l) => {
    const amount = formatMoney(o.amountMinor, o.currency, l);
    switch (o.payment) {
      case 'voided':
      case 'nothing_charged':
        return `${formatDate(o.placedAtMs)} ${amount}（注文 ${o.orderId}）：仮売上（オーソリ）が表示されることがありますが、${formatDate(o.checkStatementByMs)}までに消え、請求にはなりません。`;
      case 'refunded':
      case 'refund_pending':
        return `${formatDate(o.placedAtMs)} ${amount}（注文 ${o.orderId}）：請求と${formatMoney(o.refundedMinor + (o.payment === 'refund_pending' ? o.capturedMinor - o.refundedMinor : 0), o.currency, l)}の返金（返金番号 ${o.refunds.map((r) => r.refundId).join(', ')}）が表示されます。返金は${formatDate(o.checkStatementByMs)}までに反映されます。`;
      default:
        return `${formatDate(o.placedAtMs)} ${amount}（注文 ${o.orderId}）：${formatMoney(o.remainingMinor, o.currency, l)}の請求が残っています。下記の手順でカード発行会社に異議を申し立ててください。`;
    }
  },
  disputeTitle: '請求が残っている場合：カード発行会社への異議申立て',
  disputeSteps: (r) => [
    'カード裏面の電話番号またはカード会社のアプリから連絡し、「身に覚えのない利用（不正利用）」であると伝えてください。',
    `本報告書の注文番号・日付・金額と、ストアのケース番号 ${r.caseId} をお伝えください。`,
    'カード会社から確認の連絡（メッセージや郵便）が届きます。回答しないと申立てが終了することがあります。返金が反映されるまで本報告書を保管してください。',
    'カードが再発行された場合も、返金は新しいカードの口座に反映されます。',
  ],
  nothingRemains: '請求は残っていません。異議申立ては不要です。上記の日付までに明細をご確認ください。',
  footer: (r) =>
    `${formatTime(r.generatedAtMs)}に各事業者の確認済み記録から作成。アカウント ${r.accountId}。`,
};

export const reportWords: Readonly<Record<ReportLocale, Words>> = { en, ja };

/** The report as lines of text, in reading order: the HTML page and the PDF render the same lines. */
export interface ReportSection {
  readonly heading: string;
  readonly rows?: readonly (readonly string[])[];
  readonly lines?: readonly string[];
}

export function reportSections(r: IncidentReport, locale: ReportLocale): ReportSection[] {
  const w = reportWords[locale];
  const cur = r.totals.currency;
  return [
    { heading: w.title, lines: [w.intro(r)] },
    {
      heading: w.columns.join(' / '),
      rows: [
        w.columns,
        ...r.orders.map((o) => [
          formatDate(o.placedAtMs),
          o.orderId,
          formatMoney(o.amountMinor, o.currency, locale),
          `${w.payment[o.payment]}${o.refunds.length > 0 ? ` (${o.refunds.map((x) => x.refundId).join(', ')})` : ''}${o.payment === 'voided' && o.paymentId !== undefined ? ` (${o.paymentId})` : ''}`,
          `${w.shipment[o.shipment]}${o.trackingNumbers.length > 0 ? ` (${o.trackingNumbers.join(', ')})` : ''}`,
          w.codes(o.codesDeactivated, o.codesRedeemed),
        ]),
      ],
    },
    {
      heading: w.transactions,
      rows: r.orders.flatMap((o) =>
        o.transactions.map((t) => [
          formatTime(t.atMs),
          o.orderId,
          w.txn[t.kind],
          formatMoney(
            t.kind === 'capture' || t.kind === 'refund_failure' || t.kind === 'dispute_reversal'
              ? t.amountMinor
              : -t.amountMinor,
            o.currency,
            locale,
          ),
          t.reference,
        ]),
      ),
    },
    {
      heading: w.totals,
      rows: [
        [w.totalLabels[0], formatMoney(r.totals.orderedMinor, cur, locale)],
        [w.totalLabels[1], formatMoney(r.totals.voidedMinor, cur, locale)],
        [w.totalLabels[2], formatMoney(r.totals.refundedMinor, cur, locale)],
        [w.totalLabels[3], formatMoney(r.totals.remainingMinor, cur, locale)],
      ],
    },
    { heading: w.statementTitle, lines: r.orders.map((o) => w.statementLine(o, locale)) },
    {
      heading: w.disputeTitle,
      lines: r.disputeAdvised ? w.disputeSteps(r, locale) : [w.nothingRemains, ...w.disputeSteps(r, locale)],
    },
    { heading: '', lines: [w.footer(r)] },
  ];
}
