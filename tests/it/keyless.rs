//! Keyless signing and the transparency log against the Sigstore double
//! (`tests/doubles/sigstore/server.js`: `@sigstore/mock`'s Fulcio and Rekor served over
//! loopback), with bundles checked by python `sigstore` offline against the double's
//! trust root.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{EXAMPLE_KEY, Service, assert_error, attest_example, repo, tool};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
/// A subject of examples/pipelinerun.yaml.
const SUBJECT: &str = "sha256:6a1f0d6f8c2c4b0e9f3d2a1b7c5e8d9f0a1b2c3d4e5f60718293a4b5c6d7e8f9";

struct Sigstore {
    _double: Service,
    url: String,
    python: PathBuf,
}

impl Sigstore {
    fn start(what: &str) -> Option<Self> {
        let python = tool("INTEROP_PYTHON", what)?;
        let (double, url) = common::sigstore_double(what)?;
        Some(Self {
            _double: double,
            url,
            python,
        })
    }

    /// The double, a temporary directory and its `out` storage directory.
    fn scene(what: &str) -> Option<(Self, tempfile::TempDir, PathBuf)> {
        let sigstore = Self::start(what)?;
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("out");
        Some((sigstore, dir, out))
    }

    fn get(&self, path: &str) -> Vec<u8> {
        let out = Command::new("curl")
            .args(["-sf", &format!("{}{path}", self.url)])
            .output()
            .expect("curl");
        assert!(out.status.success(), "GET {path}");
        out.stdout
    }

    fn faults(&self, faults: Value) {
        let out = Command::new("curl")
            .args(["-sf", "-X", "POST", "--data", &faults.to_string()])
            .arg(format!("{}/__faults", self.url))
            .output()
            .expect("curl");
        assert!(out.status.success());
    }

    /// POST `body` to `path`: the status and the JSON reply (`null` when not JSON).
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let out = Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
            .args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(body.to_string())
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (reply, status) = text.rsplit_once('\n').expect("a status line");
        (
            status.trim().parse().expect("an HTTP status"),
            serde_json::from_str(reply).unwrap_or(Value::Null),
        )
    }

    /// What the double was sent: [method, path, body].
    fn requests(&self) -> Vec<Value> {
        serde_json::from_slice::<Vec<Value>>(&self.get("/__requests")).expect("JSON")
    }

    /// The log entries the double was sent: [method, path, body].
    fn log_entries(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r[1] == "/api/v1/log/entries")
            .collect()
    }

    fn env(&self, token_file: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("CHAINSEAL_FULCIO_URL", self.url.clone()),
            ("CHAINSEAL_REKOR_URL", self.url.clone()),
            (
                "CHAINSEAL_IDENTITY_TOKEN_FILE",
                token_file.display().to_string(),
            ),
        ]
    }

    /// `sigstore verify identity` offline against the double's trust root.
    fn python_verifies(
        &self,
        dir: &Path,
        bundle: &Path,
        identity: &str,
        artifact: &str,
    ) -> (bool, String) {
        common::sigstore_python_verifies(
            &self.python,
            &self.url,
            dir,
            bundle,
            (identity, ISSUER),
            artifact,
        )
    }
}

/// The verifier (PEM) of the `dsse` entry a logged request proposed.
fn logged_verifier(request: &Value) -> String {
    let sent: Value = serde_json::from_str(request[2].as_str().expect("body")).expect("JSON");
    assert_eq!(sent["kind"], "dsse");
    let verifier = STANDARD
        .decode(
            sent["spec"]["proposedContent"]["verifiers"][0]
                .as_str()
                .expect("verifier"),
        )
        .expect("base64");
    String::from_utf8(verifier).expect("PEM")
}

