import { useEffect, useState } from 'react';
import { ErrorNote, usePolling } from '../../shared/components.tsx';
import { useI18n } from '../../shared/i18n.tsx';
import { useRouter } from '../router.tsx';
import { useSession } from '../session.tsx';
import { DecisionRows } from './decisions.tsx';

/**
 * Decisions held for review. Approve and decline need a review API the server does not have
 * yet: the buttons and their keys stay disabled (with a note) until it lands; they are not faked.
 */
const reviewApiAvailable = false;

export function QueuePage() {
  const { client, session } = useSession();
  const { t } = useI18n();
  const { navigate } = useRouter();
  const [selected, setSelected] = useState(0);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const { data, error } = usePolling(() => client.decisions({ decision: 'review', limit: 100 }), 5000, []);
  const items = data?.decisions ?? [];
  const current = items[Math.min(selected, Math.max(0, items.length - 1))];
  const canContain = session.analyst.role !== 'viewer';

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target !== null && ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName)) return;
      if (event.metaKey || event.ctrlKey || event.altKey) return;
      if (event.key === 'j') setSelected((s) => Math.min(s + 1, Math.max(0, items.length - 1)));
      else if (event.key === 'k') setSelected((s) => Math.max(0, s - 1));
      else if (event.key === 'a' || event.key === 'd') setNotice(t('queue.notYet'));
      else if (event.key === 'Enter' && current?.accountId !== undefined)
        navigate(`/accounts/${encodeURIComponent(current.accountId)}`);
      else return;
      event.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [items.length, current, navigate, t]);

  return (
    <>
      <h1>{t('queue.title')}</h1>
      <p className="muted">{t('queue.help')}</p>
      <p className="note" data-testid="queue-note">
        {t('queue.notYet')}
      </p>
      <div className="filters">
        <button type="button" disabled={!reviewApiAvailable} title={t('queue.notYet')}>
          {t('queue.approve')} (a)
        </button>
        <button type="button" disabled={!reviewApiAvailable} title={t('queue.notYet')}>
          {t('queue.decline')} (d)
        </button>
        <button
          type="button"
          disabled={!canContain || current?.accountId === undefined}
          onClick={() => {
            if (current?.accountId === undefined) return;
            void client.reportCompromised(current.accountId).then(
              (view) => navigate(`/cases/${encodeURIComponent(view.caseId)}`),
              (caught: unknown) => setNotice(caught instanceof Error ? caught.message : String(caught)),
            );
          }}
        >
          {t('queue.contain')}
        </button>
      </div>
      {notice === undefined ? null : (
        <p className="note" role="status">
          {notice}
        </p>
      )}
      {error === undefined ? null : <ErrorNote error={error} />}
      {data === undefined ? (
        <p className="muted">{t('app.loading')}</p>
      ) : items.length === 0 ? (
        <p className="muted">{t('queue.empty')}</p>
      ) : (
        <DecisionRows decisions={items} selected={selected} />
      )}
    </>
  );
}
