//! Modern Sigstore: Rekor v2 (rekor-tiles v2.3.0's POSIX server, `REKOR_SERVER_BIN`),
//! RFC 3161 timestamps (timestamp-authority v2.1.3 with its in-memory signer,
//! `TIMESTAMP_SERVER_BIN`) and SigningConfig v0.2, with the Sigstore double as Fulcio
//! (both servers built by scripts/peers). Every bundle shape is verified by
//! `chainseal verify`, by cosign v3 and, where it can (one log entry and a
//! certificate), by sigstore-python.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::common::{self, EXAMPLE_KEY, Service, assert_error, attest_example, repo, tool};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
/// A subject of examples/pipelinerun.yaml.
const SUBJECT: &str = "6a1f0d6f8c2c4b0e9f3d2a1b7c5e8d9f0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// A server that answers every request 200 with bytes that are no TimeStampResp;
/// prints its port.
const GARBAGE_SERVER: &str = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.end_headers()
        self.wfile.write(b"\x30\x03\x02\x01\x07 this is no timestamp")
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// The timestamp authority always serves its metrics on port 2112: one runs at a time.
static TSA_PORT_2112: Mutex<()> = Mutex::new(());

/// A Rekor v2 log on loopback, with its own key and storage.
pub(crate) struct RekorV2 {
    _server: Service,
    _storage: tempfile::TempDir,
    pub(crate) url: String,
    spki: Vec<u8>,
}

impl RekorV2 {
    pub(crate) fn start(bin: &Path) -> Self {
        use aws_lc_rs::encoding::AsDer as _;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
        let storage = tempfile::tempdir().expect("tmp");
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("a log key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
            .expect("the log key");
        let spki = pair.public_key().as_der().expect("SPKI").as_ref().to_vec();
        let key = storage.path().join("log-key.pem");
        std::fs::write(
            &key,
            pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref())),
        )
        .expect("write the key");
        let tiles = storage.path().join("tiles");
        std::fs::create_dir(&tiles).expect("mkdir");
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a port")
        };
        let (server, http) = common::spawn_on_free_port("rekor-server (Rekor v2)", |http| {
            let mut cmd = Command::new(bin);
            cmd.arg("serve")
                .arg("--storage-dir")
                .arg(&tiles)
                .arg("--signer-filepath")
                .arg(&key)
                .args(["--http-port", &http.to_string()])
                .args(["--grpc-port", &port().to_string()])
                .args(["--http-metrics-port", &port().to_string()])
                // The checkpoint's origin: sigstore-go checks it against the host of
                // the trusted root's baseUrl.
                .args(["--hostname", "127.0.0.1"])
                .args(["--checkpoint-interval", "200ms", "--batch-max-age", "20ms"])
                .stderr(std::process::Stdio::null());
            cmd
        });
        Self {
            _server: server,
            _storage: storage,
            url: format!("http://127.0.0.1:{http}"),
            spki,
        }
    }

    /// Its `tlogs` entry of a trusted root.
    fn trusted_log(&self) -> Value {
        json!({
            "baseUrl": self.url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": STANDARD.encode(&self.spki),
                          "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                          "validFor": {"start": "2020-01-01T00:00:00Z"}},
            "logId": {"keyId": STANDARD.encode(sha2::Sha256::digest(&self.spki))},
        })
    }
}

/// A timestamp authority on loopback (one at a time: it holds port 2112).
pub(crate) struct Tsa {
    _server: Service,
    _port_2112: std::sync::MutexGuard<'static, ()>,
    pub(crate) url: String,
    chain: Vec<Vec<u8>>,
}

