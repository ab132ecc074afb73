import type { ChallengeMethod } from '@bulwark/contracts';
import { antiPhishingLine, fieldName, type Locale } from './domain/messages.ts';

/**
 * The hosted pages: server-rendered HTML, English and Japanese, no external assets (styles and
 * the passkey script are inline, allowed by a per-response CSP nonce). Forms work without
 * JavaScript; only the passkey ceremony needs it, because WebAuthn is a browser API.
 */

const text = {
  en: {
    challengeTitle: "Confirm it's you",
    challengeIntro: 'To keep your account safe, confirm this sign-in with one of these methods.',
    passkey: 'Use a passkey',
    passkeyWorking: 'Follow the prompt from your browser or device…',
    passkeyDone: 'Passkey accepted.',
    passkeyFailed: 'The passkey was not accepted:',
    totp: 'Code from your authenticator app',
    email_otp: 'Send a code by e-mail',
    sms_otp: 'Send a code by SMS',
    email_link: 'Send a confirmation link by e-mail',
    device_confirmation: 'Ask me on my registered e-mail or phone',
    codeLabel: '6-digit code',
    verify: 'Verify',
    sentCode: (to: string) => `We sent a code to ${to}. It is valid for 5 minutes.`,
    sentLink: (to: string) => `We sent a message to ${to}. Open it and follow the link.`,
    passed: 'Confirmed. You can return to the store now.',
    failed: 'This sign-in was refused.',
    closed: 'This request is no longer open. Start again from the store.',
    noMethods: 'No method is available for this account. Contact the store.',
    errorTitle: 'Something is not right',
    enrolTitle: 'Set up sign-in protection',
    totpHeading: 'Authenticator app',
    totpIntro:
      'Scan this QR code with your authenticator app, or type the key, then enter the code it shows.',
    totpKey: 'Key',
    totpQrAlt: 'QR code to scan with your authenticator app',
    totpDone: 'Your authenticator app is set up.',
    passkeyHeading: 'Passkey',
    passkeyIntro: 'A passkey lets you confirm it is you with your fingerprint, face or device PIN.',
    passkeyCreate: 'Create a passkey',
    passkeyCreated: 'Passkey created.',
    alertTitle: 'Activity on your account',
    alert_new_device: 'A sign-in from a new device',
    alert_sensitive_change: (field: string) => `A change to your ${field}`,
    alert_code_replayed: 'A used verification code was tried again',
    device: 'Device',
    place: 'Approximate place',
    time: 'Time',
    wasMe: 'Yes, this was me',
    notMe: "This wasn't me",
    thanks: 'Thank you. Nothing else to do.',
    secured:
      'Thank you. We are securing your account now: every device is being signed out and recent orders are checked.',
    confirmTitle: 'Is this you signing in?',
    linkTitle: 'Confirm this sign-in',
    linkIntro: 'Press the button to confirm that you are the one signing in.',
    confirm: 'Confirm',
    language: '日本語',
  },
  ja: {
    challengeTitle: 'ご本人確認',
    challengeIntro: 'アカウントを守るため、次のいずれかの方法でこのログインを確認してください。',
    passkey: 'パスキーを使う',
    passkeyWorking: 'ブラウザーまたは端末の案内に従ってください…',
    passkeyDone: 'パスキーを確認しました。',
    passkeyFailed: 'パスキーを確認できませんでした:',
    totp: '認証アプリのコード',
    email_otp: 'メールでコードを送る',
    sms_otp: 'SMSでコードを送る',
    email_link: 'メールで確認用リンクを送る',
    device_confirmation: '登録済みのメールまたは電話で確認する',
    codeLabel: '6桁のコード',
    verify: '確認する',
    sentCode: (to: string) => `${to} にコードを送りました。5分間有効です。`,
    sentLink: (to: string) => `${to} にメッセージを送りました。メッセージを開いてリンクから進んでください。`,
    passed: '確認できました。ストアにお戻りください。',
    failed: 'このログインは拒否されました。',
    closed: 'この確認はすでに終了しています。ストアからやり直してください。',
    noMethods: 'このアカウントで使える確認方法がありません。ストアにお問い合わせください。',
    errorTitle: '問題が発生しました',
    enrolTitle: 'ログイン保護の設定',
    totpHeading: '認証アプリ',
    totpIntro: '認証アプリでこのQRコードを読み取るか、キーを入力し、表示されたコードを入力してください。',
    totpKey: 'キー',
    totpQrAlt: '認証アプリで読み取るQRコード',
    totpDone: '認証アプリの設定が完了しています。',
    passkeyHeading: 'パスキー',
    passkeyIntro: 'パスキーを使うと、指紋・顔・端末のPINでご本人確認ができます。',
    passkeyCreate: 'パスキーを作成する',
    passkeyCreated: 'パスキーを作成しました。',
    alertTitle: 'アカウントでの操作',
    alert_new_device: '新しい端末からのログイン',
    alert_sensitive_change: (field: string) => `${field}の変更`,
    alert_code_replayed: '使用済みの認証コードが再び使われました',
    device: '端末',
    place: 'おおよその場所',
    time: '日時',
    wasMe: 'はい、私です',
    notMe: 'これは私ではない',
    thanks: 'ありがとうございます。これ以上の操作は不要です。',
    secured:
      'ありがとうございます。アカウントの保護を開始しました。すべての端末をログアウトし、最近の注文を確認しています。',
    confirmTitle: 'このログインはあなたですか？',
    linkTitle: 'ログインの確認',
    linkIntro: 'ご本人であることを確認するには、ボタンを押してください。',
    confirm: '確認する',
    language: 'English',
  },
} as const;

