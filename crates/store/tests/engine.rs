//! Engine tests: the store used directly, without HTTP. Each checks one promise the engine
//! makes in ARCHITECTURE.md (ordering, atomic replacement, readers keep their version,
//! group commit, start-up sweep, multipart without copies).

use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use futures::StreamExt as _;
use keyless_store::*;

fn body(data: &[u8]) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send + 'static {
    // Split into uneven chunks, as a network would.
    let chunks: Vec<Result<Bytes, std::io::Error>> = data.chunks(7919).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(chunks)
}

async fn put(store: &Store, bucket: &str, key: &str, data: &[u8]) -> ObjectInfo {
    let staged = store.stage(body(data), vec![]).await.unwrap();
    store
        .put_object(
            bucket,
            key,
            staged,
            ObjectMeta::default(),
            vec![],
            WriteCondition::default(),
        )
        .await
        .unwrap()
}

async fn get(store: &Store, bucket: &str, key: &str) -> Vec<u8> {
    let r = store.open_object(bucket, key).unwrap();
    let size = r.info.size;
    read_all(r.into_stream(0, size)).await
}

async fn read_all(s: impl futures::Stream<Item = std::io::Result<Bytes>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = std::pin::pin!(s);
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

fn blob_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("blobs"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum()
}

fn open(dir: &Path) -> Store {
    let opts = StoreOptions {
        min_part_size: 10,
        ..Default::default()
    };
    Store::open(dir, opts).unwrap().0
}

fn data(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn put_get_overwrite_delete_frees_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("bk1").await.unwrap();
    let a = data(1, 3_000_000);
    let info = put(&store, "bk1", "k", &a).await;
    assert_eq!(info.size, a.len() as u64);
    assert_eq!(get(&store, "bk1", "k").await, a);
    assert_eq!(blob_files(dir.path()), 1);
    let b = data(2, 10);
    put(&store, "bk1", "k", &b).await;
    assert_eq!(get(&store, "bk1", "k").await, b);
    assert_eq!(
        blob_files(dir.path()),
        1,
        "the overwritten bytes are unlinked after the commit"
    );
    assert!(
        store
            .delete_object("bk1", "k", WriteCondition::default())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(blob_files(dir.path()), 0);
    assert!(matches!(store.head_object("bk1", "k"), Err(StoreError::NoSuchKey)));
    assert!(
        store
            .delete_object("bk1", "k", WriteCondition::default())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn keys_are_never_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("odd").await.unwrap();
    let long = "é".repeat(512);
    let keys = [
        "a",
        "a/b",
        "../x",
        "%2e%2e",
        "/lead",
        "a//b",
        "../../../../etc/passwd",
        long.as_str(),
        "\u{10FFFF}",
    ];
    for (i, k) in keys.iter().enumerate() {
        put(&store, "odd", k, &data(i as u8, 100 + i)).await;
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(get(&store, "odd", k).await, data(i as u8, 100 + i), "{k:?}");
    }
    // Nothing outside the store's own layout was created.
    let names: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        ["blobs", "meta.redb", "tmp"].into_iter().map(String::from).collect()
    );
    let too_long = "x".repeat(1025);
    let staged = store.stage(body(b"x"), vec![]).await.unwrap();
    let r = store
        .put_object(
            "odd",
            &too_long,
            staged,
            ObjectMeta::default(),
            vec![],
            WriteCondition::default(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::InvalidArgument(_))));
}

#[tokio::test]
async fn bucket_rules() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for bad in [
        "ab",
        "Upper",
        "a..b",
        "-ab",
        "ab-",
        "192.168.1.1",
        "xn--abc",
        "a_b",
        &"a".repeat(64),
    ] {
        assert!(
            matches!(store.create_bucket(bad).await, Err(StoreError::InvalidBucketName(..))),
            "{bad}"
        );
    }
    store.create_bucket("good.name-1").await.unwrap();
    assert!(matches!(
        store.create_bucket("good.name-1").await,
        Err(StoreError::BucketAlreadyOwnedByYou(_))
    ));
    put(&store, "good.name-1", "k", b"x").await;
    assert!(matches!(
        store.delete_bucket("good.name-1").await,
        Err(StoreError::BucketNotEmpty(_))
    ));
    store
        .delete_object("good.name-1", "k", WriteCondition::default())
        .await
        .unwrap();
    let up = store
        .create_upload("good.name-1", "k", ObjectMeta::default(), vec![], None)
        .await
        .unwrap();
    assert!(
        matches!(
            store.delete_bucket("good.name-1").await,
            Err(StoreError::BucketNotEmpty(_))
        ),
        "an open upload keeps the bucket"
    );
    store.abort_upload("good.name-1", "k", &up.upload_id).await.unwrap();
    store.delete_bucket("good.name-1").await.unwrap();
    assert!(matches!(
        store.delete_bucket("good.name-1").await,
        Err(StoreError::NoSuchBucket(_))
    ));
    assert!(store.list_buckets().unwrap().is_empty());
}

