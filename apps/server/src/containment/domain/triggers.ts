import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import { Environment } from '@marcbachmann/cel-js';
import type { PlaybookName } from './model.ts';
import { playbooks } from './model.ts';

/**
 * Which playbook a case-opening decision starts is configuration: triggers with a priority and a
 * CEL condition over the event and its decision. The first matching trigger by priority wins;
 * when none matches the case opens without a run (a person decides).
 *
 * Variables: `event.type`, `event.reportedBy`, `event.orderId`, `event.by` and `event.reason`
 * (of `order.cancelled`) — strings, empty when absent —
 * `decision.outcome`, `decision.score`, `decision.reasons` (list of codes).
 */
export interface PlaybookTrigger {
  readonly playbook: PlaybookName;
  /** Lower runs first. */
  readonly priority: number;
  readonly when: string;
  /** For single-order playbooks: the run is about the event's order. */
  readonly scope: 'account' | 'order';
}

export const defaultPlaybookTriggers: readonly PlaybookTrigger[] = [
  { playbook: 'ato-lockdown', priority: 10, when: 'event.type == "account.compromised"', scope: 'account' },
  // Hiding orders right after buying them is the takeover's signature: contain the account.
  { playbook: 'ato-lockdown', priority: 20, when: 'event.type == "order.archived"', scope: 'account' },
  // The review queue: nobody decided a held order before its authorization would lapse.
  {
    playbook: 'review-timeout',
    priority: 25,
    when: 'event.type == "order.cancelled" && event.reason == "review_timeout"',
    scope: 'order',
  },
  // A cancellation for fraud (the store's, or a reviewer's decline) is made to stick.
  { playbook: 'order-fraud', priority: 26, when: 'event.type == "order.cancelled"', scope: 'order' },
  { playbook: 'order-fraud', priority: 30, when: 'event.type == "order.placed"', scope: 'order' },
  { playbook: 'ato-lockdown', priority: 100, when: 'true', scope: 'account' },
];

export interface ChosenPlaybook {
  readonly playbook: PlaybookName;
  readonly orderId: string | undefined;
}

export interface PlaybookSelector {
  choose(event: BulwarkEvent, decision: Decision): ChosenPlaybook | undefined;
}

export type TriggerError = { readonly index: number; readonly message: string };

function environment(): Environment {
  return new Environment({
    limits: { maxAstNodes: 500, maxDepth: 32, maxListElements: 100, maxMapEntries: 100, maxCallArguments: 8 },
  })
    .registerVariable({
      name: 'event',
      schema: { type: 'string', reportedBy: 'string', orderId: 'string', by: 'string', reason: 'string' },
    })
    .registerVariable({
      name: 'decision',
      schema: { outcome: 'string', score: 'int', reasons: 'list<string>' },
    });
}

/** Compiles and type-checks triggers; answers every error with the trigger it is in. */
export function compileTriggers(
  triggers: readonly PlaybookTrigger[],
): { ok: true; selector: PlaybookSelector } | { ok: false; errors: TriggerError[] } {
  const env = environment();
  const errors: TriggerError[] = [];
  const compiled: { trigger: PlaybookTrigger; run: (context: Record<string, unknown>) => unknown }[] = [];
  triggers.forEach((trigger, index) => {
    if (!(trigger.playbook in playbooks)) {
      errors.push({ index, message: `unknown playbook ${trigger.playbook}` });
      return;
    }
    try {
      const checked = env.check(trigger.when);
      if (!checked.valid) {
        errors.push({ index, message: checked.error?.message ?? 'does not type-check' });
        return;
      }
      if (checked.type !== 'bool') {
        errors.push({ index, message: `condition must be bool, is ${String(checked.type)}` });
        return;
      }
      const parsed = env.parse(trigger.when);
      compiled.push({ trigger, run: (context): unknown => parsed(context) as unknown });
    } catch (error) {
      errors.push({ index, message: error instanceof Error ? error.message : String(error) });
    }
  });
  if (errors.length > 0) return { ok: false, errors };
  const ordered = compiled.sort((a, b) => a.trigger.priority - b.trigger.priority);
  return {
    ok: true,
    selector: {
      choose(event, decision) {
        const context = {
          event: {
            type: event.type,
            reportedBy: event.type === 'account.compromised' ? event.reportedBy : '',
            orderId: 'orderId' in event ? event.orderId : '',
            by: event.type === 'order.cancelled' ? event.by : '',
            reason: event.type === 'order.cancelled' ? (event.reason ?? '') : '',
          },
          decision: {
            outcome: decision.decision,
            score: BigInt(decision.score),
            reasons: decision.reasons.map((r) => r.code),
          },
        };
        for (const { trigger, run } of ordered) {
          let matched: unknown;
          try {
            matched = run(context);
          } catch {
            continue; // a condition that fails at run time does not match
          }
          if (matched === true) {
            return {
              playbook: trigger.playbook,
              orderId: trigger.scope === 'order' && 'orderId' in event ? event.orderId : undefined,
            };
          }
        }
        return undefined;
      },
    },
  };
}

let defaultSelector: PlaybookSelector | undefined;

/** The default triggers, compiled once. */
export function defaultPlaybookSelector(): PlaybookSelector {
  if (defaultSelector === undefined) {
    const compiled = compileTriggers(defaultPlaybookTriggers);
    if (!compiled.ok)
      throw new Error(`default playbook triggers do not compile: ${JSON.stringify(compiled.errors)}`);
    defaultSelector = compiled.selector;
  }
  return defaultSelector;
}
