use super::*;
use crate::store::Store;

const A: &str = "111111111111";
const B: &str = "222222222222";

fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Store::open_sqlite(dir.path()).unwrap(), dir)
}

fn put(store: &Store, bucket: &str, key: &str, etag: &str) -> (Version, Freed) {
    store
        .write(|tx| {
            put_version(
                tx,
                bucket,
                key,
                NewVersion {
                    segments: vec![Segment {
                        blob: format!("blob-{key}-{etag}"),
                        len: 1,
                    }],
                    size: 1,
                    etag: etag.into(),
                    ..Default::default()
                },
                1,
            )
        })
        .unwrap()
}

fn mb(store: &Store, account: &str, name: &str) {
    store
        .write(|tx| create_bucket(tx, account, "us-east-1", name, None, 0))
        .unwrap();
}

#[test]
fn bucket_names_are_global_and_location_rules_hold() {
    let (s, _d) = store();
    mb(&s, A, "shared");
    let again = s.write(|tx| create_bucket(tx, A, "us-east-1", "shared", None, 0));
    assert!(
        !again.unwrap(),
        "us-east-1 re-create by the owner is a no-op"
    );
    let other = s.write(|tx| create_bucket(tx, B, "us-east-1", "shared", None, 0));
    assert_eq!(other.unwrap_err().code(), "BucketAlreadyExists");
    s.write(|tx| create_bucket(tx, A, "eu-west-1", "euro", Some("eu-west-1"), 0))
        .unwrap();
    let again = s.write(|tx| create_bucket(tx, A, "eu-west-1", "euro", Some("eu-west-1"), 0));
    assert_eq!(again.unwrap_err().code(), "BucketAlreadyOwnedByYou");
    let bad = s.write(|tx| create_bucket(tx, A, "eu-west-1", "x-y-z", None, 0));
    assert_eq!(
        bad.unwrap_err().code(),
        "IllegalLocationConstraintException"
    );
    let bad = s.write(|tx| create_bucket(tx, A, "us-east-1", "x-y-z", Some("us-east-1"), 0));
    assert_eq!(bad.unwrap_err().code(), "InvalidLocationConstraint");
    let names: Vec<String> = s
        .read(|tx| list_buckets(tx, A))
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["euro", "shared"]);
    assert!(s.read(|tx| list_buckets(tx, B)).unwrap().is_empty());
}

#[test]
fn unversioned_overwrite_frees_the_old_bytes_and_delete_needs_empty() {
    let (s, _d) = store();
    mb(&s, A, "bkt");
    put(&s, "bkt", "k", "\"1\"");
    let (_, freed) = put(&s, "bkt", "k", "\"2\"");
    assert_eq!(freed.0, ["blob-k-\"1\""]);
    let got = s.read(|tx| get_version(tx, "bkt", "k", None)).unwrap();
    assert_eq!(
        (got.etag.as_str(), got.version_id.as_str()),
        ("\"2\"", "null")
    );
    let e = s.write(|tx| delete_bucket(tx, "bkt")).unwrap_err();
    assert_eq!(e.code(), "BucketNotEmpty");
    let (_, freed) = s
        .write(|tx| delete_object(tx, "bkt", "k", None, 2))
        .unwrap();
    assert_eq!(freed.0.len(), 1);
    s.write(|tx| delete_bucket(tx, "bkt")).unwrap();
    let e = s.read(|tx| get_version(tx, "bkt", "k", None)).unwrap_err();
    assert_eq!(e.code(), "NoSuchBucket");
    mb(&s, B, "bkt");
}

