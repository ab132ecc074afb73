import { Histogram, LineChart } from '../../shared/charts.tsx';
import { ErrorNote, usePolling } from '../../shared/components.tsx';
import { useI18n } from '../../shared/i18n.tsx';
import { useSession } from '../session.tsx';

const pct = (value: number | null): string => (value === null ? '—' : `${(value * 100).toFixed(1)}%`);

/**
 * The order model as it scores the stored orders: how fraud and legitimate orders spread over the
 * scores, and what holding every order from a threshold up would catch and cost.
 */
export function ModelPage() {
  const { client } = useSession();
  const { t } = useI18n();
  const { data, error } = usePolling(() => client.modelMetrics(), 0, []);
  return (
    <>
      <h1>{t('model.title')}</h1>
      {error === undefined ? null : <ErrorNote error={error} />}
      {data === undefined ? (
        error === undefined ? (
          <p className="muted">{t('app.loading')}</p>
        ) : null
      ) : (
        <>
          <dl className="facts card" data-testid="model-facts">
            <dt>{t('model.version')}</dt>
            <dd data-testid="model-version">{data.model}</dd>
            <dt>{t('model.orders')}</dt>
            <dd data-testid="model-orders">{data.orders}</dd>
            <dt>{t('model.fraud')}</dt>
            <dd data-testid="model-fraud">
              {data.fraudOrders} ({t('model.labelSource')})
            </dd>
            <dt>ROC-AUC</dt>
            <dd>{data.rocAuc === null ? '—' : data.rocAuc.toFixed(3)}</dd>
            <dt>PR-AUC</dt>
            <dd>{data.prAuc === null ? '—' : data.prAuc.toFixed(3)}</dd>
            <dt>{t('model.reviewFrom')}</dt>
            <dd>{data.reviewScoreMin}</dd>
          </dl>
          {data.fraudOrders === 0 ? <p className="note">{t('model.noLabels')}</p> : null}
          <h2>{t('model.distribution')}</h2>
          <Histogram
            testId="model-distribution"
            label={t('model.distributionChart')}
            buckets={data.distribution.map((b) => ({
              label: `${String(b.from)}–${String(b.to)}`,
              values: { fraud: b.fraud, legitimate: b.legitimate },
            }))}
            series={[
              { name: t('model.legitimate'), key: 'legitimate', colour: '#78909c' },
              { name: t('model.fraudSeries'), key: 'fraud', colour: '#c62828' },
            ]}
          />
          <h2>{t('model.thresholds')}</h2>
          <LineChart
            testId="model-thresholds"
            label={t('model.thresholdsChart')}
            marker={{ x: data.reviewScoreMin, label: t('model.reviewFrom') }}
            points={data.thresholds.map((p) => ({
              x: p.threshold,
              values: { precision: p.precision, recall: p.recall },
            }))}
            series={[
              { name: t('rules.precision'), key: 'precision', colour: '#1565c0' },
              { name: t('rules.recall'), key: 'recall', colour: '#2e7d32' },
            ]}
          />
          <table data-testid="model-threshold-table">
            <thead>
              <tr>
                <th>{t('model.threshold')}</th>
                <th>{t('rules.held')}</th>
                <th>{t('rules.precision')}</th>
                <th>{t('rules.recall')}</th>
              </tr>
            </thead>
            <tbody>
              {data.thresholds.map((p) => (
                <tr
                  key={p.threshold}
                  className={p.threshold === data.reviewScoreMin ? 'selected' : undefined}
                >
                  <td>≥ {p.threshold}</td>
                  <td>{p.held}</td>
                  <td>{pct(p.precision)}</td>
                  <td>{pct(p.recall)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}
