/**
 * Ranking metrics for a fraud score. ROC-AUC is the probability that a random fraud scores above
 * a random legitimate case (ties count half); PR-AUC is average precision, which unlike ROC-AUC
 * reflects how rare fraud is — the figure to read when positives are few.
 */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number {
  const order = scores
    .map((score, i) => ({ score, label: labels[i] ?? 0 }))
    .sort((a, b) => a.score - b.score);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j < order.length && order[j]?.score === order[i]?.score) j += 1;
    const averageRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k += 1) {
      if (order[k]?.label === 1) {
        positives += 1;
        rankSum += averageRank;
      }
    }
    i = j;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Average precision: the mean of precision at each fraud, scores taken highest first (ties as a block). */
export function prAuc(scores: readonly number[], labels: readonly number[]): number {
  const order = scores
    .map((score, i) => ({ score, label: labels[i] ?? 0 }))
    .sort((a, b) => b.score - a.score);
  const positives = order.filter((o) => o.label === 1).length;
  if (positives === 0) return Number.NaN;
  let truePositives = 0;
  let seen = 0;
  let sum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    let blockPositives = 0;
    while (j < order.length && order[j]?.score === order[i]?.score) {
      if (order[j]?.label === 1) blockPositives += 1;
      j += 1;
    }
    seen += j - i;
    truePositives += blockPositives;
    sum += blockPositives * (truePositives / seen);
    i = j;
  }
  return sum / positives;
}
