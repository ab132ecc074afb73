import type { ProviderResult } from './provider-result.ts';

/**
 * The notify port (e-mail and SMS) and the texts Bulwark sends, in English and Japanese.
 *
 * Texts are written against the incident: the shopper ignored genuine order e-mails because they
 * looked like phishing. So every message says what happened in plain words, asks for nothing
 * (no link to sign in, no code to read back) and tells the reader how to check it independently
 * — by opening the store's site or app themselves.
 */

export interface EmailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

export interface SmsMessage {
  /** E.164, e.g. +819012345678. */
  readonly to: string;
  readonly text: string;
}

export interface NotifyReceipt {
  /** The provider's id for the message (for e-mail, the Message-ID derived from the key). */
  readonly messageId: string;
  readonly channel: 'email' | 'sms';
}

export interface EmailSender {
  sendEmail(command: {
    readonly message: EmailMessage;
    readonly idempotencyKey: string;
  }): Promise<ProviderResult<NotifyReceipt>>;
}

export interface SmsSender {
  sendSms(command: {
    readonly message: SmsMessage;
    readonly idempotencyKey: string;
  }): Promise<ProviderResult<NotifyReceipt>>;
}

export interface NotifyPort extends EmailSender, SmsSender {}

// ---- texts ----

export type Locale = 'en' | 'ja';
export const locales: readonly Locale[] = ['en', 'ja'];

export type OrderOutcome =
  | 'cancelled_nothing_charged'
  | 'cancelled_refunded'
  | 'shipment_stopped'
  | 'shipment_not_stopped'
  | 'gift_cards_deactivated'
  | 'gift_cards_already_redeemed';

export type Notification =
  | {
      readonly kind: 'new_device_sign_in';
      readonly storeName: string;
      readonly device: string;
      readonly place: string;
      readonly atIso: string;
    }
  | { readonly kind: 'account_secured'; readonly storeName: string }
  | {
      readonly kind: 'orders_contained';
      readonly storeName: string;
      readonly orders: readonly { readonly orderId: string; readonly outcomes: readonly OrderOutcome[] }[];
    }
  | {
      readonly kind: 'one_time_code';
      readonly storeName: string;
      readonly code: string;
      readonly validMinutes: number;
    };

export interface RenderedNotification {
  readonly subject: string;
  /** The e-mail body. */
  readonly text: string;
  /** A short form for SMS (one segment where the language allows). */
  readonly sms: string;
}

const outcomeText: Record<Locale, Record<OrderOutcome, string>> = {
  en: {
    cancelled_nothing_charged: 'cancelled; nothing was charged to your card',
    cancelled_refunded: 'cancelled; the charge was refunded in full',
    shipment_stopped: 'the delivery was stopped',
    shipment_not_stopped: 'the parcel could not be stopped and may reach you: please refuse it or contact us',
    gift_cards_deactivated: 'the gift-card codes were deactivated',
    gift_cards_already_redeemed:
      'some gift-card codes were used before we could deactivate them: our team will contact you',
  },
  ja: {
    cancelled_nothing_charged: 'キャンセル済み。カードへの請求はありません',
    cancelled_refunded: 'キャンセル済み。請求は全額返金されました',
    shipment_stopped: '配送を停止しました',
    shipment_not_stopped:
      '荷物を止められず、お手元に届く可能性があります。受け取りを拒否するか、当社にご連絡ください',
    gift_cards_deactivated: 'ギフトカードのコードを無効にしました',
    gift_cards_already_redeemed:
      '一部のギフトカードのコードは無効化の前に使用されていました。担当者からご連絡します',
  },
};

const selfCheck: Record<Locale, (store: string) => string> = {
  en: (store) =>
    `This message asks you for nothing and contains no sign-in link. To check it, open the ${store} website or app yourself.`,
  ja: (store) =>
    `このメッセージは何も求めず、ログイン用のリンクも含みません。確認するには、ご自身で${store}のウェブサイトまたはアプリを開いてください。`,
};

