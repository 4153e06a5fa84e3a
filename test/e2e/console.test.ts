/**
 * The console in a real browser: headless Chromium (the Debian package, installed by
 * test/peers/install/browser.sh) driven by playwright-core, against the real `wfid serve`.
 * Set WFID_CONSOLE_SCREENSHOTS=docs/console to refresh the screenshots the docs show.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer, until } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const ADMIN_TOKEN = `wfa_console_${'f00dfeed'.repeat(4)}`;
const SCREENSHOTS = process.env.WFID_CONSOLE_SCREENSHOTS;
const HOSTILE_AUDIENCE = '"><img src=x id=injected onerror=alert(1)>';

describe('console in headless Chromium', () => {
  let issuer: RunningIssuer;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const browserErrors: string[] = [];

  const screenshot = async (name: string) => {
    if (!SCREENSHOTS) return;
    await mkdir(resolve(ROOT, SCREENSHOTS), { recursive: true });
    await page.screenshot({ path: resolve(ROOT, SCREENSHOTS, `${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    issuer = await startIssuer({
      env: {
        WFID_ADMIN_TOKEN: ADMIN_TOKEN,
        WFID_AUDIT_FLUSH_INTERVAL: '100ms',
        WFID_KEYS_REFRESH: '1s',
        WFID_TOKENS_AUDIENCES: `https://sts.amazonaws.com,vault,${HOSTILE_AUDIENCE}`,
        WFID_TOKENS_DEFAULT_AUDIENCE: 'vault',
      },
    });
    profile = await mkdtemp(join(tmpdir(), 'wfid-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    // Script errors and CSP violations; the refused login's 401 is an expected failed load.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        browserErrors.push(message.text());
    });
    page.on('pageerror', (error) => browserErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await issuer?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows nothing without a login, refuses a wrong token, and logs in with the admin token', async () => {
    const response = await page.goto(`${issuer.url}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    expect(response!.headers()['content-security-policy']).toContain("script-src 'none'");
    expect(await page.locator('#keys').count()).toBe(0);
    await screenshot('login');

    await page.fill('#token', issuer.engineToken.padEnd(40, 'x'));
    await page.click('button[type=submit]');
    expect(await page.locator('[role=alert]').textContent()).toContain('not the admin token');

    await page.fill('#token', ADMIN_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${issuer.url}/console`);
    const [cookie] = await context.cookies(`${issuer.url}/console`);
    expect(cookie).toMatchObject({ name: 'wfid_console', httpOnly: true, sameSite: 'Strict' });
    expect(cookie!.value).not.toContain(ADMIN_TOKEN);

    const [activeKid] = await issuer.jwksKids();
    const activeRow = page.locator(`#keys tr[data-kid="${activeKid}"]`);
    expect(await activeRow.locator('.state').textContent()).toBe('active');
    expect(await page.locator('#health').textContent()).toContain('sqlite');
  });

  it('finds a mint by workflow, with the audience escaped', async () => {
    const execution = await issuer.startExecution({ workflow_id: 'invoice-sync' });
    const token = await issuer.mint(execution.request_token, 'https://sts.amazonaws.com');
    await issuer.mint(execution.request_token, HOSTILE_AUDIENCE);
    const other = await issuer.startExecution({ workflow_id: 'crm-export' });
    await issuer.mint(other.request_token, 'https://sts.amazonaws.com');
    const jti = JSON.parse(Buffer.from(token.value.split('.')[1]!, 'base64url').toString()).jti;

    await until(async () => {
      await page.goto(`${issuer.url}/console`);
      return (await page.locator('#event-table tbody tr').count()) >= 5;
    });
    expect(await page.locator('#running').textContent()).toContain(execution.execution_id);
    expect(await page.locator('#counts').textContent()).toContain('invoice-sync');
    await screenshot('overview');

    await page.fill('input[name=workflow_id]', 'invoice-sync');
    await page.click('#events button[type=submit]');
    await page.waitForURL(/workflow_id=invoice-sync/);
    const rows = page.locator('#event-table tbody tr');
    const texts = await rows.allTextContents();
    expect(texts.length).toBe(3); // WORKFLOW_ID_TOKEN at registration, and two requested tokens
    expect(texts.every((text) => text.includes('invoice-sync'))).toBe(true);
    expect(texts.some((text) => text.includes(jti))).toBe(true);
    expect(texts.some((text) => text.includes(HOSTILE_AUDIENCE))).toBe(true);
    expect(await page.locator('#injected').count()).toBe(0);
    await screenshot('mints');
  });

  it('shows a pending key on the timeline after wfid keys rotate, also on a phone', async () => {
    const before = await issuer.jwksKids();
    const rotated = await promisify(execFile)(
      process.execPath,
      ['--import', TSX, join(ROOT, 'src/cli/main.ts'), 'keys', 'rotate'],
      {
        cwd: issuer.dataDir,
        env: { PATH: process.env.PATH ?? '', WFID_DATA_DIR: issuer.dataDir },
      },
    );
    const { kid } = JSON.parse(rotated.stdout) as { kid: string };
    expect(before).not.toContain(kid);
    await until(async () => (await issuer.jwksKids()).includes(kid));

    await page.goto(`${issuer.url}/console`);
    const row = page.locator(`#keys tr[data-kid="${kid}"]`);
    expect(await row.locator('.state').textContent()).toBe('pending');
    expect(await row.textContent()).toContain('activates');
    const scheduled = page.locator('.timeline li.planned');
    expect(await scheduled.count()).toBe(1);
    expect(await scheduled.textContent()).toContain(kid.slice(0, 12));
    expect(await page.locator('#next-rotation').textContent()).toMatch(/\d{4}-\d{2}-\d{2}T/);
    await screenshot('keys');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    // Nothing wider than the phone's screen: wide tables scroll inside their card.
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot('phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('logs out, after which the console shows nothing again; no script error or CSP violation anywhere', async () => {
    await page.goto(`${issuer.url}/console`);
    await page.click('.logout button');
    await page.waitForURL(`${issuer.url}/console/login`);
    await page.goto(`${issuer.url}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    expect(browserErrors).toEqual([]);
  });
});
