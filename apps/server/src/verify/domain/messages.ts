/**
 * The texts Bulwark sends the owner for verification and alerts, in English and Japanese.
 * Every message names the store, says plainly what happened and carries the anti-phishing line:
 * what the store never asks for, and that the link only reports or confirms — it never asks the
 * reader to sign in or type anything. (One-time codes use `renderNotification` from
 * connectors/domain/notify.ts, which carries the same promise.)
 */
export type Locale = 'en' | 'ja';

export type VerifyMessage =
  | {
      readonly kind: 'new_device';
      readonly device: string;
      readonly place: string;
      readonly atIso: string;
      readonly reportUrl: string;
    }
  | {
      readonly kind: 'sensitive_change';
      readonly field: string;
      readonly device: string;
      readonly place: string;
      readonly atIso: string;
      readonly reportUrl: string;
    }
  | { readonly kind: 'code_replayed'; readonly atIso: string; readonly reportUrl: string }
  | { readonly kind: 'email_link'; readonly url: string; readonly validMinutes: number }
  | {
      readonly kind: 'confirm_sign_in';
      readonly device: string;
      readonly place: string;
      readonly atIso: string;
      readonly url: string;
      readonly validMinutes: number;
    };

export interface RenderedMessage {
  readonly subject: string;
  readonly text: string;
  /** The short SMS form. */
  readonly sms: string;
}

export function antiPhishingLine(store: string, locale: Locale): string {
  return locale === 'ja'
    ? `${store}がメール・SMS・電話でパスワード、確認コード、カード番号を尋ねることは決してありません。このメッセージのリンクはお知らせや確認のためだけのもので、ログインや入力を求めることはありません。`
    : `${store} will never ask for your password, a verification code or your card number by e-mail, SMS or phone. The link in this message only reports or confirms; it never asks you to sign in or type anything.`;
}

const fieldNames: Record<Locale, Record<string, string>> = {
  en: {
    email: 'e-mail address',
    phone: 'phone number',
    password: 'password',
    mfa: 'two-step verification',
    address: 'address',
    payment_method: 'payment method',
  },
  ja: {
    email: 'メールアドレス',
    phone: '電話番号',
    password: 'パスワード',
    mfa: '2段階認証',
    address: '住所',
    payment_method: 'お支払い方法',
  },
};

export function fieldName(field: string, locale: Locale): string {
  return fieldNames[locale][field] ?? field;
}

export function renderMessage(message: VerifyMessage, store: string, locale: Locale): RenderedMessage {
  const ja = locale === 'ja';
  const safe = antiPhishingLine(store, locale);
  switch (message.kind) {
    case 'new_device': {
      const { device, place, atIso, reportUrl } = message;
      return ja
        ? {
            subject: `${store}: 新しい端末からのログイン`,
            text: `${atIso} に、${place}の${device}からあなたのアカウントへのログインがありました。\n\nお心当たりがない場合は、次のページで「これは私ではない」を押してください。アカウントを直ちに保護します。\n${reportUrl}\n\nご本人の場合は何もする必要はありません。\n\n${safe}`,
            sms: `${store}: ${place}の${device}からログインがありました。心当たりがなければ: ${reportUrl}`,
          }
        : {
            subject: `${store}: new sign-in to your account`,
            text: `Someone signed in to your account from ${device} in ${place} at ${atIso}.\n\nIf this was not you, open this page and press "This wasn't me": we will secure your account at once.\n${reportUrl}\n\nIf it was you, there is nothing to do.\n\n${safe}`,
            sms: `${store}: new sign-in from ${device} in ${place}. Not you? ${reportUrl}`,
          };
    }
    case 'sensitive_change': {
      const { device, place, atIso, reportUrl } = message;
      const field = fieldName(message.field, locale);
      return ja
        ? {
            subject: `${store}: アカウントの${field}が変更されました`,
            text: `${atIso} に、${place}の${device}からあなたのアカウントの${field}が変更されました。\n\nお心当たりがない場合は、次のページで「これは私ではない」を押してください。\n${reportUrl}\n\n${safe}`,
            sms: `${store}: ${field}が変更されました。心当たりがなければ: ${reportUrl}`,
          }
        : {
            subject: `${store}: your ${field} was changed`,
            text: `Your account's ${field} was changed from ${device} in ${place} at ${atIso}.\n\nIf this was not you, open this page and press "This wasn't me".\n${reportUrl}\n\n${safe}`,
            sms: `${store}: your ${field} was changed. Not you? ${reportUrl}`,
          };
    }
    case 'code_replayed': {
      const { atIso, reportUrl } = message;
      return ja
        ? {
            subject: `${store}: 使用済みの認証コードが再び使われました`,
            text: `${atIso} に、すでに使われた認証アプリのコードで再びログインしようとする操作がありました。コードが盗み見られた可能性があります。\n\nお心当たりがない場合は、次のページで「これは私ではない」を押してください。\n${reportUrl}\n\n${safe}`,
            sms: `${store}: 使用済みの認証コードが再び使われました。心当たりがなければ: ${reportUrl}`,
          }
        : {
            subject: `${store}: a used verification code was tried again`,
            text: `At ${atIso} someone tried to reuse an authenticator-app code that had already been used. Someone may have seen your code.\n\nIf this was not you, open this page and press "This wasn't me".\n${reportUrl}\n\n${safe}`,
            sms: `${store}: a used authenticator code was tried again. Not you? ${reportUrl}`,
          };
    }
    case 'email_link': {
      const { url, validMinutes } = message;
      return ja
        ? {
            subject: `${store}: ご本人確認`,
            text: `ご本人確認のため、${String(validMinutes)}分以内に次のページを開き「確認する」を押してください。\n${url}\n\nこの操作に心当たりがない場合は、このメールを無視してください。\n\n${safe}`,
            sms: `${store}: ご本人確認 ${url}`,
          }
        : {
            subject: `${store}: confirm it's you`,
            text: `To confirm it's you, open this page within ${String(validMinutes)} minutes and press "Confirm".\n${url}\n\nIf you did not just try to sign in, ignore this message.\n\n${safe}`,
            sms: `${store}: confirm it's you: ${url}`,
          };
    }
    case 'confirm_sign_in': {
      const { device, place, atIso, url, validMinutes } = message;
      return ja
        ? {
            subject: `${store}: このログインはあなたですか？`,
            text: `${atIso} に、${place}の${device}からログインしようとしています。\n\n次のページで「私です」または「私ではない」を選んでください（${String(validMinutes)}分間有効）。\n${url}\n\n${safe}`,
            sms: `${store}: ${place}の${device}からのログインはあなたですか？ ${url}`,
          }
        : {
            subject: `${store}: is this you signing in?`,
            text: `Someone is signing in to your account from ${device} in ${place} at ${atIso}.\n\nOpen this page and choose "Yes, it's me" or "This wasn't me" (valid for ${String(validMinutes)} minutes).\n${url}\n\n${safe}`,
            sms: `${store}: is this you signing in from ${device} in ${place}? ${url}`,
          };
    }
  }
}
