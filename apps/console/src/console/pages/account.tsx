import { useMemo, useState } from 'react';
import type { AccountActivity, AccountView } from '@bulwark/contracts';
import { DecisionBadge, ErrorNote, deviceLabel, usePolling } from '../../shared/components.tsx';
import { useI18n, type MessageKey } from '../../shared/i18n.tsx';
import { Link, useRouter } from '../router.tsx';
import { useSession } from '../session.tsx';

type Entry = AccountView['timeline']['entries'][number];
type Activity = AccountActivity['entries'][number];
type Kind = 'signIn' | 'signInFailed' | 'order' | 'archive' | 'compromised' | 'other';
type ActivityKind = Activity['kind'];

const kindColours: Record<Kind, string> = {
  signIn: '#1565c0',
  signInFailed: '#b26a00',
  order: '#2e7d32',
  archive: '#6a1b9a',
  compromised: '#c62828',
  other: '#777',
};

const activityColours: Record<ActivityKind, string> = {
  payment: '#00838f',
  refund: '#ad1457',
  shipment: '#5d4037',
};

/** What the time axis shows of a long history at first. */
const recentSpanMs = 48 * 3_600_000;

/** Lanes of the time axis, top to bottom: Bulwark's events, then what the providers report. */
const lanes = { signIns: 14, other: 30, orders: 46, payments: 62, shipments: 78 } as const;

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

/** Every event, payment and shipment as a marker on one horizontal time axis, coloured by kind. */
function TimeAxis({
  entries: allEntries,
  activity: allActivity,
  hidden,
}: {
  entries: readonly Entry[];
  activity: readonly Activity[];
  hidden: Map<string, string>;
}) {
  const { t, dateTime, money } = useI18n();
  const [whole, setWhole] = useState(false);
  let entries = allEntries;
  let activity = allActivity;
  const allTimes = [
    ...allEntries.map((e) => Date.parse(e.at)),
    ...allActivity.map((a) => Date.parse(a.at)),
  ].filter((ms) => !Number.isNaN(ms));
  if (allTimes.length === 0) return null;
  const last = Math.max(...allTimes);
  // A long history squeezes today into a dot: the axis opens on the last two days.
  const recentFrom = last - recentSpanMs;
  const longHistory = Math.min(...allTimes) < recentFrom;
  const shownFrom = longHistory && !whole ? recentFrom : -Infinity;
  const shown = (at: string) => Date.parse(at) >= shownFrom;
  entries = entries.filter((e) => shown(e.at));
  activity = activity.filter((a) => shown(a.at));
  const times = allTimes.filter((ms) => ms >= shownFrom);
  const first = Math.min(...times);
  const span = Math.max(1, last - first);
  const width = 640;
  const left = 70;
  const height = 104;
  const x = (ms: number) => left + ((ms - first) / span) * (width - left - 10);
  const laneNames: [number, string][] = [
    [lanes.signIns, t('lane.signIns')],
    [lanes.other, t('lane.other')],
    [lanes.orders, t('lane.orders')],
    [lanes.payments, t('lane.payments')],
    [lanes.shipments, t('lane.shipments')],
  ];
  return (
    <figure className="axis">
      <svg viewBox={`0 0 ${String(width)} ${String(height)}`} role="img" aria-label={t('account.axis')}>
        {laneNames.map(([y, name]) => (
          <g key={name}>
            <line x1={left} x2={width - 10} y1={y} y2={y} stroke="#e0e0e0" />
            <text x={left - 6} y={y + 3} className="lane-label" fill="#444" textAnchor="end">
              {name}
            </text>
          </g>
        ))}
        {entries.map((entry) => {
          const kind = kindOf(entry);
          const orderId = text(field(entry.event, 'orderId'));
          const isHidden = kind === 'order' && orderId !== undefined && hidden.has(orderId);
          const ms = Date.parse(entry.at);
          const lane =
            kind === 'order' || kind === 'archive'
              ? lanes.orders
              : kind === 'signIn' || kind === 'signInFailed'
                ? lanes.signIns
                : lanes.other;
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
        {activity.map((item, i) => (
          <rect
            key={`a${String(i)}`}
            x={x(Date.parse(item.at)) - 4}
            y={(item.kind === 'shipment' ? lanes.shipments : lanes.payments) - 4}
            width={8}
            height={8}
            fill={activityColours[item.kind]}
          >
            <title>
              {dateTime(item.at)} · {t(`kind.${item.kind}` as MessageKey)} {item.orderId} · {item.status}
              {item.amount === undefined ? '' : ` · ${money(item.amount.value, item.amount.currency)}`}
            </title>
          </rect>
        ))}
        <text x={left} y={height - 2} fontSize={10} fill="#444">
          {dateTime(new Date(first).toISOString())}
        </text>
        <text x={width - 10} y={height - 2} fontSize={10} fill="#444" textAnchor="end">
          {dateTime(new Date(last).toISOString())}
        </text>
      </svg>
      <figcaption className="muted">
        {t('account.axis')}{' '}
        {longHistory ? (
          <button type="button" aria-pressed={whole} onClick={() => setWhole(!whole)}>
            {t('account.wholeHistory')}
          </button>
        ) : null}
      </figcaption>
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
  const { t, dateTime, money } = useI18n();
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
  // Payments and shipments as the connectors report them; a server without connectors has none.
  const activity = usePolling(() => client.activity(accountId), 5000, [accountId]);
  const activityEntries = activity.data?.entries ?? [];
  const rows = useMemo(
    () =>
      [
        ...entries.map((entry) => ({ at: entry.at, entry, item: undefined })),
        ...activityEntries.map((item) => ({ at: item.at, entry: undefined, item })),
      ].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)),
    [entries, activityEntries],
  );
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
          <section data-testid="timeline-section">
            <h2>{t('account.timeline')}</h2>
            <TimeAxis entries={entries} activity={activityEntries} hidden={hidden} />
            {(activity.data?.problems ?? []).map((problem) => (
              <p key={problem} className="note">
                {problem}
              </p>
            ))}
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
                {rows.map(({ entry, item }, index) => {
                  if (item !== undefined) {
                    return (
                      <tr
                        key={`a${String(index)}`}
                        className="timeline-row activity-row"
                        data-kind={item.kind}
                      >
                        <td>{dateTime(item.at)}</td>
                        <td className="nowrap">
                          <span className="swatch" style={{ background: activityColours[item.kind] }} />{' '}
                          {t(`kind.${item.kind}` as MessageKey)}
                        </td>
                        <td>
                          <strong>{item.orderId}</strong> {item.status}
                          {item.amount === undefined
                            ? ''
                            : ` · ${money(item.amount.value, item.amount.currency)}`}{' '}
                          · <span className="muted">{item.reference}</span>
                          {item.detail === undefined || item.detail.length === 0 ? '' : ` · ${item.detail}`}
                        </td>
                        <td />
                        <td />
                        <td />
                      </tr>
                    );
                  }
                  if (entry === undefined) return null;
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
          </section>
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
