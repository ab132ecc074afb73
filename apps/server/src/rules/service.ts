import type { Clock } from '../core/clock.ts';
import { err, ok, type Result } from '../core/result.ts';
import { defaultRulePack, defaultRulePackVersion } from '../risk/domain/orders/defaults.ts';
import { compileModel, type CompiledModel } from '../risk/domain/orders/model.ts';
import type { OrderPolicy } from '../risk/domain/orders/policy.ts';
import {
  compileRuleSet,
  type CompiledRuleSet,
  type RuleProblem,
  type RuleSetDefinition,
} from '../risk/domain/orders/rules.ts';
import { withOrderPolicy, type RiskPolicy } from '../risk/domain/policy.ts';
import type { ShadowRecord } from '../ingest/processor.ts';
import type { RuleSetStore, ShadowSummary, StoredRuleSet } from './ports.ts';
import { backtest, type BacktestInput, type BacktestReport } from './backtest.ts';

/** The version name of a rule set saved in the database. */
export const ruleSetVersionName = (version: number): string => `rules-${version}`;

export interface RuleStatus {
  /** The active rule set: a saved version, or the embedded default pack. */
  active: { version: string; saved: number | undefined; rules: number };
  shadow: { version: string; saved: number; rules: number } | undefined;
  model: { version: string };
  /** What every decision records now. */
  policyVersion: string;
}

export type SaveOutcome = Result<StoredRuleSet & { versionName: string }, RuleProblem[]>;

/**
 * Rule sets and models as a use case: save (validated, type-checked, versioned), activate, run
 * in shadow, install a trained model, backtest. Every change builds a new policy and hands it to
 * the processor, which decides with it from its next cycle on.
 */
export class RuleSetService {
  readonly #store: RuleSetStore;
  readonly #clock: Clock;
  readonly #base: RiskPolicy;
  readonly #onShadowError: (error: unknown) => void;
  #policy: RiskPolicy;
  #listener: ((policy: RiskPolicy) => void) | undefined;
  /** Changes run one at a time, so two activations cannot interleave their reads and writes. */
  #changing: Promise<unknown> = Promise.resolve();

  constructor(deps: {
    store: RuleSetStore;
    clock: Clock;
    basePolicy: RiskPolicy;
    onShadowError: (error: unknown) => void;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#base = deps.basePolicy;
    this.#policy = deps.basePolicy;
    this.#onShadowError = deps.onShadowError;
  }

  get policy(): RiskPolicy {
    return this.#policy;
  }

  /** Told every new policy (the processor's `setPolicy`). */
  onPolicy(listener: (policy: RiskPolicy) => void): void {
    this.#listener = listener;
  }

  /** Builds the policy the stored slots name; falls back to the embedded parts for empty slots. */
  async load(): Promise<RiskPolicy> {
    const slots = await this.#store.slots();
    const base = this.#base.orders;
    let rules: CompiledRuleSet = base.rules;
    let shadow: CompiledRuleSet | undefined;
    let model: CompiledModel = base.model;
    if (slots.active !== undefined) rules = await this.#compileStored(slots.active);
    if (slots.shadow !== undefined) shadow = await this.#compileStored(slots.shadow);
    if (slots.model !== undefined) {
      const stored = await this.#store.getModel(slots.model);
      if (stored === undefined) throw new Error(`the active model ${slots.model} is not stored`);
      const compiled = compileModel(stored.definition);
      if (!compiled.ok)
        throw new Error(`the active model ${slots.model} no longer compiles: ${compiled.error}`);
      model = compiled.value;
    }
    const orders: OrderPolicy = { ...base, rules, shadow, model };
    this.#policy = withOrderPolicy(this.#base, orders);
    return this.#policy;
  }

  async #compileStored(version: number): Promise<CompiledRuleSet> {
    const stored = await this.#store.get(version);
    if (stored === undefined)
      throw new Error(`rule set ${version} is named active or shadow but is not stored`);
    const compiled = compileRuleSet(stored.definition, ruleSetVersionName(version));
    // A stored set compiled when it was saved; failing now means the namespace lost a feature.
    if (!compiled.ok)
      throw new Error(`rule set ${version} no longer compiles: ${JSON.stringify(compiled.error)}`);
    return compiled.value;
  }

  /** Checks a rule set without saving it. */
  validate(raw: unknown): Result<{ rules: number }, RuleProblem[]> {
    const compiled = compileRuleSet(raw, 'candidate');
    return compiled.ok ? ok({ rules: compiled.value.definition.rules.length }) : compiled;
  }

