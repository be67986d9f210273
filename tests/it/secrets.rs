//! Secrets never leak, and hostile key files are refused cleanly.
//!
//! [`no_secret_reaches_output_files_or_requests`] runs chainseal at log level
//! `trace` with distinctive secrets and searches stdout, stderr, every file below
//! its scratch directory (except the inputs that hold secrets on purpose), the
//! Archivista double's request log (paths and bodies) and the environment a docker
//! credential helper saw. Covered: signers — a cosign-encrypted key file with its
//! password, Vault/OpenBao transit with a token; storage — a local directory,
//! Archivista with `user:password` in the URI, an OCI registry with basic auth from
//! a credential helper, MongoDB (SecantusDB) with a password and a secret option.
//!
//! [`no_aws_secret_reaches_output_files_or_requests`] does the same for the AWS
//! backends against one moto server: an `awskms://` signer, `s3://` and `dynamodb://`
//! storage (a run that stores, one with a missing key, one with a missing bucket and
//! table), with a marked `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and searches
//! moto's request recording (URLs, headers, bodies; the session token may only be in
//! `X-Amz-Security-Token`, which every request must carry). The access key id is an
//! identifier, not a secret: the AWS SDK logs it at `trace`, so it is not marked.
//!
//! [`no_cloud_kms_secret_reaches_output_files_or_requests`] covers the GCP Cloud KMS
//! double with an `authorized_user` ADC file (marked client secret; the refresh token
//! the double wants), the Azure Key Vault double with its managed identity secret, the
//! access tokens both doubles issue, and the doubles' request logs; plus a Grafeas
//! double over plain HTTP with those Google credentials set (chainseal refuses to send
//! them, and the refusal shows none of them).
//!
//! Not included: the GCS double's service-account key and the self-signed JWTs
//! object_store makes from it (the double authenticates them, `tests/it/storage.rs`, but
//! no test yet searches chainseal's output for them; an `authorized_user` ADC file
//! would make object_store ask Google's fixed token endpoint, which no local double
//! can stand in for), and a Grafeas server reached over https with Google credentials.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::registry::TestRegistry;
use crate::common::{assert_error, chainseal, repo, run, tool};

/// A cosign-encrypted key whose nonce has the wrong length is a clear error (exit 2),
/// not a panic inside the decryption code (exit 101).
#[test]
fn a_cosign_key_with_a_short_nonce_exits_2() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("tmp");
    let original = std::fs::read(repo("tests/fixtures/keys/cosign.key")).expect("fixture");
    let block = pem::parse(&original).expect("pem");
    let mut json: serde_json::Value = serde_json::from_slice(block.contents()).expect("JSON");
    json["cipher"]["nonce"] = base64::engine::general_purpose::STANDARD
        .encode([1u8; 12])
        .into();
    let key = dir.path().join("short-nonce.key");
    std::fs::write(
        &key,
        pem::encode(&pem::Pem::new(
            "ENCRYPTED COSIGN PRIVATE KEY",
            json.to_string().into_bytes(),
        )),
    )
    .expect("write key");
    let r = run(chainseal(dir.path())
        .args(["public-key", "--key"])
        .arg(&key)
        .env("CHAINSEAL_KEY_PASSWORD", "p"));
    assert_error(&r, "nonce of 12 bytes, expected 24");
}

const KEY_PASSWORD: &str = "key-pass-Sx7Q1";
const ARCHIVISTA_PASSWORD: &str = "arch-pass-Sx7Q2";
const VAULT_TOKEN: &str = "vault-root-Sx7Q3";
const MONGO_PASSWORD: &str = "mongo-pass-Sx7Q4";
const MONGO_SESSION_TOKEN: &str = "mongo-tok-Sx7Q5";
const UNRELATED_SECRET: &str = "env-secret-Sx7Q6";
/// Every secret above shares this marker.
const MARKER: &str = "Sx7Q";

