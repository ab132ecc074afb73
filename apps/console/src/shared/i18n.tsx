import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

export const languages = ['en', 'ja'] as const;
export type Language = (typeof languages)[number];

/** Every text the pages show, in English and Japanese. A missing key is a type error. */
const en = {
  'app.title': 'Bulwark console',
  'app.language': '日本語',
  'app.signOut': 'Sign out',
  'app.loading': 'Loading…',
  'app.error': 'Something went wrong',
  'app.retry': 'Retry',
  'app.none': 'Nothing yet.',
  'app.timesIn': 'Times in',
  'signIn.title': 'Sign in to the console',
  'signIn.name': 'Name',
  'signIn.password': 'Password',
  'signIn.totp': 'Authenticator code (required for admins)',
  'signIn.submit': 'Sign in',
  'signIn.failed': 'The name, password or authenticator code is wrong.',
  'signIn.limited': 'Too many failed sign-ins. Wait 15 minutes.',
  'nav.decisions': 'Live decisions',
  'nav.queue': 'Review queue',
  'nav.account': 'Account',
  'nav.audit': 'Audit log',
  'nav.later': 'Coming with their capabilities: rules, backtests, model metrics, reconciliation.',
  'decisions.title': 'Live decisions',
  'decisions.filter.decision': 'Decision',
  'decisions.filter.any': 'any',
  'decisions.filter.reason': 'Reason code',
  'decisions.filter.account': 'Account',
  'decisions.chart': 'Decisions per minute, last 30 minutes',
  'decisions.more': 'Older',
  'col.time': 'Time',
  'col.account': 'Account',
  'col.event': 'Event',
  'col.decision': 'Decision',
  'col.score': 'Risk',
  'col.reasons': 'Reasons',
  'col.device': 'Device',
  'col.place': 'Place',
  'col.amount': 'Amount',
  'col.state': 'State',
  'col.attempts': 'Attempts',
  'col.updated': 'Updated',
  'col.step': 'Step',
  'col.target': 'Target',
  'col.order': 'Order',
  'col.payment': 'Payment',
  'col.shipment': 'Shipment',
  'col.actor': 'Who',
  'col.action': 'Action',
  'col.outcome': 'Outcome',
  'decision.allow': 'allow',
  'decision.challenge': 'challenge',
  'decision.review': 'review',
  'decision.deny': 'deny',
  'queue.title': 'Review queue',
  'queue.help': 'j / k: next / previous · a: approve · d: decline · Enter: open account',
  'queue.approve': 'Approve',
  'queue.decline': 'Decline',
  'queue.notYet':
    'Approving or declining a held order needs the review API, which this server does not offer yet: the buttons stay disabled until it does.',
  'queue.contain': 'Open containment',
  'queue.empty': 'No decisions are waiting for review.',
  'account.title': 'Account',
  'account.search': 'Account id',
  'account.open': 'Open',
  'account.risk': 'Risk',
  'account.firstSeen': 'First seen',
  'account.lastSeen': 'Last seen',
  'account.devices': 'Devices',
  'account.sessions': 'Sessions',
  'account.timeline': 'Timeline',
  'account.axis': 'Everything on one time axis: sign-ins, orders, archivals and reports',
  'account.hidden': 'hidden (archived)',
  'account.hiddenAt': 'Hidden from the order history at',
  'account.openCase': 'Open case',
  'account.contain': 'Report compromised (opens containment)',
  'account.trusted': 'trusted',
  'account.olderEvents': 'Older events',
  'kind.signIn': 'Sign-in',
  'kind.signInFailed': 'Failed sign-in',
  'kind.order': 'Order',
  'kind.archive': 'Order hidden',
  'kind.compromised': 'Reported compromised',
  'kind.other': 'Event',
  'case.title': 'Containment case',
  'case.status': 'Status',
  'case.reportedBy': 'Reported by',
  'case.openedAt': 'Opened',
  'case.since': 'Since',
  'case.steps': 'Steps',
  'case.orders': 'Orders',
  'case.noSteps': 'No steps have run yet; this page refreshes by itself.',
  'audit.title': 'Audit log',
  'audit.adminOnly': 'The audit log is for admins.',
  'sc.title': 'Security center',
  'sc.intro':
    'Everything that happened on your account, including orders that were hidden from your order history.',
  'sc.notMe': "This wasn't me",
  'sc.notMeHelp':
    'Signs out every session, holds or cancels orders you did not place and refunds them. You will see each step here.',
  'sc.confirm': 'Yes, secure my account now',
  'sc.cancel': 'Cancel',
  'sc.devices': 'Devices and sessions',
  'sc.revoke': 'Sign out',
  'sc.revokeNotYet':
    'Signing out one session from here is not available yet; "This wasn\'t me" signs out all of them.',
  'sc.signIns': 'Recent sign-ins',
  'sc.orders': 'Every order',
  'sc.hidden': 'Hidden from your order history',
  'sc.failed': 'failed',
  'sc.succeeded': 'signed in',
  'sc.items': 'items',
  'sc.case': 'We are securing your account',
  'sc.linkInvalid': 'This link cannot be used. Open the security center from the store again.',
  'sc.noLink': 'Open the security center from your account page in the store.',
} as const;

