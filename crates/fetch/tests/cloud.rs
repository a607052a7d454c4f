//! Object stores against a loopback server playing EC2 IMDS and S3 (EC2 user guide "Retrieve
//! security credentials from instance metadata"; S3 API Reference `HeadBucket`/`GetObject`),
//! the GCE metadata server and the Cloud Storage JSON API (`objects.get`, `alt=media`), and
//! Azure IMDS managed identity plus `Get Blob`.

mod support;

use kindling_fetch::{Cloud, ErrorKind, Fetcher};
use support::*;

const CONFIG: &[u8] = br#"{"ignition":{"version":"3.5.0"}}"#;

fn fetcher(cloud: Cloud) -> Fetcher {
    let mut fetcher = Fetcher::new();
    fetcher.set_total_timeout(Some(std::time::Duration::from_secs(3)));
    fetcher.set_cloud(cloud);
    fetcher
}

/// IMDS with a role, and a bucket living in eu-west-3.
fn aws(seen: &Seen, _: usize) -> Reply {
    match (seen.method.as_str(), seen.target.as_str()) {
        ("PUT", "/latest/api/token") => Reply::Ok(b"imds-token".to_vec()),
        ("GET", "/latest/meta-data/iam/security-credentials/") => {
            if seen.header("X-aws-ec2-metadata-token") == Some("imds-token") {
                Reply::Ok(b"the-role\n".to_vec())
            } else {
                Reply::Status(401, Vec::new())
            }
        }
        ("GET", "/latest/meta-data/iam/security-credentials/the-role") => Reply::Ok(
            br#"{"Code":"Success","AccessKeyId":"AKID","SecretAccessKey":"SECRET","Token":"SESSION","Expiration":"2030-01-01T00:00:00Z"}"#
                .to_vec(),
        ),
        ("HEAD", "/bkt") => Reply::WithHeaders(
            vec![("x-amz-bucket-region".into(), "eu-west-3".into())],
            Vec::new(),
        ),
        ("GET", "/bkt/dir/a%20b.ign?versionId=v1") => Reply::Ok(CONFIG.to_vec()),
        _ => Reply::Status(404, Vec::new()),
    }
}

#[test]
fn s3_uses_the_instance_role_and_the_bucket_region() -> TestResult {
    let server = Server::http(aws);
    let fetcher = fetcher(Cloud {
        aws_imds: Some(server.url("")),
        aws_region: Some("us-east-2".into()),
        storage_url: Some(server.url("")),
        ..Cloud::default()
    });
    let got = fetcher.fetch(&resource("s3://bkt/dir/a b.ign?versionId=v1"))?;
    assert_eq!(got, CONFIG);
    let seen = server.seen();
    let get = seen
        .iter()
        .find(|s| s.target.starts_with("/bkt/"))
        .ok_or("no GetObject")?;
    let auth = get.header("Authorization").unwrap_or("");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/")
            && auth.contains("/eu-west-3/s3/aws4_request")
            && auth.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
            ),
        "{auth}"
    );
    assert_eq!(get.header("x-amz-security-token"), Some("SESSION"));
    assert!(get.header("x-amz-date").is_some());
    Ok(())
}

#[test]
fn arn_bucket_form_reads_the_same_object() -> TestResult {
    let server = Server::http(aws);
    let fetcher = fetcher(Cloud {
        aws_imds: Some(server.url("")),
        storage_url: Some(server.url("")),
        ..Cloud::default()
    });
    let got = fetcher.fetch(&resource("arn:aws:s3:::bkt/dir/a b.ign?versionId=v1"))?;
    assert_eq!(got, CONFIG);
    Ok(())
}

#[test]
fn s3_without_a_role_is_anonymous() -> TestResult {
    // No role on the instance: IMDS has no credentials, the request goes unsigned.
    let server = Server::http(|seen, i| match seen.target.as_str() {
        "/latest/meta-data/iam/security-credentials/" => Reply::Status(404, Vec::new()),
        _ => aws(seen, i),
    });
    let fetcher = fetcher(Cloud {
        aws_imds: Some(server.url("")),
        storage_url: Some(server.url("")),
        ..Cloud::default()
    });
    assert_eq!(
        fetcher.fetch(&resource("s3://bkt/dir/a b.ign?versionId=v1"))?,
        CONFIG
    );
    let seen = server.seen();
    let get = seen
        .iter()
        .find(|s| s.target.starts_with("/bkt/"))
        .ok_or("no GET")?;
    assert_eq!(get.header("Authorization"), None);
    Ok(())
}

#[test]
fn missing_objects_and_denied_access_fail() {
    let server = Server::http(|seen, _| match seen.target.as_str() {
        "/bkt/missing" => Reply::Status(404, Vec::new()),
        _ => Reply::Status(403, b"AccessDenied".to_vec()),
    });
    let fetcher = fetcher(Cloud {
        storage_url: Some(server.url("")),
        ..Cloud::default()
    });
    let err = fetcher.fetch(&resource("s3://bkt/missing")).err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::NotFound));
    let err = fetcher.fetch(&resource("s3://bkt/secret")).err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Status(403)));
}

