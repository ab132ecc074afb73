import { useState } from 'react';
import { mismatchStatuses } from '@bulwark/contracts';
import { ErrorNote, usePolling } from '../../shared/components.tsx';
import { useI18n } from '../../shared/i18n.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';

/**
 * Reconciliation: the passes that compared Bulwark's records with the providers' books, and the
 * divergences they found (repaired by re-running a step, or escalated to a person).
 */
export function ReconciliationPage() {
  const { client, session } = useSession();
  const { t, dateTime } = useI18n();
  const [status, setStatus] = useState('');
  const [refresh, setRefresh] = useState(0);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | undefined>(undefined);
  const runs = usePolling(() => client.reconciliationRuns(), 10_000, [refresh]);
  const mismatches = usePolling(() => client.mismatches(status), 10_000, [status, refresh]);
  return (
    <>
      <h1>{t('recon.title')}</h1>
      <p className="muted">{t('recon.help')}</p>
      {session.analyst.role === 'viewer' ? null : (
        <p>
          <button
            type="button"
            className="primary"
            data-testid="recon-run"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              setFailure(undefined);
              client
                .runReconciliation(false)
                .then(
                  () => setRefresh((n) => n + 1),
                  (caught: unknown) => setFailure(caught instanceof Error ? caught.message : String(caught)),
                )
                .finally(() => setBusy(false));
            }}
          >
            {t('recon.runNow')}
          </button>
        </p>
      )}
      {failure === undefined ? null : (
        <p className="error" role="alert">
          {failure}
        </p>
      )}
      <h2>{t('recon.runs')}</h2>
      {runs.error === undefined ? null : <ErrorNote error={runs.error} />}
      <table data-testid="recon-runs">
        <thead>
          <tr>
            <th>{t('col.time')}</th>
            <th>{t('recon.mode')}</th>
            <th>{t('recon.scanned')}</th>
            <th>{t('recon.mismatches')}</th>
            <th>{t('recon.repaired')}</th>
            <th>{t('recon.escalated')}</th>
          </tr>
        </thead>
        <tbody>
          {(runs.data ?? []).map((run) => (
            <tr key={run.id}>
              <td>{dateTime(run.finishedAt)}</td>
              <td>{run.mode}</td>
              <td>
                {Object.entries(run.scanned)
                  .map(([k, v]) => `${k} ${String(v)}`)
                  .join(', ')}
              </td>
              <td>{run.mismatches}</td>
              <td>{run.repaired}</td>
              <td>{run.escalated}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t('recon.divergences')}</h2>
      <label>
        {t('col.state')}{' '}
        <select value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">{t('decisions.filter.any')}</option>
          {mismatchStatuses.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      {mismatches.error === undefined ? null : <ErrorNote error={mismatches.error} />}
      {mismatches.data !== undefined && mismatches.data.length === 0 ? (
        <p className="muted">{t('recon.none')}</p>
      ) : (
        <table data-testid="recon-mismatches">
          <thead>
            <tr>
              <th>{t('col.time')}</th>
              <th>{t('recon.class')}</th>
              <th>{t('col.state')}</th>
              <th>{t('col.order')}</th>
              <th>{t('recon.expected')}</th>
              <th>{t('recon.actual')}</th>
              <th>{t('recon.action')}</th>
            </tr>
          </thead>
          <tbody>
            {(mismatches.data ?? []).map((m) => (
              <tr key={m.id}>
                <td>{dateTime(m.detectedAt)}</td>
                <td>{m.class}</td>
                <td>{m.status}</td>
                <td>
                  {m.orderId ?? m.paymentId ?? m.shipmentId ?? ''}{' '}
                  {m.caseId === undefined ? null : (
                    <Link to={`/cases/${encodeURIComponent(m.caseId)}`}>{m.caseId}</Link>
                  )}
                </td>
                <td>{m.expected}</td>
                <td>{m.actual}</td>
                <td>{m.action}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
