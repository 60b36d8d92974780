import fs from 'node:fs';
import path from 'node:path';
import officeCrypto from 'officecrypto-tool';
import * as OTPAuth from 'otpauth';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from './support/cli.ts';
import { tempDir } from './support/temp.ts';

// The Security screen in Debian's Chromium against a real spawned agent: the recovery warning
// until a recovery export, one-time codes set up in the window, the OTP prompt before settings
// after a reload, and an audited decrypt export. Screenshots go to test-artifacts/window/.

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'test-artifacts', 'window');
const RECOVERY_PASSPHRASE = 'Window-Recovery-Pa55!';
const WORKBOOK_PASSWORD = 'Window-Workbook-Pa55!';
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) {
  process.stdout.write(`window security e2e skipped: ${CHROMIUM} is missing\n`);
}

let agent: ReturnType<typeof startCli>;
let context: BrowserContext;
let page: Page;
let url: string;
let work: string;

beforeAll(async () => {
  if (!hasChromium) return;
  work = tempDir();
  agent = startCli(['--home', path.join(work, 'home'), 'run']);
  await agent.waitFor((out) => out.includes('Stop with Ctrl+C.'));
  url = /window: {3}(http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/.exec(agent.output().stdout)![1]!;
  context = await chromium.launchPersistentContext(tempDir('chromium-profile-'), {
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'],
    viewport: { width: 1024, height: 900 },
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
});

async function show(screen: string) {
  await page.click(`nav button[data-screen="${screen}"]`);
  await page.waitForSelector(`nav button[data-screen="${screen}"][aria-current="page"]`);
}

describe.skipIf(!hasChromium)('Security screen in a browser', () => {
  it('exports a recovery file, sets up one-time codes, unlocks after a reload and decrypts', async () => {
    await page.goto(url);
    await page.waitForSelector('[data-testid="connection"][data-state="open"]');
    await page.waitForSelector('[data-testid="recovery-warning"]');

    // The recovery export: a mismatch is shown beside the field, then the file is written.
    await show('security');
    await page.waitForSelector('[data-testid="protector"]');
    await page.fill('#recovery-passphrase', RECOVERY_PASSPHRASE);
    await page.fill('#recovery-confirm', 'something else');
    await page.click('[data-testid="recovery-form"] button[type="submit"]');
    await page.waitForSelector('#recovery-confirm-error');
    await page.fill('#recovery-confirm', RECOVERY_PASSPHRASE);
    await page.click('[data-testid="recovery-form"] button[type="submit"]');
    const written = await page.locator('[data-testid="recovery-file"]').textContent();
    const recoveryFile = /(\/\S+\.json)/.exec(written ?? '')![1]!;
    expect(JSON.parse(fs.readFileSync(recoveryFile, 'utf8')).format).toBe('autologging-recovery');
    await expect.poll(() => page.locator('[data-testid="recovery-warning"]').count()).toBe(0);

    // One-time codes: the QR code and recovery codes once, then a first code confirms.
    await page.click('[data-testid="otp-setup"]');
    await page.waitForSelector('[data-testid="otp-qr"] svg');
    const uri = (await page.locator('[data-testid="otp-uri"]').textContent())!.trim();
    const codes = await page.locator('[data-testid="otp-recovery-codes"] li').allTextContents();
    expect(codes).toHaveLength(10);
    await page.screenshot({
      path: path.join(ARTIFACTS, 'en-security-otp-setup.png'),
      fullPage: true,
    });
    await page.fill('#otp-first-code', OTPAuth.URI.parse(uri).generate());
    await page.click('button:text("Confirm")');
    await page.waitForSelector('[data-testid="otp-confirmed"]');
    await page.screenshot({ path: path.join(ARTIFACTS, 'en-security.png'), fullPage: true });
    await page.selectOption('[data-testid="language"]', 'ko');
    await expect.poll(() => page.locator('#security-title').textContent()).toBe('보안');
    await page.screenshot({ path: path.join(ARTIFACTS, 'ko-security.png'), fullPage: true });
    await page.selectOption('[data-testid="language"]', 'en');

    // A new page is a new connection: the agent asks for a code before it hands out settings.
    await page.reload();
    await page.waitForSelector('[data-testid="otp-prompt"]');
    await page.fill('#otp-unlock-code', 'wrong-code');
    await page.click('[data-testid="otp-prompt"] button[type="submit"]');
    await expect
      .poll(() =>
        page.locator('[data-testid="otp-prompt"] [data-testid="field-error"]').textContent(),
      )
      .toMatch(/EOTP/);
    await page.fill('#otp-unlock-code', codes[0]!);
    await page.click('[data-testid="otp-prompt"] button[type="submit"]');
    await page.waitForSelector('[data-testid="otp-prompt"]', { state: 'detached' });

    // The decrypt export: a missing code beside its field, then the encrypted workbook.
    await show('security');
    await page.waitForSelector('[data-testid="decrypt-form"]');
    const out = path.join(work, 'decrypted.xlsx');
    await page.fill('#decrypt-out', out);
    await page.fill('#decrypt-password', WORKBOOK_PASSWORD);
    await page.click('[data-testid="decrypt-form"] button[type="submit"]');
    await page.waitForSelector('#decrypt-otp-error');
    await page.fill('#decrypt-password', WORKBOOK_PASSWORD);
    await page.fill('#decrypt-otp', codes[1]!);
    await page.click('[data-testid="decrypt-form"] button[type="submit"]');
    await expect.poll(() => page.locator('[data-testid="decrypted"]').textContent()).toContain(out);
    expect(officeCrypto.isEncrypted(fs.readFileSync(out))).toBe(true);

    const printed = agent.output().stdout + agent.output().stderr;
    expect(printed).not.toContain(RECOVERY_PASSPHRASE);
    expect(printed).not.toContain(WORKBOOK_PASSWORD);
    const logs = path.join(work, 'home', 'logs');
    for (const file of fs.readdirSync(logs)) {
      const text = fs.readFileSync(path.join(logs, file), 'utf8');
      expect(text).not.toContain(RECOVERY_PASSPHRASE);
      expect(text).not.toContain(WORKBOOK_PASSWORD);
    }
  });
});