/// An identity token file with `claims`.
fn token(dir: &Path, claims: Value) -> PathBuf {
    let path = dir.join("oidc-token");
    std::fs::write(&path, common::identity_token(claims)).expect("token");
    path
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn good_claims() -> Value {
    json!({"iss": ISSUER, "sub": IDENTITY, "aud": "sigstore", "exp": now() + 600, "iat": now()})
}

#[test]
fn keyless_attestations_are_certified_logged_and_verify_with_sigstore_python() {
    let Some((sigstore, dir, out)) = Sigstore::scene("keyless signing") else {
        return;
    };
    let token = token(dir.path(), good_claims());
    let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&token));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let bundle = out.join(format!("{EXAMPLE_KEY}.sigstore.json"));
    let envelope = out.join(format!("{EXAMPLE_KEY}.intoto.jsonl"));
    assert!(envelope.exists() && bundle.exists(), "{}", r.stderr);

    // The bundle: the certificate for the token's identity and the Rekor entry.
    let b: Value = serde_json::from_slice(&std::fs::read(&bundle).expect("read")).expect("JSON");
    assert_eq!(
        b["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(b["verificationMaterial"]["certificate"]["rawBytes"].is_string());
    let entry = &b["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "dsse");
    assert!(entry["inclusionProof"]["checkpoint"]["envelope"].is_string());
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    // What was logged: the envelope with the certificate as its verifier, sent as
    // Rekor's `proposedContent`.
    let logged = sigstore.log_entries();
    assert_eq!(logged.len(), 1, "one attestation, no images in the example");
    assert!(logged_verifier(&logged[0]).starts_with("-----BEGIN CERTIFICATE-----\n"));

    // sigstore-python: chain to the double's Fulcio root, SCT, SET, inclusion proof,
    // identity and issuer, and the Statement's subject.
    let (ok, said) = sigstore.python_verifies(dir.path(), &bundle, IDENTITY, SUBJECT);
    assert!(ok, "sigstore-python rejected the bundle: {said}");
    let (ok, said) = sigstore.python_verifies(
        dir.path(),
        &bundle,
        "https://github.com/mallory/app/.github/workflows/x.yml@refs/heads/main",
        SUBJECT,
    );
    assert!(!ok, "a wrong identity was accepted: {said}");
    let other = format!("sha256:{}", "0".repeat(64));
    let (ok, said) = sigstore.python_verifies(dir.path(), &bundle, IDENTITY, &other);
    assert!(!ok, "another artifact was accepted: {said}");
    // chainseal verifies it too: chain, SCT, log entry (promise, proof, checkpoint,
    // body), signature, identity and issuer.
    let root = dir.path().join("trusted_root.json");
    std::fs::write(&root, sigstore.get("/trusted_root.json")).expect("write");
    let v = chainseal_verify(dir.path(), &bundle, IDENTITY, ISSUER, Some(&root));
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout
            .contains(&format!("signer: {IDENTITY} (issuer {ISSUER})")),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout
            .contains("predicate type: https://slsa.dev/provenance/v1"),
        "{}",
        v.stdout
    );
    let v = chainseal_verify(
        dir.path(),
        &bundle,
        "https://github.com/mallory/x",
        ISSUER,
        Some(&root),
    );
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("the certificate is for"), "{}", v.stdout);
    let v = chainseal_verify(
        dir.path(),
        &bundle,
        IDENTITY,
        "https://accounts.example",
        Some(&root),
    );
    assert!(
        v.code == 1 && v.stdout.contains("OIDC issuer"),
        "{}",
        v.stdout
    );
    let v = chainseal_verify(dir.path(), &bundle, IDENTITY, ISSUER, None);
    common::assert_error(&v, "CHAINSEAL_TRUSTED_ROOT");
    // Tampering anywhere is caught: the payload, the log entry, the certificate's log.
    let tampered = |what: &str, change: &dyn Fn(&mut Value)| {
        let mut t = b.clone();
        change(&mut t);
        let path = dir.path().join(format!("tampered-{what}.json"));
        std::fs::write(&path, t.to_string()).expect("write");
        let v = chainseal_verify(dir.path(), &path, IDENTITY, ISSUER, Some(&root));
        assert_eq!(v.code, 1, "{what} accepted: {}", v.stdout);
        v.stdout
    };
    let said = tampered("payload", &|t| {
        let other = STANDARD.encode(br#"{"_type":"https://in-toto.io/Statement/v1"}"#);
        t["dsseEnvelope"]["payload"] = json!(other);
    });
    assert!(
        said.contains("another payload") || said.contains("signature"),
        "{said}"
    );
    let said = tampered("index", &|t| {
        let e = &mut t["verificationMaterial"]["tlogEntries"][0];
        e["logIndex"] = json!("1");
    });
    assert!(said.contains("inclusion promise"), "{said}");
    let said = tampered("time", &|t| {
        let e = &mut t["verificationMaterial"]["tlogEntries"][0];
        e["integratedTime"] = json!("1000");
    });
    assert!(
        said.contains("inclusion promise") || said.contains("validity"),
        "{said}"
    );
    // Another deployment's root (a second double) trusts none of it.
    let other = Sigstore::start("keyless signing").expect("second double");
    let other_root = dir.path().join("other_root.json");
    std::fs::write(&other_root, other.get("/trusted_root.json")).expect("write");
    let v = chainseal_verify(dir.path(), &bundle, IDENTITY, ISSUER, Some(&other_root));
    assert!(
        v.code == 1 && v.stdout.contains("does not chain"),
        "{}",
        v.stdout
    );

    // A trust root without the keys a check needs: refused, saying which.
    let full: Value = serde_json::from_slice(&sigstore.get("/trusted_root.json")).expect("JSON");
    let partial = dir.path().join("partial_root.json");
    let mut no_ct = full.clone();
    no_ct["ctlogs"] = json!([]);
    std::fs::write(&partial, no_ct.to_string()).expect("write");
    let v = chainseal_verify(dir.path(), &bundle, IDENTITY, ISSUER, Some(&partial));
    assert!(v.code == 1 && v.stdout.contains("CT log"), "{}", v.stdout);
    let mut no_tlog = full;
    no_tlog["tlogs"] = json!([]);
    std::fs::write(&partial, no_tlog.to_string()).expect("write");
    let v = chainseal_verify(dir.path(), &bundle, IDENTITY, ISSUER, Some(&partial));
    common::assert_error(&v, "names no transparency log");

    // securesystemslib verifies the envelope with the certificate's public key.
    let leaf = STANDARD
        .decode(
            b["verificationMaterial"]["certificate"]["rawBytes"]
                .as_str()
                .expect("cert"),
        )
        .expect("base64");
    let public = dir.path().join("leaf.pub");
    std::fs::write(&public, public_key_pem(&sigstore.python, &leaf)).expect("write");
    let (ok, said) = common::securesystemslib_verifies(&sigstore.python, &envelope, &public);
    assert!(ok, "securesystemslib: {said}");
}

/// `chainseal verify --certificate-identity … [--trusted-root …] BUNDLE`.
fn chainseal_verify(
    dir: &Path,
    bundle: &Path,
    identity: &str,
    issuer: &str,
    root: Option<&Path>,
) -> common::Run {
    let mut cmd = common::chainseal(dir);
    cmd.args([
        "verify",
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
    ]);
    if let Some(root) = root {
        cmd.arg("--trusted-root").arg(root);
    }
    common::run(cmd.arg(bundle))
}

/// The PEM public key of a DER certificate (python `cryptography`).
fn public_key_pem(python: &Path, cert_der: &[u8]) -> Vec<u8> {
    let script = "import sys; from cryptography import x509; from cryptography.hazmat.primitives import serialization as s; \
        c = x509.load_der_x509_certificate(sys.stdin.buffer.read()); \
        sys.stdout.buffer.write(c.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))";
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(cert_der)
        .expect("write");
    let out = child.wait_with_output().expect("python runs");
    assert!(out.status.success());
    out.stdout
}

#[test]
fn keyless_bad_input_fails_clearly_and_reports_no_success() {
    let Some((sigstore, dir, out)) = Sigstore::scene("keyless bad input") else {
        return;
    };
    let nothing_stored = |what: &str| {
        assert!(
            common::files_below(&out).is_empty(),
            "{what}: something was stored: {:?}",
            common::files_below(&out)
        );
    };
    let mut expired = good_claims();
    expired["exp"] = json!(now() - 60);
    let t = token(dir.path(), expired);
    let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&t));
    assert_error(&r, "expired");
    nothing_stored("expired token");

    let t = dir.path().join("oidc-token");
    std::fs::write(&t, "not-a-jwt").expect("write");
    let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&t));
    assert_error(&r, "malformed");
    assert!(
        !r.stderr.contains("not-a-jwt"),
        "the token leaked: {}",
        r.stderr
    );
    nothing_stored("malformed token");

    let t = token(dir.path(), good_claims());
    sigstore.faults(json!({"fulcio": "refuse"}));
    let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&t));
    assert_error(&r, "was refused");
    nothing_stored("Fulcio refusal");
    sigstore.faults(json!({}));

    let r = attest_example(
        dir.path(),
        "keyless",
        &out,
        &[("CHAINSEAL_FULCIO_URL", sigstore.url.clone())],
    );
    assert_error(&r, "needs an OIDC identity token");
    nothing_stored("no token");

    // Rekor down: stored anyway (as Chains), but the run fails and says so.
    let mut env = sigstore.env(&t);
    env[1].1 = "http://127.0.0.1:9".into();
    let r = attest_example(dir.path(), "keyless", &out, &env);
    assert_error(&r, "transparency log");
    assert!(r.stderr.contains("already stored in"), "{}", r.stderr);
    assert!(out.join(format!("{EXAMPLE_KEY}.intoto.jsonl")).exists());
    sigstore.faults(json!({"rekor": "error"}));
    let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&t));
    assert_error(&r, "HTTP 500");
}

