// The web console in Debian's headless chromium (playwright-core), against a running keyless.
// Started by tests/clients/test_console.py, which sets the environment below and checks with
// boto3 what the console did. Waits are on selectors only.
//
//   KEYLESS_ENDPOINT, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, BUCKET (exists; the role may list it and
//   write under uploads/), TOKEN + ROLE_ARN (a token the role trusts), AUDITOR_ROLE_ARN (a role
//   whose trust policy refuses TOKEN but trusts OPS_TOKEN, and that may not list), PAGED_BUCKET
//   (205 objects under many/), WRONG_AUDIENCE_TOKEN, FOREIGN_TOKEN (signed by an unknown key),
//   STATUS_API ("1" when /_keyless/api/status exists), SCREENSHOT_DIR, CHROMIUM.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const env = process.env;
const CONSOLE = `${env.KEYLESS_ENDPOINT}/_keyless/console/`;
const SHOTS = env.SCREENSHOT_DIR;
mkdirSync(SHOTS, { recursive: true });

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(() => browser?.close());

/** A fresh context (own sessionStorage) on the console; fails the test on any page error or CSP report. */
async function open(t) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) problems.push(m.text()); });
  t.after(async () => {
    await context.close();
    assert.deepEqual(problems, []);
  });
  const resp = await page.goto(CONSOLE);
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()['content-security-policy'], /script-src 'self'/);
  return page;
}

async function signInWithKeys(page) {
  await page.fill('#access-key', env.ROOT_ACCESS_KEY);
  await page.fill('#secret-key', env.ROOT_SECRET_KEY);
  await page.click('#keys-form button[type=submit]');
  await page.waitForSelector('#whoami');
}

async function signInWithToken(page, token, roleArn) {
  await page.fill('#token', token);
  await page.fill('#role-arn', roleArn);
  await page.click('#token-form button[type=submit]');
}

/** A row of the listing: an object by its key. */
const row = (key) => `tr[data-key="${key}"]`;
/** A file name that needs SigV4's URI encoding in a key: space, (), UTF-8, +, %, !, ', *. */
const REPORT = "report (final) ü+1%!'*.bin";
const errorBanner = (page) => page.waitForSelector('.banner.error');

/** Screenshots a main screen, after checking it prints no stray "null"/"undefined"/"[object". */
async function shot(page, name, fullPage = false) {
  const text = await page.evaluate(() => document.body.innerText);
  assert.doesNotMatch(text, /\bnull\b|\bundefined\b|\[object /, `${name}: ${text}`);
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage });
}

async function upload(page, name, buffer, mimeType = 'application/octet-stream') {
  await page.setInputFiles('#upload-input', { name, mimeType, buffer });
}

