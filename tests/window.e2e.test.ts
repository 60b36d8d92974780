import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoSite } from '../extensions/autologging/src/sources/demo/generator.ts';
import { demoSource } from '../extensions/autologging/src/sources/demo/index.ts';
import { startCli } from './support/cli.ts';
import { citrixSiteFromDemo, startODataServer, type ODataServer } from './support/odata-server.ts';
import { tempDir } from './support/temp.ts';

// The StartLogging window in Debian's Chromium, served by a real spawned agent in browser
// mode, set up the way an administrator would: first start, a Citrix source against a Monitor
// Service double, a failing then a passing test, a capture, a schedule, the Excel folder, and
// both languages. Screenshots of every screen go to test-artifacts/window/.

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'test-artifacts', 'window');
const ACCOUNT = { domain: 'CORP', user: 'svc-autologging', password: 'Odata-Pa55!' };
/** Each screen, and what shows once its data has arrived. */
const SCREENS: Record<string, string> = {
  overview: '[data-testid="line-chart"] path.line',
  sources: 'tr[data-source="ddc"]',
  database: 'input[name="store"]',
  schedule: '[data-testid="preview"] li',
  excel: '[data-testid="workbooks"], #excel-folder',
  security: '[data-testid="protector"]',
  runs: '[data-testid="log"] li',
};
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) {
  process.stdout.write(`window e2e skipped: ${CHROMIUM} is missing (apt-get install chromium)\n`);
}

let odata: ODataServer;
let agent: ReturnType<typeof startCli>;
let context: BrowserContext;
let page: Page;
let url: string;
let home: string;
let opened: string;

