"""boto3: bucket operations — ListBuckets, CreateBucket, DeleteBucket,
HeadBucket, GetBucketLocation — and the S3 error codes each must return."""

import pytest
from botocore.exceptions import ClientError

import upstream
from conftest import client_error, empty_and_delete_bucket


def bucket_names(s3):
    return [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_create_head_locate_list_delete(s3, bucket_name):
    resp = s3.create_bucket(Bucket=bucket_name)
    try:
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert resp.get("Location") in (f"/{bucket_name}", None)

        head = s3.head_bucket(Bucket=bucket_name)
        assert head["ResponseMetadata"]["HTTPStatusCode"] == 200

        # us-east-1 is reported as an empty LocationConstraint.
        loc = s3.get_bucket_location(Bucket=bucket_name)
        assert loc.get("LocationConstraint") in (None, "")

        listed = s3.list_buckets()
        mine = [b for b in listed["Buckets"] if b["Name"] == bucket_name]
        assert len(mine) == 1
        assert mine[0]["CreationDate"] is not None
        assert listed["Owner"]["ID"]
        names = [b["Name"] for b in listed["Buckets"]]
        assert names == sorted(names), "ListBuckets is sorted by name"
    finally:
        s3.delete_bucket(Bucket=bucket_name)

    assert bucket_name not in bucket_names(s3)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket_name)
    assert client_error(e)[1] == 404


def test_create_bucket_with_us_east_1_constraint_body(s3, bucket_name):
    upstream.skip_if_differs("create-bucket-empty-configuration")
    # Some SDKs send an explicit (empty-region) CreateBucketConfiguration.
    s3.create_bucket(Bucket=bucket_name, CreateBucketConfiguration={})
    try:
        s3.head_bucket(Bucket=bucket_name)
    finally:
        s3.delete_bucket(Bucket=bucket_name)


@pytest.mark.parametrize("name", [
    "ab",                      # too short
    "a" * 64,                  # too long
    "UpperCase",               # upper case
    "under_score",             # underscore
    "-leading-dash",
    "trailing-dash-",
    ".leading-dot",
    "trailing-dot.",
    "double..dot",
    "192.168.5.4",             # formatted as an IP address
    "xn--punycode-prefix",     # reserved prefix
    "name-s3alias",            # reserved suffix
])
def test_create_bucket_invalid_name(s3, name):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert client_error(e) == ("InvalidBucketName", 400)
    assert name not in bucket_names(s3)


def test_create_existing_bucket(s3, bucket):
    upstream.skip_if_differs("create-own-bucket-again")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket)
    assert client_error(e) == ("BucketAlreadyOwnedByYou", 409)
    # and the bucket is still there, with its content
    s3.head_bucket(Bucket=bucket)


def test_delete_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep/me", Body=b"still here")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert client_error(e) == ("BucketNotEmpty", 409)
    assert s3.get_object(Bucket=bucket, Key="keep/me")["Body"].read() == b"still here"
    assert bucket in bucket_names(s3)


def test_delete_bucket_after_emptying(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    s3.put_object(Bucket=bucket_name, Key="x", Body=b"x")
    s3.delete_object(Bucket=bucket_name, Key="x")
    s3.delete_bucket(Bucket=bucket_name)
    assert bucket_name not in bucket_names(s3)
    # the name can be reused, and the new bucket is empty
    s3.create_bucket(Bucket=bucket_name)
    try:
        assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 0
    finally:
        empty_and_delete_bucket(s3, bucket_name)


def test_missing_bucket_errors(s3, bucket_name):
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket_name)
    assert client_error(e) == ("NoSuchBucket", 404)

    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket_name)
    assert client_error(e)[1] == 404

    with pytest.raises(ClientError) as e:
        s3.get_bucket_location(Bucket=bucket_name)
    assert client_error(e) == ("NoSuchBucket", 404)

    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket_name)
    assert client_error(e) == ("NoSuchBucket", 404)

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket_name, Key="k", Body=b"data")
    assert client_error(e) == ("NoSuchBucket", 404)

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket_name, Key="k")
    assert client_error(e) == ("NoSuchBucket", 404)

    # none of that created the bucket
    assert bucket_name not in bucket_names(s3)
