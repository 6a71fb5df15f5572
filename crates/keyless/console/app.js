// The console's entry point: the header (who you are, sign out), the navigation and a router
// over the URL fragment (#/buckets, #/b/<bucket>/<prefix>, #/identity). Routes need a session;
// without one, or once it has expired, the sign-in page shows instead.

import { Client } from './api.js';
import { renderBucket, renderBuckets } from './browse.js';
import { renderIdentity } from './identity.js';
import * as session from './session.js';
import { renderSignIn } from './signin.js';
import { fill, h } from './ui.js';

const main = document.getElementById('main');
const header = document.getElementById('header');

/** Error codes meaning the credentials are no longer any good: back to sign-in. */
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException']);

function signOut(message) {
  session.clear();
  route(message);
}

/** For the views: handles an error that ends the session; true when it did. */
function fail(err) {
  const s = session.current();
  if (EXPIRED.has(err?.code) || session.expired(s)) {
    signOut(`Your session expired${s?.expiration ? ` at ${new Date(s.expiration).toLocaleString()}` : ''}. Sign in again.`);
    return true;
  }
  return false;
}

function renderHeader(s) {
  const who = s
    ? h('div', { class: 'who' },
      h('span', { id: 'whoami', title: s.arn || '' }, s.kind === 'root' ? `root (${s.accessKeyId})` : s.arn || s.roleArn),
      s.expiration ? h('span', { class: 'hint' }, ` until ${new Date(s.expiration).toLocaleTimeString()}`) : null,
      h('button', { id: 'sign-out', onclick: () => signOut('Signed out.') }, 'Sign out'))
    : null;
  const here = location.hash.startsWith('#/identity') ? 'identity' : 'buckets';
  fill(header,
    h('a', { class: 'brand', href: '#/buckets' }, 'keyless'),
    s ? h('nav', {},
      h('a', { href: '#/buckets', class: here === 'buckets' ? 'active' : '' }, 'Buckets'),
      h('a', { href: '#/identity', class: here === 'identity' ? 'active' : '' }, 'Identity')) : null,
    who);
}

/** decodeURIComponent, or null for a malformed escape in a hand-edited URL. */
function decode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

function route(message) {
  let s = session.current();
  if (s && session.expired(s)) {
    session.clear();
    message = `Your session expired at ${new Date(s.expiration).toLocaleString()}. Sign in again.`;
    s = null;
  }
  renderHeader(s);
  if (!s) {
    renderSignIn(main, { message, done: () => route() }); // stays on the page that was asked for
    return;
  }
  const ctx = { client: new Client(s), session: s, fail };
  const hash = location.hash;
  const bucket = /^#\/b\/([^/]+)\/(.*)$/.exec(hash)?.slice(1).map(decode);
  if (bucket?.every((part) => part !== null)) renderBucket(main, ctx, bucket[0], bucket[1]);
  else if (hash.startsWith('#/identity')) renderIdentity(main, ctx);
  else renderBuckets(main, ctx);
}

addEventListener('hashchange', () => route());
route();
