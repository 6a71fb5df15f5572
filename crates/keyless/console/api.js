// keyless's public APIs as the browser sees them, same origin: STS AssumeRoleWithWebIdentity
// (unsigned, form POST), S3 (path-style, every request SigV4-signed here) and the status JSON
// at GET /?x-keyless=status (signed exactly like an S3 request). Errors become ApiError with the
// server's Code and Message verbatim.

import { EMPTY_SHA256, sign, uriEncode, canonicalQuery } from './sigv4.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `HTTP ${status}`;
  }
}

const xml = (text) => new DOMParser().parseFromString(text, 'application/xml');
/** The text of the first element named `name` under `node` (namespace-agnostic), or ''. */
export const text = (node, name) => node.getElementsByTagNameNS('*', name)[0]?.textContent ?? '';

/** An error response (S3 `<Error>` or STS `<ErrorResponse>`) as an ApiError. */
async function errorOf(resp) {
  const body = await resp.text();
  if (body.trimStart().startsWith('<')) {
    const doc = xml(body);
    if (text(doc, 'Code')) return new ApiError(resp.status, text(doc, 'Code'), text(doc, 'Message'));
  }
  return new ApiError(resp.status, null, body.slice(0, 500) || resp.statusText);
}

/** Exchanges a ServiceAccount token for temporary credentials of `roleArn`. */
export async function assumeRoleWithWebIdentity({ roleArn, token, sessionName, durationSeconds = 3600 }) {
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: roleArn,
    RoleSessionName: sessionName, WebIdentityToken: token, DurationSeconds: String(durationSeconds),
  });
  const resp = await fetch('/', {
    method: 'POST', body: form.toString(), credentials: 'omit', cache: 'no-store',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  if (!resp.ok) throw await errorOf(resp);
  const doc = xml(await resp.text());
  return {
    accessKeyId: text(doc, 'AccessKeyId'),
    secretAccessKey: text(doc, 'SecretAccessKey'),
    sessionToken: text(doc, 'SessionToken'),
    expiration: text(doc, 'Expiration'),
    arn: text(doc, 'Arn'),
    subject: text(doc, 'SubjectFromWebIdentityToken'),
  };
}

/** `/<bucket>/<key>` with each key segment encoded as SigV4 wants (the same string is signed and sent). */
export const objectPath = (bucket, key = '') => `/${uriEncode(bucket)}/${uriEncode(key, true)}`;

/** A client for one set of credentials: {accessKeyId, secretAccessKey, sessionToken?, region}. */
export class Client {
  constructor(credentials) {
    this.credentials = credentials;
  }

  /** One signed request; resolves to the Response when it is 2xx, else throws ApiError. */
  async request(method, path, { query = [], headers = {}, body, payloadHash = EMPTY_SHA256 } = {}) {
    const signed = sign(
      { method, path, query, headers: { ...headers, host: location.host, 'x-amz-content-sha256': payloadHash }, payloadHash },
      this.credentials,
      { region: this.credentials.region, service: 's3' },
    );
    delete signed.headers.host; // the browser sends Host itself (the value signed above)
    const qs = canonicalQuery(query);
    const resp = await fetch(path + (qs ? `?${qs}` : ''), {
      method, headers: signed.headers, body, credentials: 'omit', cache: 'no-store',
    });
    if (!resp.ok) throw await errorOf(resp);
    return resp;
  }

  async listBuckets() {
    const doc = xml(await (await this.request('GET', '/')).text());
    return [...doc.getElementsByTagNameNS('*', 'Bucket')].map((b) => ({
      name: text(b, 'Name'), created: text(b, 'CreationDate'),
    }));
  }

  /** One page of ListObjectsV2 with delimiter `/`: folders (common prefixes) and objects. */
  async listObjects(bucket, prefix, continuationToken) {
    const query = [['list-type', '2'], ['delimiter', '/'], ['prefix', prefix], ['max-keys', '200']];
    if (continuationToken) query.push(['continuation-token', continuationToken]);
    const doc = xml(await (await this.request('GET', `/${uriEncode(bucket)}`, { query })).text());
    const children = (name) => [...doc.documentElement.children].filter((e) => e.localName === name);
    return {
      folders: children('CommonPrefixes').map((p) => text(p, 'Prefix')),
      objects: children('Contents').map((o) => ({
        key: text(o, 'Key'), size: Number(text(o, 'Size')), modified: text(o, 'LastModified'),
      })),
      nextToken: text(doc, 'IsTruncated') === 'true' ? text(doc, 'NextContinuationToken') : null,
    };
  }

  createBucket(bucket) {
    return this.request('PUT', `/${uriEncode(bucket)}`);
  }

  /** Uploads a File/Blob; the body is not hashed (UNSIGNED-PAYLOAD), so any size streams as is. */
  putObject(bucket, key, blob) {
    return this.request('PUT', objectPath(bucket, key), {
      body: blob, payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-type': blob.type || 'application/octet-stream' },
    });
  }

  async getObject(bucket, key) {
    return (await this.request('GET', objectPath(bucket, key))).blob();
  }

  deleteObject(bucket, key) {
    return this.request('DELETE', objectPath(bucket, key));
  }

  /** keyless's own status document, `GET /?x-keyless=status` (see docs/console.md). */
  async status() {
    return (await this.request('GET', '/', { query: [['x-keyless', 'status']] })).json();
  }
}
