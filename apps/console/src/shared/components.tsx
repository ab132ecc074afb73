import { useEffect, useRef, useState } from 'react';
import type { CaseWithRaw } from './api.ts';
import { useI18n, type MessageKey } from './i18n.tsx';

/** Runs `load` now and every `intervalMs` after, keeping the latest answer or error. */
export function usePolling<T>(load: () => Promise<T>, intervalMs: number, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const next = await loadRef.current();
        if (!stopped) {
          setData(next);
          setError(undefined);
        }
      } catch (caught) {
        if (!stopped) setError(caught instanceof Error ? caught : new Error(String(caught)));
      }
      if (!stopped && intervalMs > 0) timer = setTimeout(() => void tick(), intervalMs);
    };
    setData(undefined);
    void tick();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, deps);
  return { data, error };
}

export function ErrorNote({ error }: { error: Error }) {
  const { t } = useI18n();
  return (
    <p className="error" role="alert">
      {t('app.error')}: {error.message}
    </p>
  );
}

export function DecisionBadge({ decision }: { decision: string }) {
  const { t } = useI18n();
  const known = ['allow', 'challenge', 'review', 'deny'].includes(decision);
  return (
    <span className={`badge badge-${known ? decision : 'other'}`}>
      {known ? t(`decision.${decision}` as MessageKey) : decision}
    </span>
  );
}

export const outcomeColours: Record<string, string> = {
  allow: '#2e7d32',
  challenge: '#b26a00',
  review: '#1565c0',
  deny: '#c62828',
};

/**
 * A stacked bar chart in plain SVG: one bar per bucket, one colour per series. Small on purpose
 * (no chart library, nothing loaded from elsewhere).
 */
export function StackedBars({
  buckets,
  series,
  colours,
  label,
  height = 80,
}: {
  buckets: { label: string; values: Record<string, number> }[];
  series: readonly string[];
  colours: Record<string, string>;
  label: string;
  height?: number;
}) {
  const width = 960;
  const barGap = 2;
  const max = Math.max(1, ...buckets.map((b) => series.reduce((sum, s) => sum + (b.values[s] ?? 0), 0)));
  const barWidth = buckets.length === 0 ? 0 : width / buckets.length - barGap;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${String(width)} ${String(height + 16)}`} role="img" aria-label={label}>
        {buckets.map((bucket, i) => {
          let y = height;
          return (
            <g key={bucket.label}>
              <title>
                {bucket.label}: {series.map((s) => `${s} ${String(bucket.values[s] ?? 0)}`).join(', ')}
              </title>
              {series.map((s) => {
                const value = bucket.values[s] ?? 0;
                const h = (value / max) * height;
                y -= h;
                return value === 0 ? null : (
                  <rect
                    key={s}
                    x={i * (barWidth + barGap)}
                    y={y}
                    width={Math.max(1, barWidth)}
                    height={h}
                    fill={colours[s] ?? '#777'}
                  />
                );
              })}
            </g>
          );
        })}
        <line x1={0} x2={width} y1={height} y2={height} stroke="#999" />
        <text x={0} y={height + 13} fontSize={11} fill="#555">
          {buckets[0]?.label ?? ''}
        </text>
        <text x={width} y={height + 13} fontSize={11} fill="#555" textAnchor="end">
          {buckets.at(-1)?.label ?? ''}
        </text>
        <text x={4} y={12} fontSize={11} fill="#555">
          {String(max)}
        </text>
      </svg>
      <figcaption>
        {label}{' '}
        {series.map((s) => (
          <span key={s} className="legend">
            <span className="swatch" style={{ background: colours[s] ?? '#777' }} /> {s}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

/** A value as short text: objects as `key: value` pairs, lists by their items, long text cut. */
export function compact(value: unknown, depth = 0): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  if (depth >= 2) return '…';
  if (Array.isArray(value)) {
    const shown = value.slice(0, 4).map((item) => compact(item, depth + 1));
    return `[${shown.join('; ')}${value.length > 4 ? `; +${String(value.length - 4)}` : ''}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    // Money reads as money-ish text: `5000 JPY`.
    const money = value as { value?: unknown; currency?: unknown };
    if (entries.length === 2 && typeof money.value === 'number' && typeof money.currency === 'string')
      return `${String(money.value)} ${money.currency}`;
    return entries.map(([k, v]) => `${k}: ${compact(v, depth + 1)}`).join(', ');
  }
  return '';
}

const cellCharsMax = 160;

function cell(value: unknown): string {
  const text = compact(value);
  return text.length > cellCharsMax ? `${text.slice(0, cellCharsMax - 1)}…` : text;
}