/// Listing against a naive model over the same keys, for many queries; pages are walked to
/// the end and must concatenate to exactly the model's answer.
#[tokio::test]
async fn listing_matches_a_naive_model() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("list").await.unwrap();
    let keys: Vec<String> = [
        "a",
        "a/",
        "a/b",
        "a/b/c",
        "a/c",
        "a//d",
        "ab",
        "b/1",
        "b/2",
        "b/3/x",
        "cc1",
        "photos/2024/jan/1.jpg",
        "photos/2024/feb/2.jpg",
        "photos/2025/x.jpg",
        "z\u{10FFFF}",
        "z\u{10FFFF}/q",
        "é/1",
        "é/2",
        "-",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for k in &keys {
        put(&store, "list", k, b"").await;
    }
    let model = |prefix: &str, delim: Option<&str>| -> Vec<String> {
        // Entries in order: keys as "K:key", prefixes as "P:prefix".
        let mut out: Vec<String> = Vec::new();
        let mut sorted = keys.clone();
        sorted.sort();
        for k in sorted.iter().filter(|k| k.starts_with(prefix)) {
            match delim.and_then(|d| k[prefix.len()..].find(d).map(|i| &k[..prefix.len() + i + d.len()])) {
                Some(cp) => {
                    let e = format!("P:{cp}");
                    if out.last() != Some(&e) {
                        out.push(e)
                    }
                }
                None => out.push(format!("K:{k}")),
            }
        }
        out
    };
    for prefix in ["", "a", "a/", "b/", "photos/", "photos/2024/", "z", "é", "nothing"] {
        for delim in [None, Some("/"), Some("b"), Some("//")] {
            for max_keys in [1, 2, 3, 1000] {
                let mut got = Vec::new();
                let mut start_after = None;
                for _round in 0..100 {
                    let q = ListQuery {
                        prefix: prefix.into(),
                        delimiter: delim.map(String::from),
                        start_after: start_after.clone(),
                        max_keys,
                    };
                    let page = store.list_objects("list", &q).unwrap();
                    assert!(page.objects.len() + page.common_prefixes.len() <= max_keys);
                    // Merge the page's keys and prefixes in order.
                    let mut entries: Vec<String> = page.objects.iter().map(|o| format!("K:{}", o.key)).collect();
                    entries.extend(page.common_prefixes.iter().map(|p| format!("P:{p}")));
                    entries.sort_by(|x, y| x[2..].cmp(&y[2..]));
                    got.extend(entries);
                    if !page.is_truncated {
                        break;
                    }
                    start_after = Some(page.next_marker.expect("a truncated page has a marker"));
                }
                assert_eq!(
                    got,
                    model(prefix, delim),
                    "prefix={prefix:?} delim={delim:?} max_keys={max_keys}"
                );
            }
        }
    }
}

/// A reader that started before an overwrite keeps streaming the old bytes; they are unlinked
/// when it finishes.
#[tokio::test]
async fn reader_keeps_its_version_across_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("rdr").await.unwrap();
    let old = data(3, 5_000_000);
    put(&store, "rdr", "k", &old).await;
    let reader = store.open_object("rdr", "k").unwrap();
    let mut stream = Box::pin(reader.into_stream(0, u64::MAX));
    let first = stream.next().await.unwrap().unwrap();
    let new = data(4, 1234);
    put(&store, "rdr", "k", &new).await;
    assert_eq!(blob_files(dir.path()), 2, "the old blob waits for its reader");
    let mut got = first.to_vec();
    while let Some(c) = stream.next().await {
        got.extend_from_slice(&c.unwrap());
    }
    assert_eq!(got, old);
    drop(stream);
    assert_eq!(
        blob_files(dir.path()),
        1,
        "the old blob is unlinked when its last reader is done"
    );
    assert_eq!(get(&store, "rdr", "k").await, new);
}

