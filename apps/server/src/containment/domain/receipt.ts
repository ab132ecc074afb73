import type { RunRecord, StepRecord } from './model.ts';

/**
 * The cancellation receipt: per order, what the payment provider, the carrier and the store
 * CONFIRMED — never what Bulwark asked for. It is read off the confirmation steps' outcomes,
 * which hold the providers' own state as read back; a step that never got a confirmation shows
 * `unconfirmed`, and the owner is told so rather than told it is done (S5).
 */
export type PaymentOutcome =
  'voided' | 'refunded' | 'nothing_captured' | 'disputed' | 'unconfirmed' | 'no_payment';

export type ShipmentOutcome =
  | 'held'
  | 'cancelled'
  | 'returned'
  | 'delivered_not_stopped'
  | 'digital_delivered'
  | 'nothing_to_ship'
  | 'unconfirmed';

export interface ReceiptOrder {
  readonly orderId: string;
  readonly placedAtMs: number | undefined;
  readonly archived: boolean;
  readonly amount: { readonly value: number; readonly currency: string } | undefined;
  readonly payment: {
    readonly outcome: PaymentOutcome;
    readonly provider: string | undefined;
    readonly paymentId: string | undefined;
    /** What the provider confirmed: the voided authorization, or the refunded total. */
    readonly confirmedMinor: number;
    readonly capturedMinor: number;
    readonly refundIds: readonly string[];
    readonly confirmedAtMs: number | undefined;
  };
  readonly shipment: { readonly outcome: ShipmentOutcome; readonly trackingNumbers: readonly string[] };
  readonly giftCards: {
    readonly deactivated: number;
    readonly redeemed: number;
    readonly last4: readonly string[];
  };
}

export interface Receipt {
  readonly caseId: string;
  readonly accountId: string;
  readonly decidedAtMs: number;
  readonly orders: readonly ReceiptOrder[];
  readonly account: {
    readonly sessionsRevoked: number | undefined;
    readonly locked: boolean;
    readonly passwordResetRequired: boolean;
  };
  readonly notification:
    { readonly channel: string; readonly messageId: string; readonly sentAtMs: number } | undefined;
  /** True when every order's outcomes are provider-confirmed. */
  readonly complete: boolean;
}

type Json = Readonly<Record<string, unknown>>;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arr = (v: unknown): readonly Json[] => (Array.isArray(v) ? (v as Json[]) : []);

function byKey(steps: readonly StepRecord[]): Map<string, StepRecord> {
  return new Map(steps.map((s) => [s.stepKey, s]));
}

function paymentOf(steps: Map<string, StepRecord>, orderId: string): ReceiptOrder['payment'] {
  const confirm = steps.get(`confirm-payment-outcome:${orderId}`);
  const empty = {
    provider: undefined,
    paymentId: undefined,
    confirmedMinor: 0,
    capturedMinor: 0,
    refundIds: [],
    confirmedAtMs: undefined,
  };
  if (confirm === undefined) return { outcome: 'no_payment', ...empty };
  const o = confirm.outcome ?? {};
  const confirmed = confirm.state === 'done' ? (str(o.confirmed) as PaymentOutcome | undefined) : undefined;
  return {
    outcome: confirmed ?? (str(o.confirmed) === 'disputed' ? 'disputed' : 'unconfirmed'),
    provider: str(o.provider),
    paymentId: str(confirm.params.paymentId),
    confirmedMinor: confirmed === undefined ? 0 : num(o.confirmedMinor),
    capturedMinor: num(o.capturedMinor),
    refundIds: Array.isArray(o.refundIds) ? (o.refundIds as string[]) : [],
    confirmedAtMs: confirmed === undefined ? undefined : confirm.doneAtMs,
  };
}

function shipmentOf(steps: Map<string, StepRecord>, orderId: string): ReceiptOrder['shipment'] {
  const confirm = steps.get(`confirm-shipment-outcome:${orderId}`);
  if (confirm === undefined) return { outcome: 'nothing_to_ship', trackingNumbers: [] };
  const o = confirm.outcome ?? {};
  const outcome = str(o.confirmed) as ShipmentOutcome | undefined;
  const tracking = arr(o.shipments)
    .map((s) => str(s.trackingNumber))
    .filter((t): t is string => t !== undefined);
  // A parcel the carrier delivered despite the intercept is a confirmed fact, escalated or not.
  if (outcome === 'delivered_not_stopped') return { outcome, trackingNumbers: tracking };
  return {
    outcome: confirm.state === 'done' && outcome !== undefined ? outcome : 'unconfirmed',
    trackingNumbers: tracking,
  };
}

