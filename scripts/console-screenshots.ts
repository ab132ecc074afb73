/**
 * The README's screenshots, from a real run: start the server (`npm start`), run `npm run demo`,
 * then
 *
 *   node --import tsx scripts/console-screenshots.ts --url http://127.0.0.1:8080 \
 *     --password '…' --totp-secret '…' --account demo-…-shopper-1 --case case_…
 *
 * with the first admin's password and TOTP secret `npm start` printed and the account and case
 * the demo printed. Signs in with Debian's Chromium and writes docs/images/*.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Secret, TOTP } from 'otpauth';
import { chromium } from 'playwright-core';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    name: { type: 'string', default: 'admin' },
    password: { type: 'string' },
    'totp-secret': { type: 'string' },
    account: { type: 'string' },
    case: { type: 'string' },
  },
  strict: true,
});
const { password, account } = values;
const secret = values['totp-secret'];
const caseId = values.case;
if (password === undefined || secret === undefined || account === undefined || caseId === undefined) {
  process.stderr.write(
    'needs --password, --totp-secret, --account and --case (see the comment at the top)\n',
  );
  process.exit(2);
}
const out = fileURLToPath(new URL('../docs/images/', import.meta.url));
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({
    locale: 'en-GB',
    timezoneId: 'Asia/Tokyo',
    viewport: { width: 1280, height: 900 },
  });
  await page.goto(`${values.url}/console/`);
  await page.fill('input[name=name]', values.name);
  await page.fill('input[name=password]', password);
  await page.fill('input[name=totp]', new TOTP({ secret: Secret.fromBase32(secret) }).generate());
  await page.click('button[type=submit]');
  await page.getByTestId('signed-in-as').waitFor();

  await page.goto(`${values.url}/console/accounts/${encodeURIComponent(account)}`);
  await page.getByTestId('hidden-order').first().waitFor();
  await page.locator('tr.activity-row').first().waitFor();
  // The timeline: the hidden orders, the payments and shipments on one axis.
  const box = await page.getByTestId('timeline-section').boundingBox();
  await page.screenshot({
    path: join(out, 'console-account.png'),
    fullPage: true,
    clip: { x: 0, y: Math.max(0, (box?.y ?? 0) - 8), width: 1280, height: 820 },
  });

  await page.goto(`${values.url}/console/cases/${encodeURIComponent(caseId)}`);
  await page.getByTestId('case-steps').waitFor();
  await page.screenshot({ path: join(out, 'console-case.png') });
  process.stdout.write(`written: ${join(out, 'console-account.png')}, ${join(out, 'console-case.png')}\n`);
} finally {
  await browser.close();
}