/// Concurrent writers to one key: the last commit wins whole; writers to many keys share commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_are_atomic_and_group_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("cc1").await.unwrap();
    let (b0, o0) = store.commit_stats();
    let mut tasks = Vec::new();
    for i in 0..64u8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            put(&s, "cc1", "same", &data(i, 20_000 + i as usize)).await;
            put(&s, "cc1", &format!("k{i}"), &data(i, 100)).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = get(&store, "cc1", "same").await;
    let i = (got.len() - 20_000) as u8;
    assert_eq!(
        got,
        data(i, 20_000 + i as usize),
        "the surviving body is one writer's, whole"
    );
    let (b1, o1) = store.commit_stats();
    assert_eq!(o1 - o0, 128);
    assert!(
        b1 - b0 < 128,
        "{} commits for 128 writes: group commit shares fsyncs",
        b1 - b0
    );
    assert_eq!(blob_files(dir.path()), 65);
}

#[tokio::test]
async fn conditions_are_checked_in_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("www").await.unwrap();
    let star = WriteCondition {
        if_none_match_star: true,
        ..Default::default()
    };
    let staged = store.stage(body(b"one"), vec![]).await.unwrap();
    let first = store
        .put_object("www", "k", staged, ObjectMeta::default(), vec![], star.clone())
        .await
        .unwrap();
    let staged = store.stage(body(b"two"), vec![]).await.unwrap();
    let r = store
        .put_object("www", "k", staged, ObjectMeta::default(), vec![], star)
        .await;
    assert!(matches!(r, Err(StoreError::PreconditionFailed)));
    assert_eq!(get(&store, "www", "k").await, b"one");
    let wrong = WriteCondition {
        if_match: Some("\"0000\"".into()),
        ..Default::default()
    };
    let staged = store.stage(body(b"three"), vec![]).await.unwrap();
    assert!(matches!(
        store
            .put_object("www", "k", staged, ObjectMeta::default(), vec![], wrong)
            .await,
        Err(StoreError::PreconditionFailed)
    ));
    let right = WriteCondition {
        if_match: Some(format!("\"{}\"", first.etag)),
        ..Default::default()
    };
    let staged = store.stage(body(b"four"), vec![]).await.unwrap();
    store
        .put_object("www", "k", staged, ObjectMeta::default(), vec![], right)
        .await
        .unwrap();
    assert_eq!(get(&store, "www", "k").await, b"four");
    assert_eq!(blob_files(dir.path()), 1, "refused writes leave no blob behind");
    assert!(std::fs::read_dir(dir.path().join("tmp")).unwrap().next().is_none());
}

#[tokio::test]
async fn digests_are_verified_by_the_caller_before_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let staged = store
        .stage(
            body(b"hello world"),
            vec![ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Sha256],
        )
        .await
        .unwrap();
    let d = staged.digests();
    assert_eq!(d.md5_hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert!(d.check_content_md5("XrY7u+Ae7tCTyyK7j1rNww==").is_ok());
    assert!(matches!(
        d.check_content_md5("AAAAAAAAAAAAAAAAAAAAAA=="),
        Err(StoreError::BadDigest { .. })
    ));
    assert!(matches!(
        d.check_content_md5("not base64"),
        Err(StoreError::InvalidDigest(_))
    ));
    let claim = |crc: &str| Checksums {
        crc32: Some(crc.into()),
        ..Default::default()
    };
    assert!(d.check_checksums(&claim("DUoRhQ==")).is_ok());
    assert!(matches!(
        d.check_checksums(&claim("AAAAAA==")),
        Err(StoreError::BadDigest { .. })
    ));
    assert!(matches!(
        d.check_checksums(&claim("AAAA")),
        Err(StoreError::InvalidDigest(_))
    ));
    drop(staged);
    assert!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().next().is_none(),
        "a dropped staged blob is deleted"
    );
}

#[tokio::test]
async fn too_large_bodies_are_refused_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        StoreOptions {
            max_object_size: 1000,
            ..Default::default()
        },
    )
    .unwrap()
    .0;
    let r = store.stage(body(&[0u8; 1001]), vec![]).await;
    assert!(matches!(r, Err(StoreError::EntityTooLarge { limit: 1000 })));
    assert!(std::fs::read_dir(dir.path().join("tmp")).unwrap().next().is_none());
}

