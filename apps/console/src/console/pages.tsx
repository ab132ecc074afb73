import type { ComponentType } from 'react';
import type { AnalystRoleName } from '@bulwark/contracts';
import type { MessageKey } from '../shared/i18n.tsx';
import { AccountPage, AccountSearchPage } from './pages/account.tsx';
import { AuditPage } from './pages/audit.tsx';
import { CasePage } from './pages/case.tsx';
import { ModelPage } from './pages/model.tsx';
import { PasskeysPage } from './pages/passkeys.tsx';
import { DecisionsPage } from './pages/decisions.tsx';
import { QueuePage } from './pages/queue.tsx';
import { ReconciliationPage } from './pages/reconciliation.tsx';
import { RulesPage } from './pages/rules.tsx';

/**
 * Every page of the console. A page is a pattern, a component taking the pattern's parameters,
 * and, when it belongs in the navigation, a title and the least role that sees it. Adding a page
 * (rules, backtests, model metrics, reconciliation as their APIs land) is one entry here.
 */
export interface PageDefinition {
  pattern: string;
  component: ComponentType<{ params: Record<string, string> }>;
  nav?: { title: MessageKey; roleMin: AnalystRoleName };
}

export const pages: PageDefinition[] = [
  { pattern: '/', component: DecisionsPage, nav: { title: 'nav.decisions', roleMin: 'viewer' } },
  { pattern: '/queue', component: QueuePage, nav: { title: 'nav.queue', roleMin: 'viewer' } },
  { pattern: '/accounts', component: AccountSearchPage, nav: { title: 'nav.account', roleMin: 'viewer' } },
  { pattern: '/accounts/:accountId', component: AccountPage },
  { pattern: '/cases/:caseId', component: CasePage },
  { pattern: '/rules', component: RulesPage, nav: { title: 'nav.rules', roleMin: 'viewer' } },
  { pattern: '/model', component: ModelPage, nav: { title: 'nav.model', roleMin: 'viewer' } },
  {
    pattern: '/reconciliation',
    component: ReconciliationPage,
    nav: { title: 'nav.reconciliation', roleMin: 'viewer' },
  },
  { pattern: '/passkeys', component: PasskeysPage, nav: { title: 'nav.passkeys', roleMin: 'viewer' } },
  { pattern: '/audit', component: AuditPage, nav: { title: 'nav.audit', roleMin: 'admin' } },
];
