import { useMemo, useState } from 'react';
import type { AccountView } from '@bulwark/contracts';
import { DecisionBadge, ErrorNote, deviceLabel, usePolling } from '../../shared/components.tsx';
import { useI18n, type MessageKey } from '../../shared/i18n.tsx';
import { Link, useRouter } from '../router.tsx';
import { useSession } from '../session.tsx';

type Entry = AccountView['timeline']['entries'][number];
type Kind = 'signIn' | 'signInFailed' | 'order' | 'archive' | 'compromised' | 'other';

const kindColours: Record<Kind, string> = {
  signIn: '#1565c0',
  signInFailed: '#b26a00',
  order: '#2e7d32',
  archive: '#6a1b9a',
  compromised: '#c62828',
  other: '#777',
};

function kindOf(entry: Entry): Kind {
  switch (entry.type) {
    case 'login.succeeded':
      return 'signIn';
    case 'login.failed':
      return 'signInFailed';
    case 'order.placed':
      return 'order';
    case 'order.archived':
      return 'archive';
    case 'account.compromised':
      return 'compromised';
    default:
      return 'other';
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Orders hidden from the shopper's history: order id → when it was archived. */
function hiddenOrders(entries: readonly Entry[]): Map<string, string> {
  const hidden = new Map<string, string>();
  for (const entry of entries) {
    const orderId = text(field(entry.event, 'orderId'));
    if (entry.type === 'order.archived' && orderId !== undefined && !hidden.has(orderId)) {
      hidden.set(orderId, entry.at);
    }
  }
  return hidden;
}

/** Every event as a marker on one horizontal time axis, coloured by kind. */
function TimeAxis({ entries, hidden }: { entries: readonly Entry[]; hidden: Map<string, string> }) {
  const { t, dateTime } = useI18n();
  const times = entries.map((e) => Date.parse(e.at)).filter((ms) => !Number.isNaN(ms));
  if (times.length === 0) return null;
  const first = Math.min(...times);
  const last = Math.max(...times);
  const span = Math.max(1, last - first);
  const width = 640;
  const height = 56;
  const x = (ms: number) => 10 + ((ms - first) / span) * (width - 20);
  return (
    <figure className="axis">
      <svg viewBox={`0 0 ${String(width)} ${String(height)}`} role="img" aria-label={t('account.axis')}>
        <line x1={10} x2={width - 10} y1={28} y2={28} stroke="#999" />
        {entries.map((entry) => {
          const kind = kindOf(entry);
          const orderId = text(field(entry.event, 'orderId'));
          const isHidden = kind === 'order' && orderId !== undefined && hidden.has(orderId);
          const ms = Date.parse(entry.at);
          const lane = kind === 'order' || kind === 'archive' ? 40 : kind === 'other' ? 28 : 16;
          return (
            <circle
              key={entry.seq}
              cx={x(ms)}
              cy={lane}
              r={isHidden ? 6 : 4}
              fill={kindColours[kind]}
              stroke={isHidden ? '#000' : 'none'}
            >
              <title>
                {dateTime(entry.at)} · {t(`kind.${kind}` as MessageKey)} {orderId ?? ''}
                {isHidden ? ` · ${t('account.hidden')}` : ''}
              </title>
            </circle>
          );
        })}
        <text x={10} y={54} fontSize={10} fill="#555">
          {dateTime(new Date(first).toISOString())}
        </text>
        <text x={width - 10} y={54} fontSize={10} fill="#555" textAnchor="end">
          {dateTime(new Date(last).toISOString())}
        </text>
      </svg>
      <figcaption className="muted">{t('account.axis')}</figcaption>
    </figure>
  );
}

function Details({ entry, hidden }: { entry: Entry; hidden: Map<string, string> }) {
  const { t, dateTime, money } = useI18n();
  const context = field(entry.event, 'context');
  const userAgent = text(field(context, 'userAgent'));
  const deviceId = text(field(context, 'deviceId'));
  const ip = text(field(context, 'ip'));
  const place = entry.reasons.find((r) => /country|geo|travel|asn/.test(r.code))?.detail;
  const kind = kindOf(entry);
  if (kind === 'order') {
    const orderId = text(field(entry.event, 'orderId')) ?? '';
    const amount = field(entry.event, 'amount');
    const value = field(amount, 'value');
    const currency = text(field(amount, 'currency'));
    const archivedAt = hidden.get(orderId);
    return (
      <>
        <strong>{orderId}</strong>{' '}
        {typeof value === 'number' && currency !== undefined ? money(value, currency) : ''}{' '}
        {archivedAt === undefined ? null : (
          <span className="badge badge-hidden" data-testid="hidden-order" title={t('account.hiddenAt')}>
            {t('account.hidden')} · {dateTime(archivedAt)}
          </span>
        )}
      </>
    );
  }
  const parts: string[] = [];
  if (userAgent !== undefined)
    parts.push(
      `${t('col.device')}: ${deviceLabel(userAgent)}${deviceId === undefined ? '' : ` (${deviceId})`}`,
    );
  if (ip !== undefined) parts.push(`${t('col.place')}: ${place === undefined ? ip : `${place} · ${ip}`}`);
  const orderId = text(field(entry.event, 'orderId'));
  if (orderId !== undefined) parts.push(`${t('col.order')}: ${orderId}`);
  const method = text(field(entry.event, 'method'));
  if (method !== undefined) parts.push(method);
  return <>{parts.join(' · ')}</>;
}

export function AccountPage({ params }: { params: Record<string, string> }) {
  const accountId = params.accountId ?? '';
  const { client, session } = useSession();
  const { t, dateTime } = useI18n();
  const { navigate } = useRouter();
  const [failure, setFailure] = useState<string | undefined>(undefined);
  const { data, error } = usePolling(() => client.account(accountId), 5000, [accountId]);
  const entries = useMemo(
    () =>
      [...(data?.timeline.entries ?? [])].sort(
        (a, b) => Date.parse(b.at) - Date.parse(a.at) || b.seq - a.seq,
      ),
    [data],
  );
  const hidden = useMemo(() => hiddenOrders(entries), [entries]);
  return (
    <>
      <h1>
        {t('account.title')} <span data-testid="account-id">{accountId}</span>
      </h1>
      {error === undefined ? null : <ErrorNote error={error} />}
      {data === undefined ? (
        <p className="muted">{t('app.loading')}</p>
      ) : (
        <>
          <div className="card">
            <dl className="facts">
              <dt>{t('account.risk')}</dt>
              <dd>{data.risk}</dd>
              <dt>{t('account.firstSeen')}</dt>
              <dd>{dateTime(data.firstSeenAt)}</dd>
              <dt>{t('account.lastSeen')}</dt>
              <dd>{dateTime(data.lastSeenAt)}</dd>
              {data.openCaseId === undefined ? null : (
                <>
                  <dt>{t('account.openCase')}</dt>
                  <dd>
                    <Link to={`/cases/${encodeURIComponent(data.openCaseId)}`}>{data.openCaseId}</Link>
                  </dd>
                </>
              )}
            </dl>
            {session.analyst.role === 'viewer' ? null : (
              <p>
                <button
                  type="button"
                  className="primary"
                  onClick={() => {
                    void client.reportCompromised(accountId).then(
                      (view) => navigate(`/cases/${encodeURIComponent(view.caseId)}`),
                      (caught: unknown) =>
                        setFailure(caught instanceof Error ? caught.message : String(caught)),
                    );
                  }}
                >
                  {t('account.contain')}
                </button>
              </p>
            )}
            {failure === undefined ? null : <p className="error">{failure}</p>}
          </div>
          <h2>{t('account.devices')}</h2>
          <table>
            <tbody>
              {data.devices.map((d) => (
                <tr key={d.key}>
                  <td>{deviceLabel(d.userAgent)}</td>
                  <td>{d.deviceId ?? d.key}</td>
                  <td>
                    {dateTime(d.firstSeenAt)} – {dateTime(d.lastSeenAt)}
                  </td>
                  <td>{d.trusted ? t('account.trusted') : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>{t('account.sessions')}</h2>
          <table>
            <tbody>
              {data.sessions.map((s) => (
                <tr key={s.sessionId}>
                  <td>{s.sessionId}</td>
                  <td>{s.ip}</td>
                  <td>
                    {dateTime(s.issuedAt)} – {dateTime(s.lastSeenAt)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>{t('account.timeline')}</h2>
          <TimeAxis entries={entries} hidden={hidden} />
          <table data-testid="timeline">
            <thead>
              <tr>
                <th>{t('col.time')}</th>
                <th>{t('col.event')}</th>
                <th />
                <th>{t('col.decision')}</th>
                <th>{t('col.score')}</th>
                <th>{t('col.reasons')}</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => {
                const kind = kindOf(entry);
                const orderId = text(field(entry.event, 'orderId'));
                const isHidden = kind === 'order' && orderId !== undefined && hidden.has(orderId);
                return (
                  <tr key={entry.seq} className={`timeline-row${isHidden ? ' hidden-order' : ''}`}>
                    <td>{dateTime(entry.at)}</td>
                    <td className="nowrap">
                      <span className="swatch" style={{ background: kindColours[kind] }} />{' '}
                      {t(`kind.${kind}` as MessageKey)}
                    </td>
                    <td>
                      <Details entry={entry} hidden={hidden} />
                    </td>
                    <td>
                      <DecisionBadge decision={entry.decision} />
                    </td>
                    <td>{entry.score}</td>
                    <td>
                      {entry.reasons.map((r, i) => (
                        <span key={i} className="reason">
                          {r.code}
                          {r.detail === undefined ? '' : ` (${r.detail})`}
                        </span>
                      ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {data.timeline.nextBefore === undefined ? null : (
            <p className="muted">
              {t('account.olderEvents')}: {data.timeline.nextBefore}
            </p>
          )}
        </>
      )}
    </>
  );
}

export function AccountSearchPage() {
  const { t } = useI18n();
  const { navigate } = useRouter();
  const [accountId, setAccountId] = useState('');
  return (
    <>
      <h1>{t('account.title')}</h1>
      <form
        className="filters"
        onSubmit={(event) => {
          event.preventDefault();
          if (accountId.trim().length > 0) navigate(`/accounts/${encodeURIComponent(accountId.trim())}`);
        }}
      >
        <label>
          {t('account.search')}
          <input
            value={accountId}
            data-testid="account-search"
            onChange={(e) => setAccountId(e.target.value)}
          />
        </label>
        <button type="submit" className="primary">
          {t('account.open')}
        </button>
      </form>
    </>
  );
}
