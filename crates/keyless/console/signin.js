// The sign-in page: root access keys, or a Kubernetes ServiceAccount token exchanged for a
// role's temporary credentials through STS AssumeRoleWithWebIdentity.

import { Client, assumeRoleWithWebIdentity } from './api.js';
import * as session from './session.js';
import { errorBanner, fill, h, notice } from './ui.js';

/** Renders the page into `main`; calls `done()` once a session is saved. */
export function renderSignIn(main, { message, done }) {
  const status = h('div', { id: 'signin-status' }, message ? notice(message, 'warn') : null);
  const region = h('input', { id: 'region', name: 'region', value: session.remembered.get('region', 'us-east-1'),
    required: true, autocomplete: 'off', spellcheck: false });

  const show = (node) => fill(status, node);
  const busy = (form, on) => form.querySelectorAll('button, input, textarea').forEach((el) => { el.disabled = on; });

  async function submit(event, form, signIn) {
    event.preventDefault();
    busy(form, true);
    show(notice('Signing in…'));
    try {
      session.remembered.set('region', region.value.trim());
      session.save(await signIn(region.value.trim()));
      done();
    } catch (err) {
      show(errorBanner(err, 'Sign-in failed'));
    } finally {
      busy(form, false);
    }
  }

  const accessKey = h('input', { id: 'access-key', autocomplete: 'username', required: true, spellcheck: false });
  const secretKey = h('input', { id: 'secret-key', type: 'password', autocomplete: 'current-password', required: true });
  const keysForm = h('form', { id: 'keys-form', class: 'card' },
    h('h2', {}, 'Access keys'),
    h('p', { class: 'hint' }, 'The root access key and secret key keyless was started with.'),
    h('label', { for: 'access-key' }, 'Access key ID'), accessKey,
    h('label', { for: 'secret-key' }, 'Secret access key'), secretKey,
    h('button', { type: 'submit' }, 'Sign in with keys'));
  keysForm.addEventListener('submit', (e) => submit(e, keysForm, async (region) => {
    const creds = { accessKeyId: accessKey.value.trim(), secretAccessKey: secretKey.value, region };
    await new Client(creds).request('GET', '/'); // proves the keys (and the region) before keeping them
    return { ...creds, kind: 'root', arn: creds.accessKeyId };
  }));

  const token = h('textarea', { id: 'token', rows: 6, required: true, spellcheck: false,
    placeholder: 'eyJhbGciOi…  (kubectl create token SERVICE-ACCOUNT --audience AUDIENCE)' });
  const roleArn = h('input', { id: 'role-arn', required: true, spellcheck: false,
    value: session.remembered.get('roleArn'), placeholder: 'arn:aws:iam::000000000000:role/NAME' });
  const tokenForm = h('form', { id: 'token-form', class: 'card' },
    h('h2', {}, 'Kubernetes ServiceAccount token'),
    h('p', { class: 'hint' }, 'Paste what ', h('code', {}, 'kubectl create token SA --audience AUD'),
      ' prints; keyless exchanges it for the role’s temporary credentials (STS AssumeRoleWithWebIdentity).'),
    h('label', { for: 'token' }, 'Token'), token,
    h('label', { for: 'role-arn' }, 'Role ARN'), roleArn,
    h('button', { type: 'submit' }, 'Sign in with token'));
  tokenForm.addEventListener('submit', (e) => submit(e, tokenForm, async (region) => {
    const arn = roleArn.value.trim();
    session.remembered.set('roleArn', arn);
    const creds = await assumeRoleWithWebIdentity({
      roleArn: arn, token: token.value.trim(), sessionName: `console-${Date.now()}`,
    });
    return { ...creds, region, kind: 'session', roleArn: arn };
  }));

  fill(main,
    h('section', { class: 'signin' },
      h('h1', {}, 'Sign in to keyless'),
      status,
      h('div', { class: 'cards' }, tokenForm, keysForm),
      h('div', { class: 'region' },
        h('label', { for: 'region' }, 'Region'), region,
        h('span', { class: 'hint' }, 'the region keyless serves (its --region; us-east-1 unless configured)'))));
}