impl Tsa {
    pub(crate) fn start(bin: &Path) -> Self {
        let guard = TSA_PORT_2112
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (server, port) = common::spawn_on_free_port("timestamp-server", |port| {
            let mut cmd = Command::new(bin);
            cmd.args([
                "serve",
                "--timestamp-signer",
                "memory",
                "--host",
                "127.0.0.1",
            ])
            .args(["--port", &port.to_string(), "--disable-ntp-monitoring"])
            .stderr(std::process::Stdio::null());
            cmd
        });
        let base = format!("http://127.0.0.1:{port}");
        let pem_chain = Command::new("curl")
            .args(["-sf", &format!("{base}/api/v1/timestamp/certchain")])
            .output()
            .expect("curl");
        assert!(pem_chain.status.success(), "the TSA's certificate chain");
        let chain = pem::parse_many(&pem_chain.stdout)
            .expect("PEM chain")
            .into_iter()
            .map(pem::Pem::into_contents)
            .collect::<Vec<_>>();
        assert_eq!(chain.len(), 3, "leaf, intermediate, root");
        Self {
            _server: server,
            _port_2112: guard,
            url: format!("{base}/api/v1/timestamp"),
            chain,
        }
    }

    /// Its `timestampAuthorities` entry of a trusted root.
    fn trusted_authority(&self) -> Value {
        let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        json!({
            "subject": {"organization": "local", "commonName": "Test TSA Timestamping"},
            "uri": self.url,
            "certChain": {"certificates": self.chain.iter()
                .map(|c| json!({"rawBytes": STANDARD.encode(c)})).collect::<Vec<_>>()},
            "validFor": {"start": start.to_string()},
        })
    }
}

/// The Sigstore double (Fulcio), a Rekor v2 log, a timestamp authority, a directory.
struct Scene {
    _double: Service,
    double: String,
    rekor: RekorV2,
    tsa: Tsa,
    python: PathBuf,
    dir: tempfile::TempDir,
}

