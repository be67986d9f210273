//! The storage conformance suite: one set of checks run against every backend, each
//! against the real service where one can run here and a double of its API where not:
//!
//! | backend | service |
//! | --- | --- |
//! | directory (`file://`) | the file system |
//! | `s3://` | moto |
//! | `gs://` | a double of GCS's XML API (`tests/doubles/gcs_xml.py`) |
//! | `mongodb://` | SecantusDB (MongoDB wire protocol) |
//! | `dynamodb://` | moto (reached with the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`) |
//! | `grafeas://` | a double of the Grafeas v1 REST API (`tests/doubles/grafeas.py`) |
//! | `archivista+http://` | a double of Archivista's API (`tests/doubles/archivista.py`) |
//!
//! The checks: store (read back with the service's own API or client, never
//! chainseal's, and verified with securesystemslib); re-store (nothing new, reported as
//! already present); three concurrent runs with different keys (backends that keep
//! every envelope keep all four, document stores hold exactly one whole document);
//! and a failing target beside a directory backend (a message naming the backend and
//! the target, the directory still stores, the run fails).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{
    EXAMPLE_KEY, Run, Service, chainseal, http_double, repo, run, securesystemslib_verifies, tool,
};
use base64::Engine as _;

/// The digest of the image the example PipelineRun built.
const IMAGE_DIGEST: &str = "6a1f0d6f8c2c4b0e9f3d2a1b7c5e8d9f0a1b2c3d4e5f60718293a4b5c6d7e8f9";
/// Chains' object prefix of the example PipelineRun.
const RUN_DIR: &str = "pipelinerun-ci-build-and-push-x7k2p";
/// curl's SigV4 signing with moto's test credentials.
const SIGV4: [&str; 4] = [
    "--aws-sigv4",
    "aws:amz:us-east-1:s3",
    "--user",
    "testing:testing",
];

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

fn curl(args: &[&str]) -> (bool, Vec<u8>) {
    let out = Command::new("curl")
        .arg("-sf")
        .args(args)
        .output()
        .expect("curl runs");
    (out.status.success(), out.stdout)
}

/// Run `script` with the interop python (pymongo, boto3) and return its stdout.
fn python(py: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// How a backend keeps envelopes stored under one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum History {
    /// Every distinct envelope is kept (JSON Lines, occurrences, content-addressed).
    Kept,
    /// One document per key, replaced whole by the latest store (Chains' docdb).
    Latest,
}

/// Reads every envelope stored for the example key (given the reported locations).
type Reader = Box<dyn Fn(&[String]) -> Vec<Vec<u8>>>;

/// One backend under test.
struct Target {
    label: &'static str,
    /// The storage URI.
    storage: String,
    /// A URI of the same backend whose stores fail, and what the error must name.
    failing: (String, String),
    history: History,
    /// Environment for `chainseal attest`.
    env: Vec<(&'static str, String)>,
    /// Reads every envelope stored for the example key, with the service's own API.
    read: Reader,
    _services: Vec<Service>,
}

/// A `chainseal attest` of the example record with `key` into `storage`.
fn command(target: &Target, dir: &Path, storage: &str, key: &Path) -> Command {
    let mut cmd = chainseal(dir);
    cmd.env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", key)
        .env("CHAINSEAL_STORAGE", storage)
        .env("CHAINSEAL_LOG_LEVEL", "warn")
        .envs(target.env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// `(backend, location, written)` of every place a run reports.
fn places(r: &Run) -> Vec<(String, String, bool)> {
    r.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_once(": "))
        .map(
            |(backend, rest)| match rest.strip_suffix(" (already present)") {
                Some(location) => (backend.to_owned(), location.to_owned(), false),
                None => (backend.to_owned(), rest.to_owned(), true),
            },
        )
        .collect()
}

fn keys(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let prefix = dir.join(format!("key{i}"));
            let r = run(chainseal(dir).args(["keygen", "--out"]).arg(&prefix));
            assert_eq!(r.code, 0, "{}", r.stderr);
            prefix
        })
        .collect()
}