export type PageText = (typeof text)[Locale];
export const pageText = (locale: Locale): PageText => text[locale];

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const styles = `
body{font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans JP",sans-serif;margin:0;background:#f6f7f9;color:#1b1f24;line-height:1.5}
main{max-width:32rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}h2{font-size:1.1rem}
button{font:inherit;padding:.6rem 1rem;border-radius:6px;border:1px solid #2456a6;background:#2f6fdb;color:#fff;cursor:pointer;margin:.25rem 0}
button.secondary{background:#fff;color:#2456a6}button.danger{background:#b42318;border-color:#8c1d13}
button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
label{display:block;font-weight:600;margin-top:.5rem}
input{font:inherit;font-size:1.3rem;letter-spacing:.2em;padding:.4rem;width:9em;border:1px solid #666;border-radius:4px}
.method{border-top:1px solid #e3e6ea;padding:.75rem 0}.notice{background:#eef5ff;padding:.75rem;border-radius:6px}
.error{background:#fdecea;color:#8c1d13;padding:.75rem;border-radius:6px}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{font-weight:600}
footer{max-width:32rem;margin:0 auto 2rem;font-size:.85rem;color:#4a5361;padding:0 2rem}
code{word-break:break-all}
`;

export interface PageFrame {
  readonly locale: Locale;
  readonly title: string;
  readonly storeName: string;
  readonly nonce: string;
  /** The same page in the other language. */
  readonly otherLanguageHref: string;
  readonly body: string;
  readonly script?: string;
}

export function page(frame: PageFrame): string {
  const t = pageText(frame.locale);
  const other = frame.locale === 'ja' ? 'en' : 'ja';
  return `<!doctype html>
<html lang="${frame.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(frame.title)} — ${escapeHtml(frame.storeName)}</title>
<style nonce="${frame.nonce}">${styles}</style>
</head>
<body>
<main>
<p><strong>${escapeHtml(frame.storeName)}</strong> · <a href="${escapeHtml(frame.otherLanguageHref)}" lang="${other}" hreflang="${other}">${t.language}</a></p>
<h1>${escapeHtml(frame.title)}</h1>
${frame.body}
</main>
<footer><p>${escapeHtml(antiPhishingLine(frame.storeName, frame.locale))}</p></footer>
${frame.script === undefined ? '' : `<script nonce="${frame.nonce}">${frame.script}</script>`}
</body>
</html>`;
}

/** The Content-Security-Policy for a page: nothing external, inline only with this nonce. */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    'img-src data:',
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const notice = (message: string): string =>
  `<p class="notice" role="status">${escapeHtml(message)}</p>`;
