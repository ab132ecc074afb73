import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import {
  reportSections,
  reportWords,
  type IncidentReport,
  type ReportLocale,
} from './domain/incident-report.ts';

/**
 * The incident report rendered: an HTML page and a PDF with the same lines. The PDF embeds Noto
 * Sans JP (SIL OFL 1.1, from the `@expo-google-fonts/noto-sans-jp` npm package; see NOTICE), which
 * covers Latin and Japanese alike, so both languages come out of one font with nothing downloaded.
 */

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export function renderReportHtml(report: IncidentReport, locale: ReportLocale): string {
  const sections = reportSections(report, locale);
  const body = sections
    .map((section, index) => {
      const heading =
        section.heading === ''
          ? ''
          : index === 0
            ? `<h1>${escapeHtml(section.heading)}</h1>`
            : `<h2>${escapeHtml(section.heading)}</h2>`;
      const lines = (section.lines ?? []).map((l) => `<p>${escapeHtml(l)}</p>`).join('\n');
      const rows = section.rows ?? [];
      const table =
        rows.length === 0
          ? ''
          : `<table>\n${rows
              .map(
                (row, r) =>
                  `<tr>${row.map((cell) => (r === 0 && index === 1 ? `<th>${escapeHtml(cell)}</th>` : `<td>${escapeHtml(cell)}</td>`)).join('')}</tr>`,
              )
              .join('\n')}\n</table>`;
      const list =
        index === 5
          ? `<ol>${(section.lines ?? []).map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ol>`
          : lines;
      return `<section>${heading}\n${table}${list}</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(reportWords[locale].title)}</title>
<style>
body{font-family:system-ui,"Noto Sans JP",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;line-height:1.5}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f2f2f2}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.5rem}
@media print{body{margin:0}}
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

let fontCache: Buffer | undefined;
/** Noto Sans JP Regular from its npm package, read once. */
function reportFont(): Buffer {
  if (fontCache === undefined) {
    const require = createRequire(import.meta.url);
    fontCache = readFileSync(
      require.resolve('@expo-google-fonts/noto-sans-jp/400Regular/NotoSansJP_400Regular.ttf'),
    );
  }
  return fontCache;
}

export function renderReportPdf(report: IncidentReport, locale: ReportLocale): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({
      size: 'A4',
      margin: 40,
      info: { Title: reportWords[locale].title, Author: report.storeName, Subject: report.caseId },
      lang: locale,
    });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.registerFont('report', reportFont());
    doc.font('report');
    const width = doc.page.width - 80;
    reportSections(report, locale).forEach((section, index) => {
      if (section.heading !== '') {
        doc
          .moveDown(0.6)
          .fontSize(index === 0 ? 15 : 12)
          .text(section.heading, { width });
        doc.moveDown(0.3);
      }
      doc.fontSize(8.5);
      for (const row of section.rows ?? []) doc.text(row.join('  |  '), { width });
      (section.lines ?? []).forEach((line, i) =>
        doc.text(index === 5 ? `${String(i + 1)}. ${line}` : line, { width }),
      );
    });
    doc.end();
  });
}