/// Whether `envelope` verifies with securesystemslib under one of `publics`.
fn verifies(py: &Path, dir: &Path, envelope: &[u8], publics: &[PathBuf]) -> bool {
    let file = dir.join("envelope.json");
    std::fs::write(&file, envelope).expect("write");
    publics
        .iter()
        .any(|p| securesystemslib_verifies(py, &file, p).0)
}

fn distinct(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v.dedup();
    v
}

fn conformance(target: &Target, dir: &Path, py: &Path) {
    let label = target.label;
    let demo = repo("examples/demo.key");
    let demo_pub = repo("examples/demo.pub");

    // Store: the backend reports where; the service holds the envelope; it verifies.
    let r = run(&mut command(target, dir, &target.storage, &demo));
    assert_eq!(r.code, 0, "{label}: {}", r.stderr);
    let first = places(&r);
    assert!(
        !first.is_empty() && first.iter().all(|(_, _, written)| *written),
        "{label}: {}",
        r.stdout
    );
    let locations: Vec<String> = first.iter().map(|(_, l, _)| l.clone()).collect();
    let stored = distinct((target.read)(&locations));
    assert_eq!(stored.len(), 1, "{label}: {} envelopes", stored.len());
    assert!(
        verifies(py, dir, &stored[0], std::slice::from_ref(&demo_pub)),
        "{label}: the stored envelope does not verify"
    );

    // Re-store: nothing new, and it says so.
    let r = run(&mut command(target, dir, &target.storage, &demo));
    assert_eq!(r.code, 0, "{label}: {}", r.stderr);
    let again = places(&r);
    assert!(
        !again.is_empty() && again.iter().all(|(_, _, written)| !*written),
        "{label}: a re-store wrote: {}",
        r.stdout
    );
    assert_eq!(distinct((target.read)(&locations)), stored, "{label}");

    // Concurrent stores of different envelopes under one key.
    let keys = keys(dir, 3);
    let children: Vec<_> = keys
        .iter()
        .map(|k| {
            command(target, dir, &target.storage, &k.with_extension("key"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("chainseal starts")
        })
        .collect();
    let mut all_locations = locations;
    for child in children {
        let out = child.wait_with_output().expect("chainseal runs");
        let r = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_eq!(r.code, 0, "{label}: {}", r.stderr);
        all_locations.extend(places(&r).into_iter().map(|(_, l, _)| l));
    }
    let publics: Vec<PathBuf> = keys.iter().map(|k| k.with_extension("pub")).collect();
    let now = distinct((target.read)(&all_locations));
    match target.history {
        History::Kept => {
            assert_eq!(now.len(), 4, "{label}: lost or duplicated envelopes");
            assert!(
                now.contains(&stored[0]),
                "{label}: the first envelope is gone"
            );
            for e in now.iter().filter(|e| **e != stored[0]) {
                assert!(verifies(py, dir, e, &publics), "{label}: torn envelope");
            }
        }
        History::Latest => {
            assert_eq!(now.len(), 1, "{label}: {} documents", now.len());
            assert!(
                verifies(py, dir, &now[0], &publics),
                "{label}: the document is not one run's whole envelope"
            );
        }
    }

    // A failing target beside a directory: named in the error; the directory stores.
    let local = dir.join(format!("local-{label}"));
    let both = format!("{},{}", target.failing.0, local.display());
    let r = run(&mut command(target, dir, &both, &demo));
    assert_ne!(r.code, 0, "{label}: {}", r.stdout);
    assert!(
        r.stderr.contains(&target.failing.1),
        "{label}: the error does not name `{}`: {}",
        target.failing.1,
        r.stderr
    );
    assert!(
        local.join(format!("{EXAMPLE_KEY}.intoto.jsonl")).exists(),
        "{label}: the directory backend did not store: {}",
        r.stderr
    );
}

fn run_suite(label: &str, make: impl FnOnce(&Path, &Path) -> Option<Target>) {
    let Some(py) = tool("INTEROP_PYTHON", &format!("{label} storage conformance")) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let Some(target) = make(dir.path(), &py) else {
        return;
    };
    conformance(&target, dir.path(), &py);
}

/// Lines of a JSON Lines file's bytes.
fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn directory_storage_conforms() {
    run_suite("directory", |dir, _| {
        let out = dir.join("attestations");
        let file = out.join(format!("{EXAMPLE_KEY}.intoto.jsonl"));
        // A regular file where a directory must be: creating the directory fails.
        let blocked = dir.join("blocked");
        std::fs::write(&blocked, b"").expect("write");
        Some(Target {
            label: "directory",
            storage: format!("file://{}", out.display()),
            failing: (
                format!("file://{}/sub", blocked.display()),
                blocked.join("sub").display().to_string(),
            ),
            history: History::Kept,
            env: Vec::new(),
            read: Box::new(move |_| lines(&std::fs::read(&file).unwrap_or_default())),
            _services: Vec::new(),
        })
    });
}

/// S3 or GCS: `bucket` created on `endpoint`; reads with the service's API (GCS: with
/// the curl header `auth`); `env` is added to chainseal's environment.
fn object_target(
    scheme: &'static str,
    endpoint: String,
    service: Service,
    auth: String,
    env: Vec<(&'static str, String)>,
) -> Target {
    let bucket = "provenance";
    let created = match scheme {
        "gs" => curl(&[
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "--data",
            &format!("{{\"name\":\"{bucket}\"}}"),
            &format!("{endpoint}/storage/v1/b?project=test"),
        ]),
        _ => curl(&[
            SIGV4[0],
            SIGV4[1],
            SIGV4[2],
            SIGV4[3],
            "-X",
            "PUT",
            &format!("{endpoint}/{bucket}"),
        ]),
    };
    assert!(created.0, "creating bucket {bucket}");
    let ep = endpoint.clone();
    let read = move |name: &str| -> Option<Vec<u8>> {
        let (ok, body) = match scheme {
            "gs" => curl(&[
                "-H",
                &auth,
                &format!(
                    "{ep}/storage/v1/b/{bucket}/o/{}?alt=media",
                    name.replace('/', "%2F")
                ),
            ]),
            // moto wants a SigV4-signed request (any credentials).
            _ => curl(&[
                SIGV4[0],
                SIGV4[1],
                SIGV4[2],
                SIGV4[3],
                &format!("{ep}/{bucket}/{name}"),
            ]),
        };
        ok.then_some(body)
    };
    let base = format!("att/{RUN_DIR}/{EXAMPLE_KEY}");
    Target {
        label: scheme,
        storage: format!("{scheme}://{bucket}/att"),
        failing: (
            format!("{scheme}://no-such-bucket/att"),
            format!("{scheme}://no-such-bucket"),
        ),
        history: History::Kept,
        env: [
            ("CHAINSEAL_STORAGE_ENDPOINT", endpoint),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
        .into_iter()
        .chain(env)
        .collect(),
        read: Box::new(move |_| {
            // Chains' objects hold the latest envelope and its payload.
            let signature = read(&format!("{base}.signature")).expect(".signature");
            let envelope: serde_json::Value = serde_json::from_slice(&signature).expect("JSON");
            let payload = read(&format!("{base}.payload")).expect(".payload");
            assert_eq!(b64(envelope["payload"].as_str().expect("payload")), payload);
            assert_eq!(read(&format!("{base}.cert")), Some(Vec::new()));
            assert_eq!(read(&format!("{base}.chain")), Some(Vec::new()));
            // The image signature: Chains' objects under the image's 12-hex short key.
            let image = format!("att/{RUN_DIR}/{}", &IMAGE_DIGEST[..12]);
            let simple: serde_json::Value =
                serde_json::from_slice(&read(&format!("{image}.payload")).expect("image payload"))
                    .expect("JSON");
            assert_eq!(
                simple["critical"]["image"]["docker-manifest-digest"],
                format!("sha256:{IMAGE_DIGEST}")
            );
            assert!(read(&format!("{image}.signature")).is_some_and(|s| !s.is_empty()));
            let all = lines(&read(&format!("{base}.intoto.jsonl")).expect(".intoto.jsonl"));
            assert!(
                all.contains(&signature),
                ".signature is not in .intoto.jsonl"
            );
            all
        }),
        _services: vec![service],
    }
}

#[test]
fn s3_storage_conforms() {
    run_suite("s3", |dir, _| {
        let (service, endpoint) = common::moto(dir, "S3 storage conformance")?;
        Some(object_target(
            "s3",
            endpoint,
            service,
            String::new(),
            Vec::new(),
        ))
    });
}

#[test]
fn gcs_storage_conforms() {
    run_suite("gs", |dir, py| {
        // chainseal authenticates with the double's service account (self-signed JWTs).
        let gcs = common::gcs_double(py, dir);
        let auth = gcs.auth_header();
        let credentials = gcs.credentials.display().to_string();
        Some(object_target(
            "gs",
            gcs.endpoint,
            gcs.service,
            auth,
            vec![("GOOGLE_APPLICATION_CREDENTIALS", credentials)],
        ))
    });
}

/// pymongo: every document of `db.coll` as `{"_id", "Name", "Signature", "Signed"
/// (base64), "Object"}` JSON, one per line.
const MONGO_DOCS: &str = r#"
import base64, json, sys, pymongo
c = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)
for d in c[sys.argv[2]][sys.argv[3]].find():
    d["Signed"] = base64.b64encode(d["Signed"]).decode()
    print(json.dumps(d))
"#;

/// Check Chains docdb documents (JSON, one per line; `id` the key field, holding the
/// `Name`) and return the attestation envelopes. The image signature (Chains' `oci`
/// artifact) is a document too, named by the first 12 hex digits of the image digest.
fn docdb_envelopes(lines: &str, id: &str) -> Vec<Vec<u8>> {
    let docs: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let image = docs
        .iter()
        .find(|d| d["Name"] != EXAMPLE_KEY)
        .expect("an image signature document");
    let name = image["Name"].as_str().expect("Name");
    assert_eq!(name.len(), 12, "{image}");
    let digest = image["Object"]["critical"]["image"]["docker-manifest-digest"]
        .as_str()
        .expect("a simple-signing payload");
    assert!(digest.starts_with(&format!("sha256:{name}")), "{image}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&b64(image["Signed"]
            .as_str()
            .expect("Signed")))
        .expect("payload JSON"),
        image["Object"]
    );
    docs.iter()
        .filter(|d| d["Name"] == EXAMPLE_KEY)
        .map(|doc| {
            assert_eq!(doc[id], doc["Name"], "the key `{id}` is the Name");
            docdb_envelope(doc)
        })
        .collect()
}

/// Check one Chains docdb document (as JSON) and return its envelope.
fn docdb_envelope(doc: &serde_json::Value) -> Vec<u8> {
    assert_eq!(doc["Name"], EXAMPLE_KEY, "{doc}");
    let envelope = b64(doc["Signature"].as_str().expect("Signature"));
    let parsed: serde_json::Value = serde_json::from_slice(&envelope).expect("envelope JSON");
    let payload = b64(parsed["payload"].as_str().expect("payload"));
    assert_eq!(b64(doc["Signed"].as_str().expect("Signed")), payload);
    let statement: serde_json::Value = serde_json::from_slice(&payload).expect("Statement");
    assert_eq!(doc["Object"], statement, "Object is the Statement");
    assert_eq!(doc["Cert"], "");
    assert_eq!(doc["Chain"], "");
    envelope
}

#[test]
fn mongodb_storage_conforms() {
    run_suite("mongodb", |_, py| {
        let bin = tool("SECANTUSD", "MongoDB storage conformance")?;
        let (service, port) = common::secantusdb(&bin);
        let url = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
        let py = py.to_owned();
        // Nothing listens on port 1: the driver gives up after its selection timeout.
        let dead =
            "mongodb://127.0.0.1:1/prov/att?serverSelectionTimeoutMS=1000&directConnection=true";
        Some(Target {
            label: "mongodb",
            storage: format!("mongodb://127.0.0.1:{port}/prov/att?directConnection=true"),
            failing: (
                dead.into(),
                "MongoDB `mongodb://127.0.0.1:1/prov/att`".into(),
            ),
            history: History::Latest,
            env: Vec::new(),
            read: Box::new(move |_| {
                docdb_envelopes(&python(&py, MONGO_DOCS, &[&url, "prov", "att"]), "_id")
            }),
            _services: vec![service],
        })
    });
}

/// boto3: every item of a DynamoDB table as JSON (`Signed` base64), one per line.
const DYNAMO_ITEMS: &str = r#"
import base64, json, sys, boto3
from boto3.dynamodb.types import TypeDeserializer
d = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing")
if len(sys.argv) > 3:
    d.create_table(TableName=sys.argv[2], BillingMode="PAY_PER_REQUEST",
                   KeySchema=[{"AttributeName": sys.argv[3], "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": sys.argv[3], "AttributeType": "S"}])
    sys.exit()
t = TypeDeserializer()
def plain(v):
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list): return [plain(x) for x in v]
    if hasattr(v, "as_integer_ratio") and not isinstance(v, (bool, float)):
        return int(v) if v == int(v) else float(v)
    if hasattr(v, "value"): return base64.b64encode(v.value).decode()
    return v
