/**
 * Small charts in plain SVG (nothing loaded from elsewhere). Each draws one picture and names it
 * for screen readers; the pages put the same numbers in a table beside it.
 */

export interface Segment {
  name: string;
  value: number;
  colour: string;
}

function Legend({ items }: { items: { name: string; colour: string }[] }) {
  return (
    <>
      {items.map((item) => (
        <span key={item.name} className="legend">
          <span className="swatch" style={{ background: item.colour }} /> {item.name}
        </span>
      ))}
    </>
  );
}

/** Horizontal bars, one row per label, each split into coloured segments. */
export function BarRows({
  rows,
  label,
  format = (v) => String(v),
  testId,
}: {
  rows: { label: string; segments: Segment[] }[];
  label: string;
  format?: (value: number) => string;
  testId?: string;
}) {
  const width = 960;
  const labelWidth = 300;
  const rowHeight = 22;
  const height = Math.max(1, rows.length) * rowHeight + 4;
  const max = Math.max(1, ...rows.map((r) => r.segments.reduce((sum, s) => sum + s.value, 0)));
  const scale = (width - labelWidth - 80) / max;
  const legend = new Map<string, string>();
  for (const row of rows) for (const s of row.segments) legend.set(s.name, s.colour);
  return (
    <figure className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${String(width)} ${String(height)}`} role="img" aria-label={label}>
        {rows.map((row, i) => {
          const y = i * rowHeight + 2;
          let x = labelWidth;
          const total = row.segments.reduce((sum, s) => sum + s.value, 0);
          return (
            <g key={row.label}>
              <title>
                {row.label}: {row.segments.map((s) => `${s.name} ${format(s.value)}`).join(', ')}
              </title>
              <text x={labelWidth - 6} y={y + 15} fontSize={12} textAnchor="end" fill="#222">
                {row.label.length > 44 ? `${row.label.slice(0, 43)}…` : row.label}
              </text>
              {row.segments.map((s) => {
                const w = s.value * scale;
                const rect =
                  s.value === 0 ? null : (
                    <rect
                      key={s.name}
                      x={x}
                      y={y}
                      width={Math.max(1, w)}
                      height={rowHeight - 6}
                      fill={s.colour}
                    />
                  );
                x += w;
                return rect;
              })}
              <text x={x + 6} y={y + 14} fontSize={11} fill="#444">
                {format(total)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        {label} <Legend items={[...legend].map(([name, colour]) => ({ name, colour }))} />
      </figcaption>
    </figure>
  );
}

/** Vertical bars per bucket with a label under each, stacked by series. */
export function Histogram({
  buckets,
  series,
  label,
  testId,
}: {
  buckets: { label: string; values: Record<string, number> }[];
  series: { name: string; key: string; colour: string }[];
  label: string;
  testId?: string;
}) {
  const width = 960;
  const height = 160;
  const bottom = 20;
  const gap = 6;
  const max = Math.max(1, ...buckets.map((b) => series.reduce((sum, s) => sum + (b.values[s.key] ?? 0), 0)));
  const barWidth = buckets.length === 0 ? 0 : width / buckets.length - gap;
  return (
    <figure className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${String(width)} ${String(height + bottom)}`} role="img" aria-label={label}>
        {buckets.map((bucket, i) => {
          let y = height;
          const x = i * (barWidth + gap);
          return (
            <g key={bucket.label}>
              <title>
                {bucket.label}:{' '}
                {series.map((s) => `${s.name} ${String(bucket.values[s.key] ?? 0)}`).join(', ')}
              </title>
              {series.map((s) => {
                const value = bucket.values[s.key] ?? 0;
                const h = (value / max) * (height - 14);
                y -= h;
                return value === 0 ? null : (
                  <rect key={s.key} x={x} y={y} width={Math.max(1, barWidth)} height={h} fill={s.colour} />
                );
              })}
              <text x={x + barWidth / 2} y={height + 14} fontSize={11} fill="#444" textAnchor="middle">
                {bucket.label}
              </text>
            </g>
          );
        })}
        <line x1={0} x2={width} y1={height} y2={height} stroke="#999" />
        <text x={4} y={12} fontSize={11} fill="#444">
          {String(max)}
        </text>
      </svg>
      <figcaption>
        {label} <Legend items={series.map((s) => ({ name: s.name, colour: s.colour }))} />
      </figcaption>
    </figure>
  );
}

/** Lines over a numeric x axis (0–100), values 0–1, with an optional marked x. */
export function LineChart({
  points,
  series,
  label,
  marker,
  testId,
}: {
  points: { x: number; values: Record<string, number | null> }[];
  series: { name: string; key: string; colour: string }[];
  label: string;
  marker?: { x: number; label: string };
  testId?: string;
}) {
  const width = 960;
  const height = 200;
  const left = 36;
  const bottom = 20;
  const sx = (x: number) => left + (x / 100) * (width - left - 10);
  const sy = (v: number) => 8 + (1 - v) * (height - 16);
  return (
    <figure className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${String(width)} ${String(height + bottom)}`} role="img" aria-label={label}>
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <g key={v}>
            <line x1={left} x2={width - 10} y1={sy(v)} y2={sy(v)} stroke="#e3e3e3" />
            <text x={left - 4} y={sy(v) + 4} fontSize={11} fill="#444" textAnchor="end">
              {`${String(Math.round(v * 100))}%`}
            </text>
          </g>
        ))}
        {[0, 20, 40, 60, 80, 100].map((x) => (
          <text key={x} x={sx(x)} y={height + 14} fontSize={11} fill="#444" textAnchor="middle">
            {String(x)}
          </text>
        ))}
        {marker === undefined ? null : (
          <g>
            <line
              x1={sx(marker.x)}
              x2={sx(marker.x)}
              y1={4}
              y2={height}
              stroke="#555"
              strokeDasharray="4 3"
            />
            <text x={sx(marker.x) + 4} y={16} fontSize={11} fill="#222">
              {marker.label}
            </text>
          </g>
        )}
        {series.map((s) => {
          const path = points
            .flatMap((p) => {
              const v = p.values[s.key];
              return v === null || v === undefined ? [] : [`${String(sx(p.x))},${String(sy(v))}`];
            })
            .join(' ');
          return path.length === 0 ? null : (
            <polyline key={s.key} points={path} fill="none" stroke={s.colour} strokeWidth={2.5} />
          );
        })}
      </svg>
      <figcaption>
        {label} <Legend items={series.map((s) => ({ name: s.name, colour: s.colour }))} />
      </figcaption>
    </figure>
  );
}