#[tokio::test]
async fn multipart_complete_moves_parts_without_copying() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("mpu").await.unwrap();
    let up = store
        .create_upload(
            "mpu",
            "big",
            ObjectMeta::default(),
            vec![],
            Some(UploadChecksum {
                algorithm: ChecksumAlgorithm::Crc32,
                full_object: false,
            }),
        )
        .await
        .unwrap();
    let parts = [data(1, 100), data(2, 200), data(3, 5)];
    let mut listed = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let staged = store.stage(body(p), vec![ChecksumAlgorithm::Crc32]).await.unwrap();
        let info = store
            .put_part("mpu", "big", &up.upload_id, i as u32 + 1, staged)
            .await
            .unwrap();
        listed.push(CompletePart {
            part_number: i as u32 + 1,
            etag: format!("\"{}\"", info.etag),
            checksums: Checksums::default(),
        });
    }
    // An extra part that Complete does not list is freed.
    let staged = store.stage(body(&data(9, 50)), vec![]).await.unwrap();
    store.put_part("mpu", "big", &up.upload_id, 7, staged).await.unwrap();
    assert_eq!(blob_files(dir.path()), 4);
    let page = store.list_parts("mpu", "big", &up.upload_id, 0, 2).unwrap();
    assert_eq!(page.parts.iter().map(|p| p.part_number).collect::<Vec<_>>(), [1, 2]);
    assert!(page.is_truncated);

    let mut bad = listed.clone();
    bad[1].etag = "\"ffff\"".into();
    assert!(matches!(
        store
            .complete_upload(
                "mpu",
                "big",
                &up.upload_id,
                bad,
                ObjectClaims::default(),
                WriteCondition::default()
            )
            .await,
        Err(StoreError::InvalidPart { part_number: 2, .. })
    ));
    let mut bad = listed.clone();
    bad.swap(0, 1);
    assert!(matches!(
        store
            .complete_upload(
                "mpu",
                "big",
                &up.upload_id,
                bad,
                ObjectClaims::default(),
                WriteCondition::default()
            )
            .await,
        Err(StoreError::InvalidPartOrder)
    ));

    let info = store
        .complete_upload(
            "mpu",
            "big",
            &up.upload_id,
            listed,
            ObjectClaims::default(),
            WriteCondition::default(),
        )
        .await
        .unwrap();
    assert!(info.etag.ends_with("-3"), "{}", info.etag);
    assert_eq!(info.part_sizes.as_deref(), Some(&[100, 200, 5][..]));
    assert!(info.checksums.crc32.as_deref().is_some_and(|c| c.ends_with("-3")));
    assert_eq!(
        blob_files(dir.path()),
        3,
        "the parts became the object; the unlisted part was freed"
    );
    assert_eq!(get(&store, "mpu", "big").await, parts.concat());
    assert_eq!(info.part_range(2), Some((100, 300)));
    assert!(matches!(
        store.get_upload("mpu", "big", &up.upload_id),
        Err(StoreError::NoSuchUpload)
    ));
}

#[tokio::test]
async fn entity_too_small_names_the_part() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap().0;
    store.create_bucket("mpu").await.unwrap();
    let up = store
        .create_upload("mpu", "k", ObjectMeta::default(), vec![], None)
        .await
        .unwrap();
    let mut listed = Vec::new();
    for n in 1..=2 {
        let staged = store.stage(body(b"tiny"), vec![]).await.unwrap();
        let p = store.put_part("mpu", "k", &up.upload_id, n, staged).await.unwrap();
        listed.push(CompletePart {
            part_number: n,
            etag: p.etag,
            checksums: Checksums::default(),
        });
    }
    let r = store
        .complete_upload(
            "mpu",
            "k",
            &up.upload_id,
            listed,
            ObjectClaims::default(),
            WriteCondition::default(),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::EntityTooSmall {
                part_number: 1,
                size: 4,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn restart_sweeps_temp_files_and_orphans() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.create_bucket("swp").await.unwrap();
        put(&store, "swp", "keep", b"kept bytes").await;
    }
    // What a crash can leave: a half-written temp file, and a blob renamed into place whose
    // metadata commit never happened.
    std::fs::write(dir.path().join("tmp").join("0123"), b"partial").unwrap();
    let orphan = dir
        .path()
        .join("blobs")
        .join("ab")
        .join(format!("{:032x}", 0xab_u128 << 120));
    std::fs::write(&orphan, b"never committed").unwrap();
    let (store, rec) = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(
        rec,
        Recovery {
            temp_files_removed: 1,
            orphan_blobs_removed: 1,
            objects: 1,
            damaged: None,
        }
    );
    assert!(!orphan.exists());
    assert_eq!(get(&store, "swp", "keep").await, b"kept bytes");
}