export const errorBox = (message: string): string =>
  `<p class="error" role="alert">${escapeHtml(message)}</p>`;

export function codeForm(action: string, method: ChallengeMethod, label: string, t: PageText): string {
  const id = `code-${method}`;
  return `<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="method" value="${method}">
<label for="${id}">${escapeHtml(label)} (${escapeHtml(t.codeLabel)})</label>
<input id="${id}" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required>
<button type="submit">${escapeHtml(t.verify)}</button>
</form>`;
}

export function sendForm(action: string, method: ChallengeMethod, label: string): string {
  return `<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="method" value="${method}">
<button type="submit" class="secondary">${escapeHtml(label)}</button>
</form>`;
}

export function answerButtons(
  action: string,
  choices: readonly { value: string; label: string; kind: string }[],
): string {
  return `<form method="post" action="${escapeHtml(action)}">
${choices
  .map(
    (c) =>
      `<button type="submit" name="answer" value="${c.value}" class="${c.kind}">${escapeHtml(c.label)}</button>`,
  )
  .join('\n')}
</form>`;
}

export function details(rows: readonly [string, string][]): string {
  return `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

export function alertHeading(kind: string, field: string | undefined, locale: Locale): string {
  const t = pageText(locale);
  if (kind === 'new_device') return t.alert_new_device;
  if (kind === 'code_replayed') return t.alert_code_replayed;
  return t.alert_sensitive_change(fieldName(field ?? '', locale));
}

/**
 * The passkey ceremony in the browser: fetch options, call WebAuthn, post the answer back.
 * Plain DOM and fetch (no library, nothing loaded from elsewhere). `mode` is `get` (answer a
 * challenge) or `create` (register).
 */
export function passkeyScript(
  optionsUrl: string,
  verifyUrl: string,
  mode: 'get' | 'create',
  t: PageText,
): string {
  const strings = JSON.stringify({
    working: t.passkeyWorking,
    done: mode === 'get' ? t.passkeyDone : t.passkeyCreated,
    failed: t.passkeyFailed,
  });
  return `(() => {
const s = ${strings};
const dec = (v) => Uint8Array.from(atob(v.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((v.length + 3) % 4)), (c) => c.charCodeAt(0));
const enc = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
const post = async (url, body) => {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(json.error ? json.error.code + ': ' + json.error.message : 'HTTP ' + r.status);
  return json;
};
const button = document.getElementById('passkey');
const status = document.getElementById('passkey-status');
button.addEventListener('click', async () => {
  button.disabled = true;
  status.textContent = s.working;
  try {
    const o = await post(${JSON.stringify(optionsUrl)}, {});
    const ids = (list) => (list || []).map((c) => ({ ...c, id: dec(c.id) }));
    let body;
    if (${JSON.stringify(mode)} === 'get') {
      const c = await navigator.credentials.get({ publicKey: { ...o, challenge: dec(o.challenge), allowCredentials: ids(o.allowCredentials) } });
      body = { id: c.id, rawId: enc(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(),
        response: { clientDataJSON: enc(c.response.clientDataJSON), authenticatorData: enc(c.response.authenticatorData),
          signature: enc(c.response.signature), userHandle: c.response.userHandle ? enc(c.response.userHandle) : undefined } };
    } else {
      const c = await navigator.credentials.create({ publicKey: { ...o, challenge: dec(o.challenge), user: { ...o.user, id: dec(o.user.id) }, excludeCredentials: ids(o.excludeCredentials) } });
      body = { id: c.id, rawId: enc(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(),
        response: { clientDataJSON: enc(c.response.clientDataJSON), attestationObject: enc(c.response.attestationObject),
          transports: c.response.getTransports ? c.response.getTransports() : [] } };
    }
    await post(${JSON.stringify(verifyUrl)}, { response: body });
    status.textContent = s.done;
    document.body.dataset.passkey = 'done';
  } catch (e) {
    status.textContent = s.failed + ' ' + (e && e.message ? e.message : String(e));
    document.body.dataset.passkey = 'failed';
    button.disabled = false;
  }
});
})();`;
}