export function renderNotification(notification: Notification, locale: Locale): RenderedNotification {
  const store = notification.storeName;
  const ja = locale === 'ja';
  switch (notification.kind) {
    case 'new_device_sign_in': {
      const { device, place, atIso } = notification;
      return ja
        ? {
            subject: `${store}: 新しい端末からのログイン`,
            text: `${atIso} に ${place} の ${device} からあなたのアカウントにログインがありました。\n\nお心当たりがない場合は、${store}のアプリの「セキュリティ」から「これは私ではない」を選んでください。\n\n${selfCheck.ja(store)}`,
            sms: `${store}: ${place}の${device}からログインがありました。心当たりがなければアプリの「セキュリティ」からお知らせください。`,
          }
        : {
            subject: `${store}: new sign-in to your account`,
            text: `Someone signed in to your account from ${device} in ${place} at ${atIso}.\n\nIf this was not you, open the ${store} app, go to Security and choose "This wasn't me".\n\n${selfCheck.en(store)}`,
            sms: `${store}: new sign-in from ${device} in ${place}. Not you? Open the app > Security.`,
          };
    }
    case 'account_secured':
      return ja
        ? {
            subject: `${store}: アカウントを保護しました`,
            text: `不正なアクセスの疑いがあるため、あなたのアカウントを一時的にロックし、すべての端末からログアウトさせました。次回ログイン時にパスワードの再設定が必要です。\n\n${selfCheck.ja(store)}`,
            sms: `${store}: 不正アクセスの疑いでアカウントをロックしました。次回ログイン時にパスワードを再設定してください。`,
          }
        : {
            subject: `${store}: we secured your account`,
            text: `We saw signs that someone else used your account, so we locked it and signed out every device. You will set a new password the next time you sign in.\n\n${selfCheck.en(store)}`,
            sms: `${store}: we locked your account after suspicious activity. Set a new password at your next sign-in.`,
          };
    case 'orders_contained': {
      const lines = notification.orders.map(
        (o) => `- ${o.orderId}: ${o.outcomes.map((x) => outcomeText[locale][x]).join(ja ? '。' : '; ')}`,
      );
      const count = notification.orders.length;
      return ja
        ? {
            subject: `${store}: あなたが行っていない注文 ${String(count)} 件の処理結果`,
            text: `あなたのアカウントで、あなたが行っていない注文が ${String(count)} 件ありました。確認できた結果は次のとおりです。\n\n${lines.join('\n')}\n\n${selfCheck.ja(store)}`,
            sms: `${store}: 身に覚えのない注文${String(count)}件を処理しました。詳細はメールとアプリの「セキュリティ」をご確認ください。`,
          }
        : {
            subject: `${store}: what we did about ${String(count)} order(s) you did not place`,
            text: `${String(count)} order(s) were placed on your account by someone else. Here is what has been confirmed:\n\n${lines.join('\n')}\n\n${selfCheck.en(store)}`,
            sms: `${store}: we handled ${String(count)} order(s) you did not place. Details in your e-mail and the app > Security.`,
          };
    }
    case 'one_time_code': {
      const { code, validMinutes } = notification;
      return ja
        ? {
            subject: `${store}: 確認コード`,
            text: `確認コードは ${code} です（${String(validMinutes)} 分間有効）。このコードを誰にも伝えないでください。${store}の社員が電話やメールでコードを尋ねることはありません。`,
            sms: `${store}の確認コード: ${code}（${String(validMinutes)}分間有効）。誰にも教えないでください。`,
          }
        : {
            subject: `${store}: your verification code`,
            text: `Your verification code is ${code} (valid for ${String(validMinutes)} minutes). Do not share it with anyone: ${store} staff will never ask you for it by phone or e-mail.`,
            sms: `${store} code: ${code} (valid ${String(validMinutes)} min). Never share it.`,
          };
    }
  }
}