impl Scene {
    fn start(what: &str) -> Option<Self> {
        let rekor_bin = tool("REKOR_SERVER_BIN", what)?;
        let tsa_bin = tool("TIMESTAMP_SERVER_BIN", what)?;
        let python = tool("INTEROP_PYTHON", what)?;
        let (double, url) = common::sigstore_double(what)?;
        Some(Self {
            _double: double,
            double: url,
            rekor: RekorV2::start(&rekor_bin),
            tsa: Tsa::start(&tsa_bin),
            python,
            dir: tempfile::tempdir().expect("tmp"),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The double's trust root plus the Rekor v2 log and the timestamp authority.
    fn trusted_root(&self) -> PathBuf {
        let out = Command::new("curl")
            .args(["-sf", &format!("{}/trusted_root.json", self.double)])
            .output()
            .expect("curl");
        let mut root: Value = serde_json::from_slice(&out.stdout).expect("trust root");
        root["tlogs"]
            .as_array_mut()
            .expect("tlogs")
            .push(self.rekor.trusted_log());
        root["timestampAuthorities"] = json!([self.tsa.trusted_authority()]);
        let path = self.path("trusted_root.json");
        std::fs::write(&path, root.to_string()).expect("write");
        path
    }

    /// An identity token file for `IDENTITY`.
    fn token(&self) -> PathBuf {
        let now = jiff::Timestamp::now().as_second();
        let claims = json!({"iss": ISSUER, "sub": IDENTITY, "aud": "sigstore", "exp": now + 600, "iat": now});
        let path = self.path("oidc-token");
        std::fs::write(&path, common::identity_token(claims)).expect("token");
        path
    }

    fn keyless_env(&self, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("CHAINSEAL_FULCIO_URL", self.double.clone()),
            (
                "CHAINSEAL_IDENTITY_TOKEN_FILE",
                self.token().display().to_string(),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    }

    /// `chainseal verify` of a keyless bundle against `root`.
    fn chainseal_verifies(&self, bundle: &Path, root: &Path) -> common::Run {
        common::run(
            common::chainseal(self.dir.path())
                .arg("verify")
                .args(["--certificate-identity", IDENTITY])
                .args(["--certificate-oidc-issuer", ISSUER])
                .arg("--trusted-root")
                .arg(root)
                .arg(bundle),
        )
    }

    /// sigstore-python's `verify identity` offline against `root`.
    fn python_verifies(&self, bundle: &Path, root: &Path) -> common::Run {
        let trusted: Value =
            serde_json::from_slice(&std::fs::read(root).expect("root")).expect("JSON");
        let config = self.path("trust_config.json");
        let doc = json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": trusted,
            "signingConfig": {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"},
        });
        std::fs::write(&config, doc.to_string()).expect("write");
        common::run(
            Command::new(&self.python)
                .args(["-m", "sigstore", "--trust-config"])
                .arg(&config)
                .args(["verify", "identity", "--offline", "--bundle"])
                .arg(bundle)
                .args(["--cert-identity", IDENTITY, "--cert-oidc-issuer", ISSUER])
                .arg(format!("sha256:{SUBJECT}")),
        )
    }
}

/// cosign v3 `verify-blob-attestation` of `bundle` against `root`, keyless or with
/// `key`, with `extra` flags.
fn cosign_verifies(
    dir: &Path,
    bundle: &Path,
    root: &Path,
    key: Option<&Path>,
    extra: &[&str],
) -> Option<common::Run> {
    let cosign = tool("COSIGN_BIN", "cosign v3 on Rekor v2 and timestamps")?;
    let mut cmd = Command::new(cosign);
    cmd.env_clear()
        .env("HOME", dir)
        .arg("verify-blob-attestation")
        .arg("--bundle")
        .arg(bundle)
        .arg("--trusted-root")
        .arg(root)
        .args([
            "--type",
            "slsaprovenance1",
            "--digestAlg",
            "sha256",
            "--digest",
            SUBJECT,
        ])
        .args(extra);
    match key {
        Some(key) => {
            cmd.arg("--key").arg(key);
        }
        None => {
            cmd.args(["--certificate-identity", IDENTITY])
                .args(["--certificate-oidc-issuer", ISSUER]);
        }
    }
    Some(common::run(&mut cmd))
}

fn bundle_of(out: &Path) -> (PathBuf, Value) {
    let path = out.join(format!("{EXAMPLE_KEY}.sigstore.json"));
    let value = serde_json::from_slice(&std::fs::read(&path).expect("a bundle")).expect("JSON");
    (path, value)
}

fn assert_ok(r: &common::Run, what: &str) {
    assert_eq!(r.code, 0, "{what}:\n{}{}", r.stdout, r.stderr);
}

/// Keyless, logged in Rekor v2 (its API version detected from `CHAINSEAL_REKOR_URL`)
/// and timestamped: a `hashedrekord` 0.0.2 entry over the envelope's PAE with an
/// inclusion proof and no SET, and an RFC 3161 timestamp over the signature. Verified
/// by chainseal, sigstore-python and cosign v3; without the timestamp authority in
/// the trusted root, or with the entry's body for another payload, it is not.
#[test]
fn keyless_bundles_logged_in_rekor_v2_and_timestamped_verify_everywhere() {
    let Some(s) = Scene::start("Rekor v2 and RFC 3161 timestamps") else {
        return;
    };
    let out = s.path("out");
    let env = s.keyless_env(&[
        ("CHAINSEAL_REKOR_URL", &s.rekor.url),
        ("CHAINSEAL_TSA_URL", &s.tsa.url),
    ]);
    let r = attest_example(s.dir.path(), "keyless", &out, &env);
    assert_ok(&r, "attest");
    assert!(
        r.stdout
            .contains(&format!("{}/api/v2/log/entries?logIndex=", s.rekor.url)),
        "the entry is reported: {}",
        r.stdout
    );
    let (bundle, b) = bundle_of(&out);
    let entry = &b["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(
        entry["kindVersion"],
        json!({"kind": "hashedrekord", "version": "0.0.2"})
    );
    assert!(
        entry.get("inclusionPromise").is_none(),
        "Rekor v2 signs no SET"
    );
    assert!(entry["inclusionProof"]["checkpoint"]["envelope"].is_string());
    let timestamps = &b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"];
    assert_eq!(timestamps.as_array().map(Vec::len), Some(1), "{b}");

    let root = s.trusted_root();
    assert_ok(&s.chainseal_verifies(&bundle, &root), "chainseal verify");
    assert_ok(&s.python_verifies(&bundle, &root), "sigstore-python");
    if let Some(c) = cosign_verifies(s.dir.path(), &bundle, &root, None, &[]) {
        assert_ok(&c, "cosign v3");
    }

    // Without the TSA in the trust root, the timestamp proves nothing.
    let mut bare: Value =
        serde_json::from_slice(&std::fs::read(&root).expect("root")).expect("JSON");
    bare["timestampAuthorities"] = json!([]);
    let bare_root = s.path("no-tsa-root.json");
    std::fs::write(&bare_root, bare.to_string()).expect("write");
    let r = s.chainseal_verifies(&bundle, &bare_root);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("names no timestamp authority")
            || r.stderr.contains("names no timestamp authority"),
        "{}{}",
        r.stdout,
        r.stderr
    );

    // Another payload than the logged one: the entry no longer matches.
    let mut other = b.clone();
    let payload = other["dsseEnvelope"]["payload"].as_str().expect("payload");
    let mut bytes = STANDARD.decode(payload).expect("base64");
    bytes[10] ^= 1;
    other["dsseEnvelope"]["payload"] = STANDARD.encode(bytes).into();
    let tampered = s.path("tampered.sigstore.json");
    std::fs::write(&tampered, other.to_string()).expect("write");
    let r = s.chainseal_verifies(&tampered, &root);
    assert_eq!(
        r.code, 1,
        "a tampered bundle verified: {}{}",
        r.stdout, r.stderr
    );
    let r = s.python_verifies(&tampered, &root);
    assert_ne!(r.code, 0, "sigstore-python verified a tampered bundle");
}

/// Timestamp-only mode (`CHAINSEAL_TRANSPARENCY=off` with a TSA), as GitHub signs
/// private repositories' builds: no log entry, a timestamp the certificate is checked
/// at. chainseal and cosign (`--insecure-ignore-tlog --use-signed-timestamps`) accept
/// it; sigstore-python 4.5 takes only bundles with one log entry.
#[test]
fn timestamp_only_keyless_bundles_verify_on_their_timestamp() {
    let Some(s) = Scene::start("timestamp-only signing") else {
        return;
    };
    let out = s.path("out");
    let env = s.keyless_env(&[
        ("CHAINSEAL_TRANSPARENCY", "off"),
        ("CHAINSEAL_TSA_URL", &s.tsa.url),
    ]);
    let r = attest_example(s.dir.path(), "keyless", &out, &env);
    assert_ok(&r, "attest");
    let (bundle, b) = bundle_of(&out);
    assert!(
        b["verificationMaterial"].get("tlogEntries").is_none(),
        "{b}"
    );
    let root = s.trusted_root();
    assert_ok(&s.chainseal_verifies(&bundle, &root), "chainseal verify");
    if let Some(c) = cosign_verifies(
        s.dir.path(),
        &bundle,
        &root,
        None,
        &["--insecure-ignore-tlog", "--use-signed-timestamps"],
    ) {
        assert_ok(&c, "cosign v3");
    }
    let py = s.python_verifies(&bundle, &root);
    assert_ne!(py.code, 0, "sigstore-python 4.5 takes one log entry only");
}

/// Key-signed attestations timestamped (and logged in Rekor v2): cosign v3 verifies
/// both bundles with the public key and the trust root's TSA (and log).
#[test]
fn key_signed_bundles_may_be_timestamped_and_logged_in_rekor_v2() {
    let Some(s) = Scene::start("key-signed timestamps") else {
        return;
    };
    let root = s.trusted_root();
    let key = repo("examples/demo.pub");
    for (name, transparency, extra) in [
        (
            "timestamped",
            "off",
            &["--insecure-ignore-tlog", "--use-signed-timestamps"][..],
        ),
        ("logged", "on", &["--use-signed-timestamps"][..]),
    ] {
        let out = s.path(name);
        let env = vec![
            ("CHAINSEAL_REKOR_URL", s.rekor.url.clone()),
            ("CHAINSEAL_TSA_URL", s.tsa.url.clone()),
            ("CHAINSEAL_TRANSPARENCY", transparency.to_owned()),
            ("CHAINSEAL_BUNDLE", "true".to_owned()),
        ];
        let r = attest_example(
            s.dir.path(),
            &repo("examples/demo.key").display().to_string(),
            &out,
            &env,
        );
        assert_ok(&r, name);
        let (bundle, b) = bundle_of(&out);
        assert_eq!(
            b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
                .as_array()
                .map(Vec::len),
            Some(1),
            "{name}: {b}"
        );
        assert_eq!(
            b["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"].as_str(),
            (transparency == "on").then_some("0.0.2"),
            "{name}"
        );
        if let Some(c) = cosign_verifies(s.dir.path(), &bundle, &root, Some(&key), extra) {
            assert_ok(&c, name);
        }
        // chainseal verify --key takes the bundle, and with a trusted root checks its
        // entry and timestamp too.
        let verify = |bundle: &Path, root: Option<&Path>| {
            let mut cmd = common::chainseal(s.dir.path());
            cmd.arg("verify").arg("--key").arg(&key);
            if let Some(root) = root {
                cmd.arg("--trusted-root").arg(root);
            }
            common::run(cmd.arg(bundle))
        };
        assert_ok(
            &verify(&bundle, Some(&root)),
            &format!("{name}: chainseal verify --key"),
        );
        assert_ok(
            &verify(&bundle, None),
            &format!("{name}: the signature alone"),
        );
        // A timestamp whose authority's signature is broken (its last byte, the end
        // of the signer's signature, flipped) is refused.
        let mut broken = b.clone();
        let ts = &mut broken["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            [0]["signedTimestamp"];
        let mut der = STANDARD
            .decode(ts.as_str().expect("timestamp"))
            .expect("base64");
        *der.last_mut().expect("bytes") ^= 1;
        *ts = STANDARD.encode(der).into();
        let path = s.path(&format!("{name}-broken.sigstore.json"));
        std::fs::write(&path, broken.to_string()).expect("write");
        let r = verify(&path, Some(&root));
        assert_eq!(
            r.code, 1,
            "{name}: a broken timestamp verified: {}{}",
            r.stdout, r.stderr
        );
        assert!(
            format!("{}{}", r.stdout, r.stderr).contains("not signed by a timestamp authority"),
            "{name}: {}{}",
            r.stdout,
            r.stderr
        );
    }
}

/// A SigningConfig v0.2 selects by validity and API version: of a retired Rekor v1
/// and a current Rekor v2, the v2 log; the CA and the TSA it lists. Keyless signing
/// logged in Rekor v2 with no TSA is refused before anything is signed or stored.
#[test]
fn signing_configs_select_the_services_and_keyless_rekor_v2_needs_a_timestamp() {
    let Some(s) = Scene::start("SigningConfig selection") else {
        return;
    };
    let service = |url: &str, version: u32, end: Option<&str>| {
        let mut v = json!({"url": url, "majorApiVersion": version, "operator": "test",
                           "validFor": {"start": "2020-01-01T00:00:00Z"}});
        if let Some(end) = end {
            v["validFor"]["end"] = json!(end);
        }
        v
    };
    let config = |tsas: Value| {
        json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service(&s.double, 1, None)],
            "rekorTlogUrls": [service(&s.double, 1, Some("2021-01-01T00:00:00Z")),
                              service(&s.rekor.url, 2, None)],
            "tsaUrls": tsas,
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        })
    };
    let path = s.path("signing_config.json");
    std::fs::write(
        &path,
        config(json!([service(&s.tsa.url, 1, None)])).to_string(),
    )
    .expect("write");
    let out = s.path("out");
    let env = vec![
        ("CHAINSEAL_SIGNING_CONFIG", path.display().to_string()),
        // The config replaces the shortcuts: this Fulcio is never asked.
        ("CHAINSEAL_FULCIO_URL", "http://127.0.0.1:9".to_owned()),
        (
            "CHAINSEAL_IDENTITY_TOKEN_FILE",
            s.token().display().to_string(),
        ),
    ];
    let r = attest_example(s.dir.path(), "keyless", &out, &env);
    assert_ok(&r, "attest with a signing config");
    let (bundle, b) = bundle_of(&out);
    assert_eq!(
        b["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"],
        "0.0.2"
    );
    assert_ok(
        &s.chainseal_verifies(&bundle, &s.trusted_root()),
        "chainseal verify",
    );

