// aws-sdk-js v3 with ONLY the pod environment: AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE,
// AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_S3, AWS_REGION (and AWS_DEFAULT_REGION).
// Credentials come from the default Node provider chain (fromNodeProviderChain); endpoints and
// region come from the environment, too: no client is given keys, an endpoint or a region here.
//
//   node web_identity.mjs BUCKET KEY BODY
//
// Prints one JSON object on stdout: what each call returned; exits non-zero on any error (with
// the error's name, message and HTTP status as JSON on stdout).
import { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";

const [bucket, key, body] = process.argv.slice(2);
if (!bucket || !key || body === undefined) {
  console.error("usage: node web_identity.mjs BUCKET KEY BODY");
  process.exit(2);
}

async function main() {
  const out = {};
  // The chain itself: env keys (none) -> ini (empty files) -> web identity token file -> ...
  const chain = fromNodeProviderChain();
  const creds = await chain();
  out.credentials = {
    accessKeyIdPrefix: creds.accessKeyId.slice(0, 4),
    hasSessionToken: Boolean(creds.sessionToken),
    expiration: creds.expiration ? creds.expiration.toISOString() : null,
  };

  // A client with no credentials argument at all uses the default chain on its own.
  const s3 = new S3Client({ forcePathStyle: true, maxAttempts: 1 });
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  out.put = { status: put.$metadata.httpStatusCode, etag: put.ETag };
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  out.get = { status: got.$metadata.httpStatusCode, body: await got.Body.transformToString() };
  const prefix = key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : "";
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  out.list = (listed.Contents ?? []).map((o) => o.Key);

  const sts = new STSClient({ maxAttempts: 1 });
  const ident = await sts.send(new GetCallerIdentityCommand({}));
  out.callerIdentity = { Account: ident.Account, Arn: ident.Arn, UserId: ident.UserId };

  // The same refusal the other clients see: another namespace's prefix.
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "not-mine/x.txt", Body: "x" }));
    out.denied = null;
  } catch (e) {
    out.denied = { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  return out;
}

main().then(
  (out) => console.log(JSON.stringify(out)),
  (e) => {
    console.log(JSON.stringify({ error: { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode } }));
    process.exit(1);
  },
);