for item in d.scan(TableName=sys.argv[2])["Items"]:
    print(json.dumps(plain({k: t.deserialize(v) for k, v in item.items()})))
"#;

#[test]
fn dynamodb_storage_conforms() {
    run_suite("dynamodb", |dir, py| {
        let (service, endpoint) = common::moto(dir, "DynamoDB storage conformance")?;
        // Chains' URL form names the key attribute; here a table keyed by `name`.
        python(py, DYNAMO_ITEMS, &[&endpoint, "chains", "name"]);
        let py = py.to_owned();
        let ep = endpoint.clone();
        Some(Target {
            label: "dynamodb",
            storage: "dynamodb://chains?partition_key=name".into(),
            failing: (
                "dynamodb://no-such-table".into(),
                "DynamoDB `dynamodb://no-such-table`".into(),
            ),
            history: History::Latest,
            env: vec![
                ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
                ("AWS_ACCESS_KEY_ID", "testing".into()),
                ("AWS_SECRET_ACCESS_KEY", "testing".into()),
                ("AWS_REGION", "us-east-1".into()),
            ],
            read: Box::new(move |_| {
                docdb_envelopes(&python(&py, DYNAMO_ITEMS, &[&ep, "chains"]), "name")
            }),
            _services: vec![service],
        })
    });
}