    // Its only TSA retired: refused, not signed without a timestamp.
    std::fs::write(
        &path,
        config(json!([service(
            &s.tsa.url,
            1,
            Some("2021-01-01T00:00:00Z")
        )]))
        .to_string(),
    )
    .expect("write");
    let out = s.path("refused");
    let r = attest_example(s.dir.path(), "keyless", &out, &env);
    assert_error(&r, "lists timestamp authorities but none is valid now");
    assert!(
        !out.exists(),
        "nothing is stored: {:?}",
        common::files_below(&out)
    );
    // No TSA at all: keyless into Rekor v2 cannot be verified later; refused.
    std::fs::write(&path, config(json!([])).to_string()).expect("write");
    let r = attest_example(s.dir.path(), "keyless", &out, &env);
    assert_error(&r, "is a Rekor v2 log, which gives no signed time");
    assert!(
        !out.exists(),
        "nothing is stored: {:?}",
        common::files_below(&out)
    );
}

/// Faults: a TSA that cannot be reached or refuses (after bounded retries) fails the
/// run with a message naming it, and nothing is stored; a Rekor v2 that cannot be
/// reached stores everything and fails the run, as with Rekor v1.
#[test]
fn timestamp_authority_and_rekor_v2_faults_fail_clearly() {
    let Some(s) = Scene::start("Rekor v2 and TSA faults") else {
        return;
    };
    for (name, tsa, needle) in [
        (
            "unreachable",
            "http://127.0.0.1:9/api/v1/timestamp".to_owned(),
            "timestamp",
        ),
        (
            "refusing",
            format!(
                "{}/api/v1/nothing",
                s.tsa.url.trim_end_matches("/api/v1/timestamp")
            ),
            "HTTP 404",
        ),
        ("not a TSA", format!("{}/api/v1/log", s.double), "HTTP 404"),
    ] {
        let out = s.path(name);
        let env = s.keyless_env(&[
            ("CHAINSEAL_REKOR_URL", &s.rekor.url),
            ("CHAINSEAL_TSA_URL", &tsa),
        ]);
        let r = attest_example(s.dir.path(), "keyless", &out, &env);
        assert_error(&r, "timestamping the attestation's signature failed");
        assert!(r.stderr.contains(needle), "{name}: {}", r.stderr);
        assert!(!out.exists(), "{name}: stored without its timestamp");
    }
    // A TSA that answers 200 with something that is no TimeStampResp.
    let (_junk, port) = common::spawn_ready(
        Command::new(&s.python).args(["-c", GARBAGE_SERVER]),
        "a server of garbage",
    );
    let out = s.path("garbage");
    let garbage = format!("http://127.0.0.1:{port}/api/v1/timestamp");
    let env = s.keyless_env(&[
        ("CHAINSEAL_REKOR_URL", &s.rekor.url),
        ("CHAINSEAL_TSA_URL", &garbage),
    ]);
    let r = attest_example(s.dir.path(), "keyless", &out, &env);
    assert_error(&r, "is not an RFC 3161 TimeStampResp");
    assert!(!out.exists(), "stored with a garbage timestamp");

    // Transient faults (each request's first try answered 500 or cut) are retried.
    let log = s.path("faults.log");
    let tsa_host = s
        .tsa
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/api/v1/timestamp");
    let (_proxy, proxy_port) = common::spawn_ready(
        Command::new(&s.python)
            .arg(repo("tests/interop/fault_proxy.py"))
            .args([tsa_host, "7", "1.0"])
            .arg(&log),
        "the fault proxy",
    );
    let out = s.path("retried");
    let flaky = format!("http://127.0.0.1:{proxy_port}/api/v1/timestamp");
    let env = s.keyless_env(&[
        ("CHAINSEAL_REKOR_URL", &s.rekor.url),
        ("CHAINSEAL_TSA_URL", &flaky),
    ]);
    let r = attest_example(s.dir.path(), "keyless", &out, &env);
    assert_ok(&r, "attest through a faulty TSA");
    let faults = std::fs::read_to_string(&log).expect("the proxy's log");
    assert!(
        faults
            .lines()
            .any(|l| !l.starts_with("ok ") && !l.starts_with("forward ")),
        "no fault was injected: {faults}"
    );
    let (bundle, _) = bundle_of(&out);
    assert_ok(
        &s.chainseal_verifies(&bundle, &s.trusted_root()),
        "chainseal verify",
    );

    let out = s.path("no-log");
    let env = s.keyless_env(&[
        ("CHAINSEAL_REKOR_URL", "http://127.0.0.1:9"),
        ("CHAINSEAL_TSA_URL", &s.tsa.url),
    ]);
    let r = attest_example(s.dir.path(), "keyless", &out, &env);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("127.0.0.1:9"), "{}", r.stderr);
}

