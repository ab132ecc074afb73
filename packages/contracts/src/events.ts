import { z } from 'zod';
import { moneySchema } from './money.ts';

/** Limits of the contract, named so that every reader uses the same numbers. */
export const eventIdLengthMax = 128;
export const stringFieldLengthMax = 1024;
export const orderItemsCountMax = 500;
export const batchEventsCountMax = 1000;

const shortString = z.string().min(1).max(stringFieldLengthMax);

export const timestampSchema = z.iso.datetime({
  offset: true,
  error: 'must be an RFC 3339 timestamp such as 2026-11-25T09:00:00Z',
});

export const ipSchema = z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' });

export const requestContextSchema = z.object({
  ip: ipSchema,
  userAgent: z.string().max(stringFieldLengthMax),
  deviceId: shortString.optional(),
  sessionId: shortString.optional(),
  acceptLanguage: z.string().max(stringFieldLengthMax).optional(),
});
export type RequestContext = z.infer<typeof requestContextSchema>;

const base = {
  id: z.string().min(1).max(eventIdLengthMax),
  at: timestampSchema,
  accountId: shortString,
};

export const accountCreatedSchema = z.object({
  ...base,
  type: z.literal('account.created'),
  context: requestContextSchema.optional(),
  email: z.string().max(stringFieldLengthMax).optional(),
  phone: z.string().max(64).optional(),
});

export const loginFailedReasons = ['bad_password', 'unknown_account', 'bad_second_factor', 'locked'] as const;
export const loginFailedSchema = z.object({
  ...base,
  accountId: shortString.optional(),
  type: z.literal('login.failed'),
  context: requestContextSchema,
  reason: z.enum(loginFailedReasons),
  username: z.string().max(stringFieldLengthMax).optional(),
});

export const loginMethods = ['password', 'passkey', 'magic_link', 'social'] as const;
export const secondFactors = ['totp', 'sms', 'email', 'passkey', 'none'] as const;
export const loginSucceededSchema = z.object({
  ...base,
  type: z.literal('login.succeeded'),
  context: requestContextSchema,
  method: z.enum(loginMethods),
  secondFactor: z.enum(secondFactors).optional(),
});

export const challengeResults = ['passed', 'failed'] as const;
export const challengeCompletedSchema = z.object({
  ...base,
  type: z.literal('challenge.completed'),
  context: requestContextSchema.optional(),
  challengeId: shortString.optional(),
  method: shortString,
  result: z.enum(challengeResults),
});

/** Actions that need recent strong authentication on a risky session. */
export const sensitiveActions = [
  'order.archive',
  'account.update',
  'payment_method.add',
  'address.add',
  'giftcard.redeem',
] as const;
export const sessionActivitySchema = z.object({
  ...base,
  type: z.literal('session.activity'),
  context: requestContextSchema.extend({ sessionId: shortString }),
  action: shortString,
});

export const accountFields = ['email', 'phone', 'password', 'mfa', 'address', 'payment_method'] as const;
export const accountChanges = ['added', 'removed', 'changed'] as const;
export const accountUpdatedSchema = z.object({
  ...base,
  type: z.literal('account.updated'),
  context: requestContextSchema,
  field: z.enum(accountFields),
  change: z.enum(accountChanges).optional(),
});

export const itemCategories = ['gift_card', 'digital', 'physical'] as const;
export const paymentMethods = ['card', 'wallet', 'bank', 'store_credit'] as const;
export const orderItemSchema = z.object({
  sku: shortString.optional(),
  category: z.enum(itemCategories),
  quantity: z.number().int().positive().max(1_000_000),
  unitPrice: moneySchema,
});
export const orderPlacedSchema = z
  .object({
    ...base,
    type: z.literal('order.placed'),
    context: requestContextSchema,
    orderId: shortString,
    amount: moneySchema,
    items: z.array(orderItemSchema).min(1).max(orderItemsCountMax),
    shipping: z
      .object({
        addressId: shortString.optional(),
        country: z
          .string()
          .regex(/^[A-Z]{2}$/, { error: 'must be an ISO 3166-1 alpha-2 code' })
          .optional(),
        postalCode: z.string().max(32).optional(),
      })
      .optional(),
    payment: z.object({
      method: z.enum(paymentMethods),
      cardFingerprint: shortString.optional(),
      bin: z
        .string()
        .regex(/^\d{6,8}$/, { error: 'must be 6 to 8 digits' })
        .optional(),
      cardCountry: z
        .string()
        .regex(/^[A-Z]{2}$/, { error: 'must be an ISO 3166-1 alpha-2 code' })
        .optional(),
    }),
    delivery: z.object({ email: z.string().max(stringFieldLengthMax).optional() }).optional(),
  })
  .superRefine((order, ctx) => {
    // One order is one currency: velocity sums and rules compare amounts as numbers.
    order.items.forEach((item, i) => {
      if (item.unitPrice.currency !== order.amount.currency) {
        ctx.addIssue({
          code: 'custom',
          path: ['items', i, 'unitPrice', 'currency'],
          message: `currency ${item.unitPrice.currency} differs from the order's ${order.amount.currency}; one order is one currency`,
        });
      }
    });
  });

export const orderArchivedSchema = z.object({
  ...base,
  type: z.literal('order.archived'),
  context: requestContextSchema,
  orderId: shortString,
});

export const cancelledBy = ['customer', 'store', 'fraud'] as const;
export const cancelReasons = ['review_declined', 'review_timeout'] as const;
export const orderCancelledSchema = z.object({
  ...base,
  type: z.literal('order.cancelled'),
  context: requestContextSchema.optional(),
  orderId: shortString,
  by: z.enum(cancelledBy),
  /**
   * Why, when Bulwark's review queue cancelled it (an extension of the contract): a person
   * declined the held order, or nobody reviewed it before its authorization would lapse.
   */
  reason: z.enum(cancelReasons).optional(),
});

export const reporters = ['owner', 'analyst', 'issuer'] as const;
export const accountCompromisedSchema = z.object({
  ...base,
  type: z.literal('account.compromised'),
  context: requestContextSchema.optional(),
  reportedBy: z.enum(reporters),
  since: timestampSchema.optional(),
});

export const eventSchemas = [
  accountCreatedSchema,
  loginFailedSchema,
  loginSucceededSchema,
  challengeCompletedSchema,
  sessionActivitySchema,
  accountUpdatedSchema,
  orderPlacedSchema,
  orderArchivedSchema,
  orderCancelledSchema,
  accountCompromisedSchema,
] as const;

export const eventSchema = z.discriminatedUnion('type', eventSchemas);
export type BulwarkEvent = z.infer<typeof eventSchema>;
export type EventType = BulwarkEvent['type'];
export type EventOfType<T extends EventType> = Extract<BulwarkEvent, { type: T }>;
export const eventTypes: readonly EventType[] = eventSchemas.map((schema) => schema.shape.type.value);

/** Event types whose decision is made by the risk engine (the others answer `allow`). */
export const decidingEventTypes: ReadonlySet<EventType> = new Set<EventType>([
  'login.succeeded',
  'session.activity',
  'account.updated',
  'order.placed',
  'order.archived',
]);

export const eventBatchSchema = z.object({
  events: z.array(z.unknown()).min(1).max(batchEventsCountMax),
});