beforeAll(async () => {
  if (!hasChromium) return;
  const until = Date.now();
  const site = new DemoSite(demoSource.options.parse({ users: 20, seed: 5 }), 'Asia/Seoul');
  odata = await startODataServer({
    data: citrixSiteFromDemo(site, site.between(until - 86_400_000, until)),
    ntlm: ACCOUNT,
  });

  // The agent opens folders through this stand-in for xdg-open, which writes down what it got.
  const work = tempDir();
  home = path.join(work, 'home');
  opened = path.join(work, 'opened.txt');
  const opener = path.join(work, 'open-folder.sh');
  fs.writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${opened}'\n`, { mode: 0o755 });
  agent = startCli(['--home', home, 'run'], { AUTOLOGGING_OPEN_WITH: opener });
  await agent.waitFor((out) => out.includes('Stop with Ctrl+C.'));
  url = /window: {3}(http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/.exec(agent.output().stdout)![1]!;

  context = await chromium.launchPersistentContext(tempDir('chromium-profile-'), {
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
    viewport: { width: 1024, height: 768 },
    locale: 'en-US',
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (agent && agent.child.exitCode === null) {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
  await odata?.close();
});

async function show(screen: string) {
  await page.click(`nav button[data-screen="${screen}"]`);
  await page.waitForSelector(`nav button[data-screen="${screen}"][aria-current="page"]`);
}

async function screenshot(lang: string, screen: string) {
  await show(screen);
  await page.locator(SCREENS[screen]!).first().waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, `${lang}-${screen}.png`), fullPage: true });
}

function sourceRow(id: string) {
  return page.locator(`tr[data-source="${id}"]`);
}

describe.skipIf(!hasChromium)('StartLogging window in a browser', () => {
  it('sets up a Citrix source, tests it, captures, schedules, opens Excel, in both languages', async () => {
    await page.goto(url);
    await expect.poll(() => page.evaluate<string>('location.hash')).toBe('');
    await page.waitForSelector('[data-testid="connection"][data-state="open"]');

    // First start: choose the zone, then on to Sources.
    await page.waitForSelector('[data-testid="first-run"]');
    await page.screenshot({ path: path.join(ARTIFACTS, 'en-first-run.png'), fullPage: true });
    await page.fill('#setup-zone', 'Mars/Olympus');
    await page.click('[data-testid="first-run"] button[type="submit"]');
    await expect
      .poll(() =>
        page.locator('[data-testid="first-run"] [data-testid="field-error"]').textContent(),
      )
      .toMatch(/IANA/);
    await page.fill('#setup-zone', 'Asia/Seoul');
    await page.click('[data-testid="first-run"] button[type="submit"]');
    await page.waitForSelector('nav button[data-screen="sources"][aria-current="page"]');

    // A citrix-odata source with a wrong password: saved, but its test fails.
    await page.click('text=Add source');
    await page.fill('#source-id', 'ddc');
    await page.selectOption('#source-kind', 'citrix-odata');
    await page.selectOption('#option-mode', 'onprem');
    await page.fill('#option-url', odata.onPremUrl);
    await page.fill('#option-domain', ACCOUNT.domain);
    await page.fill('#option-user', ACCOUNT.user);
    await page.fill('#option-password', 'wrong-password');
    await page.fill('#option-requestTimeoutSeconds', '5');
    await page.fill('#option-backfillHours', '24');
    await page.click('[data-testid="source-form"] button[type="submit"]');
    await sourceRow('ddc').waitFor();
    await sourceRow('ddc').locator('button', { hasText: 'Test connection' }).click();
    await expect
      .poll(() => page.locator('[data-testid="diagnosis-ddc"]').textContent())
      .toMatch(/EAUTH/);
    await page.screenshot({
      path: path.join(ARTIFACTS, 'en-sources-failed-test.png'),
      fullPage: true,
    });

    // The right password, typed over the one kept in the vault: the test passes.
    await sourceRow('ddc').locator('button', { hasText: 'Edit' }).click();
    await page.fill('#option-password', ACCOUNT.password);
    await page.click('[data-testid="source-form"] button[type="submit"]');
    await page.waitForSelector('[data-testid="source-form"]', { state: 'detached' });
    await sourceRow('ddc').locator('button', { hasText: 'Test connection' }).click();
    await expect
      .poll(() => page.locator('[data-testid="diagnosis-ddc"]').textContent())
      .toMatch(/^\s*OK/);
    expect(fs.readFileSync(path.join(home, 'settings.json'), 'utf8')).not.toContain(
      ACCOUNT.password,
    );

    // Capture now, then the records show up in the overview and the runs.
    await sourceRow('ddc').locator('button', { hasText: 'Capture now' }).click();
    await expect
      .poll(() => page.locator('[data-testid="capture-ddc"]').textContent())
      .toMatch(/capture:ddc: ok, \d+ new/);
    await show('overview');
    await page.waitForSelector('[data-testid="line-chart"] path.line');
    const barHeights = () =>
      page
        .locator('[data-testid="bar-chart"] rect.bar')
        .evaluateAll((bars) => bars.map((bar) => Number(bar.getAttribute('height'))));
    await expect.poll(async () => Math.max(...(await barHeights()))).toBeGreaterThan(0);
    expect(
      Number(await page.locator('[data-testid="today-sessions"]').textContent()),
    ).toBeGreaterThan(0);
    await show('runs');
    await page.selectOption('#runs-job', 'capture:ddc');
    await expect
      .poll(() => page.locator('[data-testid="runs"] tbody').textContent())
      .toMatch(/capture:ddc.*manual.*ok/);

    // A schedule of its own for the source: five runs previewed, saved, next run updated.
    await show('schedule');
    await page.selectOption('#schedule-job', 'capture:ddc');
    await page.fill('#schedule-cron', '61 * * * *');
    await page.waitForSelector('[data-testid="field-error"]:text("ECRON")');
    await page.fill('#schedule-cron', '7 3 * * *');
    await expect.poll(() => page.locator('[data-testid="preview"] li').count()).toBe(5);
    await expect
      .poll(() => page.locator('[data-testid="preview"]').textContent())
      .toMatch(/03:07.*03:07.*03:07.*03:07.*03:07/s);
    await page.click('form button[type="submit"]');
    await expect
      .poll(() =>
        page.locator('[data-testid="next-runs"] tr[data-job="capture:ddc"]').textContent(),
      )
      .toMatch(/03:07/);

    // The Excel folder is opened by the agent (no Neutralino here), for the right folder.
    await show('excel');
    if (await page.locator('#excel-password').isEnabled()) {
      // A workbook password goes to the vault, never into settings.json.
      await page.fill('#excel-password', 'Excel-Pa55!');
      await page.click('form button[type="submit"]');
      await expect.poll(() => page.locator('#excel-password').inputValue()).toBe('');
      const written = fs.readFileSync(path.join(home, 'settings.json'), 'utf8');
      expect(written).not.toContain('Excel-Pa55!');
      expect(JSON.parse(written).excel.password).toEqual({ $secret: 'excel.password' });
    }
    await page.click('text=Open Excel folder');
    await page.waitForSelector('[data-testid="opened"]');
    const exports = path.join(home, 'exports');
    expect(await page.locator('[data-testid="opened"]').textContent()).toContain(exports);
    expect(fs.readFileSync(opened, 'utf8').trim().split('\n')).toEqual([exports]);

    // Every screen in English, then in Korean after switching the language.
    for (const screen of Object.keys(SCREENS)) await screenshot('en', screen);
    await page.selectOption('[data-testid="language"]', 'ko');
    await expect
      .poll(() => page.locator('nav button[data-screen="overview"]').textContent())
      .toMatch(/개요/);
    expect(await page.locator('html').getAttribute('lang')).toBe('ko');
    for (const screen of Object.keys(SCREENS)) await screenshot('ko', screen);
    await page.reload();
    await expect
      .poll(() => page.locator('nav button[data-screen="sources"]').textContent())
      .toMatch(/수집 대상/);
  });
});