/// The DSSE envelopes in the BUILD occurrences a Grafeas server holds for `project`.
fn grafeas_envelopes(base: &str, project: &str) -> Vec<Vec<u8>> {
    let (ok, body) = curl(&[&format!("{base}/v1/projects/{project}/occurrences")]);
    assert!(ok, "listing occurrences");
    let list: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    // The image signature: an ATTESTATION occurrence of Chains' simplesigning note.
    let image = list["occurrences"]
        .as_array()
        .expect("occurrences")
        .iter()
        .find(|o| o["kind"] == "ATTESTATION")
        .expect("an image signature occurrence");
    assert_eq!(
        image["noteName"],
        format!("projects/{project}/notes/tekton-ci-simplesigning")
    );
    assert!(
        image["resourceUri"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("@sha256:{IMAGE_DIGEST}"))),
        "{image}"
    );
    assert_eq!(
        image["attestation"]["serializedPayload"],
        image["envelope"]["payload"]
    );
    list["occurrences"]
        .as_array()
        .expect("occurrences")
        .iter()
        .filter(|o| o["kind"] == "BUILD")
        .map(|o| {
            assert_eq!(
                o["noteName"],
                format!("projects/{project}/notes/tekton-ci-pipelinerun-intoto")
            );
            let envelope = b64(o["envelope"]["signatures"][0]["sig"].as_str().expect("sig"));
            let parsed: serde_json::Value = serde_json::from_slice(&envelope).expect("JSON");
            assert_eq!(o["envelope"]["payload"], parsed["payload"]);
            envelope
        })
        .collect()
}

