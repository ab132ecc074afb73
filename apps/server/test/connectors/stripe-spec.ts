import { existsSync, readFileSync } from 'node:fs';

import { stripeReferenceDir as dir } from './stripe-reference.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

interface Schema {
  $ref?: string;
  type?: string;
  nullable?: boolean;
  enum?: Json[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
}

interface Parameter {
  name: string;
  in: string;
  schema?: Schema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

function load(name: string): unknown {
  const path = `${dir}/${name}`;
  if (!existsSync(path))
    throw new Error(
      `Stripe reference data not found at ${path}: set STRIPE_OPENAPI_DIR to shared/datasets/stripe-openapi`,
    );
  return JSON.parse(readFileSync(path, 'utf8'));
}

const fixtures = load('fixtures3.json') as { resources: Record<string, JsonObject> };
const spec = load('spec3.subset.json') as Spec;

/** A fresh deep copy of the recorded example object of a resource (`payment_intent`, `refund`, …). */
export function fixture(resource: string): JsonObject {
  const object = fixtures.resources[resource];
  if (object === undefined) throw new Error(`no fixture for ${resource}`);
  return structuredClone(object);
}

function resolve(schema: Schema): Schema {
  if (schema.$ref === undefined) return schema;
  const name = schema.$ref.replace('#/components/schemas/', '');
  const target = spec.components.schemas[name];
  if (target === undefined) throw new Error(`unresolved $ref ${schema.$ref}`);
  return resolve(target);
}

/**
 * Checks a value against a schema of the subset with OpenAPI 3.0 rules (`nullable` allows null
 * even with an `enum`). Unknown properties pass: the fixtures are newer than the schema and Stripe
 * adds fields without notice. Answers the problems found, with their paths.
 */
export function validate(value: Json | undefined, schemaIn: Schema, path = '$', depth = 0): string[] {
  const schema = resolve(schemaIn);
  if (depth > 40) return [];
  if (value === null) return schema.nullable === true ? [] : [`${path}: null is not allowed`];
  if (value === undefined) return [`${path}: missing`];
  if (schema.anyOf !== undefined) {
    const results = schema.anyOf.map((option) =>
      validate(value, { ...option, nullable: schema.nullable ?? false }, path, depth + 1),
    );
    if (results.some((r) => r.length === 0)) return [];
    return [`${path}: matches none of ${String(schema.anyOf.length)} options (${results[0]?.[0] ?? ''})`];
  }
  if (schema.enum !== undefined && !schema.enum.includes(value))
    return [`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`];
  switch (schema.type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${path}: expected a string`];
    case 'integer':
      return Number.isInteger(value) ? [] : [`${path}: expected an integer`];
    case 'number':
      return typeof value === 'number' ? [] : [`${path}: expected a number`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected a boolean`];
    case 'array': {
      if (!Array.isArray(value)) return [`${path}: expected an array`];
      const items = schema.items;
      return items === undefined
        ? []
        : value.flatMap((v, i) => validate(v, items, `${path}[${String(i)}]`, depth + 1));
    }
    case 'object':
    case undefined: {
      if (schema.properties === undefined && schema.type === undefined) return [];
      if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected an object`];
      const problems: string[] = [];
      for (const name of schema.required ?? [])
        if (!(name in value)) problems.push(`${path}.${name}: required but missing`);
      for (const [name, propertySchema] of Object.entries(schema.properties ?? {}))
        if (name in value)
          problems.push(...validate(value[name], propertySchema, `${path}.${name}`, depth + 1));
      return problems;
    }
    default:
      return [];
  }
}

export function schemaOf(name: string): Schema {
  const schema = spec.components.schemas[name];
  if (schema === undefined) throw new Error(`no schema ${name}`);
  return schema;
}

/** The documented values of an enum field, e.g. `enumOf('payment_intent', 'cancellation_reason')`. */
export function enumOf(schemaName: string, property: string): Json[] {
  const p = resolve(schemaOf(schemaName)).properties?.[property];
  return p === undefined ? [] : (resolve(p).enum ?? []);
}

function findOperation(method: string, path: string): { template: string; operation: Operation } | undefined {
  for (const [template, operations] of Object.entries(spec.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const operation = operations[method.toLowerCase()];
    if (pattern.test(path) && operation !== undefined) return { template, operation };
  }
  return undefined;
}

/** Form and query keys arrive as `expand[0]`, `created[gte]`: the parameter is the part before `[`. */
const topLevel = (key: string): string => key.replace(/\[.*$/, '');

/**
 * Checks one request against the operation the spec declares for it: the path exists, every
 * parameter sent is declared, and every declared enum or integer is honoured.
 */
export function checkRequest(method: string, path: string, params: URLSearchParams): string[] {
  const found = findOperation(method, path);
  if (found === undefined) return [`${method} ${path}: no such operation in the spec`];
  const declared = new Map<string, Schema>();
  for (const p of found.operation.parameters ?? [])
    if (p.in === 'query' && p.schema !== undefined) declared.set(p.name, p.schema);
  const body = found.operation.requestBody?.content?.['application/x-www-form-urlencoded']?.schema;
  for (const [name, schema] of Object.entries(body === undefined ? {} : (resolve(body).properties ?? {})))
    declared.set(name, schema);
  const problems: string[] = [];
  for (const [key, value] of params) {
    const name = topLevel(key);
    const schema = declared.get(name);
    if (schema === undefined) {
      problems.push(`${method} ${found.template}: parameter ${name} is not declared`);
      continue;
    }
    if (key !== name) continue;
    const s = resolve(schema);
    if (s.enum !== undefined && !s.enum.includes(value))
      problems.push(`${method} ${found.template}: ${name}=${value} is not one of ${JSON.stringify(s.enum)}`);
    if (s.type === 'integer' && !/^-?\d+$/.test(value))
      problems.push(`${method} ${found.template}: ${name}=${value} is not an integer`);
  }
  return problems;
}
