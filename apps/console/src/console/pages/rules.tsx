import { useEffect, useRef, useState } from 'react';
import type { BacktestReportView, RuleDefinitionView, RuleProblemView } from '@bulwark/contracts';
import { ApiError, type RuleSetDefinitionView } from '../../shared/api.ts';
import { BarRows } from '../../shared/charts.tsx';
import { ErrorNote, usePolling } from '../../shared/components.tsx';
import { useI18n } from '../../shared/i18n.tsx';
import { useSession } from '../session.tsx';

const outcomes = ['allow', 'challenge', 'review', 'deny'] as const;
const validateDelayMs = 400;

/** `rules[3].expression` → 3; a problem of the whole set → undefined. */
function ruleIndexOf(problem: RuleProblemView): number | undefined {
  const found = /^rules\[(\d+)\]/.exec(problem.field);
  return found === null ? undefined : Number(found[1]);
}

const pct = (value: number | null): string => (value === null ? '—' : `${(value * 100).toFixed(1)}%`);

/** The CEL source with a caret under the column a problem names (1-based line and column). */
function Caret({ expression, problem }: { expression: string; problem: RuleProblemView }) {
  if (problem.line === undefined || problem.column === undefined) return null;
  const line = expression.split('\n')[problem.line - 1] ?? '';
  return (
    <pre className="caret" aria-hidden="true">
      {line}
      {'\n'}
      {' '.repeat(Math.max(0, problem.column - 1))}^
    </pre>
  );
}

function RuleEditor({
  rule,
  index,
  problems,
  readOnly,
  onChange,
  onRemove,
}: {
  rule: RuleDefinitionView;
  index: number;
  problems: RuleProblemView[];
  readOnly: boolean;
  onChange: (next: RuleDefinitionView) => void;
  onRemove: () => void;
}) {
  const { t } = useI18n();
  const expressionProblems = problems.filter((p) => p.field.endsWith('.expression'));
  const otherProblems = problems.filter((p) => !p.field.endsWith('.expression'));
  const errorId = `rule-${String(index)}-errors`;
  return (
    <fieldset className="rule card" data-testid={`rule-${String(index)}`}>
      <legend>
        {t('rules.rule')} {index + 1}: {rule.id}
      </legend>
      <div className="rule-grid">
        <label>
          {t('rules.id')}
          <input
            value={rule.id}
            readOnly={readOnly}
            onChange={(e) => onChange({ ...rule, id: e.target.value })}
          />
        </label>
        <label>
          {t('rules.outcome')}
          <select
            value={rule.outcome}
            disabled={readOnly}
            onChange={(e) => onChange({ ...rule, outcome: e.target.value as RuleDefinitionView['outcome'] })}
          >
            {outcomes.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('rules.priority')}
          <input
            type="number"
            min={0}
            max={1000}
            value={rule.priority}
            readOnly={readOnly}
            onChange={(e) => onChange({ ...rule, priority: Number(e.target.value) })}
          />
        </label>
        <label>
          {t('rules.reason')}
          <input
            value={rule.reasonCode}
            readOnly={readOnly}
            onChange={(e) => onChange({ ...rule, reasonCode: e.target.value })}
          />
        </label>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={rule.enabled !== false}
            disabled={readOnly}
            onChange={(e) => onChange({ ...rule, enabled: e.target.checked })}
          />
          {t('rules.enabled')}
        </label>
      </div>
      <label>
        {t('rules.description')}
        <input
          className="wide"
          value={rule.description}
          readOnly={readOnly}
          onChange={(e) => onChange({ ...rule, description: e.target.value })}
        />
      </label>
      <label>
        {t('rules.expression')}
        <textarea
          className="cel"
          data-testid={`rule-${String(index)}-expression`}
          rows={Math.min(8, Math.max(2, rule.expression.split('\n').length))}
          spellCheck={false}
          value={rule.expression}
          readOnly={readOnly}
          aria-invalid={expressionProblems.length > 0}
          aria-describedby={problems.length > 0 ? errorId : undefined}
          onChange={(e) => onChange({ ...rule, expression: e.target.value })}
        />
      </label>
      {problems.length === 0 ? null : (
        <div id={errorId} className="error" role="alert" data-testid={`rule-${String(index)}-problems`}>
          {expressionProblems.map((p, i) => (
            <div key={`e${String(i)}`}>
              <Caret expression={rule.expression} problem={p} />
              {p.line === undefined
                ? p.message
                : `${t('rules.line')} ${String(p.line)}, ${t('rules.column')} ${String(p.column ?? 0)}: ${p.message}`}
            </div>
          ))}
          {otherProblems.map((p, i) => (
            <div key={`o${String(i)}`}>
              {p.field}: {p.message}
            </div>
          ))}
        </div>
      )}
      {readOnly ? null : (
        <button type="button" className="link-button" onClick={onRemove}>
          {t('rules.remove')}
        </button>
      )}
    </fieldset>
  );
}

