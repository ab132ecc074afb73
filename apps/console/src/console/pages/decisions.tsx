import { useMemo, useState } from 'react';
import { decisionOutcomes, type DecisionListEntry, type DecisionOutcome } from '@bulwark/contracts';
import {
  DecisionBadge,
  ErrorNote,
  StackedBars,
  outcomeColours,
  usePolling,
} from '../../shared/components.tsx';
import { useI18n } from '../../shared/i18n.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';

const chartMinutes = 30;
const refreshMs = 3000;

/**
 * Decisions per minute by outcome over the half hour up to the newest decision read (live, that
 * is now; for replayed events it is their own time).
 */
function perMinute(
  decisions: readonly DecisionListEntry[],
  locale: string,
): { label: string; values: Record<string, number> }[] {
  const minuteMs = 60_000;
  const newest = decisions.reduce((max, d) => Math.max(max, Date.parse(d.decidedAt)), 0);
  const end = Math.floor((newest === 0 ? Date.now() : newest) / minuteMs) * minuteMs;
  const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });
  const buckets = Array.from({ length: chartMinutes }, (_, i) => {
    const startMs = end - (chartMinutes - 1 - i) * minuteMs;
    return { startMs, label: time.format(new Date(startMs)), values: {} as Record<string, number> };
  });
  for (const d of decisions) {
    const at = Date.parse(d.decidedAt);
    const index = Math.floor((at - (end - (chartMinutes - 1) * minuteMs)) / minuteMs);
    const bucket = buckets[index];
    if (bucket !== undefined) bucket.values[d.decision] = (bucket.values[d.decision] ?? 0) + 1;
  }
  return buckets;
}

export function DecisionRows({
  decisions,
  selected,
}: {
  decisions: readonly DecisionListEntry[];
  selected?: number;
}) {
  const { t, dateTime } = useI18n();
  return (
    <table data-testid="decisions-table">
      <thead>
        <tr>
          <th>{t('col.time')}</th>
          <th>{t('col.account')}</th>
          <th>{t('col.event')}</th>
          <th>{t('col.decision')}</th>
          <th>{t('col.score')}</th>
          <th>{t('col.reasons')}</th>
        </tr>
      </thead>
      <tbody>
        {decisions.map((d, i) => (
          <tr key={d.seq} className={i === selected ? 'selected' : undefined} data-event-id={d.eventId}>
            <td>{dateTime(d.at)}</td>
            <td>
              {d.accountId === undefined ? (
                '—'
              ) : (
                <Link to={`/accounts/${encodeURIComponent(d.accountId)}`}>{d.accountId}</Link>
              )}
            </td>
            <td>{d.type}</td>
            <td>
              <DecisionBadge decision={d.decision} />
              {d.caseId === undefined ? null : (
                <>
                  {' '}
                  <Link to={`/cases/${encodeURIComponent(d.caseId)}`}>{d.caseId}</Link>
                </>
              )}
            </td>
            <td>{d.score}</td>
            <td>
              {d.reasons.map((r, j) => (
                <span key={j} className="reason">
                  {r.code}
                  {r.detail === undefined ? '' : ` (${r.detail})`}
                </span>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DecisionsPage() {
  const { client } = useSession();
  const { t, locale } = useI18n();
  const [decision, setDecision] = useState<DecisionOutcome | ''>('');
  const [reason, setReason] = useState('');
  const [accountId, setAccountId] = useState('');
  const [before, setBefore] = useState<number | undefined>(undefined);
  const filter = { decision: decision === '' ? undefined : decision, reason, accountId, before };
  const { data, error } = usePolling(
    () => client.decisions({ ...filter, limit: 200 }),
    before === undefined ? refreshMs : 0,
    [decision, reason, accountId, before],
  );
  const buckets = useMemo(() => perMinute(data?.decisions ?? [], locale), [data, locale]);
  return (
    <>
      <h1>{t('decisions.title')}</h1>
      <div className="filters">
        <label>
          {t('decisions.filter.decision')}
          <select
            value={decision}
            data-testid="filter-decision"
            onChange={(e) => {
              setBefore(undefined);
              setDecision(e.target.value as DecisionOutcome | '');
            }}
          >
            <option value="">{t('decisions.filter.any')}</option>
            {decisionOutcomes.map((o) => (
              <option key={o} value={o}>
                {t(`decision.${o}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('decisions.filter.reason')}
          <input
            value={reason}
            placeholder="new_device"
            onChange={(e) => {
              setBefore(undefined);
              setReason(e.target.value.trim());
            }}
          />
        </label>
        <label>
          {t('decisions.filter.account')}
          <input
            value={accountId}
            data-testid="filter-account"
            onChange={(e) => {
              setBefore(undefined);
              setAccountId(e.target.value.trim());
            }}
          />
        </label>
      </div>
      {before === undefined ? (
        <StackedBars
          buckets={buckets}
          series={decisionOutcomes}
          colours={outcomeColours}
          label={t('decisions.chart')}
        />
      ) : null}
      {error === undefined ? null : <ErrorNote error={error} />}
      {data === undefined ? (
        <p className="muted">{t('app.loading')}</p>
      ) : data.decisions.length === 0 ? (
        <p className="muted">{t('app.none')}</p>
      ) : (
        <DecisionRows decisions={data.decisions} />
      )}
      {data?.nextBefore === undefined ? null : (
        <p>
          <button type="button" onClick={() => setBefore(data.nextBefore)}>
            {t('decisions.more')}
          </button>
        </p>
      )}
    </>
  );
}
