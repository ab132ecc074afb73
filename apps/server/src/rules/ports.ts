import type { ModelDefinition } from '../risk/domain/orders/model.ts';
import type { RuleOutcome, RuleSetDefinition } from '../risk/domain/orders/rules.ts';

/** One saved rule set: immutable once saved; versions count up from 1. */
export interface StoredRuleSet {
  version: number;
  definition: RuleSetDefinition;
  note: string | undefined;
  createdAtMs: number;
}

export interface StoredModel {
  version: string;
  definition: ModelDefinition;
  createdAtMs: number;
}

/** Which rule set is active, which is in shadow, which model scores (absent: the embedded default). */
export interface PolicySlots {
  active?: number;
  shadow?: number;
  model?: string;
}

export interface ShadowResult {
  eventId: string;
  shadowVersion: string;
  shadowOutcome: RuleOutcome;
  ruleIds: string[];
  activeOutcome: string;
  decidedAtMs: number;
}

export interface ShadowSummary {
  shadowVersion: string;
  orders: number;
  /** Orders where the shadow outcome differs from the decision given. */
  disagreements: number;
  byOutcome: Record<string, number>;
  byRule: Record<string, number>;
}

/** Where rule sets, models and shadow verdicts live (migration 0005_rule_sets). */
export interface RuleSetStore {
  /** Saves a new version (the next number) and answers it. */
  save(definition: RuleSetDefinition, note: string | undefined, atMs: number): Promise<StoredRuleSet>;
  get(version: number): Promise<StoredRuleSet | undefined>;
  /** Newest first. */
  list(limit: number): Promise<StoredRuleSet[]>;
  saveModel(definition: ModelDefinition, atMs: number): Promise<StoredModel>;
  getModel(version: string): Promise<StoredModel | undefined>;
  slots(): Promise<PolicySlots>;
  /** Sets (or, with undefined, clears) one slot. */
  setSlot(slot: keyof PolicySlots, value: string | number | undefined, atMs: number): Promise<void>;
  recordShadow(results: readonly ShadowResult[]): Promise<void>;
  shadowSummary(shadowVersion: string): Promise<ShadowSummary>;
}