#[test]
fn grafeas_storage_conforms() {
    run_suite("grafeas", |_, py| {
        let (service, base) = http_double(py, "grafeas.py", &[]);
        let b = base.clone();
        Some(Target {
            label: "grafeas",
            storage: "grafeas://projects/prov".into(),
            // The double refuses projects named `denied…` as Container Analysis
            // refuses a project the credentials have no role on.
            failing: (
                "grafeas://projects/denied".into(),
                "HTTP 403 Forbidden: PERMISSION_DENIED: Permission 'containeranalysis.notes.create' denied".into(),
            ),
            history: History::Kept,
            env: vec![("CHAINSEAL_GRAFEAS_URL", base)],
            read: Box::new(move |_| grafeas_envelopes(&b, "prov")),
            _services: vec![service],
        })
    });
}

#[test]
fn archivista_storage_conforms() {
    run_suite("archivista", |_, py| {
        let (service, base) = http_double(py, "archivista.py", &[]);
        let (down, down_base) = http_double(py, "archivista.py", &["down"]);
        Some(Target {
            label: "archivista",
            storage: format!("archivista+{base}"),
            failing: (
                format!("archivista+{down_base}"),
                format!("Archivista `{down_base}/upload`: HTTP 503"),
            ),
            history: History::Kept,
            env: Vec::new(),
            // Archivista is read by gitoid: every location a run reported.
            read: Box::new(move |locations| {
                locations
                    .iter()
                    .filter(|l| l.starts_with(&base))
                    .map(|l| {
                        let (ok, body) = curl(&[l]);
                        assert!(ok, "downloading {l}");
                        body
                    })
                    .collect()
            }),
            _services: vec![service, down],
        })
    });
}

