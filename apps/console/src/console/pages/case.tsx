import { CaseDetails, ErrorNote, usePolling } from '../../shared/components.tsx';
import { useI18n } from '../../shared/i18n.tsx';
import { useSession } from '../session.tsx';

/** A containment case, refreshed every two seconds while its steps run. */
export function CasePage({ params }: { params: Record<string, string> }) {
  const caseId = params.caseId ?? '';
  const { client } = useSession();
  const { t, language } = useI18n();
  const { data, error } = usePolling(() => client.caseView(caseId), 2000, [caseId]);
  return (
    <>
      <h1>
        {t('case.title')} <span data-testid="case-id">{caseId}</span>
      </h1>
      {error === undefined ? null : <ErrorNote error={error} />}
      {data === undefined ? <p className="muted">{t('app.loading')}</p> : <CaseDetails data={data} />}
      {data?.view.run === undefined ? null : (
        <p>
          <a
            data-testid="case-receipt"
            href={`/v1/cases/${encodeURIComponent(caseId)}/receipt?lang=${language}`}
            target="_blank"
            rel="noreferrer"
          >
            {t('case.receipt')}
          </a>
        </p>
      )}
    </>
  );
}