test('root keys: buckets, upload, folders, download, delete', async (t) => {
  const page = await open(t);
  await page.waitForSelector('#keys-form');
  await shot(page, 'signin');
  await signInWithKeys(page);
  assert.match(await page.textContent('#whoami'), /root/);

  // Credentials live in this tab's sessionStorage only: no cookie, nothing in the URL.
  assert.equal(await page.evaluate(() => document.cookie), '');
  assert.ok(!page.url().includes(env.ROOT_ACCESS_KEY));
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  assert.ok(!stored.includes(env.ROOT_SECRET_KEY));

  await page.waitForSelector(`#buckets a.bucket:text-is("${env.BUCKET}")`);
  const bucket = `console-${randomBytes(4).toString('hex')}`;
  await page.fill('#create-bucket-name', bucket);
  await page.click('#create-bucket button');
  await page.waitForSelector('text=This bucket is empty.');
  assert.ok(page.url().endsWith(`#/b/${bucket}/`));

  await upload(page, 'hello.txt', Buffer.from('hello from the console\n'), 'text/plain');
  await page.waitForSelector('tr[data-key="hello.txt"]');
  assert.match(await page.textContent('tr[data-key="hello.txt"] td.size'), /^23 B$/);

  // A folder and a file whose names need SigV4's URI encoding (space, +, (), !, ', *, %, UTF-8).
  await page.fill('#open-folder-name', 'my docs');
  await page.click('#open-folder button');
  await page.waitForSelector('text=This folder is empty.');
  const report = randomBytes(150_000); // binary, every byte value
  await upload(page, REPORT, report);
  await page.waitForSelector(row(`my docs/${REPORT}`));

  // Back to the bucket's top through the breadcrumbs: the folder is listed; into it again.
  await page.click(`#breadcrumbs a:text-is("${bucket}")`);
  await page.click('tr[data-prefix="my docs/"] a');
  await page.waitForSelector(row(`my docs/${REPORT}`));
  await page.click(`#breadcrumbs a:text-is("${bucket}")`);
  await page.waitForSelector('tr[data-prefix="my docs/"]');
  await page.waitForSelector('tr[data-key="hello.txt"]');
  await page.goto(`${CONSOLE}#/buckets`);
  await page.waitForSelector(`#buckets a.bucket:text-is("${bucket}")`);
  await shot(page, 'buckets');
  await page.click(`#buckets a.bucket:text-is("${bucket}")`);
  await page.click('tr[data-prefix="my docs/"] a');
  await page.waitForSelector(row(`my docs/${REPORT}`));
  await shot(page, 'objects');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click(`${row(`my docs/${REPORT}`)} button.download`),
  ]);
  assert.equal(download.suggestedFilename(), REPORT.replace('*', '_')); // chromium's file-name rule
  assert.ok(readFileSync(await download.path()).equals(report), 'downloaded bytes differ from uploaded');

  page.once('dialog', (d) => d.accept());
  await page.click(`${row(`my docs/${REPORT}`)} button.delete`);
  await page.waitForSelector(row(`my docs/${REPORT}`), { state: 'detached' });
  await page.waitForSelector('text=This folder is empty.');

  // Root sees the whole status: its viewer, the roles and issuers.
  await page.click('header nav a:text-is("Identity")');
  if (env.STATUS_API) {
    await page.waitForSelector('#viewer');
    assert.match(await page.textContent('#viewer'), /root/);
    assert.match(await page.textContent('#roles'), /role\/uploader/);
    assert.match(await page.textContent('#roles'), /a:app|a\/app/);
    assert.match(await page.textContent('#issuers'), /k8s\.keyless\.test.*test-key-1/);
    await shot(page, 'identity-root', true);
  } else {
    // Until the server has the endpoint, the page says what it got.
    assert.match(await (await errorBanner(page)).textContent(), /Reading the status/);
  }

  await page.click('#sign-out');
  await page.waitForSelector('#keys-form');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});

