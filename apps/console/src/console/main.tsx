import { StrictMode, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { ConsoleSession } from '@bulwark/contracts';
import { ApiError, Client } from '../shared/api.ts';
import { I18nProvider, LanguageSwitch, useI18n } from '../shared/i18n.tsx';
import '../shared/styles.css';
import { pages } from './pages.tsx';
import { Link, RouterProvider, match, useRouter } from './router.tsx';
import { SessionContext } from './session.tsx';

const roleRank = { viewer: 0, analyst: 1, admin: 2 } as const;

function SignIn({ client, onSignedIn }: { client: Client; onSignedIn: (session: ConsoleSession) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [totpCode, setTotpCode] = useState('');
  const [failure, setFailure] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <main>
      <form
        className="card sign-in"
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setFailure(undefined);
          client.signIn(name, password, totpCode).then(onSignedIn, (caught: unknown) => {
            setBusy(false);
            setPassword('');
            setTotpCode('');
            setFailure(
              caught instanceof ApiError && caught.code === 'RATE_LIMITED'
                ? t('signIn.limited')
                : t('signIn.failed'),
            );
          });
        }}
      >
        <h1>{t('signIn.title')}</h1>
        <label>
          {t('signIn.name')}
          <input
            name="name"
            autoComplete="username"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
          />
        </label>
        <label>
          {t('signIn.password')}
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <label>
          {t('signIn.totp')}
          <input
            name="totp"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]{6}"
            value={totpCode}
            onChange={(e) => setTotpCode(e.target.value.trim())}
          />
        </label>
        {failure === undefined ? null : (
          <p className="error" role="alert">
            {failure}
          </p>
        )}
        <p>
          <button type="submit" className="primary" disabled={busy}>
            {t('signIn.submit')}
          </button>{' '}
          <button
            type="button"
            data-testid="passkey-sign-in"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              setFailure(undefined);
              client.signInWithPasskey().then(onSignedIn, (caught: unknown) => {
                setBusy(false);
                setFailure(
                  caught instanceof ApiError && caught.code === 'RATE_LIMITED'
                    ? t('signIn.limited')
                    : t('signIn.passkeyFailed'),
                );
              });
            }}
          >
            {t('signIn.passkey')}
          </button>{' '}
          <LanguageSwitch />
        </p>
      </form>
    </main>
  );
}

function Shell({
  client,
  session,
  onSignedOut,
}: {
  client: Client;
  session: ConsoleSession;
  onSignedOut: () => void;
}) {
  const { t, timeZone } = useI18n();
  const { path } = useRouter();
  const found = pages
    .map((page) => ({ page, params: match(page.pattern, path) }))
    .find((candidate) => candidate.params !== undefined);
  const Page = found?.page.component;
  return (
    <SessionContext.Provider value={{ client, session }}>
      <header className="top">
        <strong>{t('app.title')}</strong>
        <nav>
          {pages
            .filter((p) => p.nav !== undefined && roleRank[session.analyst.role] >= roleRank[p.nav.roleMin])
            .map((p) => (
              <Link key={p.pattern} to={p.pattern} testId={`nav-${p.pattern}`}>
                {p.nav === undefined ? '' : t(p.nav.title)}
              </Link>
            ))}
        </nav>
        <span data-testid="signed-in-as">
          {session.analyst.name} ({session.analyst.role})
        </span>
        <LanguageSwitch />
        <button
          type="button"
          className="link-button"
          onClick={() => {
            void client.signOut().finally(onSignedOut);
          }}
        >
          {t('app.signOut')}
        </button>
      </header>
      <main>
        {Page === undefined ? <p className="error">404</p> : <Page params={found?.params ?? {}} />}
        <p className="zone">
          {t('app.timesIn')}: {timeZone} · {t('nav.later')}
        </p>
      </main>
    </SessionContext.Provider>
  );
}

function App() {
  const client = useMemo(() => new Client(), []);
  const { t } = useI18n();
  const [session, setSession] = useState<ConsoleSession | null | undefined>(undefined);
  useEffect(() => {
    client.session().then(setSession, () => setSession(null));
  }, [client]);
  if (session === undefined) return <p className="muted">{t('app.loading')}</p>;
  if (session === null) return <SignIn client={client} onSignedIn={setSession} />;
  return <Shell client={client} session={session} onSignedOut={() => setSession(null)} />;
}

const root = document.getElementById('root');
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <I18nProvider>
        <RouterProvider>
          <App />
        </RouterProvider>
      </I18nProvider>
    </StrictMode>,
  );
}