#[test]
fn access_points_need_credentials() {
    let fetcher = fetcher(Cloud::default());
    let err = fetcher
        .fetch(&resource(
            "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/k",
        ))
        .err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::NeedsCredentials));
}

#[test]
fn gs_uses_the_service_account_token() -> TestResult {
    let server = Server::http(|seen, _| match seen.target.as_str() {
        "/computeMetadata/v1/instance/service-accounts/default/token"
            if seen.header("Metadata-Flavor") == Some("Google") =>
        {
            Reply::Ok(
                br#"{"access_token":"ya29.tok","expires_in":3599,"token_type":"Bearer"}"#.to_vec(),
            )
        }
        "/storage/v1/b/bkt/o/dir%2Fcfg.ign?alt=media" => Reply::Ok(CONFIG.to_vec()),
        _ => Reply::Status(404, Vec::new()),
    });
    let fetcher = fetcher(Cloud {
        gcp_metadata: Some(server.url("")),
        storage_url: Some(server.url("")),
        ..Cloud::default()
    });
    assert_eq!(fetcher.fetch(&resource("gs://bkt/dir/cfg.ign"))?, CONFIG);
    let seen = server.seen();
    let get = seen
        .iter()
        .find(|s| s.target.starts_with("/storage/"))
        .ok_or("no GET")?;
    assert_eq!(get.header("Authorization"), Some("Bearer ya29.tok"));

    // Off GCE: anonymous.
    let anonymous = fetcher_without_metadata(&server);
    assert_eq!(anonymous.fetch(&resource("gs://bkt/dir/cfg.ign"))?, CONFIG);
    let last = server.seen().pop().ok_or("no request")?;
    assert_eq!(last.header("Authorization"), None);
    Ok(())
}

fn fetcher_without_metadata(server: &Server) -> Fetcher {
    fetcher(Cloud {
        storage_url: Some(server.url("")),
        ..Cloud::default()
    })
}

#[test]
fn azure_blobs_use_the_managed_identity() -> TestResult {
    let server = Server::http(|seen, _| {
        let target = seen.target.as_str();
        if target.starts_with("/metadata/identity/oauth2/token?")
            && target.contains("resource=https%3A%2F%2Fstorage.azure.com%2F")
            && seen.header("Metadata") == Some("true")
        {
            return Reply::Ok(br#"{"access_token":"eyJ0","token_type":"Bearer"}"#.to_vec());
        }
        if target == "/container/config.ign" && seen.header("Authorization") == Some("Bearer eyJ0")
        {
            return Reply::Ok(CONFIG.to_vec());
        }
        Reply::Status(403, Vec::new())
    });
    let fetcher = fetcher(Cloud {
        azure_imds: Some(server.url("")),
        storage_url: Some(server.url("")),
        ..Cloud::default()
    });
    let got = fetcher.fetch(&resource(
        "https://acct.blob.core.windows.net/container/config.ign",
    ))?;
    assert_eq!(got, CONFIG);
    let seen = server.seen();
    let get = seen
        .iter()
        .find(|s| s.target.starts_with("/container/"))
        .ok_or("no GET")?;
    assert!(get.header("x-ms-version").is_some());
    Ok(())
}

#[test]
fn access_points_are_signed_for_their_own_region() -> TestResult {
    let server = Server::http(|seen, i| match seen.target.as_str() {
        "/dir/k.ign" => Reply::Ok(CONFIG.to_vec()),
        _ => aws(seen, i),
    });
    let fetcher = fetcher(Cloud {
        aws_imds: Some(server.url("")),
        aws_region: Some("eu-west-3".into()),
        storage_url: Some(server.url("")),
        ..Cloud::default()
    });
    let got = fetcher.fetch(&resource(
        "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/dir/k.ign",
    ))?;
    assert_eq!(got, CONFIG);
    let seen = server.seen();
    let get = seen
        .iter()
        .find(|s| s.target == "/dir/k.ign")
        .ok_or("no GetObject")?;
    let auth = get.header("Authorization").unwrap_or("");
    assert!(auth.contains("/us-west-2/s3/aws4_request"), "{auth}");
    assert!(
        seen.iter().all(|s| s.method != "HEAD"),
        "an access point names its region: no bucket lookup"
    );
    Ok(())
}

#[test]
fn a_refused_blob_is_an_error_not_a_trip_to_the_real_cloud() {
    let server = Server::http(|seen, _| {
        if seen.target.starts_with("/metadata/identity/") {
            Reply::Ok(br#"{"access_token":"t"}"#.to_vec())
        } else {
            Reply::Status(403, Vec::new())
        }
    });
    let fetcher = fetcher(Cloud {
        azure_imds: Some(server.url("")),
        storage_url: Some(server.url("")),
        ..Cloud::default()
    });
    let err = fetcher
        .fetch(&resource("https://acct.blob.core.windows.net/c/config.ign"))
        .err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Status(403)));
}
