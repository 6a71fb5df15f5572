"""boto3: ListObjects (V1), ListObjectsV2 and ListObjectVersions — prefix,
delimiter (and the empty `delimiter=` that restic sends), paging with
continuation tokens, markers and start-after, encoding-type=url, fetch-owner."""

import hashlib
import re
import urllib.parse
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

import upstream
from conftest import client_error, empty_and_delete_bucket, raw_request

KEYS = [
    "a", "a/b", "a/c/d", "b/", "b/x", "c", "d/e/f",
    "photos/2024/feb.jpg", "photos/2024/jan.jpg", "photos/2025/mar.jpg", "zeta",
]
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def fill(s3, bucket, keys, body=lambda k: k.encode()):
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body(k)), keys))


@pytest.fixture
def tree(s3, bucket):
    fill(s3, bucket, KEYS)
    return bucket


@pytest.fixture(scope="module")
def many(s3, request):
    """A bucket with 1100 keys (k0000 .. k1099), shared by the paging tests."""
    name = f"listing-many-{hashlib.md5(request.node.nodeid.encode()).hexdigest()[:10]}"
    s3.create_bucket(Bucket=name)
    keys = [f"k{i:04d}" for i in range(1100)]
    fill(s3, name, keys, body=lambda k: b"")
    yield name, keys
    empty_and_delete_bucket(s3, name)


def keys_of(resp):
    return [o["Key"] for o in resp.get("Contents", [])]


def prefixes_of(resp):
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


def test_v2_full_listing(s3, tree):
    upstream.skip_if_differs("directory-keys")
    resp = s3.list_objects_v2(Bucket=tree)
    assert keys_of(resp) == sorted(KEYS)
    assert resp["KeyCount"] == len(KEYS)
    assert resp["IsTruncated"] is False
    assert "CommonPrefixes" not in resp
    for obj in resp["Contents"]:
        assert obj["Size"] == len(obj["Key"].encode())
        assert obj["ETag"] == '"%s"' % hashlib.md5(obj["Key"].encode()).hexdigest()
        assert obj["LastModified"] is not None
        assert obj["StorageClass"] == "STANDARD"
        assert "Owner" not in obj, "V2 lists owners only with fetch-owner=true"


def test_v2_prefix(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Prefix="photos/")
    assert keys_of(resp) == ["photos/2024/feb.jpg", "photos/2024/jan.jpg", "photos/2025/mar.jpg"]
    assert resp["Prefix"] == "photos/"
    assert s3.list_objects_v2(Bucket=tree, Prefix="nope")["KeyCount"] == 0
    # a prefix that is also a key
    assert keys_of(s3.list_objects_v2(Bucket=tree, Prefix="a")) == ["a", "a/b", "a/c/d"]


def test_v2_delimiter(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Delimiter="/")
    assert keys_of(resp) == ["a", "c", "zeta"]
    assert prefixes_of(resp) == ["a/", "b/", "d/", "photos/"]
    assert resp["KeyCount"] == 7
    assert resp["Delimiter"] == "/"

    resp = s3.list_objects_v2(Bucket=tree, Delimiter="/", Prefix="photos/")
    assert keys_of(resp) == []
    assert prefixes_of(resp) == ["photos/2024/", "photos/2025/"]

    # a key equal to prefix+delimiter is a content, not a prefix
    resp = s3.list_objects_v2(Bucket=tree, Delimiter="/", Prefix="b/")
    assert keys_of(resp) == ["b/", "b/x"]
    assert prefixes_of(resp) == []

    # a delimiter other than "/"
    resp = s3.list_objects_v2(Bucket=tree, Delimiter="2")
    assert prefixes_of(resp) == ["photos/2"]
    assert keys_of(resp) == ["a", "a/b", "a/c/d", "b/", "b/x", "c", "d/e/f", "zeta"]