export type MessageKey = keyof typeof en;

const ja: Record<MessageKey, string> = {
  'app.title': 'Bulwark コンソール',
  'app.language': 'English',
  'app.signOut': 'サインアウト',
  'app.loading': '読み込み中…',
  'app.error': 'エラーが発生しました',
  'app.retry': '再試行',
  'app.none': 'まだありません。',
  'app.timesIn': '時刻のタイムゾーン',
  'signIn.title': 'コンソールにサインイン',
  'signIn.name': '名前',
  'signIn.password': 'パスワード',
  'signIn.totp': '認証コード（管理者は必須）',
  'signIn.submit': 'サインイン',
  'signIn.failed': '名前、パスワード、または認証コードが正しくありません。',
  'signIn.limited': 'サインインの失敗が多すぎます。15分後にお試しください。',
  'nav.decisions': 'ライブ判定',
  'nav.queue': 'レビュー待ち',
  'nav.account': 'アカウント',
  'nav.audit': '監査ログ',
  'nav.later': 'ルール、バックテスト、モデル指標、照合は各機能の実装とともに追加されます。',
  'decisions.title': 'ライブ判定',
  'decisions.filter.decision': '判定',
  'decisions.filter.any': 'すべて',
  'decisions.filter.reason': '理由コード',
  'decisions.filter.account': 'アカウント',
  'decisions.chart': '1分あたりの判定数（直近30分）',
  'decisions.more': 'さらに古い判定',
  'col.time': '日時',
  'col.account': 'アカウント',
  'col.event': 'イベント',
  'col.decision': '判定',
  'col.score': 'リスク',
  'col.reasons': '理由',
  'col.device': '端末',
  'col.place': '場所',
  'col.amount': '金額',
  'col.state': '状態',
  'col.attempts': '試行回数',
  'col.updated': '更新',
  'col.step': 'ステップ',
  'col.target': '対象',
  'col.order': '注文',
  'col.payment': '支払い',
  'col.shipment': '配送',
  'col.actor': '実行者',
  'col.action': '操作',
  'col.outcome': '結果',
  'decision.allow': '許可',
  'decision.challenge': '追加認証',
  'decision.review': '保留',
  'decision.deny': '拒否',
  'queue.title': 'レビュー待ち',
  'queue.help': 'j / k: 次 / 前 · a: 承認 · d: 却下 · Enter: アカウントを開く',
  'queue.approve': '承認',
  'queue.decline': '却下',
  'queue.notYet':
    '保留中の注文の承認・却下にはレビューAPIが必要ですが、このサーバーにはまだありません。それまでボタンは無効です。',
  'queue.contain': '封じ込めを開始',
  'queue.empty': 'レビュー待ちの判定はありません。',
  'account.title': 'アカウント',
  'account.search': 'アカウントID',
  'account.open': '開く',
  'account.risk': 'リスク',
  'account.firstSeen': '初回',
  'account.lastSeen': '最終',
  'account.devices': '端末',
  'account.sessions': 'セッション',
  'account.timeline': 'タイムライン',
  'account.axis': 'サインイン、注文、非表示化、報告をひとつの時間軸に表示',
  'account.hidden': '非表示（アーカイブ済み）',
  'account.hiddenAt': '注文履歴から非表示にされた日時',
  'account.openCase': '対応中のケース',
  'account.contain': '不正利用として報告（封じ込めを開始）',
  'account.trusted': '信頼済み',
  'account.olderEvents': 'さらに古いイベント',
  'kind.signIn': 'サインイン',
  'kind.signInFailed': 'サインイン失敗',
  'kind.order': '注文',
  'kind.archive': '注文の非表示化',
  'kind.compromised': '不正利用の報告',
  'kind.other': 'イベント',
  'case.title': '封じ込めケース',
  'case.status': '状態',
  'case.reportedBy': '報告者',
  'case.openedAt': '開始',
  'case.since': '対象期間の開始',
  'case.steps': 'ステップ',
  'case.orders': '注文',
  'case.noSteps': 'まだステップは実行されていません。このページは自動で更新されます。',
  'audit.title': '監査ログ',
  'audit.adminOnly': '監査ログは管理者のみ閲覧できます。',
  'sc.title': 'セキュリティセンター',
  'sc.intro': '注文履歴から非表示にされた注文も含め、あなたのアカウントで起きたすべてを表示します。',
  'sc.notMe': '心当たりがありません',
  'sc.notMeHelp':
    'すべてのセッションをサインアウトし、身に覚えのない注文を保留・キャンセルして返金します。各ステップはここに表示されます。',
  'sc.confirm': 'はい、今すぐアカウントを保護する',
  'sc.cancel': 'キャンセル',
  'sc.devices': '端末とセッション',
  'sc.revoke': 'サインアウト',
  'sc.revokeNotYet':
    'ここから個別のセッションをサインアウトする機能はまだありません。「心当たりがありません」ですべてサインアウトされます。',
  'sc.signIns': '最近のサインイン',
  'sc.orders': 'すべての注文',
  'sc.hidden': '注文履歴から非表示にされています',
  'sc.failed': '失敗',
  'sc.succeeded': 'サインイン',
  'sc.items': '点',
  'sc.case': 'アカウントを保護しています',
  'sc.linkInvalid': 'このリンクは使用できません。ストアからもう一度セキュリティセンターを開いてください。',
  'sc.noLink': 'ストアのアカウントページからセキュリティセンターを開いてください。',
};