fn checksum_of(a: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut h = digest::Hasher::new([a]);
    h.update(data);
    h.finish().checksums.get(a).unwrap().to_owned()
}

/// The COMPOSITE value of parts: `a` over their raw checksums, then `-N`.
fn composite_of(a: ChecksumAlgorithm, parts: &[Vec<u8>]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw: Vec<u8> = parts
        .iter()
        .flat_map(|p| b64.decode(checksum_of(a, p)).unwrap())
        .collect();
    format!("{}-{}", checksum_of(a, &raw), parts.len())
}

/// Every kind of upload checksum, with and without claims at Complete: what the object gets
/// (the algorithm, its value, COMPOSITE or not) or the error. Parts are staged without any
/// algorithm unless the case says so: the store computes the upload's algorithm for each.
#[tokio::test]
async fn multipart_checksums_are_formed_and_claims_checked() {
    use ChecksumAlgorithm::*;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("sums").await.unwrap();
    let parts = [data(1, 100), data(2, 200), data(3, 5)];
    let whole = parts.concat();
    let comp = |algorithm| {
        Some(UploadChecksum {
            algorithm,
            full_object: false,
        })
    };
    let full = |algorithm| {
        Some(UploadChecksum {
            algorithm,
            full_object: true,
        })
    };
    let claim = |a, v: String| ObjectClaims {
        size: None,
        checksum: Some((a, v)),
    };
    let none = ObjectClaims::default();
    #[derive(Debug, PartialEq, Eq)]
    enum Want {
        Nothing,
        Composite(ChecksumAlgorithm, String),
        Full(ChecksumAlgorithm, String),
        BadDigest,
        InvalidRequest,
    }
    type Case = (
        &'static str,
        Option<UploadChecksum>,
        Vec<ChecksumAlgorithm>,
        ObjectClaims,
        Want,
    );
    let cases: Vec<Case> = vec![
        ("no checksum", None, vec![], none.clone(), Want::Nothing),
        (
            "composite crc32",
            comp(Crc32),
            vec![],
            none.clone(),
            Want::Composite(Crc32, composite_of(Crc32, &parts)),
        ),
        (
            "composite sha256, claimed",
            comp(Sha256),
            vec![Sha256],
            claim(Sha256, composite_of(Sha256, &parts)),
            Want::Composite(Sha256, composite_of(Sha256, &parts)),
        ),
        (
            "composite crc32c, wrong claim",
            comp(Crc32c),
            vec![],
            claim(Crc32c, composite_of(Crc32c, &parts[..2])),
            Want::BadDigest,
        ),
        (
            "composite sha1, other algorithm claimed",
            comp(Sha1),
            vec![],
            claim(Sha256, composite_of(Sha256, &parts)),
            Want::InvalidRequest,
        ),
        (
            "composite crc32, full-object claim",
            comp(Crc32),
            vec![],
            claim(Crc32, checksum_of(Crc32, &whole)),
            Want::InvalidRequest,
        ),
        (
            "full-object crc32c",
            full(Crc32c),
            vec![],
            none.clone(),
            Want::Full(Crc32c, checksum_of(Crc32c, &whole)),
        ),
        (
            "full-object crc64nvme, claimed",
            full(Crc64Nvme),
            vec![Crc64Nvme, Sha1],
            claim(Crc64Nvme, checksum_of(Crc64Nvme, &whole)),
            Want::Full(Crc64Nvme, checksum_of(Crc64Nvme, &whole)),
        ),
        (
            "full-object crc32, wrong claim",
            full(Crc32),
            vec![],
            claim(Crc32, checksum_of(Crc32, b"other bytes")),
            Want::BadDigest,
        ),
        (
            "full-object crc32, composite claim",
            full(Crc32),
            vec![],
            claim(Crc32, composite_of(Crc32, &parts)),
            Want::InvalidRequest,
        ),
        (
            "no upload checksum, full-object claim over part crcs",
            None,
            vec![Crc32],
            claim(Crc32, checksum_of(Crc32, &whole)),
            Want::Full(Crc32, checksum_of(Crc32, &whole)),
        ),
        (
            "no upload checksum, parts without the claimed crc",
            None,
            vec![],
            claim(Crc32, checksum_of(Crc32, &whole)),
            Want::InvalidRequest,
        ),
        (
            "no upload checksum, sha256 full-object claim",
            None,
            vec![Sha256],
            claim(Sha256, checksum_of(Sha256, &whole)),
            Want::InvalidRequest,
        ),
        (
            "no upload checksum, composite claim",
            None,
            vec![Crc32],
            claim(Crc32, composite_of(Crc32, &parts)),
            Want::InvalidRequest,
        ),
        (
            "size claimed right",
            None,
            vec![],
            ObjectClaims {
                size: Some(305),
                checksum: None,
            },
            Want::Nothing,
        ),
        (
            "size claimed wrong",
            full(Crc32),
            vec![],
            ObjectClaims {
                size: Some(304),
                checksum: None,
            },
            Want::InvalidRequest,
        ),
    ];
    for (name, kind, staged_with, claims, want) in cases {
        let up = store
            .create_upload("sums", name, ObjectMeta::default(), vec![], kind)
            .await
            .unwrap();
        assert_eq!(up.checksum, kind, "{name}");
        let mut listed = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let n = i as u32 + 1;
            let staged = store.stage(body(p), staged_with.clone()).await.unwrap();
            let info = store.put_part("sums", name, &up.upload_id, n, staged).await.unwrap();
            if let Some(k) = kind {
                assert_eq!(
                    info.checksums.get(k.algorithm),
                    Some(checksum_of(k.algorithm, p).as_str()),
                    "{name}: every part has the upload's checksum"
                );
            }
            listed.push(CompletePart {
                part_number: n,
                etag: info.etag,
                checksums: Checksums::default(),
            });
        }
        let r = store
            .complete_upload("sums", name, &up.upload_id, listed, claims, WriteCondition::default())
            .await;
        let got = match r {
            Ok(info) => {
                assert_eq!(
                    store.head_object("sums", name).unwrap().checksums,
                    info.checksums,
                    "{name}: stored"
                );
                match info.checksums.algorithms().next() {
                    Some(a) => {
                        let per_part: Vec<Option<String>> = info
                            .part_checksums
                            .iter()
                            .flatten()
                            .map(|c| c.get(a).map(str::to_owned))
                            .collect();
                        let want: Vec<Option<String>> = parts.iter().map(|p| Some(checksum_of(a, p))).collect();
                        assert_eq!(per_part, want, "{name}: each part's checksum is kept");
                        assert_eq!(info.part_checksums(2).and_then(|c| c.get(a)), want[1].as_deref());
                    }
                    None => assert_eq!(info.part_checksums, None, "{name}"),
                }
                let c = info.checksums;
                match c.algorithms().next() {
                    None => Want::Nothing,
                    Some(a) if c.composite_parts == Some(3) => Want::Composite(a, c.get(a).unwrap().to_owned()),
                    Some(a) if c.composite_parts.is_none() => Want::Full(a, c.get(a).unwrap().to_owned()),
                    Some(_) => panic!("{name}: {c:?}"),
                }
            }
            Err(StoreError::BadDigest { .. }) => Want::BadDigest,
            Err(StoreError::InvalidRequest(_)) => Want::InvalidRequest,
            Err(e) => panic!("{name}: {e}"),
        };
        let refused = matches!(want, Want::BadDigest | Want::InvalidRequest);
        assert_eq!(got, want, "{name}");
        if refused {
            assert!(
                store.get_upload("sums", name, &up.upload_id).is_ok(),
                "{name}: a refused Complete leaves the upload"
            );
        }
    }
    let sha_full = store
        .create_upload("sums", "x", ObjectMeta::default(), vec![], full(Sha1))
        .await;
    assert!(matches!(sha_full, Err(StoreError::InvalidRequest(_))), "{sha_full:?}");
}

