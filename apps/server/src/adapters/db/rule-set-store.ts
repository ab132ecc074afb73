import { sql, type ColumnType, type Kysely } from 'kysely';
import type { ModelDefinition } from '../../risk/domain/orders/model.ts';
import type { RuleSetDefinition } from '../../risk/domain/orders/rules.ts';
import type {
  PolicySlots,
  RuleSetStore,
  ShadowResult,
  ShadowSummary,
  StoredModel,
  StoredRuleSet,
} from '../../rules/ports.ts';
import type { Database } from './schema.ts';

type Timestamp = ColumnType<Date, Date, Date>;
type Json<T> = ColumnType<T, string, string>;

/** The rule tables (migration 0005_rule_sets), added to the schema where they are used. */
type RuleTables = {
  rule_sets: {
    version: number;
    definition: Json<RuleSetDefinition>;
    note: string | null;
    created_at: Timestamp;
  };
  order_models: { version: string; definition: Json<ModelDefinition>; created_at: Timestamp };
  risk_policy_slots: { slot: string; value: string; updated_at: Timestamp };
  rule_shadow_results: {
    event_id: string;
    shadow_version: string;
    shadow_outcome: string;
    rule_ids: Json<string[]>;
    active_outcome: string;
    decided_at: Timestamp;
  };
};

const slotNames = ['active', 'shadow', 'model'] as const;

export class KyselyRuleSetStore implements RuleSetStore {
  readonly #db: Kysely<RuleTables>;
  constructor(db: Kysely<Database>) {
    this.#db = db.withTables<RuleTables>() as unknown as Kysely<RuleTables>;
  }

  async save(definition: RuleSetDefinition, note: string | undefined, atMs: number): Promise<StoredRuleSet> {
    // The next version under a table lock, so two saves never take the same number.
    return this.#db.transaction().execute(async (trx) => {
      await sql`lock table rule_sets in exclusive mode`.execute(trx);
      const last = await trx
        .selectFrom('rule_sets')
        .select((eb) => eb.fn.max('version').as('version'))
        .executeTakeFirst();
      const version = (last?.version ?? 0) + 1;
      await trx
        .insertInto('rule_sets')
        .values({
          version,
          definition: JSON.stringify(definition),
          note: note ?? null,
          created_at: new Date(atMs),
        })
        .execute();
      return { version, definition, note, createdAtMs: atMs };
    });
  }

  async get(version: number): Promise<StoredRuleSet | undefined> {
    const row = await this.#db
      .selectFrom('rule_sets')
      .selectAll()
      .where('version', '=', version)
      .executeTakeFirst();
    return row === undefined ? undefined : toRuleSet(row);
  }

  async list(limit: number): Promise<StoredRuleSet[]> {
    const rows = await this.#db
      .selectFrom('rule_sets')
      .selectAll()
      .orderBy('version', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toRuleSet);
  }

  async saveModel(definition: ModelDefinition, atMs: number): Promise<StoredModel> {
    await this.#db
      .insertInto('order_models')
      .values({
        version: definition.version,
        definition: JSON.stringify(definition),
        created_at: new Date(atMs),
      })
      .onConflict((oc) => oc.column('version').doNothing())
      .execute();
    const stored = await this.getModel(definition.version);
    if (stored === undefined) throw new Error('a saved model reads back');
    return stored;
  }

  async getModel(version: string): Promise<StoredModel | undefined> {
    const row = await this.#db
      .selectFrom('order_models')
      .selectAll()
      .where('version', '=', version)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : { version: row.version, definition: row.definition, createdAtMs: row.created_at.getTime() };
  }

  async slots(): Promise<PolicySlots> {
    const rows = await this.#db.selectFrom('risk_policy_slots').selectAll().execute();
    const out: PolicySlots = {};
    for (const row of rows) {
      if (row.slot === 'active') out.active = Number(row.value);
      else if (row.slot === 'shadow') out.shadow = Number(row.value);
      else if (row.slot === 'model') out.model = row.value;
    }
    return out;
  }

  async setSlot(slot: keyof PolicySlots, value: string | number | undefined, atMs: number): Promise<void> {
    if (!slotNames.includes(slot)) throw new Error(`unknown slot ${slot}`);
    if (value === undefined) {
      await this.#db.deleteFrom('risk_policy_slots').where('slot', '=', slot).execute();
      return;
    }
    await this.#db
      .insertInto('risk_policy_slots')
      .values({ slot, value: String(value), updated_at: new Date(atMs) })
      .onConflict((oc) => oc.column('slot').doUpdateSet({ value: String(value), updated_at: new Date(atMs) }))
      .execute();
  }

  async recordShadow(results: readonly ShadowResult[]): Promise<void> {
    if (results.length === 0) return;
    await this.#db
      .insertInto('rule_shadow_results')
      .values(
        results.map((r) => ({
          event_id: r.eventId,
          shadow_version: r.shadowVersion,
          shadow_outcome: r.shadowOutcome,
          rule_ids: JSON.stringify(r.ruleIds),
          active_outcome: r.activeOutcome,
          decided_at: new Date(r.decidedAtMs),
        })),
      )
      .onConflict((oc) => oc.columns(['event_id', 'shadow_version']).doNothing())
      .execute();
  }

  async shadowSummary(shadowVersion: string): Promise<ShadowSummary> {
    const rows = await this.#db
      .selectFrom('rule_shadow_results')
      .select(['shadow_outcome', 'active_outcome', 'rule_ids'])
      .where('shadow_version', '=', shadowVersion)
      .execute();
    const summary: ShadowSummary = {
      shadowVersion,
      orders: rows.length,
      disagreements: 0,
      byOutcome: {},
      byRule: {},
    };
    for (const row of rows) {
      if (row.shadow_outcome !== row.active_outcome) summary.disagreements += 1;
      summary.byOutcome[row.shadow_outcome] = (summary.byOutcome[row.shadow_outcome] ?? 0) + 1;
      for (const id of row.rule_ids) summary.byRule[id] = (summary.byRule[id] ?? 0) + 1;
    }
    return summary;
  }
}

function toRuleSet(row: {
  version: number;
  definition: RuleSetDefinition;
  note: string | null;
  created_at: Date;
}): StoredRuleSet {
  return {
    version: row.version,
    definition: row.definition,
    note: row.note ?? undefined,
    createdAtMs: row.created_at.getTime(),
  };
}
