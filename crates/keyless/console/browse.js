// Buckets and objects: ListBuckets, ListObjectsV2 with `/` as the folder delimiter (breadcrumbs,
// pages), upload, download, delete, create bucket. Denials show the S3 Code and Message as sent.

import { errorBanner, fill, formatSize, formatTime, h, notice, saveBlob, table } from './ui.js';

export const bucketHref = (bucket, prefix = '') =>
  `#/b/${encodeURIComponent(bucket)}/${encodeURIComponent(prefix)}`;

/** A form with one text input and a button; `onSubmit(value)` when sent non-empty. */
function inlineForm(id, label, placeholder, onSubmit) {
  const input = h('input', { id: `${id}-name`, placeholder, required: true, spellcheck: false, autocomplete: 'off' });
  const form = h('form', { id, class: 'inline' }, input, h('button', { type: 'submit' }, label));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (value) onSubmit(value);
  });
  return form;
}

export async function renderBuckets(main, { client, fail }) {
  const messages = h('div', { id: 'messages' });
  const listing = h('div', { id: 'bucket-list' }, notice('Loading…'));
  const open = inlineForm('open-bucket', 'Open', 'bucket name', (name) => { location.hash = bucketHref(name); });
  const create = inlineForm('create-bucket', 'Create bucket', 'new-bucket-name', async (name) => {
    try {
      await client.createBucket(name);
      location.hash = bucketHref(name);
    } catch (err) {
      if (!fail(err)) fill(messages, errorBanner(err, `Creating bucket ${name}`));
    }
  });
  fill(main, h('section', {},
    h('h1', {}, 'Buckets'),
    h('div', { class: 'toolbar' }, open, create),
    messages, listing));

  try {
    const buckets = await client.listBuckets();
    fill(listing, buckets.length
      ? table(['Name', 'Created'], buckets.map((b) => [
        h('a', { href: bucketHref(b.name), class: 'bucket' }, b.name), formatTime(b.created)]), { id: 'buckets' })
      : notice('No buckets yet.'));
  } catch (err) {
    if (fail(err)) return;
    fill(listing, errorBanner(err, 'Listing buckets'),
      notice('You can still open a bucket you may use: type its name above.'));
  }
}

function breadcrumbs(bucket, prefix) {
  const parts = prefix.split('/').filter(Boolean);
  const crumbs = [h('a', { href: '#/buckets' }, 'Buckets'), ' / ', h('a', { href: bucketHref(bucket) }, bucket)];
  parts.forEach((part, i) => {
    crumbs.push(' / ', h('a', { href: bucketHref(bucket, parts.slice(0, i + 1).join('/') + '/') }, part));
  });
  return h('nav', { class: 'breadcrumbs', id: 'breadcrumbs' }, crumbs);
}

export function renderBucket(main, { client, fail }, bucket, prefix) {
  const messages = h('div', { id: 'messages' });
  const listing = h('div', { id: 'listing' });
  const pager = h('div', { class: 'pager' });
  const tokens = [null]; // continuation token of each page seen; the last is the current page's
  const report = (err, context) => { if (!fail(err)) fill(messages, errorBanner(err, context)); };

  async function load() {
    fill(listing, notice('Loading…'));
    try {
      const page = await client.listObjects(bucket, prefix, tokens.at(-1));
      fill(listing, renderPage(page));
      fill(pager,
        tokens.length > 1 ? h('button', { id: 'first-page', onclick: () => { tokens.length = 1; load(); } }, 'First page') : null,
        page.nextToken ? h('button', { id: 'next-page', onclick: () => { tokens.push(page.nextToken); load(); } }, 'Next page') : null);
    } catch (err) {
      if (!fail(err)) fill(listing, errorBanner(err, `Listing ${bucket}/${prefix}`));
    }
  }

  function renderPage({ folders, objects }) {
    if (!folders.length && !objects.length) return notice(prefix ? 'This folder is empty.' : 'This bucket is empty.');
    const folderRows = folders.map((p) => h('tr', { class: 'folder', 'data-prefix': p },
      h('td', {}, h('a', { href: bucketHref(bucket, p) }, '📁 ', p.slice(prefix.length))), h('td'), h('td'), h('td')));
    const objectRows = objects.map((o) => h('tr', { class: 'object', 'data-key': o.key },
      h('td', { class: 'name' }, o.key.slice(prefix.length)),
      h('td', { class: 'size' }, formatSize(o.size)),
      h('td', {}, formatTime(o.modified)),
      h('td', { class: 'actions' },
        h('button', { class: 'download', onclick: () => download(o.key) }, 'Download'),
        h('button', { class: 'delete danger', onclick: () => remove(o.key) }, 'Delete'))));
    return table(['Name', 'Size', 'Last modified', ''], [...folderRows, ...objectRows], { id: 'objects' });
  }

  async function download(key) {
    try {
      saveBlob(await client.getObject(bucket, key), key.split('/').pop());
    } catch (err) {
      report(err, `Downloading ${key}`);
    }
  }

  async function remove(key) {
    if (!confirm(`Delete ${bucket}/${key}? This cannot be undone.`)) return;
    try {
      await client.deleteObject(bucket, key);
      fill(messages, notice(`Deleted ${key}.`, 'ok'));
      load();
    } catch (err) {
      report(err, `Deleting ${key}`);
    }
  }

  async function upload(files) {
    for (const file of files) {
      const key = prefix + file.name;
      fill(messages, notice(`Uploading ${key}…`));
      try {
        await client.putObject(bucket, key, file);
        fill(messages, notice(`Uploaded ${key}.`, 'ok'));
      } catch (err) {
        report(err, `Uploading ${key}`);
        return load();
      }
    }
    load();
  }

  const fileInput = h('input', { type: 'file', id: 'upload-input', multiple: true,
    onchange: () => { const files = [...fileInput.files]; fileInput.value = ''; upload(files); } });
  const folder = inlineForm('open-folder', 'Open folder', 'folder name', (name) => {
    location.hash = bucketHref(bucket, `${prefix}${name.replace(/^\/+|\/+$/g, '')}/`);
  });

  fill(main, h('section', {},
    breadcrumbs(bucket, prefix),
    h('div', { class: 'toolbar' },
      h('label', { class: 'button', for: 'upload-input' }, `Upload to /${prefix}`), fileInput,
      folder,
      h('button', { id: 'refresh', onclick: () => load() }, 'Refresh')),
    messages, listing, pager));
  load();
}
