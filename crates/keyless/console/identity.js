// The identity page: keyless's status document (GET /?x-keyless=status, SigV4-signed): who I
// am, the trusted issuers and the freshness of their keys, the roles and whom they trust, and the
// latest STS and S3 decisions with the reason for each. Missing or unknown fields are tolerated.

import { errorBanner, fill, formatTime, h, notice, table } from './ui.js';

const list = (v) => (Array.isArray(v) ? v : []);
const show = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));
const json = (v) => JSON.stringify(v, null, 2);

function viewerCard(viewer, fallback) {
  const v = viewer || {};
  const rows = [
    ['Kind', v.kind ?? fallback.kind], ['ARN', v.arn ?? fallback.arn], ['Access key', v.access_key ?? fallback.accessKeyId],
    ['Role', v.role ?? fallback.roleArn], ['Session name', v.session_name], ['Subject', v.subject ?? fallback.subject],
    ['Issuer', v.issuer], ['Expires', formatTime(v.expires ?? fallback.expiration)],
  ].filter(([, value]) => value);
  return h('dl', { id: 'viewer', class: 'facts' }, rows.map(([k, value]) => [h('dt', {}, k), h('dd', {}, String(value))]));
}

function ageText(seconds) {
  if (typeof seconds !== 'number') return '—';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function issuersTable(issuers) {
  if (!issuers.length) return notice('No issuers configured.');
  return table(['Issuer', 'Source', 'Keys', 'Keys age', 'Last success', 'Last error', 'Fetches / failures'],
    issuers.map((i) => h('tr', { class: i.last_error ? 'bad' : '' },
      h('td', {}, show(i.issuer)), h('td', {}, show(i.source)),
      h('td', { title: list(i.key_ids).join(', ') }, `${show(i.key_count)} ${list(i.key_ids).length ? `(${list(i.key_ids).join(', ')})` : ''}`),
      h('td', {}, ageText(i.keys_age_seconds)), h('td', {}, formatTime(i.last_success) || '—'),
      h('td', { class: i.last_error ? 'error-text' : '' }, show(i.last_error)),
      h('td', {}, `${show(i.fetches)} / ${show(i.fetch_failures)}`))), { id: 'issuers' });
}

/** Whom a trust policy trusts: the short form's service accounts, or each AWS statement's
 *  effect, principal and conditions. */
function trustSummary(trust) {
  if (trust?.service_accounts) {
    return h('div', { class: 'trust' },
      'service accounts ', h('code', {}, list(trust.service_accounts).join(', ')),
      h('div', { class: 'hint' }, `issuer ${show(trust.issuer)} · audience ${[trust.audience].flat().join(', ')}`));
  }
  const statements = list(trust?.Statement);
  if (!statements.length) return h('pre', {}, json(trust));
  return h('ul', { class: 'trust' }, statements.map((s) => h('li', {},
    h('strong', {}, show(s.Effect)), ' ',
    Object.values(s.Principal || {}).flat().join(', ') || show(s.Principal),
    h('ul', {}, Object.entries(s.Condition || {}).flatMap(([op, kv]) => Object.entries(kv || {}).map(([k, val]) =>
      h('li', {}, h('code', {}, k), ` ${op} `, h('code', {}, [val].flat().join(' | ')))))))));
}

function rolesTable(roles) {
  if (!roles.length) return notice('No roles configured.');
  return table(['Role', 'Max session', 'Trusts', 'Permission policies'], roles.map((r) => [
    show(r.arn), r.max_session_duration ? `${r.max_session_duration} s` : '—', trustSummary(r.trust),
    h('details', {}, h('summary', {}, `${list(r.policies).length} polic${list(r.policies).length === 1 ? 'y' : 'ies'}`),
      list(r.policies).map((p) => (p?.document ? [h('div', { class: 'hint' }, show(p.name)), h('pre', {}, json(p.document))]
        : h('pre', {}, json(p))))),
  ]), { id: 'roles' });
}

function decisionsTable(decisions) {
  if (!decisions.length) return notice('No decisions recorded yet.');
  return table(['Time', 'Kind', 'Operation', 'Outcome', 'Why', 'Role / subject', 'Bucket / key'],
    decisions.map((d) => h('tr', { class: d.outcome === 'denied' ? 'denied' : 'allowed' },
      h('td', {}, formatTime(d.time)), h('td', {}, show(d.kind)), h('td', {}, show(d.operation)),
      h('td', { class: 'outcome' }, show(d.outcome), d.code ? h('div', { class: 'code' }, d.code) : null),
      h('td', { class: 'reason' }, show(d.reason)),
      h('td', { title: d.role || '' }, show(d.role?.split(':role/').pop()),
        h('div', { class: 'hint' }, [d.subject, d.session_name].filter(Boolean).join(' · '))),
      h('td', { class: 'resource' }, [d.bucket, d.key].filter(Boolean).join('/') || '—'))), { id: 'decisions' });
}

export async function renderIdentity(main, { client, session, fail }) {
  const body = h('div', {}, notice('Loading…'));
  fill(main, h('section', { class: 'identity' }, h('h1', {}, 'Identity'), body));
  let status;
  try {
    status = await client.status();
  } catch (err) {
    if (fail(err)) return;
    fill(body, errorBanner(err, 'Reading the status (GET /?x-keyless=status)'),
      h('h2', {}, 'Who I am (as signed in)'), viewerCard(null, session));
    return;
  }
  const reload = status.reload;
  const root = status.viewer?.kind === 'root';
  fill(body,
    h('h2', {}, 'Who I am'), viewerCard(status.viewer, session),
    reload && (reload.error || reload.ok === false)
      ? errorBanner({ code: 'Configuration reload failed', message: `${show(reload.error)} (at ${formatTime(reload.last)})` })
      : null,
    h('h2', {}, 'Latest decisions'),
    h('p', { class: 'hint' }, 'STS exchanges and S3 requests, newest first; a denial says why.'),
    decisionsTable(list(status.decisions)),
    // Issuers and roles are shown to root only; a session gets empty lists.
    root || list(status.issuers).length ? [h('h2', {}, 'Trusted issuers'), issuersTable(list(status.issuers))] : null,
    root || list(status.roles).length ? [h('h2', {}, 'Roles'), rolesTable(list(status.roles))] : null,
    reload?.last ? h('p', { class: 'hint' }, `Configuration last loaded ${formatTime(reload.last)}.`) : null);
}
