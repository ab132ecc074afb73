import {
  accountViewSchema,
  batchEventsCountMax,
  batchResponseSchema,
  caseViewSchema,
  compromisedRequestSchema,
  decisionListSchema,
  decisionSchema,
  errorBodySchema,
  eventSchema,
  securityCenterLinkRequestSchema,
  securityCenterLinkSchema,
} from '@bulwark/contracts';
import { z } from 'zod';
import { ruleOpenApiPaths } from './routes/rules-openapi.ts';
import { verifyOpenApiPaths } from './routes/verify-openapi.ts';

const json = (schema: z.ZodType) => ({
  'application/json': { schema: z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) },
});
const errorResponse = (description: string) => ({ description, content: json(errorBodySchema) });

/** The OpenAPI 3.1 document, generated from the same zod schemas the server validates with. */
export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const batchRequest = z.object({ events: z.array(eventSchema).min(1).max(batchEventsCountMax) });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Bulwark',
      version,
      description:
        'Account-takeover and order-fraud defence. Contract v1: events in, one decision per event out.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key from `bulwark keys create`.' },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/events': {
        post: {
          summary: 'Send one event, or a batch of up to 1,000 in order; get one decision per event.',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  oneOf: [
                    z.toJSONSchema(eventSchema, { io: 'input' }),
                    z.toJSONSchema(batchRequest, { io: 'input' }),
                  ],
                },
              },
            },
          },
          responses: {
            '200': {
              description:
                'The decision (single event) or `{"decisions":[…]}` in the order sent; invalid events of a batch are answered in place with an error.',
              content: {
                'application/json': {
                  schema: { oneOf: [z.toJSONSchema(decisionSchema), z.toJSONSchema(batchResponseSchema)] },
                },
              },
            },
            '400': errorResponse(
              'Malformed JSON, an invalid event (the field is named) or an invalid batch.',
            ),
            '401': errorResponse('Missing or invalid API key.'),
            '409': errorResponse('This event id was already accepted with different content.'),
            '413': errorResponse('The body is larger than the configured limit.'),
            '503': errorResponse('Storage is unavailable; nothing was accepted, send again.'),
          },
        },
      },
      '/v1/accounts/{accountId}': {
        get: {
          summary: "An account's profile and timeline, newest first.",
          parameters: [
            { name: 'accountId', in: 'path', required: true, schema: { type: 'string' } },
            {
              name: 'before',
              in: 'query',
              schema: { type: 'integer' },
              description: 'Sequence number from `timeline.nextBefore`.',
            },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
            },
          ],
          responses: {
            '200': { description: 'The account.', content: json(accountViewSchema) },
            '404': errorResponse('Unknown account.'),
          },
        },
      },
      '/v1/accounts/{accountId}/compromised': {
        post: {
          summary:
            "The owner's \"this wasn't me\" or an analyst's report: opens (or joins) a containment case.",
          parameters: [
            { name: 'accountId', in: 'path', required: true, schema: { type: 'string' } },
            {
              name: 'Idempotency-Key',
              in: 'header',
              schema: { type: 'string' },
              description: 'Makes a retried report answer the same case.',
            },
          ],
          requestBody: { content: json(compromisedRequestSchema) },
          responses: {
            '200': { description: 'The case.', content: json(caseViewSchema) },
            '400': errorResponse('Invalid report.'),
          },
        },
      },
      '/v1/cases/{caseId}': {
        get: {
          summary: 'A containment case: its run step by step and the per-order outcomes.',
          parameters: [{ name: 'caseId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'The case.', content: json(caseViewSchema) },
            '404': errorResponse('Unknown case.'),
          },
        },
      },
      '/v1/decisions': {
        get: {
          summary: 'Decisions of every account, newest first (docs/console.md).',
          parameters: ['decision', 'reason', 'accountId', 'before', 'limit'].map((name) => ({
            name,
            in: 'query',
            schema: { type: name === 'before' || name === 'limit' ? 'integer' : 'string' },
          })),
          responses: {
            '200': { description: 'A page of decisions.', content: json(decisionListSchema) },
            '400': errorResponse('Invalid filter.'),
          },
        },
      },
      '/v1/security-center/links': {
        post: {
          summary: "A one-time, signed link to a shopper's security center (docs/console.md).",
          requestBody: { content: json(securityCenterLinkRequestSchema) },
          responses: {
            '200': { description: 'The link.', content: json(securityCenterLinkSchema) },
            '400': errorResponse('Invalid request.'),
          },
        },
      },
      ...ruleOpenApiPaths(errorResponse),
      ...verifyOpenApiPaths(errorResponse),
      '/healthz': {
        get: { summary: 'Liveness.', security: [], responses: { '200': { description: 'Alive.' } } },
      },
      '/readyz': {
        get: {
          summary: 'Readiness.',
          security: [],
          responses: { '200': { description: 'Ready.' }, '503': { description: 'Starting or draining.' } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics.',
          security: [],
          responses: { '200': { description: 'Text exposition format.' } },
        },
      },
    },
  };
}
