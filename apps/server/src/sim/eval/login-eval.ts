import type { Decision } from '@bulwark/contracts';
import { derivedIds } from '../../core/ids.ts';
import { HotStateCache } from '../../ingest/hot-state.ts';
import { validateEvent } from '../../ingest/validate.ts';
import { apply, decide } from '../../risk/domain/decider.ts';
import { assessLoginSucceeded, contextFacts } from '../../risk/domain/login/assess.ts';
import type { RiskPolicy } from '../../risk/domain/policy.ts';
import { attackKinds, type AttackKind, type EventLabel, type LoginSimulation } from '../logins/generate.ts';
import { caughtAtRate, PlainRba } from './plain-rba.ts';

/**
 * Evaluates login risk and session protection on labelled traffic: every event is decided and
 * applied in order (as replay does, challenges taken as passed), and the plain RBA model scores
 * the same sign-ins in the same run as a baseline.
 */
export const reauthRates = [0.01, 0.02, 0.05] as const;

export interface KindReport {
  kind: AttackKind;
  attacks: number;
  /** Caught (challenged or denied) at the sign-in or the first sensitive action, as configured. */
  caughtConfigured: number;
  /** At legitimate re-authentication rates 1 %, 2 %, 5 %: Bulwark, and the plain RBA model. */
  caughtAtRate: number[];
  baselineAtRate: number[];
}

export interface LoginEvalReport {
  policyVersion: string;
  events: number;
  legitLogins: number;
  legitChallengedShare: number;
  legitDeniedShare: number;
  legitActivities: number;
  legitActivityFlaggedShare: number;
  kinds: KindReport[];
  stolenSession: { attacks: number; detected: number; falsePositiveShare: number };
  originIncident: { decision: string; reasons: string[] } | undefined;
  decideMicrosP99: number;
}

interface AttackTrace {
  kind: AttackKind;
  loginKey?: number;
  baselineKey?: number;
  loginCaught: boolean;
  /** The first sensitive action (or any action for stolen sessions) was challenged or denied. */
  actionCaught?: boolean;
}

const flagged = (decision: Decision): boolean =>
  decision.decision === 'challenge' || decision.decision === 'deny';