/// The GCS double's service-account key file (`argv[1]`) with another RSA key in it,
/// written to `argv[2]`: same key id and email, a signature the double must refuse.
const FORGED_ACCOUNT: &str = r#"
import json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
account = json.load(open(sys.argv[1]))
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
account["private_key"] = key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
json.dump(account, open(sys.argv[2], "w"))
"#;

/// chainseal authenticates to GCS with the service account's own signed token (the
/// production credential path, also at an endpoint): the conformance suite stores with
/// the double's service account; here a key file with another key (the JWT does not
/// verify) and an empty bearer (object_store's `disable_oauth` key file, for emulators;
/// what chainseal used to send with an endpoint) are refused with 401, and the run
/// says so.
#[test]
fn gcs_refuses_requests_without_the_service_accounts_signed_token() {
    let Some(py) = tool("INTEROP_PYTHON", "GCS authentication") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let dir = dir.path();
    let gcs = common::gcs_double(&py, dir);
    gcs.create_bucket("provenance");
    let forged = dir.join("forged-account.json");
    python(
        &py,
        FORGED_ACCOUNT,
        &[
            &gcs.credentials.display().to_string(),
            &forged.display().to_string(),
        ],
    );
    let no_oauth = dir.join("no-oauth.json");
    std::fs::write(
        &no_oauth,
        r#"{"disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""}"#,
    )
    .expect("write");
    for (label, env, needle) in [
        (
            "forged key",
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                forged.display().to_string(),
            ),
            "Invalid Credentials: the JWT signature does not verify with the service account's key",
        ),
        (
            "empty bearer",
            ("GOOGLE_SERVICE_ACCOUNT", no_oauth.display().to_string()),
            "Authentication required",
        ),
    ] {
        let local = dir.join(format!("local-{}", label.replace(' ', "-")));
        let r = run(chainseal(dir)
            .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .env("CHAINSEAL_KEY", repo("examples/demo.key"))
            .env(
                "CHAINSEAL_STORAGE",
                format!("gs://provenance/att,{}", local.display()),
            )
            .env("CHAINSEAL_STORAGE_ENDPOINT", &gcs.endpoint)
            .env(env.0, env.1));
        assert_eq!(r.code, 2, "{label}: {}", r.stdout);
        for want in ["object storage `gs://provenance/att", "401", needle] {
            assert!(
                r.stderr.contains(want),
                "{label}: no `{want}` in {}",
                r.stderr
            );
        }
        assert!(
            gcs.read(
                "provenance",
                &format!("att/{RUN_DIR}/{EXAMPLE_KEY}.signature")
            )
            .is_none(),
            "{label}: an object was stored"
        );
    }
}

