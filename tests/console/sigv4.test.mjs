// The console's SigV4 module (crates/keyless/console/sigv4.js) against published answers:
// NIST/RFC digests, AWS's SigV4 test suite (get-vanilla & co., service "service") and the
// worked examples of the S3 SigV4 documentation. Run: node --test tests/console/sigv4.test.mjs
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { EMPTY_SHA256, canonicalQuery, hex, hmac, sha256, sign, uriEncode } from '../../crates/keyless/console/sigv4.js';

test('SHA-256 matches the FIPS 180-2 examples', () => {
  assert.equal(hex(sha256('')), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(hex(sha256('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(
    hex(sha256('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  );
});

test('SHA-256 and HMAC agree with node:crypto on every length around the block edges', () => {
  for (let n = 0; n < 300; n++) {
    const data = randomBytes(n);
    const key = randomBytes(n % 130); // keys shorter and longer than the 64-byte block
    assert.equal(hex(sha256(data)), createHash('sha256').update(data).digest('hex'), `length ${n}`);
    assert.equal(hex(hmac(key, data)), createHmac('sha256', key).update(data).digest('hex'), `length ${n}`);
  }
});

test('HMAC-SHA256 matches RFC 4231 test case 2', () => {
  assert.equal(
    hex(hmac('Jefe', 'what do ya want for nothing?')),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  );
});

test('URI encoding keeps only unreserved characters (and / in paths)', () => {
  assert.equal(uriEncode("a b/c!d'(e)*+=&ü~._-"), 'a%20b%2Fc%21d%27%28e%29%2A%2B%3D%26%C3%BC~._-');
  assert.equal(uriEncode('dir one/x+y.txt', true), 'dir%20one/x%2By.txt');
  assert.equal(canonicalQuery([['prefix', 'a b/'], ['delimiter', '/'], ['list-type', '2']]),
    'delimiter=%2F&list-type=2&prefix=a%20b%2F');
});

// AWS's SigV4 test suite: credentials, date, host and service shared by every case.
const SUITE = {
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  scope: { region: 'us-east-1', service: 'service' },
  now: new Date('2015-08-30T12:36:00Z'),
};
const suite = [
  { name: 'get-vanilla', method: 'GET', path: '/', query: [],
    signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-vanilla-query-order-key-case', method: 'GET', path: '/', query: [['Param2', 'value2'], ['Param1', 'value1']],
    signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500' },
  { name: 'post-vanilla', method: 'POST', path: '/', query: [],
    signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  { name: 'get-unreserved', method: 'GET', path: uriEncode('/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', true), query: [],
    signature: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f' },
  { name: 'get-utf8', method: 'GET', path: uriEncode('/ሴ', true), query: [],
    signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85' },
];

for (const v of suite) {
  test(`AWS SigV4 test suite: ${v.name}`, () => {
    const request = { method: v.method, path: v.path, query: v.query,
      headers: { Host: 'example.amazonaws.com' }, payloadHash: EMPTY_SHA256 };
    const { headers, signature } = sign(request, SUITE.credentials, SUITE.scope, SUITE.now);
    assert.equal(signature, v.signature);
    assert.equal(headers.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
      `SignedHeaders=host;x-amz-date, Signature=${v.signature}`);
    assert.equal(headers['x-amz-date'], '20150830T123600Z');
  });
}

test('get-vanilla: the canonical request is the published one', () => {
  const { canonicalRequest, stringToSign } = sign(
    { method: 'GET', path: '/', query: [], headers: { host: 'example.amazonaws.com' }, payloadHash: EMPTY_SHA256 },
    SUITE.credentials, SUITE.scope, SUITE.now);
  assert.equal(canonicalRequest,
    'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n' + EMPTY_SHA256);
  assert.equal(stringToSign, 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n' +
    'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63');
});

// The S3 SigV4 documentation's examples ("Signature Calculations for the Authorization Header").
const S3_DOC = {
  credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  scope: { region: 'us-east-1', service: 's3' },
  now: new Date('2013-05-24T00:00:00Z'),
};

test('S3 documentation: GET Object with a Range header', () => {
  const { headers } = sign({
    method: 'GET', path: '/test.txt', query: [],
    headers: { host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY_SHA256 },
    payloadHash: EMPTY_SHA256,
  }, S3_DOC.credentials, S3_DOC.scope, S3_DOC.now);
  assert.equal(headers.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
    'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ' +
    'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
});

test('S3 documentation: GET Bucket (list objects) with a query', () => {
  const { signature } = sign({
    method: 'GET', path: '/', query: [['max-keys', '2'], ['prefix', 'J']],
    headers: { host: 'examplebucket.s3.amazonaws.com', 'x-amz-content-sha256': EMPTY_SHA256 },
    payloadHash: EMPTY_SHA256,
  }, S3_DOC.credentials, S3_DOC.scope, S3_DOC.now);
  assert.equal(signature, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
});

test('a session token is sent and signed', () => {
  const creds = { ...S3_DOC.credentials, sessionToken: 'token/with+chars=' };
  const { headers } = sign({ method: 'GET', path: '/', query: [], headers: { host: 'h' }, payloadHash: 'UNSIGNED-PAYLOAD' },
    creds, S3_DOC.scope, S3_DOC.now);
  assert.equal(headers['x-amz-security-token'], 'token/with+chars=');
  assert.match(headers.authorization, /SignedHeaders=host;x-amz-date;x-amz-security-token,/);
  const without = sign({ method: 'GET', path: '/', query: [], headers: { host: 'h' }, payloadHash: 'UNSIGNED-PAYLOAD' },
    S3_DOC.credentials, S3_DOC.scope, S3_DOC.now);
  assert.notEqual(without.signature, headers.authorization.split('Signature=')[1]);
});