#[test]
fn key_signed_attestations_can_be_logged_and_bundled() {
    let Some((sigstore, dir, out)) = Sigstore::scene("transparency with a key") else {
        return;
    };
    let attest = || {
        attest_example(
            dir.path(),
            repo("examples/demo.key").to_str().expect("path"),
            &out,
            &[
                ("CHAINSEAL_TRANSPARENCY", "on".into()),
                ("CHAINSEAL_REKOR_URL", sigstore.url.clone()),
                ("CHAINSEAL_BUNDLE", "true".into()),
            ],
        )
    };
    let entry_of = |r: &common::Run| {
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("transparency log: "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no log entry reported: {}", r.stdout))
    };
    let first = entry_of(&attest());
    // The same envelope again (ECDSA signatures here are deterministic): Rekor
    // answers 409, and the existing entry is read back and reported.
    let again = entry_of(&attest());
    assert_eq!(first, again);
    assert!(
        sigstore.requests().iter().any(|r| r[0] == "GET"
            && r[1]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/v1/log/entries/"))),
        "the existing entry was not read back"
    );
    let b: Value = serde_json::from_slice(
        &std::fs::read(out.join(format!("{EXAMPLE_KEY}.sigstore.json"))).expect("bundle"),
    )
    .expect("JSON");
    assert!(b["verificationMaterial"]["publicKey"]["hint"].is_string());
    // A key-signed bundle is not a keyless one.
    let root = dir.path().join("trusted_root.json");
    std::fs::write(&root, sigstore.get("/trusted_root.json")).expect("write");
    let v = chainseal_verify(
        dir.path(),
        &out.join(format!("{EXAMPLE_KEY}.sigstore.json")),
        IDENTITY,
        ISSUER,
        Some(&root),
    );
    assert!(
        v.code == 1 && v.stdout.contains("signed with a key"),
        "{}",
        v.stdout
    );
    // Positively verified, independently: sigstore-python takes only certificate
    // bundles, so `verify_key_bundle.py` (python `cryptography`) checks the key hint,
    // the DSSE signature and the tlog entry's inclusion promise against the double's
    // trusted root; with another key it refuses.
    let key_bundle = |key: &str| {
        let bundle = out.join(format!("{EXAMPLE_KEY}.sigstore.json"));
        let key = repo(key).display().to_string();
        let (bundle, root) = (bundle.display().to_string(), root.display().to_string());
        common::oracle(
            &sigstore.python,
            "verify_key_bundle.py",
            &[&bundle, &key, "--trusted-root", &root],
        )
    };
    common::assert_oracle_verified(&key_bundle("examples/demo.pub"), "key-signed bundle");
    common::assert_oracle_rejected(
        &key_bundle("tests/fixtures/keys/cosign.pub"),
        "does not name this key",
        "key-signed bundle with another key",
    );
    // A flipped byte of the log's inclusion promise is refused.
    let mut flipped = b.clone();
    let entry = &mut flipped["verificationMaterial"]["tlogEntries"][0];
    let promise = &mut entry["inclusionPromise"]["signedEntryTimestamp"];
    let mut set = STANDARD
        .decode(promise.as_str().expect("SET"))
        .expect("base64");
    set[0] ^= 1;
    *promise = STANDARD.encode(set).into();
    let tampered = dir.path().join("flipped-set.sigstore.json");
    std::fs::write(&tampered, flipped.to_string()).expect("write");
    let tampered_check = common::oracle(
        &sigstore.python,
        "verify_key_bundle.py",
        &[
            tampered.display().to_string(),
            repo("examples/demo.pub").display().to_string(),
            "--trusted-root".to_owned(),
            root.display().to_string(),
        ],
    );
    common::assert_oracle_rejected(
        &tampered_check,
        "SignedEntryTimestamp: the signature does not verify",
        "key-signed bundle with a flipped inclusion promise byte",
    );
    assert_eq!(
        b["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "dsse"
    );
    let logged = sigstore.log_entries();
    assert_eq!(
        logged_verifier(logged.last().expect("a log entry")),
        std::fs::read_to_string(repo("examples/demo.pub")).expect("pub")
    );
    // Without CHAINSEAL_TRANSPARENCY a key-signed run logs nothing.
    let before = sigstore.requests().len();
    let r = attest_example(
        dir.path(),
        repo("examples/demo.key").to_str().expect("path"),
        &dir.path().join("out2"),
        &[("CHAINSEAL_REKOR_URL", sigstore.url.clone())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sigstore.requests().len(), before);
}

/// Python (`cryptography`) that crafts a whole keyless deployment: a CA, a CT log, a
/// transparency log and one bundle whose leaf certificate has the extended key usage
/// `argv[2]` (`codesign`, `serverauth` or `none`), for `argv[3]` (identity) and
/// `argv[4]` (issuer); writes `trusted_root.json` and `bundle.sigstore.json` into
/// `argv[1]`. Everything else about the bundle is right, so a rejection is about the
/// key usage alone.
const CRAFT_DEPLOYMENT: &str = r#"
import base64, datetime, hashlib, json, os, struct, sys, time
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization as s
from cryptography.hazmat.primitives.asymmetric import ec

out, eku = sys.argv[1], sys.argv[2]
identity, issuer = sys.argv[3], sys.argv[4]
b64 = lambda b: base64.b64encode(b).decode()
spki = lambda k: k.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)
sign = lambda k, m: k.sign(m, ec.ECDSA(hashes.SHA256()))
now = datetime.datetime.now(datetime.timezone.utc)
ca_key, leaf_key, ct_key, log_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
ca = (x509.CertificateBuilder().subject_name(name("crafted CA")).issuer_name(name("crafted CA"))
      .public_key(ca_key.public_key()).serial_number(1)
      .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
      .sign(ca_key, hashes.SHA256()))
def leaf_builder():
    b = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(ca.subject)
         .public_key(leaf_key.public_key()).serial_number(7)
         .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(minutes=10))
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
         .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), critical=True)
         .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), issuer.encode()), critical=False))
    usages = {"codesign": [ExtendedKeyUsageOID.CODE_SIGNING], "serverauth": [ExtendedKeyUsageOID.SERVER_AUTH]}.get(eku)
    if usages:
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return b
# The SCT signs the precertificate: the leaf's TBS without the SCT list.
precert = leaf_builder().sign(ca_key, hashes.SHA256())
tbs = precert.tbs_certificate_bytes
ts = struct.pack(">Q", int(time.time() * 1000))
ct_id = hashlib.sha256(spki(ct_key)).digest()
signed = (b"\x00\x00" + ts + b"\x00\x01" + hashlib.sha256(spki(ca_key)).digest()
          + struct.pack(">I", len(tbs))[1:] + tbs + b"\x00\x00")