const dictionaries: Record<Language, Record<MessageKey, string>> = { en, ja };

export interface I18n {
  language: Language;
  locale: string;
  t: (key: MessageKey) => string;
  setLanguage: (language: Language) => void;
  /** A date and time in the viewer's own time zone. */
  dateTime: (iso: string) => string;
  /** Money in minor units, shown per its currency (¥ has no decimals). */
  money: (value: number, currency: string) => string;
  timeZone: string;
}

const storageKey = 'bulwark.language';

function initialLanguage(): Language {
  const saved = localStorage.getItem(storageKey);
  if (saved === 'en' || saved === 'ja') return saved;
  return navigator.language.toLowerCase().startsWith('ja') ? 'ja' : 'en';
}

export function formatMoney(locale: string, value: number, currency: string): string {
  try {
    const format = new Intl.NumberFormat(locale, {
      style: 'currency',
      currency,
      currencyDisplay: 'narrowSymbol',
    });
    const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
    return format.format(value / 10 ** digits);
  } catch {
    return `${String(value)} ${currency}`;
  }
}

export function formatDateTime(locale: string, iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' }).format(date);
}

const I18nContext = createContext<I18n | undefined>(undefined);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(initialLanguage);
  const setLanguage = useCallback((next: Language) => {
    localStorage.setItem(storageKey, next);
    document.documentElement.lang = next;
    setLanguageState(next);
  }, []);
  const value = useMemo<I18n>(() => {
    const locale = language === 'ja' ? 'ja-JP' : 'en-GB';
    const dictionary = dictionaries[language];
    return {
      language,
      locale,
      t: (key) => dictionary[key],
      setLanguage,
      dateTime: (iso) => formatDateTime(locale, iso),
      money: (value, currency) => formatMoney(locale, value, currency),
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    };
  }, [language, setLanguage]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (value === undefined) throw new Error('useI18n outside I18nProvider');
  return value;
}

export function LanguageSwitch() {
  const { language, setLanguage, t } = useI18n();
  return (
    <button
      type="button"
      className="link-button"
      data-testid="language-switch"
      onClick={() => setLanguage(language === 'en' ? 'ja' : 'en')}
    >
      {t('app.language')}
    </button>
  );
}
