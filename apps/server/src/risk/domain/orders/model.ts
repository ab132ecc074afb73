import { err, ok, type Result } from '../../../core/result.ts';
import { featureIndex, featureSpecByName, type FeatureValue } from './features.ts';

/**
 * The learned order model: logistic regression over a few transformed features. Chosen over
 * gradient-boosted trees because each decision must list its top contributing features, and a
 * linear model's contributions (weight × standardised value) are exact, additive and readable;
 * it trains in milliseconds, deterministically, with no library; and its log-loss fit gives
 * probabilities that are calibrated on the training distribution, which the score (0–100) is.
 *
 * A model is plain JSON (`ModelDefinition`), versioned and stored; `compileModel` checks it
 * against the feature namespace once, so scoring is an index lookup per feature.
 */
export type FeatureTransform =
  | { kind: 'identity' }
  | { kind: 'log1p' }
  /** 1 when the value is below `threshold`, else 0 (recency: "within a day"). */
  | { kind: 'below'; threshold: number };

export interface ModelFeature {
  /** A numeric or bool feature of the namespace. */
  name: string;
  transform: FeatureTransform;
  /** Standardisation: z = (transformed − mean) / scale. */
  mean: number;
  scale: number;
  weight: number;
}

export interface ModelDefinition {
  version: string;
  kind: 'logistic-regression';
  bias: number;
  features: ModelFeature[];
  /** How it was made (seed, rows, metrics), for people; not read when scoring. */
  trainedWith?: Record<string, unknown>;
}

export interface CompiledModel {
  readonly definition: ModelDefinition;
  readonly version: string;
  readonly indices: readonly number[];
}

export interface Contribution {
  name: string;
  value: FeatureValue;
  /** Log-odds this feature adds to the score; positive is riskier. */
  contribution: number;
}

export interface ModelScore {
  /** 0–100: the calibrated probability of fraud, in percent. */
  score: number;
  probability: number;
  /** Features that raised the score, largest first. */
  top: Contribution[];
}

export const modelLimits = { featuresMax: 200, versionCharsMax: 100 } as const;

export function transformValue(value: FeatureValue | undefined, transform: FeatureTransform): number {
  const x = typeof value === 'number' ? value : value === true ? 1 : 0;
  switch (transform.kind) {
    case 'identity':
      return x;
    case 'log1p':
      return Math.log1p(Math.max(0, x));
    case 'below':
      return x < transform.threshold ? 1 : 0;
  }
}

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

function isTransform(value: unknown): value is FeatureTransform {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  if (kind === 'identity' || kind === 'log1p') return true;
  return kind === 'below' && isFiniteNumber((value as { threshold?: unknown }).threshold);
}

/** Checks a model (as read from JSON) against the namespace and makes it ready to score. */
export function compileModel(raw: unknown): Result<CompiledModel, string> {
  if (typeof raw !== 'object' || raw === null) return err('a model is a JSON object');
  const model = raw as Partial<ModelDefinition>;
  if (model.kind !== 'logistic-regression') return err('kind must be "logistic-regression"');
  if (
    typeof model.version !== 'string' ||
    model.version.length === 0 ||
    model.version.length > modelLimits.versionCharsMax
  ) {
    return err('version must be a non-empty string');
  }
  if (!isFiniteNumber(model.bias)) return err('bias must be a finite number');
  if (!Array.isArray(model.features) || model.features.length > modelLimits.featuresMax) {
    return err(`features must be a list of at most ${modelLimits.featuresMax}`);
  }
  const indices: number[] = [];
  for (const [i, item] of (model.features as unknown[]).entries()) {
    if (typeof item !== 'object' || item === null) return err(`features[${i}]: a feature is an object`);
    const feature = item as Partial<ModelFeature>;
    const spec = typeof feature.name === 'string' ? featureSpecByName.get(feature.name) : undefined;
    if (spec === undefined) return err(`features[${i}]: unknown feature ${JSON.stringify(feature.name)}`);
    if (spec.type === 'string')
      return err(`features[${i}]: ${spec.name} is a string; the model reads numbers and bools`);
    if (!isTransform(feature.transform))
      return err(`features[${i}]: transform must be identity, log1p or below`);
    if (
      !isFiniteNumber(feature.mean) ||
      !isFiniteNumber(feature.weight) ||
      !isFiniteNumber(feature.scale) ||
      feature.scale <= 0
    ) {
      return err(`features[${i}]: mean, weight and a positive scale must be finite numbers`);
    }
    indices.push(featureIndex.get(spec.name) ?? -1);
  }
  return ok({ definition: model as ModelDefinition, version: model.version, indices });
}

const sigmoid = (margin: number): number => 1 / (1 + Math.exp(-margin));

/** Scores one order; lists up to `topMax` features that raised the score. */
export function scoreModel(model: CompiledModel, features: readonly FeatureValue[], topMax = 3): ModelScore {
  const { definition, indices } = model;
  let margin = definition.bias;
  const contributions: Contribution[] = [];
  for (let i = 0; i < indices.length; i += 1) {
    const feature = definition.features[i];
    if (feature === undefined) continue;
    const value = features[indices[i] ?? -1];
    const z = (transformValue(value, feature.transform) - feature.mean) / feature.scale;
    const contribution = feature.weight * z;
    margin += contribution;
    if (contribution > 0 && value !== undefined)
      contributions.push({ name: feature.name, value, contribution });
  }
  contributions.sort((a, b) => b.contribution - a.contribution || (a.name < b.name ? -1 : 1));
  const probability = sigmoid(margin);
  return { score: Math.round(100 * probability), probability, top: contributions.slice(0, topMax) };
}
