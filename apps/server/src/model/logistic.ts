import { seededRandom } from '../core/random.ts';

/**
 * Logistic regression by mini-batch gradient descent with L2, implemented here (a few dozen
 * lines) rather than through a library: nothing to download, and deterministic by seed — the
 * seed fixes the mini-batch order, so the same rows and seed give the same weights, bit for bit.
 * Inputs are expected standardised (`standardise`), which is what makes one learning rate fit all.
 */
export interface LogisticOptions {
  seed: number;
  epochs: number;
  learningRate: number;
  /** L2 penalty on the weights (not the bias). */
  l2: number;
  batchSize: number;
}

export const defaultLogisticOptions: LogisticOptions = {
  seed: 1,
  epochs: 60,
  learningRate: 0.1,
  l2: 1e-3,
  batchSize: 32,
};

export interface LogisticFit {
  weights: number[];
  bias: number;
}

export const sigmoid = (margin: number): number => 1 / (1 + Math.exp(-margin));

export function predict(fit: LogisticFit, row: readonly number[]): number {
  let margin = fit.bias;
  for (let j = 0; j < fit.weights.length; j += 1) margin += (fit.weights[j] ?? 0) * (row[j] ?? 0);
  return sigmoid(margin);
}

export function fitLogistic(
  rows: readonly (readonly number[])[],
  labels: readonly number[],
  options: LogisticOptions,
): LogisticFit {
  const width = rows[0]?.length ?? 0;
  const weights = new Array<number>(width).fill(0);
  // Start at the base rate, so early steps learn the features, not the prior.
  const positives = labels.reduce((sum, y) => sum + y, 0);
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, positives / Math.max(1, labels.length)));
  let bias = Math.log(rate / (1 - rate));
  const random = seededRandom(options.seed);
  const order = rows.map((_, i) => i);
  const gradient = new Array<number>(width).fill(0);
  for (let epoch = 0; epoch < options.epochs; epoch += 1) {
    // Fisher–Yates with the seeded generator.
    for (let i = order.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      const swap = order[i] ?? 0;
      order[i] = order[j] ?? 0;
      order[j] = swap;
    }
    const step = options.learningRate / (1 + epoch / 10);
    for (let start = 0; start < order.length; start += options.batchSize) {
      gradient.fill(0);
      let biasGradient = 0;
      const end = Math.min(order.length, start + options.batchSize);
      for (let k = start; k < end; k += 1) {
        const i = order[k] ?? 0;
        const row = rows[i] ?? [];
        const error = predict({ weights, bias }, row) - (labels[i] ?? 0);
        for (let j = 0; j < width; j += 1) gradient[j] = (gradient[j] ?? 0) + error * (row[j] ?? 0);
        biasGradient += error;
      }
      const n = end - start;
      for (let j = 0; j < width; j += 1) {
        weights[j] = (weights[j] ?? 0) - step * ((gradient[j] ?? 0) / n + options.l2 * (weights[j] ?? 0));
      }
      bias -= step * (biasGradient / n);
    }
  }
  return { weights, bias };
}

/** Column means and standard deviations (1 where a column is constant). */
export function standardiser(rows: readonly (readonly number[])[]): { means: number[]; scales: number[] } {
  const width = rows[0]?.length ?? 0;
  const means = new Array<number>(width).fill(0);
  const scales = new Array<number>(width).fill(0);
  for (const row of rows)
    for (let j = 0; j < width; j += 1) means[j] = (means[j] ?? 0) + (row[j] ?? 0) / rows.length;
  for (const row of rows) {
    for (let j = 0; j < width; j += 1)
      scales[j] = (scales[j] ?? 0) + ((row[j] ?? 0) - (means[j] ?? 0)) ** 2 / rows.length;
  }
  return { means, scales: scales.map((v) => (v > 1e-12 ? Math.sqrt(v) : 1)) };
}

export function standardise(
  rows: readonly (readonly number[])[],
  s: { means: number[]; scales: number[] },
): number[][] {
  return rows.map((row) => row.map((x, j) => (x - (s.means[j] ?? 0)) / (s.scales[j] ?? 1)));
}