sig = sign(ct_key, signed)
sct = b"\x00" + ct_id + ts + b"\x00\x00" + b"\x04\x03" + struct.pack(">H", len(sig)) + sig
lst = struct.pack(">H", len(sct) + 2) + struct.pack(">H", len(sct)) + sct
octet = b"\x04" + (bytes([len(lst)]) if len(lst) < 128 else b"\x81" + bytes([len(lst)])) + lst
leaf = (leaf_builder().add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"), octet), critical=False)
        .sign(ca_key, hashes.SHA256()))
assert leaf.tbs_certificate_bytes != tbs
leaf_der, leaf_pem = leaf.public_bytes(s.Encoding.DER), leaf.public_bytes(s.Encoding.PEM)
# The envelope, signed by the leaf.
payload = json.dumps({"_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "app", "digest": {"sha256": "c" * 64}}],
    "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}).encode()
ptype = "application/vnd.in-toto+json"
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload)
env_sig = sign(leaf_key, pae)
envelope = {"payload": b64(payload), "payloadType": ptype, "signatures": [{"sig": b64(env_sig), "keyid": ""}]}
# The log entry and its signed entry timestamp.
body = json.dumps({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
    "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(json.dumps(envelope).encode()).hexdigest()},
    "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
    "signatures": [{"signature": b64(env_sig), "verifier": b64(leaf_pem)}]}}, separators=(",", ":")).encode()
log_id = hashlib.sha256(spki(log_key)).digest()
integrated, index = int(time.time()), 42
set_payload = json.dumps({"body": b64(body), "integratedTime": integrated, "logID": log_id.hex(), "logIndex": index},
                         separators=(",", ":"), sort_keys=True).encode()