/// With an endpoint and no key file, chainseal takes its token from the metadata server
/// (GKE workload identity, e.g. with a private endpoint), as it does without one.
#[test]
fn gcs_at_an_endpoint_takes_workload_identity_tokens_from_the_metadata_server() {
    let Some(py) = tool("INTEROP_PYTHON", "GCS workload identity") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let dir = dir.path();
    let gcs = common::gcs_double(&py, dir);
    gcs.create_bucket("provenance");
    let host = gcs.endpoint.trim_start_matches("http://");
    let r = run(chainseal(dir)
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", repo("examples/demo.key"))
        .env("CHAINSEAL_STORAGE", "gs://provenance/att")
        .env("CHAINSEAL_STORAGE_ENDPOINT", &gcs.endpoint)
        .env("GCE_METADATA_HOST", host));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        gcs.read(
            "provenance",
            &format!("att/{RUN_DIR}/{EXAMPLE_KEY}.signature")
        )
        .is_some(),
        "nothing stored: {}",
        r.stdout
    );
}

/// Failures each name the backend, the target and the cause; the run's directory
/// backend still stores; the run fails: permission denied (GCS), no credentials
/// (Grafeas without a token), a document the database refuses (DynamoDB's 400 KB item
/// limit).
#[test]
fn refusals_name_the_backend_target_and_cause() {
    let Some(py) = tool("INTEROP_PYTHON", "storage refusals") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let dir = dir.path();
    let gcs = common::gcs_double(&py, dir);
    let (_grafeas, grafeas) = http_double(&py, "grafeas.py", &["up", "the-token"]);
    let mut cases = vec![
        (
            "gs://denied-bucket/att",
            vec![
                ("CHAINSEAL_STORAGE_ENDPOINT", gcs.endpoint.clone()),
                (
                    "GOOGLE_APPLICATION_CREDENTIALS",
                    gcs.credentials.display().to_string(),
                ),
            ],
            vec![
                "object storage `gs://denied-bucket/",
                "AccessDenied",
                "permission denied",
            ],
        ),
        (
            "grafeas://projects/prov",
            vec![("CHAINSEAL_GRAFEAS_URL", grafeas)],
            vec![
                "Grafeas `",
                "/v1/projects/prov/notes",
                "HTTP 401 Unauthorized: UNAUTHENTICATED",
            ],
        ),
    ];
    let moto = common::moto(dir, "DynamoDB refusal");
    let mut subjects = String::new();
    if let Some((_, endpoint)) = &moto {
        python(&py, DYNAMO_ITEMS, &[endpoint, "chains", "Name"]);
        // 1,000 subjects: the item (Statement, envelope, document) passes 400 KB.
        for i in 0..1000 {
            subjects.push_str(&format!(
                "{i:064x}  dist/a-rather-long-release-artifact-name-{i:04}.tar.gz\n"
            ));
        }
        cases.push((
            "dynamodb://chains",
            vec![
                ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()),
                ("AWS_ACCESS_KEY_ID", "testing".into()),
                ("AWS_SECRET_ACCESS_KEY", "testing".into()),
                ("AWS_REGION", "us-east-1".into()),
            ],
            vec![
                "DynamoDB `dynamodb://chains`",
                "ValidationException",
                "400 KB",
            ],
        ));
    }
    let subjects_file = dir.join("SHA256SUMS");
    std::fs::write(&subjects_file, subjects).expect("write");
    for (i, (storage, env, needles)) in cases.into_iter().enumerate() {
        let local = dir.join(format!("local-{i}"));
        let mut cmd = chainseal(dir);
        cmd.env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .env("CHAINSEAL_KEY", repo("examples/demo.key"))
            .env(
                "CHAINSEAL_STORAGE",
                format!("{storage},{}", local.display()),
            )
            .env("CHAINSEAL_LOG_LEVEL", "error")
            .envs(env);
        if storage.starts_with("dynamodb") {
            cmd.env("CHAINSEAL_SUBJECT_CHECKSUMS", &subjects_file);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 2, "{storage}: {}", r.stdout);
        for needle in needles {
            assert!(
                r.stderr.contains(needle),
                "{storage}: no `{needle}` in {}",
                r.stderr
            );
        }
        assert!(
            local.join(format!("{EXAMPLE_KEY}.intoto.jsonl")).exists(),
            "{storage}: the directory backend did not store: {}",
            r.stderr
        );
    }
}