  /** Saves a new version when it compiles; it does not act until activated. */
  async save(raw: unknown, note: string | undefined): Promise<SaveOutcome> {
    const compiled = compileRuleSet(raw, 'candidate');
    if (!compiled.ok) return compiled;
    const stored = await this.#store.save(compiled.value.definition, note, this.#clock.now());
    return ok({ ...stored, versionName: ruleSetVersionName(stored.version) });
  }

  list(limit: number): Promise<StoredRuleSet[]> {
    return this.#store.list(limit);
  }

  get(version: number): Promise<StoredRuleSet | undefined> {
    return this.#store.get(version);
  }

  /** Makes a saved version the active set (or, with `undefined`, returns to the default pack). */
  activate(version: number | undefined): Promise<Result<RuleStatus, 'not_found'>> {
    return this.#change(async () => {
      if (version !== undefined && (await this.#store.get(version)) === undefined)
        return err('not_found' as const);
      await this.#store.setSlot('active', version, this.#clock.now());
      return ok(await this.#reload());
    });
  }

  /** Runs a saved version in shadow beside the active set, or stops shadowing (`undefined`). */
  shadow(version: number | undefined): Promise<Result<RuleStatus, 'not_found'>> {
    return this.#change(async () => {
      if (version !== undefined && (await this.#store.get(version)) === undefined)
        return err('not_found' as const);
      await this.#store.setSlot('shadow', version, this.#clock.now());
      return ok(await this.#reload());
    });
  }

  /** Stores a trained model and makes it score orders. */
  installModel(raw: unknown): Promise<Result<RuleStatus, string>> {
    return this.#change(async () => {
      const compiled = compileModel(raw);
      if (!compiled.ok) return compiled;
      if (compiled.value.version.includes('+')) return err('version must not contain "+"');
      await this.#store.saveModel(compiled.value.definition, this.#clock.now());
      await this.#store.setSlot('model', compiled.value.version, this.#clock.now());
      return ok(await this.#reload());
    });
  }

  status(): RuleStatus {
    const orders = this.#policy.orders;
    const savedOf = (version: string): number | undefined =>
      version.startsWith('rules-') ? Number(version.slice('rules-'.length)) : undefined;
    return {
      active: {
        version: orders.rules.version,
        saved: savedOf(orders.rules.version),
        rules: orders.rules.definition.rules.length,
      },
      shadow:
        orders.shadow === undefined
          ? undefined
          : {
              version: orders.shadow.version,
              saved: savedOf(orders.shadow.version) ?? 0,
              rules: orders.shadow.definition.rules.length,
            },
      model: { version: orders.model.version },
      policyVersion: this.#policy.version,
    };
  }

  /** The active definition, for the console and `rules backtest` against the current version. */
  activeDefinition(): { version: string; definition: RuleSetDefinition } {
    const rules = this.#policy.orders.rules;
    return rules.version === defaultRulePackVersion
      ? { version: defaultRulePackVersion, definition: defaultRulePack }
      : { version: rules.version, definition: rules.definition };
  }

  /** Records shadow verdicts; a failure is logged, never felt by the decisions. */
  recordShadow(records: readonly ShadowRecord[]): void {
    const decidedAtMs = this.#clock.now();
    this.#store
      .recordShadow(
        records.map((r) => ({
          eventId: r.eventId,
          shadowVersion: r.verdict.version,
          shadowOutcome: r.verdict.outcome,
          ruleIds: r.verdict.ruleIds,
          activeOutcome: r.decision.decision,
          decidedAtMs,
        })),
      )
      .catch(this.#onShadowError);
  }

  shadowSummary(): Promise<ShadowSummary | undefined> {
    const shadow = this.#policy.orders.shadow;
    return shadow === undefined ? Promise.resolve(undefined) : this.#store.shadowSummary(shadow.version);
  }

  /** Backtests a candidate against the active set over given events and labels. */
  backtest(input: Omit<BacktestInput, 'current' | 'policy'>): BacktestReport {
    return backtest({ ...input, current: this.#policy.orders.rules, policy: this.#policy });
  }

  async #reload(): Promise<RuleStatus> {
    const policy = await this.load();
    this.#listener?.(policy);
    return this.status();
  }

  #change<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#changing.then(work, work);
    this.#changing = next.catch(() => undefined);
    return next;
  }
}