/// ListMultipartUploads over the `(bucket, key, upload id)` index, paged with the key and
/// upload-id markers, against a naive model: every upload sorted by key, then initiation.
#[tokio::test]
async fn upload_listing_matches_a_naive_model() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("ups").await.unwrap();
    store.create_bucket("ups-other").await.unwrap();
    // Some keys have several uploads.
    let keys = [
        "a",
        "a/",
        "a/b",
        "a/b",
        "a/b/c",
        "a/c",
        "a//d",
        "ab",
        "b/1",
        "b/1",
        "b/1",
        "b/2",
        "b/3/x",
        "cc1",
        "photos/2024/jan/1.jpg",
        "photos/2025/x.jpg",
        "z\u{10FFFF}",
        "z\u{10FFFF}/q",
        "é/1",
        "é/1",
        "-",
    ];
    let mut all: Vec<(String, String, std::time::SystemTime)> = Vec::new();
    for k in keys {
        let up = store
            .create_upload("ups", k, ObjectMeta::default(), vec![], None)
            .await
            .unwrap();
        all.push((k.to_owned(), up.upload_id, up.initiated));
    }
    // Uploads of other buckets never show.
    for k in ["a", "b/1", "zz"] {
        store
            .create_upload("ups-other", k, ObjectMeta::default(), vec![], None)
            .await
            .unwrap();
    }
    // S3's order: by key, then by initiation; upload ids sort that way.
    let mut by_time = all.clone();
    by_time.sort_by(|x, y| (&x.0, x.2).cmp(&(&y.0, y.2)));
    all.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
    assert_eq!(
        all.iter().map(|u| &u.1).collect::<Vec<_>>(),
        by_time.iter().map(|u| &u.1).collect::<Vec<_>>()
    );
    let model = |prefix: &str, delim: Option<&str>| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, id, _) in all.iter().filter(|u| u.0.starts_with(prefix)) {
            match delim.and_then(|d| k[prefix.len()..].find(d).map(|i| &k[..prefix.len() + i + d.len()])) {
                Some(cp) => {
                    let e = format!("P:{cp}");
                    if out.last() != Some(&e) {
                        out.push(e)
                    }
                }
                None => out.push(format!("U:{k}:{id}")),
            }
        }
        out
    };
    for prefix in ["", "a", "a/", "b/", "b/1", "photos/", "z", "é", "nothing"] {
        for delim in [None, Some("/"), Some("b"), Some("//")] {
            for max_uploads in [1, 2, 3, 1000] {
                let mut got = Vec::new();
                let (mut key_marker, mut upload_id_marker) = (None, None);
                for _round in 0..100 {
                    let q = ListUploadsQuery {
                        prefix: prefix.into(),
                        delimiter: delim.map(String::from),
                        key_marker: key_marker.clone(),
                        upload_id_marker: upload_id_marker.clone(),
                        max_uploads,
                    };
                    let page = store.list_uploads("ups", &q).unwrap();
                    assert!(page.uploads.len() + page.common_prefixes.len() <= max_uploads);
                    let mut entries: Vec<(String, String)> = page
                        .uploads
                        .iter()
                        .map(|u| (u.key.clone(), format!("U:{}:{}", u.key, u.upload_id)))
                        .collect();
                    entries.extend(page.common_prefixes.iter().map(|p| (p.clone(), format!("P:{p}"))));
                    entries.sort();
                    got.extend(entries.into_iter().map(|(_, e)| e));
                    if !page.is_truncated {
                        assert_eq!((page.next_key_marker, page.next_upload_id_marker), (None, None));
                        break;
                    }
                    key_marker = Some(page.next_key_marker.expect("a truncated page has a key marker"));
                    upload_id_marker = page.next_upload_id_marker;
                }
                assert_eq!(
                    got,
                    model(prefix, delim),
                    "prefix={prefix:?} delim={delim:?} max_uploads={max_uploads}"
                );
            }
        }
    }

    // The markers on their own: a key marker alone skips every upload of that key; an
    // upload-id marker without a key marker is ignored.
    let b1: Vec<&String> = all.iter().filter(|u| u.0 == "b/1").map(|u| &u.1).collect();
    let page = |km: Option<&str>, um: Option<&str>| {
        let q = ListUploadsQuery {
            prefix: "b/".into(),
            key_marker: km.map(String::from),
            upload_id_marker: um.map(String::from),
            max_uploads: 1000,
            ..Default::default()
        };
        let p = store.list_uploads("ups", &q).unwrap();
        p.uploads.iter().map(|u| u.key.clone()).collect::<Vec<_>>()
    };
    assert_eq!(page(Some("b/1"), None), ["b/2", "b/3/x"]);
    assert_eq!(page(Some("b/1"), Some(b1[0])), ["b/1", "b/1", "b/2", "b/3/x"]);
    assert_eq!(page(Some("b/1"), Some(b1[2])), ["b/2", "b/3/x"]);
    assert_eq!(page(None, Some(b1[2])), ["b/1", "b/1", "b/1", "b/2", "b/3/x"]);
    let zero = ListUploadsQuery {
        max_uploads: 0,
        ..Default::default()
    };
    assert!(store.list_uploads("ups", &zero).unwrap().uploads.is_empty());

    // Complete and abort take an upload out of the index.
    let (k, id, _) = &all[0];
    store.abort_upload("ups", k, id).await.unwrap();
    let q = ListUploadsQuery {
        prefix: k.clone(),
        max_uploads: 1000,
        ..Default::default()
    };
    assert!(
        store
            .list_uploads("ups", &q)
            .unwrap()
            .uploads
            .iter()
            .all(|u| &u.upload_id != id)
    );
    let up = &all.iter().find(|u| u.0 == "cc1").unwrap().1;
    let staged = store.stage(body(b"part"), vec![]).await.unwrap();
    let p = store.put_part("ups", "cc1", up, 1, staged).await.unwrap();
    let listed = vec![CompletePart {
        part_number: 1,
        etag: p.etag,
        checksums: Checksums::default(),
    }];
    store
        .complete_upload(
            "ups",
            "cc1",
            up,
            listed,
            ObjectClaims::default(),
            WriteCondition::default(),
        )
        .await
        .unwrap();
    let q = ListUploadsQuery {
        prefix: "cc".into(),
        max_uploads: 1000,
        ..Default::default()
    };
    assert!(store.list_uploads("ups", &q).unwrap().uploads.is_empty());
}