test('token + role: browse, a denied upload, an allowed one, the identity page', async (t) => {
  const page = await open(t);
  await signInWithToken(page, env.TOKEN, env.ROLE_ARN);
  await page.waitForSelector('#whoami');
  assert.match(await page.textContent('#whoami'), /assumed-role\/uploader\//);

  await page.click(`#buckets a.bucket:text-is("${env.BUCKET}")`);
  await page.waitForSelector('#listing');
  await upload(page, 'outside.txt', Buffer.from('not allowed here\n'), 'text/plain');
  const denied = await (await errorBanner(page)).textContent();
  assert.match(denied, /AccessDenied/);
  assert.match(denied, /PutObject/);
  assert.match(denied, /shared\/outside\.txt/);
  await shot(page, 'denied');

  await page.fill('#open-folder-name', 'uploads');
  await page.click('#open-folder button');
  await page.waitForSelector('#breadcrumbs a:text-is("uploads")');
  await upload(page, 'inside.txt', Buffer.from('inside the allowed prefix\n'), 'text/plain');
  await page.waitForSelector('tr[data-key="uploads/inside.txt"]');

  await page.click('header nav a:text-is("Identity")');
  await page.waitForSelector('#viewer');
  assert.match(await page.textContent('#viewer'), /system:serviceaccount:a:app/);
  if (env.STATUS_API) {
    const row = await page.waitForSelector('#decisions tr.denied:has-text("PutObject")');
    const reason = (await (await row.$('td.reason')).textContent()).trim();
    assert.ok(reason.length > 3 && reason !== '—', `a denial without a reason: ${reason}`);
    await page.waitForSelector('#decisions tr:has-text("AssumeRoleWithWebIdentity")');
  }
  await shot(page, 'identity', true);
});

test('bad tokens: the STS error code and message are shown', async (t) => {
  const page = await open(t);
  const cases = [
    [env.WRONG_AUDIENCE_TOKEN, env.ROLE_ARN, /InvalidIdentityToken/],
    [env.FOREIGN_TOKEN, env.ROLE_ARN, /InvalidIdentityToken/],
    ['not-a-jwt', env.ROLE_ARN, /InvalidIdentityToken/],
    [env.TOKEN, env.AUDITOR_ROLE_ARN, /AccessDenied/],
  ];
  for (const [token, role, code] of cases) {
    await signInWithToken(page, token, role);
    const banner = await page.waitForSelector('#signin-status .banner.error');
    const text = await banner.textContent();
    assert.match(text, code);
    assert.ok((await (await banner.$('.message')).textContent()).length > 10, `no message: ${text}`);
    if (token === env.WRONG_AUDIENCE_TOKEN) await shot(page, 'sts-error');
    await page.evaluate(() => document.getElementById('signin-status').replaceChildren());
  }
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  // The role ARN typed last is remembered for next time (it is not a secret).
  await page.reload();
  assert.equal(await page.inputValue('#role-arn'), env.AUDITOR_ROLE_ARN);
});

test('an expired session sends the user back to sign in', async (t) => {
  const page = await open(t);
  await signInWithToken(page, env.TOKEN, env.ROLE_ARN);
  await page.waitForSelector('#whoami');
  await page.evaluate(() => {
    const key = 'keyless.console.session';
    const s = JSON.parse(sessionStorage.getItem(key));
    sessionStorage.setItem(key, JSON.stringify({ ...s, expiration: new Date(Date.now() - 1000).toISOString() }));
  });
  await page.click('header nav a:text-is("Identity")');
  const banner = await page.waitForSelector('#signin-status .banner');
  assert.match(await banner.textContent(), /session expired/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});

test('a long listing comes in pages', async (t) => {
  const page = await open(t);
  await signInWithKeys(page);
  await page.goto(`${CONSOLE}#/b/${env.PAGED_BUCKET}/many%2F`);
  await page.waitForSelector('#next-page');
  assert.equal(await page.locator('tr.object').count(), 200);
  await page.click('#next-page');
  await page.waitForSelector('#first-page'); // the pager is drawn after the page's rows
  assert.equal(await page.locator('tr.object').count(), 5);
  assert.equal(await page.locator('#next-page').count(), 0);
  await page.waitForSelector(row('many/key-204'));
  await page.click('#first-page');
  await page.waitForSelector('#next-page');
  await page.waitForSelector(row('many/key-000'));
});

test('a role that may not list buckets: the denial, then a bucket opened by name', async (t) => {
  const page = await open(t);
  await signInWithToken(page, env.OPS_TOKEN, env.AUDITOR_ROLE_ARN);
  const banner = await page.waitForSelector('#bucket-list .banner.error');
  assert.match(await banner.textContent(), /AccessDenied.*s3:ListAllMyBuckets/);
  await page.fill('#open-bucket-name', env.BUCKET);
  await page.click('#open-bucket button');
  const listing = await page.waitForSelector('#listing .banner.error');
  assert.match(await listing.textContent(), /AccessDenied.*s3:ListBucket/);
});

// Last, on purpose: root's identity page lists the decisions the tests above caused.
test('root sees every recent decision with its reason', { skip: !env.STATUS_API && 'no status endpoint' }, async (t) => {
  const page = await open(t);
  await signInWithKeys(page);
  await page.click('header nav a:text-is("Identity")');
  const trust = await page.waitForSelector('#decisions tr:has-text("AssumeRoleWithWebIdentity"):has-text("auditor"):has-text("a:app")');
  assert.match(await (await trust.$('td.reason')).textContent(), /system:serviceaccount:ops:\*/);
  const audience = await page.waitForSelector('#decisions tr:has-text("InvalidIdentityToken"):has-text("someone-else")');
  assert.ok(audience);
  await page.waitForSelector('#decisions tr.denied:has-text("ListAllMyBuckets"):has-text("ops:auditor")');
});