export function evaluateLogins(simulation: LoginSimulation, policy: RiskPolicy): LoginEvalReport {
  const labels = new Map<string, EventLabel>(simulation.labels.map((l) => [l.eventId, l]));
  const hot = new HotStateCache(
    { accountsMax: Number.MAX_SAFE_INTEGER, seriesMax: Number.MAX_SAFE_INTEGER },
    undefined,
    policy,
  );
  const ids = derivedIds();
  const baseline = new PlainRba(policy.login);
  const attacks = new Map<string, AttackTrace>();
  const legitKeys: number[] = [];
  const legitBaselineKeys: number[] = [];
  let legitChallenged = 0;
  let legitDenied = 0;
  let legitActivities = 0;
  let legitActivityFlagged = 0;
  let origin: LoginEvalReport['originIncident'];
  const decideMicros: number[] = [];

  for (const raw of simulation.events) {
    const valid = validateEvent(raw);
    if (!valid.ok) throw new Error(`simulated event ${raw.id} is invalid: ${valid.error.message}`);
    const { event, atMs } = valid.value;
    const label = labels.get(event.id);
    let key: number | undefined;
    let baselineKey: number | undefined;
    if (event.type === 'login.succeeded') {
      const view = { account: hot.account(event.accountId), series: hot.series, policy };
      const { signals } = assessLoginSucceeded(event, view, atMs);
      key = signals.rba === undefined ? 0 : Math.max(-9.9, Math.min(9.9, signals.rba.total)) / 100;
      baselineKey = baseline.scoreAndLearn(
        event.accountId,
        contextFacts(event.context, policy).observation,
        atMs,
      );
    }
    const started = process.hrtime.bigint();
    const { decision } = decide(event, atMs, hot, ids, policy);
    if (event.type === 'login.succeeded') decideMicros.push(Number(process.hrtime.bigint() - started) / 1000);
    apply(event, decision, atMs, hot, policy);
    if (label === undefined) continue;
    if (label.actor === 'legit') {
      if (label.role === 'login') {
        legitKeys.push(decision.score + (key ?? 0));
        legitBaselineKeys.push(baselineKey ?? Number.NEGATIVE_INFINITY);
        if (decision.decision === 'challenge') legitChallenged += 1;
        if (decision.decision === 'deny') legitDenied += 1;
      } else if (label.role === 'activity') {
        legitActivities += 1;
        if (flagged(decision)) legitActivityFlagged += 1;
      }
      continue;
    }
    if (label.attackId === undefined) continue;
    let trace = attacks.get(label.attackId);
    if (trace === undefined) {
      trace = { kind: label.actor, loginCaught: false };
      attacks.set(label.attackId, trace);
    }
    if (label.role === 'login') {
      trace.loginKey = decision.score + (key ?? 0);
      trace.baselineKey = baselineKey ?? Number.NEGATIVE_INFINITY;
      trace.loginCaught = flagged(decision);
      if (label.actor === 'origin_incident')
        origin = { decision: decision.decision, reasons: decision.reasons.map((r) => r.code) };
    } else if (
      label.role === 'activity' &&
      trace.actionCaught === undefined &&
      (label.sensitive === true || label.actor === 'stolen_session')
    ) {
      trace.actionCaught = flagged(decision);
    }
  }

  const kinds: KindReport[] = [];
  for (const kind of attackKinds) {
    if (kind === 'stolen_session') continue;
    const traces = [...attacks.values()].filter((t) => t.kind === kind && t.loginKey !== undefined);
    if (traces.length === 0) continue;
    const caughtAt = (trace: AttackTrace) => (threshold: number) =>
      (trace.loginKey ?? Number.NEGATIVE_INFINITY) > threshold || trace.actionCaught === true;
    const baselineAt = (trace: AttackTrace) => (threshold: number) =>
      (trace.baselineKey ?? Number.NEGATIVE_INFINITY) > threshold;
    kinds.push({
      kind,
      attacks: traces.length,
      caughtConfigured: traces.filter((t) => t.loginCaught || t.actionCaught === true).length / traces.length,
      caughtAtRate: reauthRates.map((rate) => caughtAtRate(legitKeys, traces.map(caughtAt), rate)),
      baselineAtRate: reauthRates.map((rate) =>
        caughtAtRate(legitBaselineKeys, traces.map(baselineAt), rate),
      ),
    });
  }
  const stolen = [...attacks.values()].filter((t) => t.kind === 'stolen_session');
  decideMicros.sort((a, b) => a - b);
  return {
    policyVersion: policy.version,
    events: simulation.events.length,
    legitLogins: legitKeys.length,
    legitChallengedShare: legitChallenged / Math.max(1, legitKeys.length),
    legitDeniedShare: legitDenied / Math.max(1, legitKeys.length),
    legitActivities,
    legitActivityFlaggedShare: legitActivityFlagged / Math.max(1, legitActivities),
    kinds,
    stolenSession: {
      attacks: stolen.length,
      detected: stolen.filter((t) => t.actionCaught === true).length / Math.max(1, stolen.length),
      falsePositiveShare: legitActivityFlagged / Math.max(1, legitActivities),
    },
    originIncident: origin,
    decideMicrosP99: decideMicros[Math.floor(decideMicros.length * 0.99)] ?? 0,
  };
}

const pct = (share: number): string => (Number.isNaN(share) ? 'n/a' : `${(share * 100).toFixed(1)} %`);

export function formatLoginReport(report: LoginEvalReport, command: string): string {
  const lines = [
    '# Login risk evaluation (generated traffic)',
    '',
    `Command: \`${command}\`  `,
    `Policy: \`${report.policyVersion}\`  `,
    `Events: ${String(report.events)}; legitimate sign-ins: ${String(report.legitLogins)}; legitimate session actions: ${String(report.legitActivities)}`,
    '',
    `As configured: legitimate sign-ins challenged ${pct(report.legitChallengedShare)}, denied ${pct(report.legitDeniedShare)}.`,
    '',
    '## Attacks challenged or denied (at the sign-in or the first sensitive action)',
    '',
    '| attacker | attacks | as configured | Bulwark @1 % | @2 % | @5 % | plain RBA @1 % | @2 % | @5 % |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...report.kinds.map(
      (k) =>
        `| ${k.kind} | ${String(k.attacks)} | ${pct(k.caughtConfigured)} | ${k.caughtAtRate.map(pct).join(' | ')} | ${k.baselineAtRate.map(pct).join(' | ')} |`,
    ),
    '',
    '"@ r %": the threshold at which r % of legitimate sign-ins would be challenged (Bulwark: the',
    'decision score, ties broken by the RBA ratio; plain RBA: its likelihood ratio alone).',
    '',
    '## Stolen sessions',
    '',
    `Reuses: ${String(report.stolenSession.attacks)}; caught at the first use: ${pct(report.stolenSession.detected)}; legitimate session actions challenged or denied (false positives): ${pct(report.stolenSession.falsePositiveShare)}. The plain RBA model scores sign-ins only and catches none.`,
    '',
    '## Origin incident',
    '',
    report.originIncident === undefined
      ? 'not in this traffic'
      : `Sign-in: **${report.originIncident.decision}** (${report.originIncident.reasons.join(', ')}).`,
    '',
    `Sign-in decision time in process (decide only): p99 ${report.decideMicrosP99.toFixed(0)} µs.`,
    '',
  ];
  return lines.join('\n');
}
