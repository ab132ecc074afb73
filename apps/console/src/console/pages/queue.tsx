import { useEffect, useRef, useState } from 'react';
import { reviewStatuses, type ReviewStatus, type ReviewView } from '@bulwark/contracts';
import { ErrorNote, usePolling } from '../../shared/components.tsx';
import { useI18n, type MessageKey } from '../../shared/i18n.tsx';
import { Link, useRouter } from '../router.tsx';
import { useSession } from '../session.tsx';

function ReviewRows({ reviews, selected }: { reviews: readonly ReviewView[]; selected: number }) {
  const { t, dateTime, money } = useI18n();
  return (
    <table data-testid="review-table">
      <thead>
        <tr>
          <th>{t('col.order')}</th>
          <th>{t('col.account')}</th>
          <th>{t('col.amount')}</th>
          <th>{t('col.score')}</th>
          <th>{t('col.reasons')}</th>
          <th>{t('queue.held')}</th>
          <th>{t('queue.deadline')}</th>
          <th>{t('col.state')}</th>
        </tr>
      </thead>
      <tbody>
        {reviews.map((r, i) => (
          <tr
            key={r.orderId}
            className={i === selected ? 'selected' : undefined}
            aria-selected={i === selected}
            data-order-id={r.orderId}
          >
            <td>{r.orderId}</td>
            <td>
              <Link to={`/accounts/${encodeURIComponent(r.accountId)}`}>{r.accountId}</Link>
            </td>
            <td>{money(r.amount.value, r.amount.currency)}</td>
            <td>{r.score}</td>
            <td>
              {r.reasons.map((reason, j) => (
                <span key={j} className="reason">
                  {reason.code}
                </span>
              ))}
            </td>
            <td>{dateTime(r.decidedAt)}</td>
            <td>{dateTime(r.deadlineAt)}</td>
            <td>
              {t(`review.${r.status}` as MessageKey)}
              {r.caseId === undefined ? null : (
                <>
                  {' '}
                  <Link to={`/cases/${encodeURIComponent(r.caseId)}`}>{r.caseId}</Link>
                </>
              )}
              {r.note === undefined ? null : <div className="muted">{r.note}</div>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * Orders held for review. Keys: `j`/`k` next/previous, `a` approve, `d` decline (opens an
 * order-fraud containment case), `Enter` opens the account. Viewers read; analysts decide.
 */
export function QueuePage() {
  const { client, session } = useSession();
  const { t } = useI18n();
  const { navigate } = useRouter();
  const [status, setStatus] = useState<ReviewStatus>('pending');
  const [selected, setSelected] = useState(0);
  const [note, setNote] = useState('');
  const [notice, setNotice] = useState<{ text: string; caseId?: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [refresh, setRefresh] = useState(0);
  const { data, error } = usePolling(() => client.reviews(status), 5000, [status, refresh]);
  const items = data ?? [];
  const current = items[Math.min(selected, Math.max(0, items.length - 1))];
  const canDecide = session.analyst.role !== 'viewer' && status === 'pending';

  const decide = (action: 'approve' | 'decline') => {
    if (current === undefined || !canDecide || busy) return;
    setBusy(true);
    client
      .review(current.orderId, action, note)
      .then(
        (view) => {
          setNote('');
          setNotice({
            text: t(action === 'approve' ? 'queue.approved' : 'queue.declined').replace(
              '{order}',
              view.orderId,
            ),
            ...(view.caseId === undefined ? {} : { caseId: view.caseId }),
          });
          setRefresh((n) => n + 1);
        },
        (caught: unknown) => setNotice({ text: caught instanceof Error ? caught.message : String(caught) }),
      )
      .finally(() => setBusy(false));
  };
  const decideRef = useRef(decide);
  decideRef.current = decide;

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const tag = (event.target as HTMLElement | null)?.tagName ?? '';
      // Typing a note is not a shortcut; Enter on a focused button or link is that control's.
      if (['INPUT', 'SELECT', 'TEXTAREA'].includes(tag)) return;
      if (event.key === 'Enter' && ['BUTTON', 'A'].includes(tag)) return;
      if (event.metaKey || event.ctrlKey || event.altKey) return;
      if (event.key === 'j') setSelected((s) => Math.min(s + 1, Math.max(0, items.length - 1)));
      else if (event.key === 'k') setSelected((s) => Math.max(0, s - 1));
      else if (event.key === 'a') decideRef.current('approve');
      else if (event.key === 'd') decideRef.current('decline');
      else if (event.key === 'Enter' && current !== undefined)
        navigate(`/accounts/${encodeURIComponent(current.accountId)}`);
      else return;
      event.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [items.length, current, navigate]);

  return (
    <>
      <h1>{t('queue.title')}</h1>
      <p className="muted">{t('queue.help')}</p>
      <div className="filters" role="group" aria-label={t('queue.status')}>
        {reviewStatuses.map((s) => (
          <button
            key={s}
            type="button"
            aria-pressed={s === status}
            data-testid={`queue-status-${s}`}
            onClick={() => {
              setStatus(s);
              setSelected(0);
            }}
          >
            {t(`review.${s}` as MessageKey)}
          </button>
        ))}
      </div>
      {session.analyst.role === 'viewer' ? (
        <p className="note">{t('queue.viewerOnly')}</p>
      ) : status !== 'pending' ? null : (
        <div className="filters">
          <label>
            {t('queue.note')}
            <input
              value={note}
              maxLength={2000}
              data-testid="queue-note-input"
              onChange={(e) => setNote(e.target.value)}
            />
          </label>
          <button
            type="button"
            className="primary"
            data-testid="queue-approve"
            disabled={!canDecide || current === undefined || busy}
            onClick={() => decide('approve')}
          >
            {t('queue.approve')} (a)
          </button>
          <button
            type="button"
            data-testid="queue-decline"
            disabled={!canDecide || current === undefined || busy}
            onClick={() => decide('decline')}
          >
            {t('queue.decline')} (d)
          </button>
        </div>
      )}
      {notice === undefined ? null : (
        <p className="note" role="status" data-testid="queue-notice">
          {notice.text}
          {notice.caseId === undefined ? null : (
            <>
              {' '}
              <Link to={`/cases/${encodeURIComponent(notice.caseId)}`} testId="queue-case-link">
                {t('queue.openCase')}
              </Link>
            </>
          )}
        </p>
      )}
      {error === undefined ? null : <ErrorNote error={error} />}
      {data === undefined ? (
        <p className="muted">{t('app.loading')}</p>
      ) : items.length === 0 ? (
        <p className="muted" data-testid="queue-empty">
          {t('queue.empty')}
        </p>
      ) : (
        <ReviewRows reviews={items} selected={selected} />
      )}
    </>
  );
}