/// DeleteObjects: many keys, each with its own If-Match, in one transaction; each key gets its
/// own result and only the keys whose condition held are gone.
#[tokio::test]
async fn batch_deletes_are_conditional_per_key_and_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_bucket("del").await.unwrap();
    let mut etags = std::collections::HashMap::new();
    for k in ["a", "b", "c", "d"] {
        etags.insert(k, put(&store, "del", k, k.as_bytes()).await.etag);
    }
    assert_eq!(blob_files(dir.path()), 4);
    let if_match = |e: &str| WriteCondition {
        if_match: Some(e.to_owned()),
        if_none_match_star: false,
    };
    let none = WriteCondition::default;
    #[derive(Debug, PartialEq, Eq)]
    enum Want {
        Ok,
        PreconditionFailed,
        NoSuchKey,
        InvalidArgument,
    }
    let cases: Vec<(&str, WriteCondition, Want)> = vec![
        ("a", none(), Want::Ok),
        ("b", if_match(&format!("\"{}\"", etags["b"])), Want::Ok),
        (
            "c",
            if_match("\"0123456789abcdef0123456789abcdef\""),
            Want::PreconditionFailed,
        ),
        ("missing", none(), Want::Ok),
        ("missing2", if_match("*"), Want::NoSuchKey),
        ("d", if_match("*"), Want::Ok),
        ("", none(), Want::InvalidArgument),
        ("a", none(), Want::Ok),
        ("a", if_match(&etags["a"]), Want::NoSuchKey),
    ];
    let (batches_before, _) = store.commit_stats();
    let batch = cases.iter().map(|(k, c, _)| (k.to_string(), c.clone())).collect();
    let results = store.delete_objects("del", batch).await.unwrap();
    let (batches_after, _) = store.commit_stats();
    assert_eq!(batches_after - batches_before, 1, "one transaction for the whole batch");
    assert_eq!(results.len(), cases.len());
    for ((key, r), (want_key, _, want)) in results.iter().zip(&cases) {
        assert_eq!(key, want_key);
        let got = match r {
            Ok(()) => Want::Ok,
            Err(StoreError::PreconditionFailed) => Want::PreconditionFailed,
            Err(StoreError::NoSuchKey) => Want::NoSuchKey,
            Err(StoreError::InvalidArgument(_)) => Want::InvalidArgument,
            Err(e) => panic!("{key}: {e}"),
        };
        assert_eq!(&got, want, "{key:?}");
    }
    let left: Vec<String> = store
        .list_objects(
            "del",
            &ListQuery {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(left, ["c"], "only the key whose condition failed is left");
    assert_eq!(blob_files(dir.path()), 1, "the deleted objects' bytes are freed");
    assert!(matches!(
        store.delete_objects("nobucket", vec![("a".into(), none())]).await,
        Err(StoreError::NoSuchBucket(_))
    ));
}
