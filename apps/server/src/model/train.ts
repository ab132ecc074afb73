import { hash } from 'node:crypto';
import type { BulwarkEvent } from '@bulwark/contracts';
import { featureIndex, featureSpecs } from '../risk/domain/orders/features.ts';
import { transformValue, type FeatureTransform, type ModelDefinition } from '../risk/domain/orders/model.ts';
import type { RiskPolicy } from '../risk/domain/policy.ts';
import { forEachOrder } from '../rules/backtest.ts';
import {
  defaultLogisticOptions,
  fitLogistic,
  standardise,
  standardiser,
  type LogisticOptions,
} from './logistic.ts';
import { prAuc, rocAuc } from './metrics.ts';

/**
 * `bulwark model train`: the order model learned from the store's own labelled history. Each
 * labelled order's features are computed as they were when it was decided (the events are
 * replayed in order), every numeric and bool feature of the namespace is used with a transform
 * fitting its kind, and a logistic regression is fitted (model/logistic.ts).
 */
export interface TrainingSet {
  /** Transformed feature rows of labelled orders, in event order. */
  rows: number[][];
  labels: number[];
  orderIds: string[];
}

/** The model's inputs: every non-string feature, with a transform by kind. */
export function modelInputs(): { name: string; transform: FeatureTransform }[] {
  return featureSpecs
    .filter((spec) => spec.type !== 'string')
    .map((spec) => {
      if (spec.name.startsWith('account.minutesSince'))
        return { name: spec.name, transform: { kind: 'below', threshold: 1440 } };
      if (spec.type === 'int' || spec.name === 'account.ageDays')
        return { name: spec.name, transform: { kind: 'log1p' } };
      return { name: spec.name, transform: { kind: 'identity' } };
    });
}

export function trainingSet(
  events: readonly { event: BulwarkEvent; atMs: number }[],
  labels: ReadonlyMap<string, boolean>,
  policy: RiskPolicy,
  unlabelledAsLegitimate: boolean,
): TrainingSet {
  const inputs = modelInputs();
  const indices = inputs.map((input) => featureIndex.get(input.name) ?? -1);
  const set: TrainingSet = { rows: [], labels: [], orderIds: [] };
  forEachOrder(events, policy, (event, features) => {
    const label = labels.get(event.orderId) ?? labels.get(event.id);
    if (label === undefined && !unlabelledAsLegitimate) return;
    set.rows.push(inputs.map((input, j) => transformValue(features[indices[j] ?? -1], input.transform)));
    set.labels.push(label === true ? 1 : 0);
    set.orderIds.push(event.orderId);
  });
  return set;
}

export interface TrainedModel {
  model: ModelDefinition;
  /** On the training rows themselves: a sanity figure, not an estimate of quality. */
  trainingRocAuc: number;
  trainingPrAuc: number;
}

export function trainOrderModel(set: TrainingSet, options: Partial<LogisticOptions> = {}): TrainedModel {
  const settings = { ...defaultLogisticOptions, ...options };
  const positives = set.labels.filter((y) => y === 1).length;
  if (positives === 0 || positives === set.labels.length) {
    throw new RangeError('training needs both fraud and legitimate orders among the labelled ones');
  }
  const inputs = modelInputs();
  const scaler = standardiser(set.rows);
  const fit = fitLogistic(standardise(set.rows, scaler), set.labels, settings);
  const features = inputs.map((input, j) => ({
    name: input.name,
    transform: input.transform,
    mean: scaler.means[j] ?? 0,
    scale: scaler.scales[j] ?? 1,
    weight: fit.weights[j] ?? 0,
  }));
  const digest = hash('sha256', JSON.stringify({ features, bias: fit.bias }), 'hex').slice(0, 10);
  const model: ModelDefinition = {
    version: `lr-${digest}`,
    kind: 'logistic-regression',
    bias: fit.bias,
    features,
    trainedWith: { seed: settings.seed, epochs: settings.epochs, rows: set.rows.length, frauds: positives },
  };
  const scores = standardise(set.rows, scaler).map((row) => {
    let margin = fit.bias;
    row.forEach((x, j) => (margin += (fit.weights[j] ?? 0) * x));
    return margin;
  });
  return { model, trainingRocAuc: rocAuc(scores, set.labels), trainingPrAuc: prAuc(scores, set.labels) };
}