#[test]
fn versions_delete_markers_and_their_removal() {
    let (s, _d) = store();
    mb(&s, A, "ver");
    s.write(|tx| put_versioning(tx, "ver", Versioning::Enabled))
        .unwrap();
    let (v1, _) = put(&s, "ver", "k", "\"1\"");
    let (_, freed) = put(&s, "ver", "k", "\"2\"");
    assert!(freed.0.is_empty(), "versions keep their bytes");
    let old = s
        .read(|tx| get_version(tx, "ver", "k", Some(&v1.version_id)))
        .unwrap();
    assert_eq!(old.etag, "\"1\"");
    let (marker, _) = s
        .write(|tx| delete_object(tx, "ver", "k", None, 3))
        .unwrap();
    assert!(marker.delete_marker);
    let e = s.read(|tx| get_version(tx, "ver", "k", None)).unwrap_err();
    assert_eq!(e.code(), "NoSuchKey");
    let marker_id = marker.version_id.unwrap();
    let e = s
        .read(|tx| get_version(tx, "ver", "k", Some(&marker_id)))
        .unwrap_err();
    assert_eq!(e.code(), "MethodNotAllowed");
    let listing = s
        .read(|tx| {
            list_objects(
                tx,
                "ver",
                &ListRequest {
                    max_keys: 1000,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert!(listing.objects.is_empty(), "a delete marker hides the key");
    let versions = s
        .read(|tx| {
            list_versions(
                tx,
                "ver",
                &VersionListRequest {
                    max_keys: 1000,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(versions.versions.len(), 3);
    assert!(versions.versions[0].1.delete_marker && versions.versions[0].2);
    let (removed, _) = s
        .write(|tx| delete_object(tx, "ver", "k", Some(&marker_id), 4))
        .unwrap();
    assert!(removed.delete_marker);
    let now = s.read(|tx| get_version(tx, "ver", "k", None)).unwrap();
    assert_eq!(now.etag, "\"2\"", "removing the marker brings the key back");
    let e = s.write(|tx| put_versioning(tx, "ver", Versioning::Unversioned));
    assert_eq!(e.unwrap_err().code(), "MalformedXML");
}

fn list(
    s: &Store,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> Listing {
    s.read(|tx| {
        list_objects(
            tx,
            "lst",
            &ListRequest {
                prefix,
                delimiter,
                after,
                max_keys: max,
            },
        )
    })
    .unwrap()
}

#[test]
fn listings_roll_up_prefixes_and_resume() {
    let (s, _d) = store();
    mb(&s, A, "lst");
    mb(&s, A, "lst-other");
    for k in ["a.txt", "dir/1", "dir/2", "dir/sub/3", "e.txt", "z/1"] {
        put(&s, "lst", k, "\"e\"");
    }
    put(&s, "lst-other", "a.txt", "\"e\"");
    let all = list(&s, "", None, None, 1000);
    let keys: Vec<&str> = all.objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["a.txt", "dir/1", "dir/2", "dir/sub/3", "e.txt", "z/1"]
    );
    let top = list(&s, "", Some("/"), None, 1000);
    let keys: Vec<&str> = top.objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a.txt", "e.txt"]);
    assert_eq!(top.common_prefixes, ["dir/", "z/"]);
    let dir = list(&s, "dir/", Some("/"), None, 1000);
    assert_eq!(dir.objects.len(), 2);
    assert_eq!(dir.common_prefixes, ["dir/sub/"]);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(&s, "", Some("/"), after.as_deref(), 2);
        seen.extend(page.objects.iter().map(|(k, _)| k.clone()));
        seen.extend(page.common_prefixes.iter().cloned());
        if !page.truncated {
            break;
        }
        after = page.last.clone();
    }
    seen.sort();
    assert_eq!(seen, ["a.txt", "dir/", "e.txt", "z/"]);
}

#[test]
fn multipart_completes_from_listed_parts_only() {
    let (s, _d) = store();
    mb(&s, A, "mpu");
    let up = s
        .write(|tx| create_upload(tx, "mpu", "big", ObjectMeta::default(), None, A, 0))
        .unwrap();
    let md5 = |b: u8| hex::encode([b; 16]);
    for (n, size) in [(1u32, MIN_PART_SIZE), (2, 10), (3, 1)] {
        let part = Part {
            blob: format!("p{n}"),
            size,
            etag: format!("\"{}\"", md5(n as u8)),
            last_modified: 0,
            checksums: Checksums::default(),
        };
        s.write(|tx| put_part(tx, "mpu", "big", &up.upload_id, n, part))
            .unwrap();
    }
    let e = s
        .write(|tx| {
            complete(
                tx,
                "mpu",
                "big",
                &up.upload_id,
                &[(2, md5(2)), (1, md5(1))],
                1,
            )
        })
        .unwrap_err();
    assert_eq!(e.code(), "InvalidPartOrder");
    let e = s
        .write(|tx| complete(tx, "mpu", "big", &up.upload_id, &[(1, md5(9))], 1))
        .unwrap_err();
    assert_eq!(e.code(), "InvalidPart");
    let e = s
        .write(|tx| {
            complete(
                tx,
                "mpu",
                "big",
                &up.upload_id,
                &[(2, md5(2)), (3, md5(3))],
                1,
            )
        })
        .unwrap_err();
    assert_eq!(e.code(), "EntityTooSmall");
    let (v, freed) = s
        .write(|tx| {
            complete(
                tx,
                "mpu",
                "big",
                &up.upload_id,
                &[(1, md5(1)), (2, md5(2))],
                1,
            )
        })
        .unwrap();
    assert_eq!(freed.0, ["p3"]);
    assert_eq!(v.size, MIN_PART_SIZE + 10);
    assert!(v.etag.ends_with("-2\""), "{}", v.etag);
    assert_eq!(v.parts, [MIN_PART_SIZE, 10]);
    let e = s
        .write(|tx| abort(tx, "mpu", "big", &up.upload_id))
        .unwrap_err();
    assert_eq!(e.code(), "NoSuchUpload");
}

#[test]
fn sweep_keeps_what_records_name() {
    let (s, d) = store();
    let blobs = BlobStore::open(d.path()).unwrap();
    mb(&s, A, "swp");
    let t = blobs.temp_path();
    std::fs::write(&t, b"kept").unwrap();
    let id = blobs.commit(&t).unwrap();
    let t = blobs.temp_path();
    std::fs::write(&t, b"lost").unwrap();
    let lost = blobs.commit(&t).unwrap();
    s.write(|tx| {
        put_version(
            tx,
            "swp",
            "k",
            NewVersion {
                segments: vec![Segment {
                    blob: id.clone(),
                    len: 4,
                }],
                size: 4,
                ..Default::default()
            },
            0,
        )
    })
    .unwrap();
    assert_eq!(sweep(&s, &blobs).unwrap(), 1);
    assert!(blobs.path(&id).exists());
    assert!(!blobs.path(&lost).exists());
}