function giftCardsOf(steps: Map<string, StepRecord>, orderId: string): ReceiptOrder['giftCards'] {
  const step = steps.get(`deactivate-gift-codes:${orderId}`);
  const cards = arr(step?.outcome?.cards);
  const confirmed = step !== undefined && step.outcome !== undefined;
  return {
    deactivated: confirmed ? cards.filter((c) => c.status === 'deactivated').length : 0,
    redeemed: confirmed ? cards.filter((c) => c.status === 'redeemed').length : 0,
    last4: cards.map((c) => str(c.codeLast4) ?? '????'),
  };
}

export function receiptOf(run: RunRecord, steps: readonly StepRecord[]): Receipt {
  const keyed = byKey(steps);
  const sweep = keyed.get('sweep-orders');
  const swept = arr(sweep?.outcome?.orders);
  const orders = swept.map((o): ReceiptOrder => {
    const orderId = str(o.orderId) ?? '';
    const amount = o.amount as { value: number; currency: string } | undefined;
    return {
      orderId,
      placedAtMs: typeof o.placedAtMs === 'number' ? o.placedAtMs : undefined,
      archived: o.archived === true,
      amount,
      payment: paymentOf(keyed, orderId),
      shipment: shipmentOf(keyed, orderId),
      giftCards: giftCardsOf(keyed, orderId),
    };
  });
  const revoke = keyed.get('revoke-sessions');
  const lock = keyed.get('lock-account');
  const reset = keyed.get('force-password-reset');
  const notify = keyed.get('notify-owner');
  const sent = notify?.state === 'done' ? notify.outcome : undefined;
  return {
    caseId: run.caseId,
    accountId: run.accountId,
    decidedAtMs: run.decidedAtMs,
    orders,
    account: {
      sessionsRevoked: revoke?.state === 'done' ? arr(revoke.outcome?.revokedSessionIds).length : undefined,
      locked: lock?.state === 'done' && lock.outcome?.locked === true,
      passwordResetRequired: reset?.state === 'done' && reset.outcome?.passwordResetRequired === true,
    },
    notification:
      sent === undefined
        ? undefined
        : {
            channel: str(sent.channel) ?? 'email',
            messageId: str(sent.messageId) ?? '',
            sentAtMs: num(sent.sentAtMs),
          },
    complete: orders.every(
      (o) =>
        o.payment.outcome !== 'unconfirmed' &&
        o.payment.outcome !== 'disputed' &&
        o.shipment.outcome !== 'unconfirmed',
    ),
  };
}

// ---- words ----

export type ReceiptLocale = 'en' | 'ja';

export function formatMoney(minor: number, currency: string, locale: ReceiptLocale): string {
  const digits =
    new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return new Intl.NumberFormat(locale === 'ja' ? 'ja-JP' : 'en-US', { style: 'currency', currency }).format(
    minor / 10 ** digits,
  );
}

const paymentWords: Record<ReceiptLocale, Record<PaymentOutcome, string>> = {
  en: {
    voided: 'authorization cancelled (voided): you will not be charged',
    refunded: 'charge refunded in full',
    nothing_captured: 'nothing was charged',
    disputed: 'the charge is under dispute with your card issuer; our team is handling it',
    unconfirmed: 'not yet confirmed by the payment provider; we will write again when it is',
    no_payment: 'no card payment',
  },
  ja: {
    voided: 'オーソリを取り消しました（請求されません）',
    refunded: '請求を全額返金しました',
    nothing_captured: '請求はありません',
    disputed: 'カード会社で異議申し立て中です。担当者が対応します',
    unconfirmed: '決済会社の確認待ちです。確認でき次第お知らせします',
    no_payment: 'カード決済はありません',
  },
};

