import { err, ok, type Result } from '../../core/result.ts';
import type { ProviderResult } from './provider-result.ts';

/**
 * The store port: what Bulwark asks of the shop it protects during containment. The store's own
 * "cancel" means nothing at the warehouse or the payment provider — each has its own port.
 */

export interface Money {
  /** Integer minor units (JPY has none: ¥5,000 is 5000). */
  readonly value: number;
  readonly currency: string;
}

export type StoreItemCategory = 'gift_card' | 'digital' | 'physical';

export interface StoreOrderItem {
  readonly sku?: string | undefined;
  readonly category: StoreItemCategory;
  readonly quantity: number;
  readonly unitPrice: Money;
}

export type StoreOrderStatus = 'placed' | 'cancelled';

export interface StoreOrderView {
  readonly orderId: string;
  readonly accountId: string;
  readonly placedAtMs: number;
  readonly status: StoreOrderStatus;
  /** Hidden from the shopper's order list ("archive order"); still an order, still listed here. */
  readonly archived: boolean;
  readonly amount: Money;
  readonly items: readonly StoreOrderItem[];
  /** The payment provider's reference for the order's payment, as the store keeps it. */
  readonly paymentId?: string | undefined;
}

export interface StoreAccountView {
  readonly accountId: string;
  readonly locked: boolean;
  readonly passwordResetRequired: boolean;
  readonly activeSessionCount: number;
}

export interface RevokedSessions {
  readonly accountId: string;
  /** Sessions this command ended; a replay answers the same list. */
  readonly revokedSessionIds: readonly string[];
  readonly activeSessionCount: number;
}

export type GiftCardStatus = 'active' | 'deactivated' | 'redeemed';

/** A gift card as Bulwark sees it: never the code itself, which is a bearer secret. */
export interface GiftCardView {
  readonly giftCardId: string;
  readonly orderId: string;
  readonly codeLast4: string;
  readonly value: Money;
  readonly status: GiftCardStatus;
}

export interface GiftCardDeactivation {
  readonly orderId: string;
  /** Every card of the order with its status now: `redeemed` ones were spent before the command. */
  readonly cards: readonly GiftCardView[];
}

export interface AccountCommand {
  readonly accountId: string;
  readonly idempotencyKey: string;
}

export interface StoreOrderCommand {
  readonly orderId: string;
  readonly idempotencyKey: string;
}

export interface StorePort {
  lockAccount(command: AccountCommand): Promise<ProviderResult<StoreAccountView>>;
  revokeSessions(command: AccountCommand): Promise<ProviderResult<RevokedSessions>>;
  forcePasswordReset(command: AccountCommand): Promise<ProviderResult<StoreAccountView>>;
  cancelOrder(command: StoreOrderCommand): Promise<ProviderResult<StoreOrderView>>;
  /** Every order the account placed at or after `sinceMs`, archived (hidden) ones included, oldest first. */
  listOrders(query: { accountId: string; sinceMs: number }): Promise<ProviderResult<StoreOrderView[]>>;
  /** Deactivates every still-active gift-card code of the order; redeemed ones cannot be. */
  deactivateGiftCards(command: StoreOrderCommand): Promise<ProviderResult<GiftCardDeactivation>>;
}

// ---- gift-card codes (pure) ----

export interface GiftCardRefusal {
  readonly kind: 'declined';
  readonly code: 'gift_card_deactivated' | 'gift_card_redeemed';
  readonly message: string;
}

/** Deactivation wins only over an active code: a spent code stays spent, a dead one stays dead. */
export function deactivateGiftCard(status: GiftCardStatus): GiftCardStatus {
  return status === 'active' ? 'deactivated' : status;
}

/** What a shopper (or an attacker) redeeming the code meets. */
export function redeemGiftCard(status: GiftCardStatus): Result<GiftCardStatus, GiftCardRefusal> {
  switch (status) {
    case 'active':
      return ok('redeemed');
    case 'deactivated':
      return err({
        kind: 'declined',
        code: 'gift_card_deactivated',
        message: 'this gift card was deactivated',
      });
    case 'redeemed':
      return err({
        kind: 'declined',
        code: 'gift_card_redeemed',
        message: 'this gift card was already redeemed',
      });
  }
}

/** Only the last four characters of a code are ever shown outside the store. */
export const codeLast4 = (code: string): string => code.slice(-4);