def test_empty_delimiter_means_no_delimiter(s3, tree, server):
    # restic (minio-go) sends `delimiter=` with an empty value; it means "none".
    for list_type in ("list-type=2&", ""):
        resp = raw_request(server, "GET", f"/{tree}", query=f"delimiter=&{list_type}prefix=")
        assert resp.status == 200, resp.body
        root = ET.fromstring(resp.body)
        got = [e.text for e in root.iter(f"{NS}Key")]
        assert got == sorted(KEYS)
        assert list(root.iter(f"{NS}CommonPrefixes")) == []
    # through boto3 as well (it serializes Delimiter="" as `delimiter=`)
    resp = s3.list_objects_v2(Bucket=tree, Delimiter="")
    assert keys_of(resp) == sorted(KEYS)
    assert prefixes_of(resp) == []


def test_v2_paging_small_max_keys(s3, tree):
    seen, token, pages = [], None, 0
    while True:
        kw = {"Bucket": tree, "MaxKeys": 2}
        if token:
            kw["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kw)
        pages += 1
        assert resp["MaxKeys"] == 2
        assert len(resp.get("Contents", [])) <= 2
        assert resp["KeyCount"] == len(resp.get("Contents", []))
        seen += keys_of(resp)
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            break
        token = resp["NextContinuationToken"]
        if token:
            assert resp.get("ContinuationToken") in (None, kw.get("ContinuationToken"))
        assert pages < 20
    assert seen == sorted(KEYS)
    assert pages == 6


def test_v2_paging_with_delimiter(s3, tree):
    upstream.skip_if_differs("directory-keys")
    # keys and common prefixes share the max-keys budget and the order
    entries, token = [], None
    for _ in range(20):
        kw = {"Bucket": tree, "MaxKeys": 1, "Delimiter": "/"}
        if token:
            kw["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kw)
        page = keys_of(resp) + prefixes_of(resp)
        assert len(page) == 1, resp
        entries += page
        if not resp["IsTruncated"]:
            break
        token = resp["NextContinuationToken"]
    assert entries == ["a", "a/", "b/", "c", "d/", "photos/", "zeta"]


def test_v2_start_after(s3, tree):
    upstream.skip_if_differs("directory-keys")
    resp = s3.list_objects_v2(Bucket=tree, StartAfter="b/x")
    assert keys_of(resp) == ["c", "d/e/f", "photos/2024/feb.jpg", "photos/2024/jan.jpg",
                             "photos/2025/mar.jpg", "zeta"]
    assert resp["StartAfter"] == "b/x"
    # start-after that is not a key
    assert keys_of(s3.list_objects_v2(Bucket=tree, StartAfter="photos/2025")) == [
        "photos/2025/mar.jpg", "zeta"]
    assert keys_of(s3.list_objects_v2(Bucket=tree, StartAfter="zeta")) == []
    # with a delimiter: a prefix group entirely <= start-after is skipped
    resp = s3.list_objects_v2(Bucket=tree, StartAfter="b/x", Delimiter="/")
    assert keys_of(resp) == ["c", "zeta"]
    assert prefixes_of(resp) == ["d/", "photos/"]


def test_v2_over_1000_keys(s3, many):
    name, keys = many
    first = s3.list_objects_v2(Bucket=name)
    assert first["IsTruncated"] is True
    assert first["KeyCount"] == 1000
    assert first["MaxKeys"] == 1000
    assert keys_of(first) == keys[:1000]
    second = s3.list_objects_v2(Bucket=name, ContinuationToken=first["NextContinuationToken"])
    assert second["IsTruncated"] is False
    assert second["KeyCount"] == 100
    assert keys_of(second) == keys[1000:]
    # a max-keys above 1000 is capped at 1000
    capped = s3.list_objects_v2(Bucket=name, MaxKeys=5000)
    assert len(capped["Contents"]) == 1000
    assert capped["IsTruncated"] is True
    # the paginator sees everything once
    pag = s3.get_paginator("list_objects_v2")
    allkeys = [o["Key"] for page in pag.paginate(Bucket=name, PaginationConfig={"PageSize": 333})
               for o in page.get("Contents", [])]
    assert allkeys == keys


def test_v1_over_1000_keys_with_marker(s3, many):
    name, keys = many
    first = s3.list_objects(Bucket=name)
    assert first["IsTruncated"] is True
    assert keys_of(first) == keys[:1000]
    assert first["MaxKeys"] == 1000
    second = s3.list_objects(Bucket=name, Marker=keys[999])
    assert second["IsTruncated"] is False
    assert keys_of(second) == keys[1000:]
    assert second["Marker"] == keys[999]


def test_v1_prefix_delimiter_marker(s3, tree):
    resp = s3.list_objects(Bucket=tree, Delimiter="/")
    assert keys_of(resp) == ["a", "c", "zeta"]
    assert prefixes_of(resp) == ["a/", "b/", "d/", "photos/"]
    assert resp["IsTruncated"] is False

    resp = s3.list_objects(Bucket=tree, Prefix="photos/2024/")
    assert keys_of(resp) == ["photos/2024/feb.jpg", "photos/2024/jan.jpg"]

    resp = s3.list_objects(Bucket=tree, Marker="c")
    assert keys_of(resp) == ["d/e/f", "photos/2024/feb.jpg", "photos/2024/jan.jpg",
                             "photos/2025/mar.jpg", "zeta"]

    # V1 lists owners by default
    assert all(o.get("Owner", {}).get("ID") for o in resp["Contents"])


def test_v1_next_marker_with_delimiter(s3, tree):
    upstream.skip_if_differs("directory-keys")
    # NextMarker is returned when truncated and a delimiter is given; it is the
    # last key or common prefix of the page.
    entries, marker = [], None
    for _ in range(20):
        kw = {"Bucket": tree, "MaxKeys": 3, "Delimiter": "/"}
        if marker:
            kw["Marker"] = marker
        resp = s3.list_objects(**kw)
        page = sorted(keys_of(resp) + prefixes_of(resp))
        assert len(page) <= 3
        entries += page
        if not resp["IsTruncated"]:
            break
        assert resp["NextMarker"] == page[-1]
        marker = resp["NextMarker"]
    assert entries == ["a", "a/", "b/", "c", "d/", "photos/", "zeta"]


def test_v1_paging_without_delimiter(s3, tree):
    seen, marker = [], ""
    for _ in range(20):
        resp = s3.list_objects(Bucket=tree, MaxKeys=4, Marker=marker)
        page = keys_of(resp)
        seen += page
        if not resp["IsTruncated"]:
            break
        marker = resp.get("NextMarker") or page[-1]
    assert seen == sorted(KEYS)


ODD_KEYS = [
    "space key/with space.txt",
    "plus+sign",
    "percent%41and%2F",
    "amp&lt;gt>quote\"apos'",
    "ünïcødé/日本語",
    "tab\there",
    "ctrl\x01char",
    "newline\nkey",
    "question?hash#",
    "tilde~star*",
]


def test_encoding_type_url(s3, bucket, server):
    fill(s3, bucket, ODD_KEYS)
    # boto3 always asks for encoding-type=url and decodes; keys come back exact
    assert keys_of(s3.list_objects_v2(Bucket=bucket)) == sorted(ODD_KEYS, key=lambda k: k.encode())
    assert keys_of(s3.list_objects(Bucket=bucket)) == sorted(ODD_KEYS, key=lambda k: k.encode())
    resp = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert prefixes_of(resp) == ["space key/", "ünïcødé/"]
    # odd characters in signed query parameters (prefix, start-after)
    assert keys_of(s3.list_objects_v2(Bucket=bucket, Prefix="space key/")) == \
        ["space key/with space.txt"]
    assert keys_of(s3.list_objects_v2(Bucket=bucket, Prefix="plus+")) == ["plus+sign"]
    assert keys_of(s3.list_objects_v2(Bucket=bucket, Prefix="ünïcødé/")) == ["ünïcødé/日本語"]
    assert keys_of(s3.list_objects_v2(Bucket=bucket, Prefix="amp&lt;")) == ["amp&lt;gt>quote\"apos'"]
    assert keys_of(s3.list_objects(Bucket=bucket, Prefix="percent%41")) == ["percent%41and%2F"]
    assert keys_of(s3.list_objects_v2(Bucket=bucket, StartAfter="tab\there")) == ["tilde~star*",
                                                                                  "ünïcødé/日本語"]

    # on the wire: every key is URL-encoded, decodable, and XML-safe
    for query in ("list-type=2&encoding-type=url", "encoding-type=url"):
        raw = raw_request(server, "GET", f"/{bucket}", query=query)
        assert raw.status == 200, raw.body
        root = ET.fromstring(raw.body)
        assert root.find(f"{NS}EncodingType").text == "url"
        wire = [e.text for e in root.iter(f"{NS}Key")]
        assert [urllib.parse.unquote_plus(k) for k in wire] == \
            sorted(ODD_KEYS, key=lambda k: k.encode())
        for k in wire:
            assert not re.search(r"[\x00-\x20\x7f]", k), f"unencoded control/space in {k!r}"

    # prefix and delimiter are echoed URL-encoded, too
    raw = raw_request(server, "GET", f"/{bucket}",
                      query="list-type=2&encoding-type=url&delimiter=%2F&prefix=space%20key%2F")
    root = ET.fromstring(raw.body)
    assert urllib.parse.unquote_plus(root.find(f"{NS}Prefix").text) == "space key/"
    assert [urllib.parse.unquote_plus(e.text) for e in root.iter(f"{NS}Key")] == \
        ["space key/with space.txt"]


def test_fetch_owner(s3, tree):
    plain = s3.list_objects_v2(Bucket=tree)
    assert all("Owner" not in o for o in plain["Contents"])
    owned = s3.list_objects_v2(Bucket=tree, FetchOwner=True)
    assert all(o["Owner"]["ID"] for o in owned["Contents"])


def test_list_empty_bucket(s3, bucket):
    resp = s3.list_objects_v2(Bucket=bucket)
    assert resp["KeyCount"] == 0
    assert "Contents" not in resp
    assert resp["IsTruncated"] is False
    resp = s3.list_objects(Bucket=bucket)
    assert "Contents" not in resp
    assert resp["IsTruncated"] is False


def test_invalid_continuation_token(s3, tree):
    upstream.skip_if_differs("continuation-token")
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=tree, ContinuationToken="definitely-not-a-token!!")
    assert client_error(e) == ("InvalidArgument", 400)


def test_list_object_versions_unversioned(s3, tree):
    upstream.skip_if_differs("directory-keys")
    resp = s3.list_object_versions(Bucket=tree)
    versions = resp["Versions"]
    assert [v["Key"] for v in versions] == sorted(KEYS)
    for v in versions:
        assert v["VersionId"] == "null"
        assert v["IsLatest"] is True
        assert v["Size"] == len(v["Key"].encode())
        assert v["ETag"] == '"%s"' % hashlib.md5(v["Key"].encode()).hexdigest()
    assert "DeleteMarkers" not in resp
    assert resp["IsTruncated"] is False

    resp = s3.list_object_versions(Bucket=tree, Prefix="photos/", Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["photos/2024/", "photos/2025/"]
    assert "Versions" not in resp

    # paging with key-marker
    resp = s3.list_object_versions(Bucket=tree, MaxKeys=4)
    assert [v["Key"] for v in resp["Versions"]] == sorted(KEYS)[:4]
    assert resp["IsTruncated"] is True
    assert resp["NextKeyMarker"] == sorted(KEYS)[3]
    rest = s3.list_object_versions(Bucket=tree, KeyMarker=resp["NextKeyMarker"])
    assert [v["Key"] for v in rest["Versions"]] == sorted(KEYS)[4:]

    # a deleted key is simply gone (no delete markers without versioning)
    s3.delete_object(Bucket=tree, Key="zeta")
    resp = s3.list_object_versions(Bucket=tree)
    assert "zeta" not in [v["Key"] for v in resp["Versions"]]
    assert "DeleteMarkers" not in resp