/// The logs and timestamp authorities are reached over https with the platform's
/// trust store, read lazily (the shared TLS configuration of `http`): a server whose
/// certificate chains to a CA the store lacks is refused; trusted through
/// `SSL_CERT_FILE`, the same server is spoken to (and, being no TSA, answers no
/// timestamp). Nothing is stored without its timestamp.
#[test]
fn https_services_are_verified_with_the_platform_trust_store() {
    let Some(python) = tool("INTEROP_PYTHON", "https to Sigstore services") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let tls = dir.path().join("tls");
    std::fs::create_dir(&tls).expect("mkdir");
    let (_server, url) = common::http_double(
        &python,
        "hostile_registry.py",
        &["--tls", tls.to_str().expect("utf-8")],
    );
    let https = url.replace("http://", "https://");
    let key = repo("examples/demo.key").display().to_string();
    let tsa = format!("{https}/api/v1/timestamp");
    let out = dir.path().join("untrusted");
    let env = vec![("CHAINSEAL_TSA_URL", tsa.clone())];
    let r = attest_example(dir.path(), &key, &out, &env);
    assert_error(&r, "timestamping the attestation's signature failed");
    assert!(
        r.stderr.contains("certificate") || r.stderr.contains("UnknownIssuer"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    let out = dir.path().join("trusted");
    let env = vec![
        ("CHAINSEAL_TSA_URL", tsa),
        ("SSL_CERT_FILE", tls.join("ca.pem").display().to_string()),
    ];
    let r = attest_example(dir.path(), &key, &out, &env);
    assert_error(&r, "is not an RFC 3161 TimeStampResp");
    assert!(!r.stderr.contains("certificate"), "{}", r.stderr);
    assert!(!out.exists());
}

/// Registry storage with Rekor v2 and timestamps: Sigstore-bundle referrers carry the
/// entry and timestamp, and `chainseal verify --image` accepts them (logged in Rekor v2,
/// and timestamp-only); cosign's tag layout has no place for either on `.att` layers
/// (its Rekor annotation needs a SET), which verify reports, while `.sig` layers carry
/// cosign's timestamp annotation.
#[test]
fn registry_attestations_with_rekor_v2_and_timestamps_verify() {
    let Some(s) = Scene::start("registry storage with Rekor v2 and timestamps") else {
        return;
    };
    let Some(registry_bin) = tool("REGISTRY_BIN", "registry storage with Rekor v2") else {
        return;
    };
    let reg = common::registry::TestRegistry::start(&registry_bin, s.dir.path(), false);
    let repo_name = common::cosign::REPO;
    let root = s.trusted_root();
    for (n, (name, transparency)) in [("logged", "on"), ("timestamped", "off")]
        .into_iter()
        .enumerate()
    {
        let digest = reg.push_image(repo_name, &format!("v{n}"), name);
        let image = format!("{}/{repo_name}@{digest}", reg.host);
        let record = common::cosign::taskrun_record(s.dir.path(), &image, &format!("{name}.yaml"));
        for encoding in ["dsse", "sigstore-bundle"] {
            let mut cmd = common::chainseal(s.dir.path());
            cmd.env("CHAINSEAL_RECORD", &record)
                .env("CHAINSEAL_KEY", "keyless")
                .env("CHAINSEAL_STORAGE", "oci")
                .env("CHAINSEAL_OCI_ENCODING", encoding)
                .env("CHAINSEAL_INSECURE_REGISTRIES", &reg.host)
                .env("CHAINSEAL_TRANSPARENCY", transparency)
                .env("CHAINSEAL_REKOR_URL", &s.rekor.url)
                .env("CHAINSEAL_TSA_URL", &s.tsa.url);
            for (k, v) in s.keyless_env(&[]) {
                cmd.env(k, v);
            }
            let r = common::run(&mut cmd);
            assert_ok(&r, &format!("{name} {encoding}: attest"));
        }
        let hex = digest.trim_start_matches("sha256:");
        let att = reg
            .inspect_raw(repo_name, &format!("sha256-{hex}.att"))
            .expect(".att tag");
        let notes = &att["layers"][0]["annotations"];
        assert!(
            notes.get("dev.sigstore.cosign/bundle").is_none(),
            "{name}: {notes}"
        );
        // The image signature's layer carries its timestamp as cosign writes it.
        let sig = reg
            .inspect_raw(repo_name, &format!("sha256-{hex}.sig"))
            .expect(".sig tag");
        assert!(
            sig["layers"][0]["annotations"]["dev.sigstore.cosign/rfc3161timestamp"].is_string(),
            "{name}: {sig}"
        );
        let v = common::run(
            common::chainseal(s.dir.path())
                .args(["verify", "--image", &image])
                .args(["--certificate-identity", IDENTITY])
                .args(["--certificate-oidc-issuer", ISSUER])
                .arg("--trusted-root")
                .arg(&root)
                .env("CHAINSEAL_INSECURE_REGISTRIES", &reg.host),
        );
        // The Sigstore bundle referrer verifies (so the image passes); the `.att` layer
        // has no proof of time (cosign's tag layout carries a Rekor v1 SET only) and is
        // reported as rejected, with the remedy.
        assert_eq!(v.code, 0, "{name}: {}{}", v.stdout, v.stderr);
        assert!(
            v.stderr.contains("1 attestation(s) verified")
                && v.stderr.contains("1 item(s) rejected"),
            "{name}: {}",
            v.stderr
        );
        assert!(
            v.stdout.contains("CHAINSEAL_OCI_ENCODING=sigstore-bundle"),
            "{name}: {}",
            v.stdout
        );
    }
}