/** Rows of objects as a table with every key any row has: the case shows whatever it holds. */
export function GenericTable({
  rows,
  preferred,
  labels,
  testId,
}: {
  rows: Record<string, unknown>[];
  preferred: readonly string[];
  labels: Partial<Record<string, string>>;
  testId?: string;
}) {
  const { dateTime } = useI18n();
  const keys = [...preferred.filter((k) => rows.some((r) => k in r))];
  for (const row of rows) for (const key of Object.keys(row)) if (!keys.includes(key)) keys.push(key);
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          {keys.map((k) => (
            <th key={k}>{labels[k] ?? k}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={i}>
            {keys.map((k) => {
              const value = row[k];
              const text =
                typeof value === 'string' && /At$/.test(k) && !Number.isNaN(Date.parse(value))
                  ? dateTime(value)
                  : cell(value);
              const full = compact(value);
              return (
                <td key={k} title={full.length > text.length ? full : undefined}>
                  {text}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A containment case: its state, every step and every order, as the server reports them. */
export function CaseDetails({ data }: { data: CaseWithRaw }) {
  const { t, dateTime } = useI18n();
  const { view, raw } = data;
  const steps = Array.isArray(raw.steps) ? (raw.steps as Record<string, unknown>[]) : [];
  const orders = Array.isArray(raw.orders) ? (raw.orders as Record<string, unknown>[]) : [];
  const extra = Object.entries(raw).filter(
    ([k]) =>
      ![
        'caseId',
        'accountId',
        'status',
        'reportedBy',
        'openedAt',
        'since',
        'steps',
        'orders',
        'run',
        'receiptComplete',
        'notification',
      ].includes(k),
  );
  return (
    <div data-testid="case-details">
      <dl className="facts">
        <dt>{t('case.status')}</dt>
        <dd data-testid="case-status">{view.status}</dd>
        <dt>{t('col.account')}</dt>
        <dd>{view.accountId}</dd>
        <dt>{t('case.reportedBy')}</dt>
        <dd>{view.reportedBy}</dd>
        <dt>{t('case.openedAt')}</dt>
        <dd>{dateTime(view.openedAt)}</dd>
        {view.since === undefined ? null : (
          <>
            <dt>{t('case.since')}</dt>
            <dd>{dateTime(view.since)}</dd>
          </>
        )}
        {view.run === undefined ? null : (
          <>
            <dt>{t('case.run')}</dt>
            <dd data-testid="case-run">
              {view.run.playbook} · {view.run.status} · {dateTime(view.run.decidedAt)}
              {view.run.finishedAt === undefined ? '' : ` – ${dateTime(view.run.finishedAt)}`}
            </dd>
          </>
        )}
        {view.receiptComplete === undefined ? null : (
          <>
            <dt>{t('case.receiptComplete')}</dt>
            <dd data-testid="case-receipt-complete">{view.receiptComplete ? t('app.yes') : t('app.no')}</dd>
          </>
        )}
        {view.notification === undefined ? null : (
          <>
            <dt>{t('case.notification')}</dt>
            <dd>
              {view.notification.channel} · {dateTime(view.notification.sentAt)}
            </dd>
          </>
        )}
        {extra.map(([k, v]) => (
          <div key={k} style={{ display: 'contents' }}>
            <dt>{k}</dt>
            <dd>{compact(v)}</dd>
          </div>
        ))}
      </dl>
      <h3>{t('case.steps')}</h3>
      {steps.length === 0 ? (
        <p className="muted">{t('case.noSteps')}</p>
      ) : (
        <GenericTable
          testId="case-steps"
          rows={steps}
          preferred={['step', 'target', 'state', 'attempts', 'updatedAt']}
          labels={{
            step: t('col.step'),
            target: t('col.target'),
            state: t('col.state'),
            attempts: t('col.attempts'),
            updatedAt: t('col.updated'),
          }}
        />
      )}
      <h3>{t('case.orders')}</h3>
      {orders.length === 0 ? (
        <p className="muted">{t('app.none')}</p>
      ) : (
        <GenericTable
          testId="case-orders"
          rows={orders}
          preferred={['orderId', 'payment', 'shipment']}
          labels={{ orderId: t('col.order'), payment: t('col.payment'), shipment: t('col.shipment') }}
        />
      )}
    </div>
  );
}

/** A short, readable name for a user agent ("Chrome on macOS"), without a parsing library. */
export function deviceLabel(userAgent: string): string {
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /Chrome\//.test(userAgent)
        ? 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : undefined;
  const os = /iPhone|iPad/.test(userAgent)
    ? 'iOS'
    : /Android/.test(userAgent)
      ? 'Android'
      : /Mac OS X|Macintosh/.test(userAgent)
        ? 'macOS'
        : /Windows/.test(userAgent)
          ? 'Windows'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : undefined;
  if (browser === undefined && os === undefined) return userAgent.slice(0, 60);
  return [browser, os].filter((p) => p !== undefined).join(' · ');
}
