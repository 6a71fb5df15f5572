"""The write storm and its model: what the clients were told, and what may be on disk after a cut.

Several threads run PUTs (0 B to ~1 MiB, user metadata, a content type), overwrites, conditional
CopyObjects (CopySourceIf-Match on a known version, so the copied bytes are known), deletes and
multipart uploads (one part, or a 5 MiB part and a small one; completed, aborted or left open)
over a small key space, while a reader keeps GETs half-read (pinning versions the storm frees).
Every write is logged with the instant it was sent and, if a 2xx came
back, the instant the response arrived.

After the plug at instant P, a write acknowledged before P is *acknowledged* (it must have
survived); one acknowledged after P is *uncertain* (keyless may or may not have made it durable
before the plug); one with no answer is *in flight*. A key may hold, after the cut, the value of
any write W (or its value before the cycle) unless some write acknowledged before P was sent after
W was acknowledged before P — then W was durably replaced. Anything else is a violation: a lost
acknowledged write, a resurrected delete, a body or metadata no client sent for that key.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

BUCKET = "powerloss"
KEYS = [f"k/{i:02d}" for i in range(16)]
KIB, MIB = 1 << 10, 1 << 20
PUT_SIZES = [0, 1, 100, 4 * KIB, 64 * KIB, 300 * KIB, MIB - 1, MIB, MIB + 1]
CONTENT_TYPES = ["application/octet-stream", "text/plain", "image/png"]


@dataclass(frozen=True)
class Version:
    """One object body with its metadata, as a client sent it."""

    md5: str
    size: int
    meta: tuple  # sorted (name, value) pairs of x-amz-meta-*
    content_type: str
    segments: int  # blob files it owns: 1 for a PUT or copy, one per part for multipart


ABSENT = None


@dataclass
class Write:
    key: str
    kind: str
    value: Version | None  # None: the write deletes the key
    etag: str | None  # the ETag it must have, when known
    sent: float
    acked: float | None = None
    no_effect: bool = False  # a definite refusal (412, 404): changed nothing


@dataclass
class Part:
    number: int
    etag: str
    size: int
    acked: float | None = None


@dataclass
class Upload:
    key: str
    upload_id: str
    created: float  # when CreateMultipartUpload was acknowledged
    parts: list = field(default_factory=list)
    end_sent: str | None = None  # "complete" / "abort", once sent
    end_acked: float | None = None


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def meta_of(d: dict | None) -> tuple:
    return tuple(sorted((k.lower(), v) for k, v in (d or {}).items()))


class Journal:
    """Everything the storm sent and was told; thread-safe."""

    def __init__(self, baseline: dict):
        self.mutex = threading.Lock()
        self.baseline = dict(baseline)  # key -> (Version | None, etag | None)
        self.writes: list[Write] = []
        self.uploads: list[Upload] = []
        self.creates_unanswered = 0
        # ETag -> Version of single-blob versions acknowledged, and each key's latest such ETag.
        self.by_etag: dict[str, Version] = {}
        self.latest: dict[str, str] = {}
        for k, (v, e) in baseline.items():
            if v is not None and e and v.segments == 1:
                self.by_etag[e] = v
                self.latest[k] = e
        self.server_errors: list[str] = []

    def begin(self, key, kind, value, etag=None) -> Write:
        w = Write(key, kind, value, etag, time.monotonic())
        with self.mutex:
            self.writes.append(w)
        return w

    def ack(self, w: Write, etag: str | None = None) -> None:
        now = time.monotonic()
        with self.mutex:
            w.acked = now
            if etag:
                w.etag = etag
            if w.value is None:
                self.latest.pop(w.key, None)
            elif w.value.segments == 1 and w.etag:
                self.by_etag[w.etag] = w.value
                self.latest[w.key] = w.etag
            else:
                self.latest.pop(w.key, None)

    def copy_source(self, rng: random.Random):
        with self.mutex:
            if not self.latest:
                return None
            k = rng.choice(sorted(self.latest))
            e = self.latest[k]
            return k, e, self.by_etag[e]


# --------------------------------------------------------------------------
# The storm
# --------------------------------------------------------------------------
def _outcome(j: Journal, w: Write, fn):
    """Run one request; ack it, mark it refused, or leave it in flight. Returns the response."""
    try:
        resp = fn()
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = e.response.get("Error", {}).get("Code")
        if status in (404, 412):
            w.no_effect = True
        elif status >= 500:
            j.server_errors.append((time.monotonic(), f"{w.kind} {w.key}: {status} {code}"))
        else:
            raise RuntimeError(f"{w.kind} {w.key}: unexpected {status} {code}") from e
        return None
    except Exception:  # no answer: the server was killed (or is being)
        return None
    return resp


def _body(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n)


def _meta(rng: random.Random) -> dict:
    return {"writer": uuid.UUID(int=rng.getrandbits(128)).hex[:12], "n": str(rng.randrange(10**6))}


def op_put(c, j: Journal, rng: random.Random, key: str) -> None:
    body = _body(rng, rng.choice(PUT_SIZES))
    meta, ctype = _meta(rng), rng.choice(CONTENT_TYPES)
    v = Version(md5_hex(body), len(body), meta_of(meta), ctype, 1)
    w = j.begin(key, "put", v, f'"{v.md5}"')
    r = _outcome(j, w, lambda: c.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=meta,
                                            ContentType=ctype))
    if r is not None:
        if r["ETag"] != w.etag:
            raise RuntimeError(f"PUT {key}: ETag {r['ETag']} for a body with MD5 {v.md5}")
        j.ack(w)


def op_delete(c, j: Journal, rng: random.Random, key: str) -> None:
    w = j.begin(key, "delete", None)
    if _outcome(j, w, lambda: c.delete_object(Bucket=BUCKET, Key=key)) is not None:
        j.ack(w)


def op_copy(c, j: Journal, rng: random.Random, key: str) -> None:
    src = j.copy_source(rng)
    if src is None:
        return op_put(c, j, rng, key)
    sk, setag, sv = src
    meta, ctype = _meta(rng), rng.choice(CONTENT_TYPES)
    v = Version(sv.md5, sv.size, meta_of(meta), ctype, 1)
    w = j.begin(key, "copy", v)
    r = _outcome(j, w, lambda: c.copy_object(
        Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": sk}, CopySourceIfMatch=setag,
        MetadataDirective="REPLACE", Metadata=meta, ContentType=ctype))
    if r is not None:
        j.ack(w, r["CopyObjectResult"]["ETag"])


def op_multipart(c, j: Journal, rng: random.Random, key: str) -> None:
    meta, ctype = _meta(rng), rng.choice(CONTENT_TYPES)
    with j.mutex:
        j.creates_unanswered += 1
    try:
        r = c.create_multipart_upload(Bucket=BUCKET, Key=key, Metadata=meta, ContentType=ctype)
    except Exception:
        return
    with j.mutex:
        j.creates_unanswered -= 1
    up = Upload(key, r["UploadId"], time.monotonic())
    with j.mutex:
        j.uploads.append(up)
    sizes = [rng.choice([1, 4 * KIB, 300 * KIB, MIB])] if rng.random() < 0.7 \
        else [5 * MIB, rng.choice([1, 64 * KIB, MIB])]
    bodies = []
    for n, size in enumerate(sizes, start=1):
        body = _body(rng, size)
        bodies.append(body)
        p = Part(n, f'"{md5_hex(body)}"', size)
        up.parts.append(p)
        try:
            pr = c.upload_part(Bucket=BUCKET, Key=key, UploadId=up.upload_id, PartNumber=n, Body=body)
        except Exception:
            return
        p.acked = time.monotonic()
        if pr["ETag"] != p.etag:
            raise RuntimeError(f"UploadPart {key} #{n}: ETag {pr['ETag']}, expected {p.etag}")
    end = rng.random()
    if end < 0.1:
        return  # left open
    if end < 0.2:
        up.end_sent = "abort"
        try:
            c.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=up.upload_id)
            up.end_acked = time.monotonic()
        except Exception:
            pass
        return
    whole = b"".join(bodies)
    etag = '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(b).digest() for b in bodies)).hexdigest(),
                        len(bodies))
    v = Version(md5_hex(whole), len(whole), meta_of(meta), ctype, len(bodies))
    up.end_sent = "complete"
    w = j.begin(key, "multipart", v, etag)
    r = _outcome(j, w, lambda: c.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=up.upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in up.parts]}))
    if r is not None:
        if r["ETag"] != etag:
            raise RuntimeError(f"Complete {key}: ETag {r['ETag']}, expected {etag}")
        up.end_acked = time.monotonic()
        j.ack(w)


OPS = [(op_put, 45), (op_delete, 15), (op_copy, 20), (op_multipart, 20)]


def worker(client, j: Journal, seed: int, stop: threading.Event, errors: list) -> None:
    rng = random.Random(seed)
    ops, weights = zip(*OPS)
    try:
        while not stop.is_set():
            op = rng.choices(ops, weights)[0]
            op(client, j, rng, rng.choice(KEYS))
    except Exception as e:  # a protocol surprise (wrong ETag...): report, do not hide
        errors.append(f"worker {seed}: {e!r}")


def pinning_reader(client, seed: int, stop: threading.Event) -> None:
    """GETs left half-read for a while: the versions they pin are freed by the storm's overwrites
    but stay on disk until the reader lets go, so a cut leaves orphans the start-up sweep must
    remove (and the blob count after it checks)."""
    rng = random.Random(seed)
    while not stop.is_set():
        try:
            r = client.get_object(Bucket=BUCKET, Key=rng.choice(KEYS))
            r["Body"].read(1)
            stop.wait(rng.uniform(0.2, 1.5))
            r["Body"].close()
        except Exception:
            stop.wait(0.05)


# --------------------------------------------------------------------------
# After the cut
# --------------------------------------------------------------------------
@dataclass
class Verdict:
    acknowledged: int = 0  # writes acknowledged before the plug (incl. parts, creates, aborts)
    uncertain: int = 0  # acknowledged after the plug
    unanswered: int = 0
    verified: int = 0
    lost: int = 0
    violations: list = field(default_factory=list)
    state: dict = field(default_factory=dict)  # key -> (Version | None, etag | None), now
    object_blobs: int = 0  # the blobs the objects' segments name
    referenced_blobs: int = 0  # objects' segments + open uploads' parts
    open_uploads: dict = field(default_factory=dict)  # upload id -> key
    by_kind: dict = field(default_factory=dict)  # acknowledged writes by kind


def tally(j: Journal, plug: float) -> dict:
    """Acknowledged / uncertain / unanswered counts, for a cycle that could not be verified."""
    acked = [w.acked for w in j.writes if not w.no_effect]
    for up in j.uploads:
        acked.append(up.created)
        acked += [p.acked for p in up.parts]
        if up.end_sent == "abort":
            acked.append(up.end_acked)
    return {"acknowledged": sum(1 for t in acked if t is not None and t < plug),
            "uncertain": sum(1 for t in acked if t is not None and t >= plug),
            "unanswered": sum(1 for t in acked if t is None)}


def read_object(c, key: str):
    """(Version, etag) of what `key` serves now, or (None, None)."""
    try:
        r = c.get_object(Bucket=BUCKET, Key=key)
    except ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchKey":
            return None, None
        raise
    body = r["Body"].read()
    if len(body) != r["ContentLength"]:
        raise RuntimeError(f"GET {key}: {len(body)} bytes, Content-Length {r['ContentLength']}")
    v = Version(md5_hex(body), len(body), meta_of(r.get("Metadata")),
                r.get("ContentType", ""), 0)
    return v, r["ETag"]


def _same(actual: Version, want: Version) -> bool:
    return (actual.md5, actual.size, actual.meta, actual.content_type) == \
        (want.md5, want.size, want.meta, want.content_type)


def verify(c, j: Journal, plug: float) -> Verdict:
    out = Verdict()
    required = lambda t: t is not None and t < plug  # noqa: E731

    # Every listed key is ours, and reads whole.
    listed = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for o in page.get("Contents", []):
            listed[o["Key"]] = (o["Size"], o["ETag"])
    for k in listed:
        if k not in KEYS:
            out.violations.append(f"{k}: listed, but no client ever wrote this key")

    for key in KEYS:
        writes = [w for w in j.writes if w.key == key and not w.no_effect]
        durable = [w for w in writes if required(w.acked)]
        for w in writes:
            if required(w.acked):
                out.acknowledged += 1
                out.by_kind[w.kind] = out.by_kind.get(w.kind, 0) + 1
            elif w.acked is not None:
                out.uncertain += 1
            else:
                out.unanswered += 1
        try:
            actual, etag = read_object(c, key)
        except Exception as e:  # a 500 (a blob the metadata names is gone), a short body...
            out.violations.append(f"{key}: unreadable after the cut: {e}")
            out.lost += 1 if durable else 0
            out.verified += max(0, len(durable) - 1)
            continue
        if (actual is None) != (key not in listed) or \
                (actual is not None and (listed[key][0], listed[key][1]) != (actual.size, etag)):
            out.violations.append(f"{key}: listing says {listed.get(key)}, GET says "
                                  f"{actual and actual.size} {etag}")
        # The candidates: the value before the cycle unless a durable write replaced it; each write
        # unless a durable write sent after its durable acknowledgement replaced it.
        cands = []
        if not durable:
            cands.append(("before this cycle",) + tuple(j.baseline.get(key, (None, None))))
        for w in writes:
            if required(w.acked) and any(z.sent > w.acked for z in durable):
                continue
            cands.append((w.kind, w.value, w.etag))
        match = None
        for what, v, e in cands:
            if v is None and actual is None:
                match = (v, None)
            elif v is not None and actual is not None and _same(actual, v) and (e is None or e == etag):
                match = (v, etag)
            if match:
                break
        if match is None:
            out.lost += 1 if durable else 0
            hist = "\n".join(
                f"    {w.kind} {w.value and (w.value.md5[:8], w.value.size)} sent +{w.sent - plug:.3f}s "
                f"acked {'-' if w.acked is None else f'+{w.acked - plug:.3f}s'}"
                f"{' (refused)' if w.no_effect else ''}" for w in j.writes if w.key == key)
            out.violations.append(
                f"{key}: holds {actual and (actual.md5[:8], actual.size, actual.meta, actual.content_type)}"
                f" etag {etag}, which no allowed write explains (times relative to the plug)\n"
                f"    baseline {j.baseline.get(key)}\n{hist}")
            out.state[key] = (actual and Version(actual.md5, actual.size, actual.meta,
                                                 actual.content_type, 1), etag)
        else:
            v = match[0]
            out.state[key] = (v, etag) if v is not None else (None, None)
        if durable and match is not None:
            out.verified += len(durable)
        elif durable:
            out.verified += len(durable) - 1
        if out.state[key][0] is not None:
            out.object_blobs += out.state[key][0].segments
            out.referenced_blobs += out.state[key][0].segments

    # Multipart uploads: acknowledged creations and parts survive until an end was sent.
    open_ups = {}
    for page in c.get_paginator("list_multipart_uploads").paginate(Bucket=BUCKET):
        for u in page.get("Uploads", []):
            open_ups[u["UploadId"]] = u["Key"]
    known = set()
    for up in j.uploads:
        known.add(up.upload_id)
        out.acknowledged += 1 if required(up.created) else 0
        out.by_kind["create-upload"] = out.by_kind.get("create-upload", 0) + required(up.created)
        out.by_kind["part"] = out.by_kind.get("part", 0) + sum(1 for p in up.parts if required(p.acked))
        if up.end_sent == "abort":
            out.by_kind["abort"] = out.by_kind.get("abort", 0) + required(up.end_acked)
        out.uncertain += 1 if not required(up.created) else 0
        acked_parts = [p for p in up.parts if required(p.acked)]
        out.acknowledged += len(acked_parts)
        out.uncertain += sum(1 for p in up.parts if p.acked is not None and not required(p.acked))
        if required(up.end_acked):
            out.acknowledged += 1
        is_open = up.upload_id in open_ups
        if required(up.end_acked) and is_open:
            out.violations.append(f"upload {up.upload_id} ({up.key}): its {up.end_sent} was "
                                  f"acknowledged, yet it is still open")
            out.lost += 1
            continue
        if not is_open:
            if up.end_sent is None and required(up.created):
                out.violations.append(f"upload {up.upload_id} ({up.key}): creation acknowledged, "
                                      f"never ended, and gone")
                out.lost += 1 + len(acked_parts)
            else:
                out.verified += (1 if required(up.created) else 0) + len(acked_parts) \
                    + (1 if required(up.end_acked) else 0)
            continue
        parts = {}
        for page in c.get_paginator("list_parts").paginate(Bucket=BUCKET, Key=up.key,
                                                           UploadId=up.upload_id):
            for p in page.get("Parts", []):
                parts[p["PartNumber"]] = (p["ETag"], p["Size"])
        out.referenced_blobs += len(parts)
        logged = {p.number: p for p in up.parts}
        for n, (e, size) in parts.items():
            if n not in logged or (logged[n].etag, logged[n].size) != (e, size):
                out.violations.append(f"upload {up.upload_id} part {n}: {e} {size}, which no "
                                      f"client sent")
        for p in acked_parts:
            if p.number not in parts:
                out.violations.append(f"upload {up.upload_id} ({up.key}): lost its acknowledged "
                                      f"part {p.number}")
                out.lost += 1
            else:
                out.verified += 1
        out.verified += 1 if required(up.created) else 0
    unknown = [i for i in open_ups if i not in known]
    if len(unknown) > j.creates_unanswered:
        out.violations.append(f"{len(unknown)} open uploads nobody knows of, but only "
                              f"{j.creates_unanswered} creations went unanswered")
    for i in unknown:
        parts = c.list_parts(Bucket=BUCKET, Key=open_ups[i], UploadId=i).get("Parts", [])
        out.referenced_blobs += len(parts)
        if parts:
            out.violations.append(f"upload {i}: its creation was never answered, yet it has parts")
    out.open_uploads = open_ups
    return out


def abort_open_uploads(c, open_ups: dict) -> None:
    """Abort every open upload (after the checks), so the next storm starts with none."""
    for i, k in open_ups.items():
        c.abort_multipart_upload(Bucket=BUCKET, Key=k, UploadId=i)