bundle = {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    "verificationMaterial": {"certificate": {"rawBytes": b64(leaf_der)}, "tlogEntries": [{
        "logIndex": str(index), "logId": {"keyId": b64(log_id)}, "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": str(integrated), "inclusionPromise": {"signedEntryTimestamp": b64(sign(log_key, set_payload))},
        "canonicalizedBody": b64(body)}]},
    "dsseEnvelope": envelope}
start = (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
log = lambda k: {"baseUrl": "https://log.example", "hashAlgorithm": "SHA2_256",
    "publicKey": {"rawBytes": b64(spki(k)), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": start}},
    "logId": {"keyId": b64(hashlib.sha256(spki(k)).digest())}}
root = {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "tlogs": [log(log_key)], "ctlogs": [log(ct_key)], "timestampAuthorities": [],
    "certificateAuthorities": [{"subject": {"commonName": "crafted CA"}, "uri": "https://ca.example",
        "certChain": {"certificates": [{"rawBytes": b64(ca.public_bytes(s.Encoding.DER))}]}, "validFor": {"start": start}}]}
json.dump(root, open(os.path.join(out, "trusted_root.json"), "w"))
json.dump(bundle, open(os.path.join(out, "bundle.sigstore.json"), "w"))
"#;

/// A crafted deployment (see [`CRAFT_DEPLOYMENT`]) in `dir/<eku>`.
fn crafted(python: &Path, dir: &Path, eku: &str) -> (PathBuf, PathBuf) {
    let out = dir.join(eku);
    std::fs::create_dir_all(&out).expect("mkdir");
    let r = Command::new(python)
        .args(["-c", CRAFT_DEPLOYMENT])
        .arg(&out)
        .args([eku, IDENTITY, ISSUER])
        .output()
        .expect("python runs");
    assert!(
        r.status.success(),
        "crafting failed: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    (
        out.join("trusted_root.json"),
        out.join("bundle.sigstore.json"),
    )
}

#[test]
fn keyless_verify_requires_the_code_signing_key_usage() {
    // Regression (issue #18): a leaf certificate without id-kp-codeSigning was
    // accepted (a CA that also issues TLS certificates could sign attestations).
    let Some(python) = tool("INTEROP_PYTHON", "keyless key usage") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    // The crafted deployment verifies when the leaf is for code signing...
    let (root, bundle) = crafted(&python, dir.path(), "codesign");
    let v = chainseal_verify(dir.path(), &bundle, IDENTITY, ISSUER, Some(&root));
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // ... and not when it has no extended key usage or another one.
    for eku in ["none", "serverauth"] {
        let (root, bundle) = crafted(&python, dir.path(), eku);
        let v = chainseal_verify(dir.path(), &bundle, IDENTITY, ISSUER, Some(&root));
        assert_eq!(v.code, 1, "{eku}: {}{}", v.stdout, v.stderr);
        assert!(v.stdout.contains("code signing"), "{eku}: {}", v.stdout);
    }
}

#[test]
fn keyless_verify_trusts_only_a_signed_time_within_the_roots_windows() {
    // Regression (issue #18): with an inclusion proof but no signed entry timestamp,
    // the bundle's own `integratedTime` decided whether the certificate was valid;
    // the trusted root's `validFor` windows were ignored.
    let Some((sigstore, dir, out)) = Sigstore::scene("keyless signing time") else {
        return;
    };
    let token = token(dir.path(), good_claims());
    let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&token));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let bundle_path = out.join(format!("{EXAMPLE_KEY}.sigstore.json"));
    let b: Value =
        serde_json::from_slice(&std::fs::read(&bundle_path).expect("read")).expect("JSON");
    let full: Value = serde_json::from_slice(&sigstore.get("/trusted_root.json")).expect("JSON");
    let verify_with = |name: &str, bundle: &Value, root: &Value| {
        let (bpath, rpath) = (
            dir.path().join(format!("{name}.sigstore.json")),
            dir.path().join(format!("{name}-root.json")),
        );
        std::fs::write(&bpath, bundle.to_string()).expect("write");
        std::fs::write(&rpath, root.to_string()).expect("write");
        chainseal_verify(dir.path(), &bpath, IDENTITY, ISSUER, Some(&rpath))
    };
    let v = verify_with("as-is", &b, &full);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);

    // No SET: the proof shows inclusion, but nothing vouches for the time.
    let mut no_set = b.clone();
    let entry = &mut no_set["verificationMaterial"]["tlogEntries"][0];
    entry
        .as_object_mut()
        .expect("entry")
        .remove("inclusionPromise");
    assert!(entry["inclusionProof"].is_object());
    let v = verify_with("no-set", &no_set, &full);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout
            .contains("no signed entry timestamp (SET) or RFC 3161 timestamp"),
        "{}",
        v.stdout
    );
    // ... however plausible the time it claims.
    let mut no_set_old = no_set.clone();
    no_set_old["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = json!("1000");
    let v = verify_with("no-set-old", &no_set_old, &full);
    assert!(
        v.code == 1 && v.stdout.contains("signed entry timestamp (SET)"),
        "{}",
        v.stdout
    );
    // An RFC 3161 timestamp instead of the SET that is no timestamp: rejected, saying
    // why (real timestamps: tests/it/sigstore_v2.rs).
    let mut tsa = no_set.clone();
    tsa["verificationMaterial"]["timestampVerificationData"] =
        json!({"rfc3161Timestamps": [{"signedTimestamp": STANDARD.encode(b"0\x03\x02\x01\x00")}]});
    let v = verify_with("tsa", &tsa, &full);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout
            .contains("the timestamp is not an RFC 3161 TimeStampResp"),
        "{}",
        v.stdout
    );

    // The root's windows: a CA, a log or a CT log outside its `validFor` at the
    // signing time is not trusted; inside a closed window it is.
    let signed_at: i64 = b["verificationMaterial"]["tlogEntries"][0]["integratedTime"]
        .as_str()
        .expect("time")
        .parse()
        .expect("number");
    let rfc3339 = |t: i64| {
        jiff::Timestamp::from_second(t)
            .expect("timestamp")
            .to_string()
    };
    let closed = json!({"start": rfc3339(signed_at - 3600), "end": rfc3339(signed_at + 3600)});
    let ended = json!({"start": rfc3339(signed_at - 7200), "end": rfc3339(signed_at - 3600)});
    let future = json!({"start": rfc3339(signed_at + 3600)});
    let mut root = full.clone();
    root["certificateAuthorities"][0]["validFor"] = closed.clone();
    root["tlogs"][0]["publicKey"]["validFor"] = closed.clone();
    root["ctlogs"][0]["publicKey"]["validFor"] = closed;
    let v = verify_with("closed", &b, &root);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    for (what, pointer, window, said) in [
        (
            "ca-ended",
            "/certificateAuthorities/0/validFor",
            &ended,
            "certificate authority",
        ),
        (
            "ca-future",
            "/certificateAuthorities/0/validFor",
            &future,
            "certificate authority",
        ),
        (
            "tlog-ended",
            "/tlogs/0/publicKey/validFor",
            &ended,
            "transparency log",
        ),
        (
            "ctlog-future",
            "/ctlogs/0/publicKey/validFor",
            &future,
            "CT log",
        ),
    ] {
        let mut root = full.clone();
        *root.pointer_mut(pointer).expect(pointer) = window.clone();
        let v = verify_with(what, &b, &root);
        assert_eq!(v.code, 1, "{what}: {}{}", v.stdout, v.stderr);
        assert!(
            v.stdout.contains(said) && v.stdout.contains("validFor"),
            "{what}: {}",
            v.stdout
        );
    }
}

