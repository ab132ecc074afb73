import type { BulwarkEvent } from '@bulwark/contracts';

/** Facts of one order that both the features and the account state read. */
export type OrderPlaced = Extract<BulwarkEvent, { type: 'order.placed' }>;

/** The shipping address identity: the store's address id, else country and postal code. */
export function shippingKeyOf(event: OrderPlaced): string | undefined {
  const shipping = event.shipping;
  if (shipping === undefined) return undefined;
  if (shipping.addressId !== undefined) return `id:${shipping.addressId}`;
  if (shipping.country === undefined && shipping.postalCode === undefined) return undefined;
  return `pc:${shipping.country ?? ''}:${(shipping.postalCode ?? '').replace(/[\s-]/g, '').toUpperCase()}`;
}

export interface OrderValues {
  giftCardValue: number;
  digitalValue: number;
  itemCount: number;
}

/** Values per category; line values saturate at MAX_SAFE_INTEGER rather than lose precision silently. */
export function orderValuesOf(event: OrderPlaced): OrderValues {
  let giftCardValue = 0;
  let digitalValue = 0;
  let itemCount = 0;
  for (const item of event.items) {
    const line = Math.min(Number.MAX_SAFE_INTEGER, item.quantity * item.unitPrice.value);
    itemCount += item.quantity;
    if (item.category === 'gift_card') giftCardValue += line;
    else if (item.category === 'digital') digitalValue += line;
  }
  return {
    giftCardValue: Math.min(giftCardValue, Number.MAX_SAFE_INTEGER),
    digitalValue: Math.min(digitalValue, Number.MAX_SAFE_INTEGER),
    itemCount,
  };
}
