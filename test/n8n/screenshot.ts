/**
 * Renders docs/n8n/node.png: the Workflow Identity Token node in a real n8n editor.
 * Not part of `npm test`. Needs Debian's chromium and playwright-core (outside the repo):
 *   apt-get install -y chromium && npm install --prefix /tmp/shot playwright-core
 *   NODE_PATH=/tmp/shot/node_modules npx tsx test/n8n/screenshot.ts docs/n8n
 */

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { startIssuer } from '../e2e/harness.js';
import { buildIntegration, startN8n } from '../peers/n8n.js';

// playwright-core lives outside the repo: resolve it through NODE_PATH.
const { chromium } = createRequire(import.meta.url)(
  'playwright-core',
) as typeof import('playwright-core');

const out = process.argv[2]!;
await buildIntegration();
const issuer = await startIssuer();
const n8n = await startN8n({
  env: { WFID_ISSUER_URL: issuer.url, WFID_ENGINE_TOKEN: issuer.engineToken },
  prepare: async (cli) => {
    await cli(
      'import:workflow',
      `--input=${join(import.meta.dirname, '../fixtures/n8n/token-workflow.json')}`,
    );
  },
});
try {
  const setup = await fetch(`${n8n.url}/rest/owner/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: 'owner@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      password: 'Passw0rd!Passw0rd',
    }),
  });
  console.log('owner setup', setup.status);
  const cookie = setup.headers.getSetCookie().find((c) => c.startsWith('n8n-auth='))!;
  const value = cookie.split(';')[0]!.slice('n8n-auth='.length);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  await context.addCookies([{ name: 'n8n-auth', value, domain: '127.0.0.1', path: '/' }]);
  const page = await context.newPage();
  await page.goto(`${n8n.url}/workflow/wfidTokenDemo001`, {
    waitUntil: 'networkidle',
    timeout: 90_000,
  });
  await page.waitForTimeout(3000);
  const node = page
    .locator('[data-test-id="canvas-node"]', { hasText: 'Workflow Identity Token' })
    .first();
  await node.dblclick({ timeout: 20_000 });
  await page.waitForTimeout(2500);
  await page.screenshot({ path: `${out}/node.png` });
  await browser.close();
} catch (error) {
  console.error(error);
  console.error(n8n.logs().slice(-3000));
} finally {
  await n8n.stop();
  await issuer.stop();
}