/// A fresh RSA key (PKCS#8 DER) that no issuer the double trusts publishes.
fn untrusted_issuer_key() -> Vec<u8> {
    use aws_lc_rs::encoding::AsDer as _;
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA");
    let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = key.as_der().expect("PKCS#8");
    der.as_ref().to_vec()
}

/// `token` with one bit of its signature flipped.
fn with_flipped_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("a JWT");
    let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .expect("base64url");
    sig[0] ^= 1;
    format!(
        "{signed}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

/// Fulcio's reply to a token it does not accept (grpc-gateway's InvalidArgument).
const FULCIO_BAD_TOKEN: &str = "There was an error processing the identity token";
/// Fulcio's reply to a proof of possession that does not verify.
const FULCIO_BAD_PROOF: &str = "The signature supplied in the request could not be verified";

/// Assert a keyless run failed on Fulcio's refusal: exit 2, one error line naming
/// Fulcio, the HTTP status and Fulcio's message, and not the token.
fn assert_fulcio_refused(r: &common::Run, token: &str, message: &str) {
    assert_error(r, "Fulcio (http://127.0.0.1:");
    assert_error(r, &format!("HTTP 400 Bad Request: {message}"));
    // A refused token gets the hint about its audience and issuer; a bad proof not.
    assert_eq!(
        r.stderr.contains("was refused: check its audience"),
        message == FULCIO_BAD_TOKEN,
        "{}",
        r.stderr
    );
    let (_, signature) = token.rsplit_once('.').expect("a JWT");
    assert!(
        !r.stderr.contains(signature) && !r.stdout.contains(signature),
        "the token leaked: {}",
        r.stderr
    );
}

#[test]
fn fulcio_refusals_are_reported_with_the_service_and_status() {
    let Some((sigstore, dir, out)) = Sigstore::scene("Fulcio refusals") else {
        return;
    };
    let untrusted = untrusted_issuer_key();
    let mut wrong_audience = good_claims();
    wrong_audience["aud"] = json!("nobody");
    let mut unknown_issuer = good_claims();
    unknown_issuer["iss"] = json!("https://issuer.example");
    let refused = [
        (
            "signed by a key the issuer does not publish",
            common::identity_token_signed_by(good_claims(), &untrusted),
        ),
        (
            "a tampered signature",
            with_flipped_signature(&common::identity_token(good_claims())),
        ),
        ("a wrong audience", common::identity_token(wrong_audience)),
        ("an unknown issuer", common::identity_token(unknown_issuer)),
    ];
    for (what, jwt) in refused {
        let t = dir.path().join("oidc-token");
        std::fs::write(&t, &jwt).expect("token");
        let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&t));
        assert_fulcio_refused(&r, &jwt, FULCIO_BAD_TOKEN);
        assert!(common::files_below(&out).is_empty(), "{what}: stored");
    }
    // A bad proof of possession: Fulcio's GitHub issuer takes the subject as the
    // challenge, but with an `email` claim chainseal signs the email.
    let mut with_email = good_claims();
    with_email["email"] = json!("dev@example.com");
    let jwt = common::identity_token(with_email);
    let t = dir.path().join("oidc-token");
    std::fs::write(&t, &jwt).expect("token");
    let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&t));
    assert_fulcio_refused(&r, &jwt, FULCIO_BAD_PROOF);
    assert!(common::files_below(&out).is_empty(), "bad proof: stored");
    // Nothing was logged for any of them.
    assert!(sigstore.log_entries().is_empty());
}