/// Every file below `dir` except those under `skip`, with its contents.
fn all_files(dir: &Path, skip: &[PathBuf], out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if skip.iter().any(|s| path.starts_with(s)) {
            continue;
        }
        if path.is_dir() {
            all_files(&path, skip, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(MARKER),
        "a secret leaked into {what}:\n{text}"
    );
}

#[test]
fn no_secret_reaches_output_files_or_requests() {
    let (Some(python), Some(registry_bin), Some(bao_bin), Some(secantusd)) = (
        tool("INTEROP_PYTHON", "secrets test"),
        tool("REGISTRY_BIN", "secrets test"),
        tool("BAO_BIN", "secrets test"),
        tool("SECANTUSD", "secrets test"),
    ) else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tmp");
    let dir = scratch.path().join("work");
    let inputs = scratch.path().join("inputs");
    std::fs::create_dir_all(&dir).expect("work dir");
    std::fs::create_dir_all(&inputs).expect("inputs dir");
    let mut runs: Vec<(String, common::Run)> = Vec::new();

    // A cosign-encrypted key made by keygen with a password.
    let r = run(chainseal(&inputs)
        .args(["keygen", "--out", "signer"])
        .env("CHAINSEAL_KEY_PASSWORD", KEY_PASSWORD)
        .env("CHAINSEAL_LOG_LEVEL", "trace"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    runs.push(("keygen".into(), r));
    let key = inputs.join("signer.key");

    // Archivista requiring user:password, logging every request.
    let archivista_log = scratch.path().join("archivista-requests.jsonl");
    let (_archivista, archivista) = common::http_double(
        &python,
        "archivista.py",
        &[
            "up",
            "--auth",
            &format!("ci:{ARCHIVISTA_PASSWORD}"),
            "--log",
            &archivista_log.display().to_string(),
        ],
    );
    let archivista_uri = archivista.replace(
        "http://",
        &format!("archivista+http://ci:{ARCHIVISTA_PASSWORD}@"),
    );

    // A registry with basic auth; credentials from a `credsStore` helper that records
    // the environment it was given.
    let reg = TestRegistry::start(&registry_bin, &scratch.path().join("registry"), true);
    let digest = reg.push_image("team/app", "v1", "secrets");
    let helper_dir = inputs.join("bin");
    std::fs::create_dir_all(&helper_dir).expect("bin");
    let helper_env = scratch.path().join("helper-env");
    let helper = helper_dir.join("docker-credential-spy");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nenv > '{}'\ncat > /dev/null\necho '{{\"Username\":\"{}\",\"Secret\":\"{}\"}}'\n",
            helper_env.display(),
            common::registry::USER,
            common::registry::PASSWORD
        ),
    )
    .expect("helper");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let docker_config = inputs.join("docker");
    std::fs::create_dir_all(&docker_config).expect("docker dir");
    std::fs::write(docker_config.join("config.json"), r#"{"credsStore":"spy"}"#)
        .expect("docker config");
    let record = inputs.join("record.yaml");
    let example = std::fs::read_to_string(repo("examples/pipelinerun.yaml")).expect("example");
    std::fs::write(
        &record,
        example
            .replace(
                "registry.example.com/team/hello-service",
                &format!("{}/team/app", reg.host),
            )
            .replace(
                "sha256:6a1f0d6f8c2c4b0e9f3d2a1b7c5e8d9f0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                &digest,
            ),
    )
    .expect("record");

    let path = format!(
        "{}:{}",
        helper_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let attest = |label: &str, key: &str, storage: &str, extra: &[(&str, String)]| {
        let mut cmd = chainseal(&dir);
        cmd.env("CHAINSEAL_RECORD", &record)
            .env("CHAINSEAL_KEY", key)
            .env("CHAINSEAL_STORAGE", storage)
            .env("CHAINSEAL_LOG_LEVEL", "trace")
            .env("CHAINSEAL_OUTPUT", "json")
            .env(
                "CHAINSEAL_RESULT_LOCATIONS",
                dir.join(format!("locations-{label}")),
            )
            .env("CHAINSEAL_INSECURE_REGISTRIES", &reg.host)
            .env("DOCKER_CONFIG", &docker_config)
            .env("HOME", &inputs)
            .env("PATH", &path)
            // Secrets of ours a credential helper must not see.
            .env(
                "MONGO_SERVER_URL",
                format!("mongodb://u:{MONGO_PASSWORD}@h"),
            )
            .env("UNRELATED_TOKEN", UNRELATED_SECRET);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        (label.to_owned(), run(&mut cmd))
    };

    // 1. Key file + password; local directory, Archivista, OCI registry.
    let storage = format!("{},{archivista_uri},oci", dir.join("local").display());
    let (label, r) = attest(
        "key-file",
        &key.display().to_string(),
        &storage,
        &[("CHAINSEAL_KEY_PASSWORD", KEY_PASSWORD.to_owned())],
    );
    assert_eq!(r.code, 0, "{label}: {}", r.stderr);
    runs.push((label, r));
    let seen = std::fs::read_to_string(&helper_env).expect("the credential helper ran");
    assert_no_secret("the credential helper's environment", &seen);
    assert!(
        !seen.contains("CHAINSEAL_"),
        "helper saw our settings:\n{seen}"
    );

    // 2. Vault transit with a token.
    // bao names no port it picked itself: started again on another port if it cannot bind.
    let (_bao, bao_port) = common::spawn_on_free_port("OpenBao", |port| {
        let mut cmd = Command::new(&bao_bin);
        cmd.args(["server", "-dev"])
            .arg(format!("-dev-root-token-id={VAULT_TOKEN}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    });
    let bao_addr = format!("http://127.0.0.1:{bao_port}");
    let bao = |args: &[&str]| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while !Command::new(&bao_bin)
            .args(args)
            .env("BAO_ADDR", &bao_addr)
            .env("BAO_TOKEN", VAULT_TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("bao runs")
            .success()
        {
            assert!(std::time::Instant::now() < deadline, "bao {args:?}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    bao(&["secrets", "enable", "transit"]);
    bao(&["write", "-f", "transit/keys/k", "type=ecdsa-p256"]);
    let (label, r) = attest(
        "vault",
        "hashivault://k",
        &dir.join("local-vault").display().to_string(),
        &[
            ("VAULT_ADDR", bao_addr.clone()),
            ("VAULT_TOKEN", VAULT_TOKEN.to_owned()),
        ],
    );
    assert_eq!(r.code, 0, "{label}: {}", r.stderr);
    runs.push((label, r));
    let (label, r) = attest(
        "vault-denied",
        "hashivault://missing",
        &dir.join("local-denied").display().to_string(),
        &[
            ("VAULT_ADDR", bao_addr.clone()),
            ("VAULT_TOKEN", format!("{VAULT_TOKEN}-wrong")),
        ],
    );
    assert_eq!(r.code, 2, "{label}: {}", r.stderr);
    runs.push((label, r));

    // 3. MongoDB with a password and a secret option: SecantusDB has no users, so
    // the login fails; the messages must not show either secret.
    let (_mongo, mongo_port) = common::secantusdb(&secantusd);
    for (label, uri) in [
        (
            "mongo-password",
            format!(
                "mongodb://ci:{MONGO_PASSWORD}@127.0.0.1:{mongo_port}/prov/att?serverSelectionTimeoutMS=3000"
            ),
        ),
        (
            "mongo-option",
            format!(
                "mongodb://127.0.0.1:{mongo_port}/prov/att?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:{MONGO_SESSION_TOKEN}&serverSelectionTimeoutMS=3000"
            ),
        ),
        (
            "mongo-open",
            format!("mongodb://127.0.0.1:{mongo_port}/prov/att?appName=x"),
        ),
    ] {
        let (label, r) = attest(
            label,
            &key.display().to_string(),
            &uri,
            &[("CHAINSEAL_KEY_PASSWORD", KEY_PASSWORD.to_owned())],
        );
        runs.push((label, r));
    }

    for (label, r) in &runs {
        assert_no_secret(&format!("{label} stdout"), &r.stdout);
        assert_no_secret(&format!("{label} stderr"), &r.stderr);
    }
    let mut files = Vec::new();
    all_files(
        scratch.path(),
        &[inputs.clone(), reg.dir.clone()],
        &mut files,
    );
    assert!(files.len() >= 5, "{files:?}");
    for (path, bytes) in files {
        if path == helper_env || path == archivista_log {
            continue; // checked on their own
        }
        assert_no_secret(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
    }
    let requests = std::fs::read_to_string(&archivista_log).expect("Archivista log");
    for line in requests.lines() {
        let request: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert_no_secret(
            "an Archivista request path",
            request["path"].as_str().unwrap_or(""),
        );
        assert_no_secret(
            "an Archivista request body",
            request["body"].as_str().unwrap_or(""),
        );
    }
}

/// An identifier, not a secret (the SDK logs it at `trace`, AWS puts it in
/// `Authorization`): it has no marker.
#[cfg(feature = "aws")]
const AWS_ACCESS_KEY: &str = "AKIACHAINSEALTESTKEY";
#[cfg(feature = "aws")]
const AWS_SECRET_KEY: &str = "aws-secret-key-Sx7Q8";
#[cfg(feature = "aws")]
const AWS_SESSION_TOKEN: &str = "aws-session-token-Sx7Q9";

/// boto3 against moto: create an ECC_NIST_P256 signing key (prints its id), the
/// bucket `provenance` and the DynamoDB table `chains` keyed by `name`.
#[cfg(feature = "aws")]
const AWS_SETUP: &str = r#"
import sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
boto3.client("s3", **kw).create_bucket(Bucket="provenance")
boto3.client("dynamodb", **kw).create_table(
    TableName="chains", BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}])
kms = boto3.client("kms", **kw)
print(kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"])
"#;

/// `moto_server` with `threaded=False`.
#[cfg(feature = "aws")]
const MOTO_SINGLE_THREADED: &str = r#"
import sys, moto.server as server
run_simple = server.run_simple
server.run_simple = lambda *a, **k: run_simple(*a, **{**k, "threaded": False})
server.main(sys.argv[1:])
"#;

/// The AWS backends against one moto server: an `awskms://` signer, `s3://` and
/// `dynamodb://` storage, with a marked secret access key and session token. Neither
/// may reach stdout, stderr or a file; in moto's request recording (what the SDKs
/// sent) the session token may only be in `X-Amz-Security-Token`, where every request
/// must carry it (so the secrets were in use), and the secret key nowhere (SigV4 sends
/// only an HMAC made with it).
#[cfg(feature = "aws")]
#[test]
fn no_aws_secret_reaches_output_files_or_requests() {
    let (Some(python), Some(_moto_server)) = (
        tool("INTEROP_PYTHON", "AWS secrets test"),
        tool("MOTO_SERVER", "AWS secrets test"),
    ) else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tmp");
    let dir = scratch.path().join("work");
    let moto_dir = scratch.path().join("moto");
    std::fs::create_dir_all(&dir).expect("work dir");
    std::fs::create_dir_all(&moto_dir).expect("moto dir");
    let recording = scratch.path().join("moto-requests.jsonl");
    // moto (from the interop python, which has it) serving one request at a time:
    // its recorder appends each request to the file in pieces, so concurrent requests
    // (object_store writes in parallel) would interleave and tear the JSON lines.
    let (_moto, port) = common::spawn_reporting_port(
        Command::new(&python)
            .arg("-c")
            .arg(MOTO_SINGLE_THREADED)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .current_dir(&moto_dir)
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdout(std::process::Stdio::null()),
        "Running on http://127.0.0.1:",
        "moto",
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = Command::new(&python)
        .arg("-c")
        .arg(AWS_SETUP)
        .arg(&endpoint)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "AWS setup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let recorder = |action: &str| {
        let ok = Command::new("curl")
            .args(["-sf", "-X", "POST"])
            .arg(format!("{endpoint}/moto-api/recorder/{action}"))
            .status()
            .expect("curl runs");
        assert!(ok.success(), "moto recorder {action}");
    };
    recorder("start-recording");

    let attest = |label: &str, key: &str, storage: &str| {
        let mut cmd = chainseal(&dir);
        cmd.env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .env("CHAINSEAL_KEY", key)
            .env("CHAINSEAL_STORAGE", storage)
            .env("CHAINSEAL_STORAGE_ENDPOINT", &endpoint)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)
            .env("CHAINSEAL_LOG_LEVEL", "trace")
            .env("CHAINSEAL_OUTPUT", "json")
            .env(
                "CHAINSEAL_RESULT_LOCATIONS",
                dir.join(format!("locations-{label}")),
            )
            .env("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET_KEY)
            .env("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HOME", &dir);
        (label.to_owned(), run(&mut cmd))
    };
    let mut runs = Vec::new();
    let local = dir.join("local");
    let (label, r) = attest(
        "aws",
        &format!("awskms://127.0.0.1:{port}/{key_id}"),
        &format!(
            "s3://provenance/att,dynamodb://chains?partition_key=name,{}",
            local.display()
        ),
    );
    assert_eq!(r.code, 0, "{label}: {}", r.stderr);
    assert!(
        local
            .join(format!("{}.intoto.jsonl", common::EXAMPLE_KEY))
            .exists(),
        "{label}: nothing stored"
    );
    runs.push((label, r));
    // Failures: a missing key; a missing bucket and table.
    let (label, r) = attest(
        "aws-missing-key",
        &format!("awskms://127.0.0.1:{port}/alias/missing"),
        &dir.join("local-missing").display().to_string(),
    );
    assert_eq!(r.code, 2, "{label}: {}", r.stderr);
    runs.push((label, r));
    let (label, r) = attest(
        "aws-missing-stores",
        &format!("awskms://127.0.0.1:{port}/{key_id}"),
        "s3://no-such-bucket/att,dynamodb://no-such-table",
    );
    assert_eq!(r.code, 2, "{label}: {}", r.stderr);
    runs.push((label, r));
    recorder("stop-recording");

    for (label, r) in &runs {
        assert_no_secret(&format!("{label} stdout"), &r.stdout);
        assert_no_secret(&format!("{label} stderr"), &r.stderr);
    }
    let mut files = Vec::new();
    all_files(scratch.path(), std::slice::from_ref(&recording), &mut files);
    // The local envelope and the locations of the run that stored.
    assert!(files.len() >= 2, "{} files", files.len());
    for (path, bytes) in files {
        assert_no_secret(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
    }
    let requests = std::fs::read_to_string(&recording).expect("moto's recording");
    let mut services = std::collections::BTreeSet::new();
    for line in requests.lines() {
        let request: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let url = request["url"].as_str().unwrap_or("");
        assert_no_secret(&format!("the URL of a request to moto: {url}"), url);
        let body = request["body"].as_str().unwrap_or("");
        let body = if request["body_encoded"] == true {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("base64");
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            body.to_owned()
        };
        assert_no_secret(&format!("the body of a request to {url}"), &body);
        let headers = request["headers"].as_object().expect("headers");
        for (name, value) in headers {
            let value = value.as_str().unwrap_or("");
            match name.to_ascii_lowercase().as_str() {
                "x-amz-security-token" => {
                    assert_eq!(value, AWS_SESSION_TOKEN, "{url}");
                }
                "authorization" => {
                    assert!(
                        !value.contains(AWS_SECRET_KEY) && !value.contains(AWS_SESSION_TOKEN),
                        "a secret in the Authorization header of a request to {url}: {value}"
                    );
                }
                _ => assert_no_secret(&format!("header {name} of a request to {url}"), value),
            }
        }
        assert!(
            headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("x-amz-security-token")
                    && v == AWS_SESSION_TOKEN),
            "a request to {url} without the session token: {headers:?}"
        );
        let service = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-target"))
            .and_then(|(_, v)| v.as_str())
            .and_then(|t| t.split('.').next())
            .unwrap_or("S3");
        services.insert(service.to_owned());
    }
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        ["DynamoDB_20120810", "S3", "TrentService"],
        "requests to KMS, S3 and DynamoDB"
    );
}

#[cfg(all(feature = "gcp", feature = "azure"))]
const GCP_CLIENT_SECRET: &str = "gcp-client-secret-Sx7Q10";
/// The refresh token the GCP double accepts (fixed by the double, so unmarked).
#[cfg(all(feature = "gcp", feature = "azure"))]
const GCP_REFRESH_TOKEN: &str = "double-refresh";
/// The managed identity secret the Azure double wants (fixed by the double).
#[cfg(all(feature = "gcp", feature = "azure"))]
const AZURE_IDENTITY_HEADER: &str = "double-identity-secret";

/// Whether `text` holds an access token the KMS double issued: `prefix` followed by
/// 16 hex digits.
#[cfg(all(feature = "gcp", feature = "azure"))]
fn issued_token(text: &str, prefix: &str) -> bool {
    text.match_indices(prefix).any(|(i, _)| {
        let rest = &text.as_bytes()[i + prefix.len()..];
        rest.len() >= 16 && rest[..16].iter().all(u8::is_ascii_hexdigit)
    })
}

/// No marked secret, fixed double secret or issued access token in `text`.
#[cfg(all(feature = "gcp", feature = "azure"))]
fn assert_no_cloud_secret(what: &str, text: &str) {
    assert_no_secret(what, text);
    for secret in [GCP_REFRESH_TOKEN, AZURE_IDENTITY_HEADER] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into {what}:\n{text}"
        );
    }
    for prefix in ["gcp-", "azure-"] {
        assert!(
            !issued_token(text, prefix),
            "an access token leaked into {what}:\n{text}"
        );
    }
}

/// The GCP Cloud KMS and Azure Key Vault doubles (`tests/interop/kms_double.py`) at
/// log level `trace`: GCP with an `authorized_user` ADC file (marked client secret,
/// the double's refresh token), plus a Grafeas double the Google credentials must not
/// be sent to over plain HTTP; Azure with the managed identity secret. Neither those
/// nor the access tokens the doubles issue may reach stdout, stderr, a file or the
/// doubles' request logs (paths and bodies; the token endpoint's request bodies carry
/// the refresh credentials on purpose).
#[cfg(all(feature = "gcp", feature = "azure"))]
#[test]
fn no_cloud_kms_secret_reaches_output_files_or_requests() {
    let Some(python) = tool("INTEROP_PYTHON", "cloud KMS secrets test") else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tmp");
    let dir = scratch.path().join("work");
    let inputs = scratch.path().join("inputs");
    let gcp_dir = scratch.path().join("gcp");
    let azure_dir = scratch.path().join("azure");
    for d in [&dir, &inputs, &gcp_dir, &azure_dir] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let (_gcp, gcp) = common::kms_double(&python, "gcp", &gcp_dir);
    let (_azure, azure) = common::kms_double(&python, "azure", &azure_dir);
    let (_grafeas, grafeas) = common::http_double(&python, "grafeas.py", &[]);
    let adc = inputs.join("adc.json");
    std::fs::write(
        &adc,
        serde_json::json!({
            "type": "authorized_user",
            "client_id": "chainseal-test",
            "client_secret": GCP_CLIENT_SECRET,
            "refresh_token": GCP_REFRESH_TOKEN,
            "token_uri": gcp["token_uri"],
        })
        .to_string(),
    )
    .expect("write ADC");
    let text = |v: &serde_json::Value| v.as_str().expect("double info").to_owned();
    let gcp_env = vec![
        ("GOOGLE_APPLICATION_CREDENTIALS", adc.display().to_string()),
        ("CHAINSEAL_KMS_ENDPOINT", text(&gcp["endpoint"])),
        ("CHAINSEAL_GRAFEAS_URL", grafeas),
    ];
    let azure_env = vec![
        ("IDENTITY_ENDPOINT", text(&azure["identity_endpoint"])),
        ("IDENTITY_HEADER", AZURE_IDENTITY_HEADER.to_owned()),
        ("SSL_CERT_FILE", text(&azure["ca"])),
    ];
    assert_eq!(text(&azure["identity_header"]), AZURE_IDENTITY_HEADER);
    let vault = text(&azure["vault_host"]);
    let gcp_key = "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys";

    let attest = |label: &str, key: &str, storage: &str, env: &[(&str, String)]| {
        let mut cmd = chainseal(&dir);
        cmd.env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .env("CHAINSEAL_KEY", key)
            .env("CHAINSEAL_STORAGE", storage)
            .env("CHAINSEAL_LOG_LEVEL", "trace")
            .env("CHAINSEAL_OUTPUT", "json")
            .env("HOME", &inputs)
            .envs(env.iter().map(|(k, v)| (k, v)));
        (label.to_owned(), run(&mut cmd))
    };
    let local = |label: &str| dir.join(label).display().to_string();
    let mut runs = Vec::new();
    for (label, key, storage, env, code) in [
        ("gcp", format!("{gcp_key}/ec256"), local("gcp"), &gcp_env, 0),
        (
            "gcp-grafeas",
            format!("{gcp_key}/ec256"),
            format!("grafeas://projects/prov,{}", local("gcp-grafeas")),
            &gcp_env,
            2,
        ),
        (
            "gcp-denied",
            format!("{gcp_key}/denied/cryptoKeyVersions/1"),
            local("gcp-denied"),
            &gcp_env,
            2,
        ),
        (
            "azure",
            format!("azurekms://{vault}/ec256"),
            local("azure"),
            &azure_env,
            0,
        ),
        (
            "azure-denied",
            format!("azurekms://{vault}/denied"),
            local("azure-denied"),
            &azure_env,
            2,
        ),
    ] {
        let (label, r) = attest(label, &key, &storage, env);
        assert_eq!(r.code, code, "{label}: {}", r.stderr);
        runs.push((label, r));
    }
    let grafeas_refusal = &runs[1].1.stderr;
    assert!(
        grafeas_refusal.contains("refusing to send Google credentials over plain HTTP"),
        "{grafeas_refusal}"
    );

    for (label, r) in &runs {
        assert_no_cloud_secret(&format!("{label} stdout"), &r.stdout);
        assert_no_cloud_secret(&format!("{label} stderr"), &r.stderr);
    }
    let gcp_log = gcp_dir.join("requests.jsonl");
    let azure_log = azure_dir.join("requests.jsonl");
    let mut files = Vec::new();
    all_files(
        scratch.path(),
        &[inputs.clone(), gcp_log.clone(), azure_log.clone()],
        &mut files,
    );
    assert!(files.len() >= 2, "{} files", files.len());
    for (path, bytes) in files {
        assert_no_cloud_secret(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
    }
    let mut signs = [0, 0];
    for (i, request) in common::double_requests(&gcp_dir)
        .into_iter()
        .map(|r| (0, r))
        .chain(
            common::double_requests(&azure_dir)
                .into_iter()
                .map(|r| (1, r)),
        )
    {
        let path = request["path"].as_str().unwrap_or("");
        assert_no_cloud_secret("a KMS double request path", path);
        if path.to_ascii_lowercase().contains("sign") {
            signs[i] += 1;
        }
        if path != "/token" {
            assert_no_cloud_secret(
                &format!("the body of a request to {path}"),
                &request["body"].to_string(),
            );
        }
    }
    // The secrets were in use: both signers signed (GCP and Azure).
    assert!(signs[0] >= 1 && signs[1] >= 1, "sign requests: {signs:?}");
}
