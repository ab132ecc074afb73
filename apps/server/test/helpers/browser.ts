import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret, TOTP } from 'otpauth';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AnalystService } from '../../src/console/analysts.ts';
import { defaultConsoleDistDir } from '../../src/http/console/deps.ts';
import type { TestService } from './service.ts';

/** Debian's Chromium, as CI installs it; the flags keep it off the network and quiet. */
export const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
/** Screenshots of each flow, kept for a person to look at (ignored by git). */
export const artifactsDir = join(repoRoot, 'apps', 'server', 'test', 'artifacts');

/** Builds the console when `dist/` is missing, so the browser tests work on a source checkout. */
export function ensureConsoleBuilt(): void {
  mkdirSync(artifactsDir, { recursive: true });
  if (existsSync(join(defaultConsoleDistDir, 'index.html'))) return;
  const built = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-console.mjs')], {
    stdio: 'inherit',
  });
  assert.equal(built.status, 0, 'the console must build');
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
}

/** Creates an analyst directly in the store; answers the TOTP secret of an admin. */
export async function createAnalyst(
  t: TestService,
  name: string,
  role: 'viewer' | 'analyst' | 'admin',
  password: string,
): Promise<string | undefined> {
  const created = await new AnalystService({ store: t.service.storage.console, clock: t.clock }).create({
    name,
    role,
    password,
  });
  assert.ok(created.ok, 'the analyst must be created');
  return created.totp?.secret;
}

export function totpCode(secret: string, atMs: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: atMs });
}

/** Signs in through the page, as a person would. */
export async function signIn(
  page: Page,
  baseUrl: string,
  input: { name: string; password: string; totp?: string },
): Promise<void> {
  await page.goto(`${baseUrl}/console/`);
  await page.fill('input[name=name]', input.name);
  await page.fill('input[name=password]', input.password);
  if (input.totp !== undefined) await page.fill('input[name=totp]', input.totp);
  await page.click('button[type=submit]');
  await page.getByTestId('signed-in-as').waitFor();
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core (WCAG 2 A and AA rules) on the page as it stands and fails on any serious or
 * critical violation, naming the rule and the elements.
 */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  // Evaluated through the DevTools protocol, so the page's own CSP (script-src 'self') stays on.
  await page.evaluate(axeSource);
  // A string, not a function: it runs in the page, where `axe` and `document` exist.
  const violations = await page.evaluate<
    { id: string; impact: string | null; help: string; targets: string[] }[]
  >(`axe
    .run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    })
    .then((result) => result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)),
    })))`);
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    serious.map((v) => `${v.id} (${v.impact ?? ''}): ${v.help} at ${v.targets.join(' ')}`),
    [],
    `${what}: axe-core found serious or critical violations`,
  );
}