#[test]
fn rekor_refusals_are_reported_with_the_service_and_status() {
    let Some((sigstore, dir, out)) = Sigstore::scene("Rekor refusals") else {
        return;
    };
    // The entry arrives with a corrupted signature (the double's `tamper` fault): the
    // double's Rekor check refuses it, as Rekor does.
    sigstore.faults(json!({"rekor": "tamper"}));
    let t = token(dir.path(), good_claims());
    let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&t));
    assert_error(
        &r,
        &format!("transparency log {}/api/v1/log/entries", sigstore.url),
    );
    assert_error(
        &r,
        "HTTP 400 Bad Request: error processing entry: could not verify envelope",
    );
    let jwt = std::fs::read_to_string(&t).expect("token");
    let (_, signature) = jwt.rsplit_once('.').expect("a JWT");
    assert!(!r.stderr.contains(signature), "the token leaked");
    // Signed and stored (as Chains), but the run says the log refused it.
    assert!(r.stderr.contains("already stored in"), "{}", r.stderr);
}

/// The example key (ECDSA P-256) signing `message`: a DER signature, base64.
fn demo_sign(message: &[u8]) -> String {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
    let pem = std::fs::read_to_string(repo("examples/demo.key")).expect("demo key");
    let der = pem::parse(pem.as_bytes()).expect("PEM").into_contents();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der).expect("key");
    let sig = key
        .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
        .expect("sign");
    STANDARD.encode(sig.as_ref())
}

/// A Fulcio v2 request for the example key, proving possession by signing `challenge`.
fn signing_cert_request(jwt: &str, challenge: &str) -> Value {
    let public = std::fs::read_to_string(repo("examples/demo.pub")).expect("demo pub");
    json!({
        "credentials": {"oidcIdentityToken": jwt},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": public},
            "proofOfPossession": demo_sign(challenge.as_bytes()),
        },
    })
}

#[test]
fn the_double_refuses_what_fulcio_refuses() {
    let Some((sigstore, _dir, _out)) = Sigstore::scene("the strict Fulcio double") else {
        return;
    };
    let cert = "/api/v2/signingCert";
    let good = common::identity_token(good_claims());
    let (status, reply) = sigstore.post(cert, &signing_cert_request(&good, IDENTITY));
    // Fulcio v2 answers 200 (its gRPC gateway's default), as sigstore-go requires.
    assert_eq!(status, 200, "a good request: {reply}");
    let bad_token = json!({"code": 3, "message": FULCIO_BAD_TOKEN, "details": []});
    let claims = |key: &str, value: Value| {
        let mut c = good_claims();
        c[key] = value;
        c
    };
    let (signed, _) = good.rsplit_once('.').expect("a JWT");
    let unsigned = format!("{signed}.c2ln");
    for (what, jwt) in [
        (
            "expired",
            common::identity_token(claims("exp", json!(now() - 60))),
        ),
        (
            "wrong audience",
            common::identity_token(claims("aud", json!("nobody"))),
        ),
        (
            "unknown issuer",
            common::identity_token(claims("iss", json!("https://x.example"))),
        ),
        ("unsigned", unsigned),
        ("tampered signature", with_flipped_signature(&good)),
        (
            "untrusted key",
            common::identity_token_signed_by(good_claims(), &untrusted_issuer_key()),
        ),
    ] {
        let (status, reply) = sigstore.post(cert, &signing_cert_request(&jwt, IDENTITY));
        assert_eq!((status, &reply), (400, &bad_token), "{what}");
    }
    let (status, reply) = sigstore.post(cert, &signing_cert_request(&good, "someone else"));
    assert_eq!(
        (status, reply),
        (
            400,
            json!({"code": 3, "message": FULCIO_BAD_PROOF, "details": []})
        ),
        "a proof of possession over another identity"
    );
    let mut request = signing_cert_request(&good, IDENTITY);
    request["publicKeyRequest"]["publicKey"]["content"] = json!("not a key");
    let (status, reply) = sigstore.post(cert, &request);
    assert_eq!((status, reply["code"].clone()), (400, json!(3)), "{reply}");
    assert_eq!(
        reply["message"],
        "The public key supplied in the request could not be parsed"
    );
}

/// A `hashedrekord` v0.0.1 entry for the example key's signature over `signed`,
/// claiming the artifact digest of `claimed`.
fn hashedrekord(signed: &[u8], claimed: &[u8]) -> Value {
    use sha2::Digest as _;
    let public = std::fs::read(repo("examples/demo.pub")).expect("demo pub");
    json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha2::Sha256::digest(claimed))}},
        "signature": {"content": demo_sign(signed), "publicKey": {"content": STANDARD.encode(public)}},
    }})
}

/// A `dsse` v0.0.1 proposed entry whose envelope is signed by the example key over
/// `signed_payload` but carries `payload`.
fn dsse_entry(signed_payload: &[u8], payload: &[u8]) -> Value {
    let ptype = "application/vnd.in-toto+json";
    let pae = |p: &[u8]| {
        let mut m = format!("DSSEv1 {} {ptype} {} ", ptype.len(), p.len()).into_bytes();
        m.extend_from_slice(p);
        m
    };
    let envelope = json!({
        "payload": STANDARD.encode(payload), "payloadType": ptype,
        "signatures": [{"keyid": "", "sig": demo_sign(&pae(signed_payload))}],
    });
    let public = std::fs::read(repo("examples/demo.pub")).expect("demo pub");
    json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {
        "envelope": envelope.to_string(), "verifiers": [STANDARD.encode(public)],
    }}})
}