function BacktestReport({ report }: { report: BacktestReportView }) {
  const { t, money } = useI18n();
  const currency = report.currencies.length === 1 ? report.currencies[0] : undefined;
  const amount = (value: number) => (currency === undefined ? String(value) : money(value, currency));
  const sets = [
    { name: t('rules.candidate'), stats: report.candidate },
    { name: t('rules.current'), stats: report.current },
  ];
  return (
    <div data-testid="backtest-report">
      <p>
        {t('rules.backtestScope')
          .replace('{events}', String(report.events))
          .replace('{orders}', String(report.orders))
          .replace('{fraud}', String(report.fraudOrders))}
      </p>
      <table data-testid="backtest-summary">
        <thead>
          <tr>
            <th>{t('rules.set')}</th>
            <th>{t('rules.held')}</th>
            <th>{t('rules.precision')}</th>
            <th>{t('rules.recall')}</th>
            <th>{t('rules.moneySaved')}</th>
            <th>{t('rules.legitBlocked')}</th>
          </tr>
        </thead>
        <tbody>
          {sets.map(({ name, stats }) => (
            <tr key={name}>
              <td>
                {name} ({stats.version})
              </td>
              <td>{stats.held}</td>
              <td>{pct(stats.precision)}</td>
              <td>{pct(stats.recall)}</td>
              <td>{amount(stats.moneySaved)}</td>
              <td>{amount(stats.legitimateMoneyBlocked)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <BarRows
        testId="backtest-chart"
        label={t('rules.chartHits')}
        rows={sets.flatMap(({ name, stats }) =>
          stats.rules.map((r) => ({
            label: `${name}: ${r.ruleId}`,
            segments: [
              { name: t('rules.fraudHits'), value: r.fraudHits, colour: '#c62828' },
              { name: t('rules.legitHits'), value: r.hits - r.fraudHits, colour: '#78909c' },
            ],
          })),
        )}
      />
      <BarRows
        label={t('rules.chartMoney')}
        format={amount}
        rows={sets.map(({ name, stats }) => ({
          label: name,
          segments: [
            { name: t('rules.moneySaved'), value: stats.moneySaved, colour: '#2e7d32' },
            { name: t('rules.legitBlocked'), value: stats.legitimateMoneyBlocked, colour: '#b26a00' },
          ],
        }))}
      />
      {sets.map(({ name, stats }) => (
        <table
          key={name}
          data-testid={`backtest-rules-${stats === report.candidate ? 'candidate' : 'current'}`}
        >
          <caption>
            {name} ({stats.version})
          </caption>
          <thead>
            <tr>
              <th>{t('rules.id')}</th>
              <th>{t('rules.outcome')}</th>
              <th>{t('rules.hits')}</th>
              <th>{t('rules.fraudHits')}</th>
              <th>{t('rules.precision')}</th>
              <th>{t('rules.recall')}</th>
              <th>{t('rules.amountHit')}</th>
            </tr>
          </thead>
          <tbody>
            {stats.rules.map((r) => (
              <tr key={r.ruleId}>
                <td>{r.ruleId}</td>
                <td>{r.outcome}</td>
                <td>{r.hits}</td>
                <td>{r.fraudHits}</td>
                <td>{pct(r.precision)}</td>
                <td>{pct(r.recall)}</td>
                <td>{amount(r.amountHit)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </div>
  );
}

/**
 * Rule sets: the versions saved and which decides or shadows; an editor that checks the CEL as
 * one types (problems under the rule, with the position); save, shadow, activate, and a backtest
 * of the edited set against the active one over the stored events, labelled by containment cases.
 */
export function RulesPage() {
  const { client, session } = useSession();
  const { t, dateTime } = useI18n();
  const role = session.analyst.role;
  const canEdit = role !== 'viewer';
  const [refresh, setRefresh] = useState(0);
  const status = usePolling(() => client.rules(), 0, [refresh]);
  const [draft, setDraft] = useState<RuleSetDefinitionView | undefined>(undefined);
  const [source, setSource] = useState<string>('');
  const [problems, setProblems] = useState<RuleProblemView[]>([]);
  const [checked, setChecked] = useState<'idle' | 'checking' | 'valid' | 'invalid'>('idle');
  const [note, setNote] = useState('');
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [failure, setFailure] = useState<string | undefined>(undefined);
  const [report, setReport] = useState<BacktestReportView | undefined>(undefined);
  const [running, setRunning] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = (version: number | 'active') => {
    setFailure(undefined);
    setReport(undefined);
    const loaded =
      version === 'active'
        ? client.activeRules().then((a) => ({ name: a.version, definition: a.definition }))
        : client.ruleVersion(version).then((v) => ({ name: v.versionName, definition: v.definition }));
    loaded.then(
      ({ name, definition }) => {
        setSource(name);
        setDraft(definition);
        setProblems([]);
        setChecked('idle');
      },
      (caught: unknown) => setFailure(caught instanceof Error ? caught.message : String(caught)),
    );
  };

  useEffect(() => load('active'), []);

  const edit = (next: RuleSetDefinitionView) => {
    setDraft(next);
    setReport(undefined);
    if (!canEdit) return;
    if (timer.current !== undefined) clearTimeout(timer.current);
    setChecked('checking');
    timer.current = setTimeout(() => {
      client.validateRules(next).then(
        () => {
          setProblems([]);
          setChecked('valid');
        },
        (caught: unknown) => {
          setProblems(caught instanceof ApiError ? caught.problems : []);
          setChecked('invalid');
          if (!(caught instanceof ApiError && caught.problems.length > 0))
            setFailure(caught instanceof Error ? caught.message : String(caught));
        },
      );
    }, validateDelayMs);
  };
  useEffect(() => () => clearTimeout(timer.current), []);

  const act = (work: Promise<unknown>, done: string) => {
    setFailure(undefined);
    setNotice(undefined);
    work.then(
      () => {
        setNotice(done);
        setRefresh((n) => n + 1);
      },
      (caught: unknown) => {
        if (caught instanceof ApiError && caught.problems.length > 0) {
          setProblems(caught.problems);
          setChecked('invalid');
        }
        setFailure(caught instanceof Error ? caught.message : String(caught));
      },
    );
  };

  const runBacktest = () => {
    if (draft === undefined) return;
    setRunning(true);
    setFailure(undefined);
    client
      .labels()
      .then((labels) => client.backtest({ rules: draft, labels: labels.labels }))
      .then(setReport, (caught: unknown) => {
        if (caught instanceof ApiError && caught.problems.length > 0) setProblems(caught.problems);
        setFailure(caught instanceof Error ? caught.message : String(caught));
      })
      .finally(() => setRunning(false));
  };

  const data = status.data;
  const setProblemsFor = (index: number) => problems.filter((p) => ruleIndexOf(p) === index);
  const setLevel = problems.filter((p) => ruleIndexOf(p) === undefined);
  return (
    <>
      <h1>{t('rules.title')}</h1>
      {status.error === undefined ? null : <ErrorNote error={status.error} />}
      {data === undefined ? (
        <p className="muted">{t('app.loading')}</p>
      ) : (
        <>
          <dl className="facts card" data-testid="rules-status">
            <dt>{t('rules.active')}</dt>
            <dd data-testid="rules-active">{data.active.version}</dd>
            <dt>{t('rules.shadow')}</dt>
            <dd data-testid="rules-shadow">{data.shadow?.version ?? t('rules.none')}</dd>
            <dt>{t('rules.model')}</dt>
            <dd>{data.model.version}</dd>
            <dt>{t('rules.policy')}</dt>
            <dd>{data.policyVersion}</dd>
          </dl>
          <h2>{t('rules.versions')}</h2>
          {data.saved.length === 0 ? (
            <p className="muted">{t('rules.noVersions')}</p>
          ) : (
            <table data-testid="rules-versions">
              <thead>
                <tr>
                  <th>{t('rules.version')}</th>
                  <th>{t('rules.note')}</th>
                  <th>{t('col.time')}</th>
                  <th>{t('rules.count')}</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {data.saved.map((v) => {
                  const shadowing = data.shadow?.saved === v.version;
                  const active = data.active.saved === v.version;
                  return (
                    <tr key={v.version}>
                      <td>
                        {v.versionName}{' '}
                        {active ? <span className="badge badge-allow">{t('rules.active')}</span> : null}{' '}
                        {shadowing ? <span className="badge badge-review">{t('rules.shadow')}</span> : null}
                      </td>
                      <td>{v.note ?? ''}</td>
                      <td>{dateTime(v.createdAt)}</td>
                      <td>{v.rules}</td>
                      <td className="nowrap">
                        <button type="button" onClick={() => load(v.version)}>
                          {t('rules.edit')}
                        </button>{' '}
                        {canEdit ? (
                          <button
                            type="button"
                            aria-pressed={shadowing}
                            data-testid={`shadow-${String(v.version)}`}
                            onClick={() =>
                              act(
                                client.setRuleSlot('shadow', shadowing ? null : v.version),
                                shadowing ? t('rules.shadowOff') : t('rules.shadowOn'),
                              )
                            }
                          >
                            {shadowing ? t('rules.stopShadow') : t('rules.runShadow')}
                          </button>
                        ) : null}{' '}
                        {role === 'admin' && !active ? (
                          <button
                            type="button"
                            onClick={() => act(client.setRuleSlot('active', v.version), t('rules.activated'))}
                          >
                            {t('rules.activate')}
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </>
      )}
      <h2>
        {t('rules.editor')} <span className="muted">({source})</span>
      </h2>
      <p className="muted">{canEdit ? t('rules.editorHelp') : t('rules.readOnly')}</p>
      {notice === undefined ? null : (
        <p className="note" role="status" data-testid="rules-notice">
          {notice}
        </p>
      )}
      {failure === undefined ? null : (
        <p className="error" role="alert" data-testid="rules-failure">
          {failure}
        </p>
      )}
      {draft === undefined ? (
        <p className="muted">{t('app.loading')}</p>
      ) : (
        <>
          <p aria-live="polite" data-testid="rules-check">
            {checked === 'checking'
              ? t('rules.checking')
              : checked === 'valid'
                ? t('rules.valid')
                : checked === 'invalid'
                  ? t('rules.invalid').replace('{n}', String(problems.length))
                  : ''}
          </p>
          {setLevel.length === 0 ? null : (
            <div className="error" role="alert">
              {setLevel.map((p, i) => (
                <div key={i}>
                  {p.field}: {p.message}
                </div>
              ))}
            </div>
          )}
          {draft.rules.map((rule, index) => (
            <RuleEditor
              key={index}
              rule={rule}
              index={index}
              problems={setProblemsFor(index)}
              readOnly={!canEdit}
              onChange={(next) => edit({ rules: draft.rules.map((r, i) => (i === index ? next : r)) })}
              onRemove={() => edit({ rules: draft.rules.filter((_, i) => i !== index) })}
            />
          ))}
          {canEdit ? (
            <div className="filters">
              <button
                type="button"
                onClick={() =>
                  edit({
                    rules: [
                      ...draft.rules,
                      {
                        id: `rule_${String(draft.rules.length + 1)}`,
                        description: '',
                        expression: 'order.amount > 100000',
                        outcome: 'review',
                        priority: 100,
                        reasonCode: 'rule_match',
                      },
                    ],
                  })
                }
              >
                {t('rules.add')}
              </button>
              <label>
                {t('rules.note')}
                <input value={note} maxLength={1000} onChange={(e) => setNote(e.target.value)} />
              </label>
              <button
                type="button"
                className="primary"
                data-testid="rules-save"
                disabled={checked === 'invalid'}
                onClick={() =>
                  act(
                    client.saveRules(draft, note).then((version) => {
                      setSource(`rules-${String(version)}`);
                      return version;
                    }),
                    t('rules.saved'),
                  )
                }
              >
                {t('rules.save')}
              </button>
              <button
                type="button"
                data-testid="rules-backtest"
                disabled={running || checked === 'invalid'}
                onClick={runBacktest}
              >
                {running ? t('rules.running') : t('rules.backtest')}
              </button>
            </div>
          ) : null}
          {report === undefined ? null : (
            <>
              <h2>{t('rules.backtestTitle')}</h2>
              <BacktestReport report={report} />
            </>
          )}
        </>
      )}
    </>
  );
}