const shipmentWords: Record<ReceiptLocale, Record<ShipmentOutcome, string>> = {
  en: {
    held: 'shipment stopped at the warehouse',
    cancelled: 'shipment cancelled before pickup',
    returned: 'parcel intercepted and returned to the sender',
    delivered_not_stopped: 'the parcel could not be stopped and was delivered: please refuse or return it',
    digital_delivered: 'delivered digitally',
    nothing_to_ship: 'nothing to ship',
    unconfirmed: 'not yet confirmed by the carrier',
  },
  ja: {
    held: '倉庫で出荷を止めました',
    cancelled: '集荷前に出荷を取り消しました',
    returned: '配送を止め、差出人に返送しました',
    delivered_not_stopped: '配送を止められず、配達されました。受け取りを拒否するか返送してください',
    digital_delivered: 'デジタル納品済み',
    nothing_to_ship: '出荷物はありません',
    unconfirmed: '配送会社の確認待ちです',
  },
};

export function paymentText(order: ReceiptOrder, locale: ReceiptLocale): string {
  const words = paymentWords[locale][order.payment.outcome];
  const money =
    order.amount === undefined || order.payment.confirmedMinor === 0
      ? ''
      : ` (${formatMoney(order.payment.confirmedMinor, order.amount.currency, locale)})`;
  const ref =
    order.payment.paymentId === undefined
      ? ''
      : ` [${order.payment.paymentId}${order.payment.refundIds.length > 0 ? ` / ${order.payment.refundIds.join(', ')}` : ''}]`;
  return `${words}${money}${ref}`;
}

export const shipmentText = (order: ReceiptOrder, locale: ReceiptLocale): string =>
  shipmentWords[locale][order.shipment.outcome];

export function giftCardText(order: ReceiptOrder, locale: ReceiptLocale): string | undefined {
  const { deactivated, redeemed } = order.giftCards;
  if (deactivated === 0 && redeemed === 0) return undefined;
  if (locale === 'ja') {
    return redeemed === 0
      ? `ギフトカード ${String(deactivated)} 枚を無効にしました`
      : `ギフトカード ${String(deactivated)} 枚を無効化、${String(redeemed)} 枚は無効化前に使用済み（担当者からご連絡します）`;
  }
  return redeemed === 0
    ? `${String(deactivated)} gift-card code(s) deactivated`
    : `${String(deactivated)} gift-card code(s) deactivated, ${String(redeemed)} already used before we could (our team will contact you)`;
}

/** The owner's message: confirmed outcomes only, amounts and provider references included. */
export function renderOwnerMessage(
  receipt: Receipt,
  storeName: string,
  locale: ReceiptLocale,
): { subject: string; text: string } {
  const lines = receipt.orders.map((o) => {
    const amount = o.amount === undefined ? '' : ` ${formatMoney(o.amount.value, o.amount.currency, locale)}`;
    const parts = [paymentText(o, locale), shipmentText(o, locale), giftCardText(o, locale)].filter(
      (p): p is string => p !== undefined,
    );
    return `- ${o.orderId}${amount}${o.archived ? (locale === 'ja' ? '（非表示にされていた注文）' : ' (hidden from your order list)') : ''}: ${parts.join(locale === 'ja' ? '。' : '; ')}`;
  });
  const n = String(receipt.orders.length);
  const never =
    locale === 'ja'
      ? `このメッセージは何も求めず、ログイン用のリンクも含みません。確認するには、ご自身で${storeName}のウェブサイトまたはアプリを開いてください。`
      : `This message asks you for nothing and contains no sign-in link. To check it, open the ${storeName} website or app yourself.`;
  if (locale === 'ja') {
    const account =
      'アカウントをロックし、すべての端末からログアウトさせました。次回ログイン時にパスワードの再設定が必要です。';
    return {
      subject: `${storeName}: 不正利用への対応結果（注文 ${n} 件）`,
      text: `${account}\n\nあなたのアカウントで行われた注文 ${n} 件について、決済会社と配送会社が確認した結果です。\n\n${lines.join('\n')}\n\nカードの明細に上記以外の請求が残っている場合は、カード会社に異議申し立てをしてください。\n\n${never}`,
    };
  }
  const account =
    'We locked your account and signed out every device; you will set a new password at your next sign-in.';
  return {
    subject: `${storeName}: what we did about ${n} order(s) you did not place`,
    text: `${account}\n\nHere is what the payment provider and the carrier confirmed for the ${n} order(s) placed on your account:\n\n${lines.join('\n')}\n\nIf your card statement shows any other charge from us, dispute it with your card issuer.\n\n${never}`,
  };
}