#[test]
fn the_double_refuses_what_rekor_refuses() {
    let Some((sigstore, _dir, _out)) = Sigstore::scene("the strict Rekor double") else {
        return;
    };
    let entries = "/api/v1/log/entries";
    let good_kinds = [
        hashedrekord(b"artifact", b"artifact"),
        dsse_entry(b"{}", b"{}"),
    ];
    for entry in &good_kinds {
        let (status, reply) = sigstore.post(entries, entry);
        assert_eq!(status, 201, "a good {} entry: {reply}", entry["kind"]);
    }
    let refused = |entry: Value, status: u16, message: &str| {
        let (got, reply) = sigstore.post(entries, &entry);
        assert_eq!(got, status, "{message}: {reply}");
        assert_eq!(reply["code"], json!(status), "{reply}");
        let said = reply["message"].as_str().unwrap_or_default();
        assert!(said.contains(message), "expected `{message}`: {reply}");
    };
    let mut kind = hashedrekord(b"a", b"a");
    kind["kind"] = json!("nonsense");
    refused(kind, 422, r#"invalid kind value: "nonsense""#);
    let mut version = hashedrekord(b"a", b"a");
    version["apiVersion"] = json!("0.0.9");
    refused(
        version,
        400,
        "error processing entry: hashedrekord implementation for version '0.0.9' not found",
    );
    let mut base64 = hashedrekord(b"a", b"a");
    base64["spec"]["signature"]["content"] = json!("MEU*");
    refused(
        base64,
        400,
        "error processing entry: failed parsing base64 data for signature content: illegal base64 data at input byte 3",
    );
    refused(
        hashedrekord(b"one artifact", b"another artifact"),
        400,
        "error processing entry: verifying signature",
    );
    refused(
        dsse_entry(b"{}", br#"{"changed":1}"#),
        400,
        "error processing entry: could not verify envelope",
    );
    let mut key = dsse_entry(b"{}", b"{}");
    key["spec"]["proposedContent"]["verifiers"] = json!([STANDARD.encode("not a key")]);
    refused(
        key,
        400,
        "error processing entry: could not parse public key",
    );
}

/// cosign v3 (`COSIGN_BIN`, scripts/peers) verifies a keyless bundle of directory
/// storage offline against the Sigstore double's trust root: Fulcio chain, SCT, Rekor
/// entry, identity and issuer, and the Statement's subject (`verify-blob-attestation
/// --digest`). Another identity is refused.
#[test]
fn cosign_v3_verifies_keyless_bundles_against_the_trust_root() {
    let Some(cosign) = tool("COSIGN_BIN", "cosign keyless interop") else {
        return;
    };
    let Some((sigstore, dir, out)) = Sigstore::scene("cosign keyless") else {
        return;
    };
    let token = token(dir.path(), good_claims());
    let r = attest_example(dir.path(), "keyless", &out, &sigstore.env(&token));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let bundle = out.join(format!("{EXAMPLE_KEY}.sigstore.json"));
    let root = dir.path().join("trusted_root.json");
    std::fs::write(&root, sigstore.get("/trusted_root.json")).expect("write");
    let check_bundle = |bundle: &Path, identity: &str| {
        let mut cmd = Command::new(&cosign);
        cmd.env_clear()
            .env("HOME", dir.path())
            .arg("verify-blob-attestation")
            .arg("--bundle")
            .arg(bundle)
            .arg("--trusted-root")
            .arg(&root)
            .args(["--certificate-identity", identity])
            .args(["--certificate-oidc-issuer", ISSUER])
            .args(["--type", "slsaprovenance1", "--digestAlg", "sha256"])
            .args(["--digest", SUBJECT.trim_start_matches("sha256:")]);
        common::run(&mut cmd)
    };
    let check = |identity: &str| check_bundle(&bundle, identity);
    let ok = check(IDENTITY);
    assert_eq!(ok.code, 0, "cosign: {}", ok.stderr);
    let other = check("https://github.com/mallory/app/.github/workflows/x.yml@refs/heads/main");
    assert_ne!(other.code, 0, "another identity verified: {}", other.stdout);
    assert!(ok.stderr.contains("Verified OK"), "{}", ok.stderr);
    assert!(
        other
            .stderr
            .contains("no matching CertificateIdentity found"),
        "{}",
        other.stderr
    );
    // One bit of the signed payload flipped: it no longer matches the log entry.
    let mut b: Value =
        serde_json::from_slice(&std::fs::read(&bundle).expect("read")).expect("JSON");
    let payload = b["dsseEnvelope"]["payload"].as_str().expect("payload");
    let mut bytes = STANDARD.decode(payload).expect("base64");
    bytes[10] ^= 1;
    b["dsseEnvelope"]["payload"] = STANDARD.encode(bytes).into();
    let tampered = dir.path().join("tampered.sigstore.json");
    std::fs::write(&tampered, b.to_string()).expect("write");
    let refused = check_bundle(&tampered, IDENTITY);
    assert_ne!(
        refused.code, 0,
        "a tampered bundle verified: {}",
        refused.stdout
    );
    assert!(
        refused
            .stderr
            .contains("does not match envelope payload hash"),
        "{}",
        refused.stderr
    );
}
