import { ErrorNote, usePolling } from '../../shared/components.tsx';
import { useI18n } from '../../shared/i18n.tsx';
import { useSession } from '../session.tsx';

export function AuditPage() {
  const { client, session } = useSession();
  const { t, dateTime } = useI18n();
  const { data, error } = usePolling(() => client.audit(), 0, []);
  if (session.analyst.role !== 'admin') return <p className="note">{t('audit.adminOnly')}</p>;
  return (
    <>
      <h1>{t('audit.title')}</h1>
      {error === undefined ? null : <ErrorNote error={error} />}
      <table data-testid="audit-table">
        <thead>
          <tr>
            <th>{t('col.time')}</th>
            <th>{t('col.actor')}</th>
            <th>{t('col.action')}</th>
            <th>{t('col.target')}</th>
            <th>{t('col.outcome')}</th>
            <th>IP</th>
          </tr>
        </thead>
        <tbody>
          {(data?.entries ?? []).map((e) => (
            <tr key={e.seq}>
              <td>{dateTime(e.at)}</td>
              <td>
                {e.actorKind} {e.actorId ?? ''}
              </td>
              <td>{e.action}</td>
              <td>{e.target ?? ''}</td>
              <td>{e.outcome}</td>
              <td>{e.ip}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
