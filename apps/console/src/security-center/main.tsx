import { StrictMode, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { SecurityCenterView } from '@bulwark/contracts';
import { Client } from '../shared/api.ts';
import { CaseDetails, ErrorNote, deviceLabel, usePolling } from '../shared/components.tsx';
import { I18nProvider, LanguageSwitch, useI18n } from '../shared/i18n.tsx';
import '../shared/styles.css';

/**
 * The link's token, taken from the address and removed from it at once (history.replaceState),
 * before anything else runs: it is then exchanged for an HttpOnly cookie and never kept.
 */
function takeTokenFromAddress(): string | undefined {
  const fromHash = new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
  const fromQuery = new URLSearchParams(location.search).get('token');
  const token = fromHash ?? fromQuery ?? undefined;
  if (token !== undefined) history.replaceState(null, '', location.pathname);
  return token;
}

const tokenAtLoad = takeTokenFromAddress();

function CaseLive({ client, caseId }: { client: Client; caseId: string }) {
  const { t } = useI18n();
  const { data, error } = usePolling(() => client.shopperCase(caseId), 2000, [caseId]);
  return (
    <section className="card not-me" data-testid="sc-case">
      <h2>{t('sc.case')}</h2>
      {error === undefined ? null : <ErrorNote error={error} />}
      {data === undefined ? <p className="muted">{t('app.loading')}</p> : <CaseDetails data={data} />}
    </section>
  );
}

function Overview({ client, view }: { client: Client; view: SecurityCenterView }) {
  const { t, dateTime, money } = useI18n();
  const [confirming, setConfirming] = useState(false);
  const [caseId, setCaseId] = useState<string | undefined>(view.openCaseId);
  const [reported, setReported] = useState(false);
  const [failure, setFailure] = useState<Error | undefined>(undefined);
  return (
    <>
      {/* Shown even when a case is open already (Bulwark may have opened one): pressing joins it. */}
      {reported ? null : (
        <section className="card not-me">
          <p>{t('sc.notMeHelp')}</p>
          {confirming ? (
            <p>
              <button
                type="button"
                className="danger"
                data-testid="sc-confirm"
                onClick={() => {
                  client.thisWasntMe().then(
                    (opened) => {
                      setReported(true);
                      setCaseId(opened.caseId);
                    },
                    (caught: unknown) =>
                      setFailure(caught instanceof Error ? caught : new Error(String(caught))),
                  );
                }}
              >
                {t('sc.confirm')}
              </button>{' '}
              <button type="button" onClick={() => setConfirming(false)}>
                {t('sc.cancel')}
              </button>
            </p>
          ) : (
            <p>
              <button
                type="button"
                className="danger"
                data-testid="sc-not-me"
                onClick={() => setConfirming(true)}
              >
                {t('sc.notMe')}
              </button>
            </p>
          )}
          {failure === undefined ? null : <ErrorNote error={failure} />}
        </section>
      )}
      {caseId === undefined ? null : <CaseLive client={client} caseId={caseId} />}
      <h2>{t('sc.orders')}</h2>
      <table data-testid="sc-orders">
        <tbody>
          {view.orders.map((o) => (
            <tr key={o.orderId} className={o.archived ? 'timeline-row hidden-order' : undefined}>
              <td>{dateTime(o.at)}</td>
              <td>{o.orderId}</td>
              <td>{money(o.amount.value, o.amount.currency)}</td>
              <td>
                {o.itemCount} {t('sc.items')}
              </td>
              <td>{o.archived ? <span className="badge badge-hidden">{t('sc.hidden')}</span> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t('sc.devices')}</h2>
      <p className="note">{t('sc.revokeNotYet')}</p>
      <table>
        <tbody>
          {view.devices.map((d) => (
            <tr key={d.key}>
              <td>{deviceLabel(d.userAgent)}</td>
              <td>
                {dateTime(d.firstSeenAt)} – {dateTime(d.lastSeenAt)}
              </td>
              <td />
            </tr>
          ))}
          {view.sessions.map((s) => (
            <tr key={s.sessionId}>
              <td>{s.ip}</td>
              <td>
                {dateTime(s.issuedAt)} – {dateTime(s.lastSeenAt)}
              </td>
              <td>
                <button type="button" disabled title={t('sc.revokeNotYet')}>
                  {t('sc.revoke')}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t('sc.signIns')}</h2>
      <table data-testid="sc-sign-ins">
        <tbody>
          {view.signIns.map((s, i) => (
            <tr key={i}>
              <td>{dateTime(s.at)}</td>
              <td>{s.succeeded ? t('sc.succeeded') : t('sc.failed')}</td>
              <td>{deviceLabel(s.userAgent)}</td>
              <td>{s.place === undefined ? s.ip : `${s.place} · ${s.ip}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function App() {
  const client = useMemo(() => new Client(), []);
  const { t, timeZone } = useI18n();
  const [state, setState] = useState<'starting' | 'ready' | 'invalid' | 'no-link'>('starting');
  useEffect(() => {
    const start = tokenAtLoad === undefined ? client.shopperSession() : client.exchangeLink(tokenAtLoad);
    start.then(
      () => setState('ready'),
      () => setState(tokenAtLoad === undefined ? 'no-link' : 'invalid'),
    );
  }, [client]);
  const { data, error } = usePolling(
    () => (state === 'ready' ? client.overview() : Promise.resolve(undefined)),
    0,
    [state],
  );
  return (
    <>
      <header className="top">
        <strong>{t('sc.title')}</strong>
        <nav />
        <LanguageSwitch />
      </header>
      <main>
        <h1>{t('sc.title')}</h1>
        <p>{t('sc.intro')}</p>
        {state === 'invalid' ? <p className="error">{t('sc.linkInvalid')}</p> : null}
        {state === 'no-link' ? <p className="note">{t('sc.noLink')}</p> : null}
        {error === undefined ? null : <ErrorNote error={error} />}
        {state === 'ready' && data !== undefined ? <Overview client={client} view={data} /> : null}
        {state === 'starting' ? <p className="muted">{t('app.loading')}</p> : null}
        <p className="zone">
          {t('app.timesIn')}: {timeZone}
        </p>
      </main>
    </>
  );
}

const root = document.getElementById('root');
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <I18nProvider>
        <App />
      </I18nProvider>
    </StrictMode>,
  );
}
