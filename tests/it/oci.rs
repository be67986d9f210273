//! OCI storage against a real registry: Debian's `docker-registry` (distribution
//! 2.8) on loopback, without and with htpasswd basic auth, test images pushed with
//! skopeo from a hand-made OCI layout. What chainseal writes is read back with
//! skopeo and curl, its envelopes verified with python securesystemslib, and its
//! pushes verified with cosign v3 (`COSIGN_BIN`, built by scripts/peers).
//!
//! Needs `REGISTRY_BIN` (docker-registry) and `INTEROP_PYTHON`, and skopeo, htpasswd
//! and curl on PATH (scripts/test and .ci/run provide them); skipped outside CI, with
//! a message, when the variables are unset.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::registry::TestRegistry;
use crate::common::{
    EXAMPLE_KEY, Run, Service, assert_error, chainseal, repo, run, securesystemslib_verifies, tool,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

const EXAMPLE_DIGEST: &str =
    "sha256:6a1f0d6f8c2c4b0e9f3d2a1b7c5e8d9f0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const EXAMPLE_IMAGE: &str = "registry.example.com/team/hello-service";
const REPO: &str = "team/hello-service";

/// The example record, naming `host/team/hello-service@digest` instead of the
/// example image; `taskrun_only` keeps only the build TaskRun.
fn record(dir: &Path, host: &str, digest: &str, taskrun_only: bool, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo("examples/pipelinerun.yaml")).expect("example");
    let text = text
        .replace(EXAMPLE_IMAGE, &format!("{host}/{REPO}"))
        .replace(EXAMPLE_DIGEST, digest);
    let text = if taskrun_only {
        text.split("\n---\n").last().expect("a TaskRun").to_owned()
    } else {
        text
    };
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write record");
    path
}

/// Append an `IMAGES` result (`images`: Chains' comma/newline list) to the TaskRun
/// record at `path`.
fn add_images_result(path: &Path, images: &str) {
    let text = std::fs::read_to_string(path).expect("record");
    let text = format!(
        "{text}\n    - name: IMAGES\n      value: {}\n",
        serde_json::to_string(images).expect("json string")
    );
    std::fs::write(path, text).expect("write record");
}

fn attest(dir: &Path, record: &Path, storage: &str, env: &[(&str, String)]) -> Run {
    let mut cmd = chainseal(dir);
    cmd.env("CHAINSEAL_RECORD", record)
        .env("CHAINSEAL_KEY", repo("examples/demo.key"))
        .env("CHAINSEAL_STORAGE", storage);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn verify_image(dir: &Path, image: &str, env: &[(&str, String)], extra: &[&str]) -> Run {
    let mut cmd = chainseal(dir);
    cmd.args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .args(["--image", image])
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn layers(manifest: &Value) -> Vec<Value> {
    manifest["layers"].as_array().cloned().unwrap_or_default()
}

/// A test's scene: scratch directory, a running registry with one pushed image (its
/// digest), and the python with the verifiers. `None` (skipped) outside CI without
/// the tools.
struct Scene {
    dir: tempfile::TempDir,
    reg: TestRegistry,
    digest: String,
    python: PathBuf,
}

impl Scene {
    fn new(auth: bool, label: &str) -> Option<Self> {
        let bin = tool("REGISTRY_BIN", "OCI registry test")?;
        let python = tool("INTEROP_PYTHON", "OCI registry test")?;
        let dir = tempfile::tempdir().expect("tmp");
        let reg = TestRegistry::start(&bin, &dir.path().join("registry"), auth);
        let digest = reg.push_image(REPO, "v1", label);
        Some(Self {
            dir,
            reg,
            digest,
            python,
        })
    }

    fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

#[test]
fn cosign_tags_are_written_read_back_and_verified() {
    let Some(scene) = Scene::new(false, "tags") else {
        return;
    };
    let (dir, reg, digest, python) = (
        &scene.dir,
        &scene.reg,
        scene.digest.clone(),
        scene.python.clone(),
    );
    let hex = scene.hex();
    let env = vec![("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone())];
    let taskrun = record(dir.path(), &reg.host, &digest, true, "taskrun.yaml");

    let r = attest(dir.path(), &taskrun, "oci", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("{REPO}:sha256-{hex}.att")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("{REPO}:sha256-{hex}.sig")),
        "{}",
        r.stdout
    );

    // The .att tag, as skopeo sees it: one DSSE layer with cosign's annotations,
    // config listing it; the blob is our envelope and securesystemslib verifies it.
    let att = reg
        .inspect_raw(REPO, &format!("sha256-{hex}.att"))
        .expect(".att tag exists");
    assert_eq!(
        att["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        att["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let [layer] = layers(&att).try_into().expect("one layer");
    assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json");
    assert_eq!(
        layer["annotations"]["dev.cosignproject.cosign/signature"],
        ""
    );
    assert_eq!(layer["annotations"]["dev.sigstore.cosign/certificate"], "");
    assert_eq!(layer["annotations"]["dev.sigstore.cosign/chain"], "");
    assert_eq!(
        layer["annotations"]["predicateType"],
        "https://slsa.dev/provenance/v1"
    );
    let config: Value = serde_json::from_slice(&reg.blob(
        REPO,
        att["config"]["digest"].as_str().expect("config digest"),
    ))
    .expect("config JSON");
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([layer["digest"]])
    );
    let envelope = reg.blob(REPO, layer["digest"].as_str().expect("digest"));
    let file = dir.path().join("att.json");
    std::fs::write(&file, &envelope).expect("write");
    let (ok, said) = securesystemslib_verifies(&python, &file, &repo("examples/demo.pub"));
    assert!(ok, "securesystemslib: {said}");

    // The .sig tag: the simple-signing payload, signature annotation.
    let sig = reg
        .inspect_raw(REPO, &format!("sha256-{hex}.sig"))
        .expect(".sig tag exists");
    let [sig_layer] = layers(&sig).try_into().expect("one layer");
    assert_eq!(
        sig_layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    assert!(
        sig_layer["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .is_some_and(|s| s.len() > 20)
    );
    let payload: Value =
        serde_json::from_slice(&reg.blob(REPO, sig_layer["digest"].as_str().expect("d")))
            .expect("payload");
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    // The signature verifies as cosign verifies it (python `cryptography`: ECDSA
    // P-256 over SHA-256 of the payload blob, read from the registry over HTTP), and
    // not with another key.
    let sig_check = |key: &Path| {
        let key = key.display().to_string();
        let tag = format!("sha256-{hex}.sig");
        common::oracle(
            &python,
            "verify_cosign_sig.py",
            &[&reg.host, REPO, &tag, &digest, "--key", &key],
        )
    };
    common::assert_oracle_verified(&sig_check(&repo("examples/demo.pub")), ".sig");
    common::assert_oracle_rejected(
        &sig_check(&repo("tests/fixtures/keys/cosign.pub")),
        "does not verify",
        ".sig with another key",
    );
    let flipped = push_tampered_copy(reg, &format!("sha256-{hex}.sig"), "flipped-sig", |m| {
        let note = &mut m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"];
        *note = common::flip_bit_b64(note.as_str().expect("signature"), 0).into();
    });
    let demo = repo("examples/demo.pub").display().to_string();
    common::assert_oracle_rejected(
        &common::oracle(
            &python,
            "verify_cosign_sig.py",
            &[&reg.host, REPO, &flipped, &digest, "--key", &demo],
        ),
        "does not verify",
        ".sig with a flipped signature byte",
    );

    // Again: nothing new. Then the PipelineRun's attestation joins as a second layer.
    let r = attest(dir.path(), &taskrun, "oci", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.matches("(already present)").count(),
        2,
        "{}",
        r.stdout
    );
    let pipelinerun = record(dir.path(), &reg.host, &digest, false, "pipelinerun.yaml");
    let r = attest(dir.path(), &pipelinerun, "oci,out", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        dir.path()
            .join("out")
            .join(format!("{EXAMPLE_KEY}.intoto.jsonl"))
            .exists()
    );
    let att = reg
        .inspect_raw(REPO, &format!("sha256-{hex}.att"))
        .expect("tag");
    assert_eq!(
        layers(&att).len(),
        2,
        "the PipelineRun attestation is appended"
    );
    let sig = reg
        .inspect_raw(REPO, &format!("sha256-{hex}.sig"))
        .expect("tag");
    assert_eq!(
        layers(&sig).len(),
        1,
        "same image, same signature: not repeated"
    );

    // verify --image finds and verifies all of it; --type filters.
    let image = format!("{}/{REPO}@{digest}", reg.host);
    let v = verify_image(dir.path(), &image, &env, &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert_eq!(
        v.stdout.matches("\nverified ").count() + usize::from(v.stdout.starts_with("verified ")),
        3,
        "{}",
        v.stdout
    );
    assert!(
        v.stderr.contains("2 attestation(s) verified"),
        "{}",
        v.stderr
    );
    assert!(
        v.stderr.contains("1 image signature(s) verified"),
        "{}",
        v.stderr
    );
    let v = verify_image(dir.path(), &image, &env, &["--type", "slsaprovenance02"]);
    assert_eq!(v.code, 1, "no SLSA v0.2 attestation: {}", v.stdout);
    // With another key nothing verifies.
    let mut cmd = chainseal(dir.path());
    cmd.args(["verify", "--key"])
        .arg(repo("tests/fixtures/keys/cosign.pub"))
        .args(["--image", &image])
        .envs(env.iter().map(|(k, v)| (*k, v)));
    let v = run(&mut cmd);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("FAILED"), "{}", v.stdout);

    // A repository override keeps all tags in one place.
    let r = attest(
        dir.path(),
        &taskrun,
        &format!("oci://{}/attestations/store", reg.host),
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let moved = reg
        .inspect_raw("attestations/store", &format!("sha256-{hex}.att"))
        .expect("override repository has the tag");
    assert_eq!(layers(&moved).len(), 1);
    let v = verify_image(
        dir.path(),
        &image,
        &env,
        &["--repository", &format!("{}/attestations/store", reg.host)],
    );
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
}

#[test]
fn sigstore_bundles_are_referrers_with_the_tag_schema_fallback() {
    let Some(scene) = Scene::new(false, "bundles") else {
        return;
    };
    let (dir, reg, digest, python) = (
        &scene.dir,
        &scene.reg,
        scene.digest.clone(),
        scene.python.clone(),
    );
    let hex = scene.hex();
    let env = vec![
        ("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone()),
        ("CHAINSEAL_OCI_ENCODING", "sigstore-bundle".to_owned()),
    ];
    let taskrun = record(dir.path(), &reg.host, &digest, true, "taskrun.yaml");
    for _ in 0..2 {
        let r = attest(dir.path(), &taskrun, "oci", &env);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // distribution 2.8 has no referrers API: the index at tag sha256-<hex> lists the
    // attestation and the image signature, once each.
    let index = reg
        .inspect_raw(REPO, &format!("sha256-{hex}"))
        .expect("referrers tag");
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    assert_eq!(manifests.len(), 2, "{index}");
    let mut predicate_types = Vec::new();
    for m in &manifests {
        assert_eq!(
            m["artifactType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        let referrer = reg
            .inspect_raw(REPO, m["digest"].as_str().expect("digest"))
            .expect("referrer manifest");
        assert_eq!(referrer["subject"]["digest"], digest.as_str());
        assert_eq!(
            referrer["config"]["mediaType"],
            "application/vnd.oci.empty.v1+json"
        );
        assert_eq!(
            referrer["annotations"]["dev.sigstore.bundle.content"],
            "dsse-envelope"
        );
        predicate_types.push(
            referrer["annotations"]["dev.sigstore.bundle.predicateType"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        let [layer] = layers(&referrer).try_into().expect("one layer");
        let bundle: Value =
            serde_json::from_slice(&reg.blob(REPO, layer["digest"].as_str().expect("d")))
                .expect("bundle JSON");
        assert_eq!(
            bundle["mediaType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        assert!(bundle["verificationMaterial"]["publicKey"]["hint"].is_string());
        assert_eq!(
            bundle["dsseEnvelope"]["payloadType"],
            "application/vnd.in-toto+json"
        );
        // The bundle's envelope verifies with securesystemslib too (bundles carry no
        // key id; securesystemslib's parser wants the field, so it gets an empty one).
        let mut envelope = bundle["dsseEnvelope"].clone();
        for s in envelope["signatures"].as_array_mut().into_iter().flatten() {
            s["keyid"] = "".into();
        }
        let file = dir.path().join("bundle-envelope.json");
        std::fs::write(&file, envelope.to_string()).expect("write");
        let (ok, said) = securesystemslib_verifies(&python, &file, &repo("examples/demo.pub"));
        assert!(ok, "securesystemslib rejected a bundle's envelope: {said}");
        // The whole key-signed bundle verifies (sigstore-python takes only certificate
        // bundles, so `verify_key_bundle.py` checks the key hint, every DSSE signature
        // and the subject), and not with another key.
        let whole = dir.path().join("key-signed.sigstore.json");
        std::fs::write(&whole, bundle.to_string()).expect("write");
        let check = |key: &str| {
            let key = repo(key).display().to_string();
            let path = whole.display().to_string();
            common::oracle(
                &python,
                "verify_key_bundle.py",
                &[&path, &key, "--subject-digest", &digest],
            )
        };
        common::assert_oracle_verified(&check("examples/demo.pub"), "key-signed bundle");
        common::assert_oracle_rejected(
            &check("tests/fixtures/keys/cosign.pub"),
            "does not name this key",
            "key-signed bundle with another key",
        );
        let mut flipped = bundle.clone();
        let sig = &mut flipped["dsseEnvelope"]["signatures"][0]["sig"];
        *sig = common::flip_bit_b64(sig.as_str().expect("sig"), 0).into();
        std::fs::write(&whole, flipped.to_string()).expect("write");
        common::assert_oracle_rejected(
            &check("examples/demo.pub"),
            "DSSE signature 0: the signature does not verify",
            "key-signed bundle with a flipped signature byte",
        );
    }
    predicate_types.sort();
    assert_eq!(
        predicate_types,
        [
            "https://sigstore.dev/cosign/sign/v1",
            "https://slsa.dev/provenance/v1"
        ]
    );
    let image = format!("{}/{REPO}@{digest}", reg.host);
    let v = verify_image(
        dir.path(),
        &image,
        &env[..1],
        &["--type", "slsaprovenance1"],
    );
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stderr.contains("1 attestation(s) verified"),
        "{}",
        v.stderr
    );
    assert!(
        v.stderr.contains("1 image signature(s) verified"),
        "{}",
        v.stderr
    );
}

#[test]
fn registry_credentials_and_their_errors() {
    let Some(scene) = Scene::new(true, "auth") else {
        return;
    };
    let (dir, reg, digest) = (&scene.dir, &scene.reg, scene.digest.clone());
    let hex = scene.hex();
    let insecure = ("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone());
    let taskrun = record(dir.path(), &reg.host, &digest, true, "taskrun.yaml");

    // No credentials anywhere: a clear error naming the registry and where we looked.
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let r = attest(
        dir.path(),
        &taskrun,
        "oci",
        &[insecure.clone(), ("HOME", home.display().to_string())],
    );
    assert_error(&r, &reg.host);
    assert!(r.stderr.contains("not authorized"), "{}", r.stderr);
    assert!(r.stderr.contains("config.json"), "{}", r.stderr);
    assert!(
        reg.inspect_raw(REPO, &format!("sha256-{hex}.att"))
            .is_none()
    );

    // DOCKER_CONFIG works, and so does a mounted .dockerconfigjson.
    let docker = reg.docker_config(&dir.path().join("docker"));
    let r = attest(
        dir.path(),
        &taskrun,
        "oci",
        &[
            insecure.clone(),
            (
                "DOCKER_CONFIG",
                docker.parent().expect("dir").display().to_string(),
            ),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let secret = dir.path().join("secret/.dockerconfigjson");
    std::fs::create_dir_all(secret.parent().expect("dir")).expect("mkdir");
    std::fs::copy(&docker, &secret).expect("copy");
    let r = attest(
        dir.path(),
        &taskrun,
        "oci",
        &[
            insecure.clone(),
            ("HOME", home.display().to_string()),
            (
                "CHAINSEAL_REGISTRY_AUTH_FILES",
                secret.display().to_string(),
            ),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("(already present)"), "{}", r.stdout);
    assert!(
        !r.stderr.contains(common::registry::PASSWORD),
        "password leaked"
    );
    let att = reg
        .inspect_raw(REPO, &format!("sha256-{hex}.att"))
        .expect("tag");
    assert_eq!(layers(&att).len(), 1);

    // Wrong password.
    let bad = dir.path().join("bad/config.json");
    std::fs::create_dir_all(bad.parent().expect("dir")).expect("mkdir");
    std::fs::write(
        &bad,
        serde_json::json!({"auths": {reg.host.clone(): {"auth": "dGVzdHVzZXI6d3Jvbmc="}}})
            .to_string(),
    )
    .expect("write");
    let r = attest(
        dir.path(),
        &taskrun,
        "oci",
        &[
            insecure.clone(),
            ("CHAINSEAL_REGISTRY_AUTH_FILES", bad.display().to_string()),
        ],
    );
    assert_error(&r, "not authorized");
    assert!(
        r.stderr.contains(&bad.display().to_string()),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_input_and_unreachable_registries_fail_cleanly() {
    let Some(scene) = Scene::new(false, "bad") else {
        return;
    };
    let (dir, reg, digest, python) = (
        &scene.dir,
        &scene.reg,
        scene.digest.clone(),
        scene.python.clone(),
    );
    let env = vec![("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone())];

    // Nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .to_string();
    let r = attest(
        dir.path(),
        &record(dir.path(), &closed, &digest, true, "closed.yaml"),
        "oci",
        &[("CHAINSEAL_INSECURE_REGISTRIES", closed.clone())],
    );
    assert_error(&r, "reachable");
    // Plain HTTP registry not listed as insecure: HTTPS fails with a hint.
    let r = attest(
        dir.path(),
        &record(dir.path(), &reg.host, &digest, true, "secure.yaml"),
        "oci",
        &[],
    );
    assert_error(&r, "CHAINSEAL_INSECURE_REGISTRIES");
    // A registry refusing the manifest (media type not accepted).
    let log = dir.path().join("reject.log");
    let proxy = start_proxy(&python, &reg.host, 0.0, true, &log);
    let r = attest(
        dir.path(),
        &record(dir.path(), &proxy.1, &digest, true, "reject.yaml"),
        "oci",
        &[("CHAINSEAL_INSECURE_REGISTRIES", proxy.1.clone())],
    );
    assert_error(&r, "MANIFEST_INVALID");
    drop(proxy);
    // A subject that is not an image reference (a build artifact in a bucket):
    // OCI storage has no place for it, which is an error, as in Chains.
    let bad = record(dir.path(), &reg.host, &digest, true, "bad.yaml");
    let mut text = std::fs::read_to_string(&bad).expect("read");
    text.push_str(&format!(
        "\n    - name: BINARY_ARTIFACT_OUTPUTS\n      value:\n        uri: gs://bucket/hello.tar.gz\n        digest: sha256:{}\n        isBuildArtifact: \"true\"\n",
        "ab".repeat(32)
    ));
    std::fs::write(&bad, text).expect("write");
    let r = attest(dir.path(), &bad, "oci", &env);
    assert_error(&r, "not a valid image reference");
    assert!(
        r.stderr.contains("gs://bucket/hello.tar.gz"),
        "{}",
        r.stderr
    );
    assert!(
        reg.inspect_raw(REPO, &format!("sha256-{}.att", &digest[7..]))
            .is_none(),
        "nothing pushed for the valid subject either"
    );
    // verify --image without a digest.
    let v = verify_image(dir.path(), &format!("{}/{REPO}:v1", reg.host), &env, &[]);
    assert_error(&v, "has no digest");
}

/// Start the fault proxy; returns it and its `127.0.0.1:<port>`.
fn start_proxy(
    python: &Path,
    upstream: &str,
    rate: f64,
    reject: bool,
    log: &Path,
) -> (Service, String) {
    let mut cmd = Command::new(python);
    cmd.arg(repo("tests/interop/fault_proxy.py"))
        .arg(upstream)
        .arg("7")
        .arg(rate.to_string());
    if reject {
        cmd.arg("reject-manifests");
    }
    let (service, port) = common::spawn_ready(cmd.arg(log), "the fault proxy");
    (service, format!("127.0.0.1:{port}"))
}

#[test]
fn attestations_land_once_through_a_faulty_network() {
    let Some(scene) = Scene::new(false, "fault") else {
        return;
    };
    let (dir, reg, python) = (&scene.dir, &scene.reg, scene.python.clone());
    let log = dir.path().join("faults.log");
    let (_proxy, host) = start_proxy(&python, &reg.host, 0.3, false, &log);
    let env = vec![("CHAINSEAL_INSECURE_REGISTRIES", host.clone())];
    // Three images, each attested three times through the proxy, in both encodings.
    for n in 0..3 {
        let digest = reg.push_image(REPO, &format!("v{n}"), &format!("fault-{n}"));
        let hex = digest.trim_start_matches("sha256:").to_owned();
        let taskrun = record(dir.path(), &host, &digest, true, &format!("t{n}.yaml"));
        for encoding in ["dsse", "sigstore-bundle"] {
            for _ in 0..3 {
                let mut env = env.clone();
                env.push(("CHAINSEAL_OCI_ENCODING", encoding.to_owned()));
                let r = attest(dir.path(), &taskrun, "oci", &env);
                assert_eq!(r.code, 0, "attest through faults failed: {}", r.stderr);
            }
        }
        let att = reg
            .inspect_raw(REPO, &format!("sha256-{hex}.att"))
            .expect("att");
        assert_eq!(layers(&att).len(), 1, "no duplicate attestation layers");
        let sig = reg
            .inspect_raw(REPO, &format!("sha256-{hex}.sig"))
            .expect("sig");
        assert_eq!(layers(&sig).len(), 1, "no duplicate signature layers");
        let index = reg
            .inspect_raw(REPO, &format!("sha256-{hex}"))
            .expect("index");
        assert_eq!(
            index["manifests"].as_array().map(Vec::len),
            Some(2),
            "one attestation and one signature referrer: {index}"
        );
    }
    let faults = std::fs::read_to_string(&log).expect("fault log");
    for kind in ["error500", "reset-before", "reset-after"] {
        assert!(faults.contains(kind), "the proxy never injected {kind}");
    }
}

#[test]
fn a_run_without_image_subjects_pushes_nothing_and_succeeds() {
    // Chains #458: no subjects is not an error. No registry is contacted at all.
    let dir = tempfile::tempdir().expect("tmp");
    let mut cmd = chainseal(dir.path());
    cmd.env(
        "CHAINSEAL_RECORD",
        repo("tests/fixtures/chains/unit-inputs/slsa-v2alpha4/taskrun2.json"),
    )
    .env("CHAINSEAL_KEY", repo("examples/demo.key"))
    .env("CHAINSEAL_STORAGE", "oci");
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("nowhere"), "{}", r.stdout);
    assert_eq!(
        r.stderr.matches("nothing pushed to OCI").count(),
        1,
        "logged once: {}",
        r.stderr
    );
}

#[test]
fn several_images_are_written_at_once_each_exactly_once() {
    // Regression for the concurrent writes: four images (three repositories, two
    // images in one, one image named twice) in one TaskRun; every image gets one `.att`
    // and one `.sig` layer, and a second run adds nothing. The two images of one
    // repository share their attestation's blobs (one envelope, the same config).
    let Some(scene) = Scene::new(false, "many") else {
        return;
    };
    let (dir, reg) = (&scene.dir, &scene.reg);
    let other = reg.push_image("team/other", "v1", "other");
    let third = reg.push_image("team/third", "v1", "third");
    let second = reg.push_image(REPO, "v2", "many-second");
    let env = vec![("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone())];
    let path = record(dir.path(), &reg.host, &scene.digest, true, "taskrun.yaml");
    let images = format!(
        "{host}/{REPO}@{d}, {host}/team/other@{other}\n{host}/team/third@{third}, {host}/{REPO}@{second}",
        host = reg.host,
        d = scene.digest
    );
    add_images_result(&path, &images);

    for round in 0..2 {
        let r = attest(dir.path(), &path, "oci", &env);
        assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
        for (repository, digest) in [
            (REPO, scene.digest.as_str()),
            ("team/other", other.as_str()),
            ("team/third", third.as_str()),
            (REPO, second.as_str()),
        ] {
            let hex = digest.trim_start_matches("sha256:");
            for kind in ["att", "sig"] {
                let manifest = reg
                    .inspect_raw(repository, &format!("sha256-{hex}.{kind}"))
                    .unwrap_or_else(|| panic!("{repository} .{kind} exists"));
                assert_eq!(
                    layers(&manifest).len(),
                    1,
                    "round {round}: {repository} .{kind}: {manifest}"
                );
            }
            let image = format!("{}/{repository}@{digest}", reg.host);
            let v = verify_image(dir.path(), &image, &env, &[]);
            assert_eq!(v.code, 0, "{image}: {}", v.stderr);
        }
    }
    // The same as bundle referrers: the attaches of all three images (two share a
    // repository, so their empty config too) run at once; each image ends with two
    // bundles (attestation and signature) in its referrers tag, however often attested.
    let mut bundle_env = env.clone();
    bundle_env.push(("CHAINSEAL_OCI_ENCODING", "sigstore-bundle".to_owned()));
    for round in 0..2 {
        let r = attest(dir.path(), &path, "oci", &bundle_env);
        assert_eq!(r.code, 0, "bundles, round {round}: {}", r.stderr);
        for (repository, digest) in [
            (REPO, scene.digest.as_str()),
            ("team/other", other.as_str()),
            ("team/third", third.as_str()),
            (REPO, second.as_str()),
        ] {
            let index = reg
                .inspect_raw(repository, &digest.replace(':', "-"))
                .unwrap_or_else(|| panic!("{repository}: referrers tag"));
            assert_eq!(
                index["manifests"].as_array().map(Vec::len),
                Some(2),
                "bundles, round {round}, {repository}: {index}"
            );
            let image = format!("{}/{repository}@{digest}", reg.host);
            let v = verify_image(dir.path(), &image, &env, &[]);
            assert_eq!(v.code, 0, "{image}: {}", v.stderr);
        }
    }
}

#[test]
fn a_blob_two_subjects_share_is_uploaded_once() {
    // Regression: two images of one repository get one envelope as their `.att` layer
    // and byte-identical configs; each was uploaded once per image, and distribution
    // 2.8 rewrites a blob's link on every upload, refusing a manifest that names the
    // blob at that moment (MANIFEST_BLOB_UNKNOWN). The requests are counted at a proxy
    // that forwards everything.
    let Some(scene) = Scene::new(false, "shared") else {
        return;
    };
    let (dir, reg, python) = (&scene.dir, &scene.reg, scene.python.clone());
    let second = reg.push_image(REPO, "v2", "shared-second");
    let log = dir.path().join("requests.log");
    let (_proxy, host) = start_proxy(&python, &reg.host, 0.0, false, &log);
    let env = vec![("CHAINSEAL_INSECURE_REGISTRIES", host.clone())];
    let path = record(dir.path(), &host, &scene.digest, true, "taskrun.yaml");
    add_images_result(&path, &format!("{host}/{REPO}@{second}"));
    let r = attest(dir.path(), &path, "oci", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut shared = Vec::new();
    for digest in [&scene.digest, &second] {
        let att = reg
            .inspect_raw(REPO, &format!("sha256-{}.att", &digest[7..]))
            .expect(".att");
        let [layer] = layers(&att).try_into().expect("one layer");
        shared.push((
            layer["digest"].as_str().expect("layer digest").to_owned(),
            att["config"]["digest"]
                .as_str()
                .expect("config digest")
                .to_owned(),
        ));
    }
    assert_eq!(shared[0], shared[1], "one envelope and one config for both");
    let requests = std::fs::read_to_string(&log).expect("proxy log");
    for blob in [&shared[0].0, &shared[0].1] {
        let uploads = requests
            .lines()
            .filter(|l| {
                l.contains(" PUT ")
                    && l.contains("/blobs/uploads/")
                    && l.contains(blob.trim_start_matches("sha256:"))
            })
            .count();
        assert_eq!(uploads, 1, "{blob} uploaded once:\n{requests}");
    }
}

#[test]
fn one_digest_under_two_names_shares_the_override_tags() {
    // With a repository override, an image pushed under two names (one digest) has one
    // `.att` and one `.sig` tag there: the attestation once, and a signature layer per
    // name, written at once by writers of the same tag; a second run adds nothing.
    let Some(scene) = Scene::new(false, "twice") else {
        return;
    };
    let (dir, reg) = (&scene.dir, &scene.reg);
    let copy = reg.push_image("team/copy", "v1", "twice");
    assert_eq!(copy, scene.digest, "the same image under a second name");
    let env = vec![("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone())];
    let path = record(dir.path(), &reg.host, &scene.digest, true, "taskrun.yaml");
    let images = format!("{host}/team/copy@{copy}", host = reg.host);
    add_images_result(&path, &images);
    let store = format!("oci://{}/attestations/twice", reg.host);
    for round in 0..2 {
        let r = attest(dir.path(), &path, &store, &env);
        assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
        let att = reg
            .inspect_raw("attestations/twice", &format!("sha256-{}.att", scene.hex()))
            .expect(".att in the override repository");
        assert_eq!(layers(&att).len(), 1, "round {round}: {att}");
        let sig = reg
            .inspect_raw("attestations/twice", &format!("sha256-{}.sig", scene.hex()))
            .expect(".sig in the override repository");
        let sig_layers = layers(&sig);
        assert_eq!(sig_layers.len(), 2, "round {round}: {sig}");
        let named: std::collections::BTreeSet<String> = sig_layers
            .iter()
            .map(|l| {
                let payload = reg.blob("attestations/twice", l["digest"].as_str().expect("digest"));
                let payload: serde_json::Value =
                    serde_json::from_slice(&payload).expect("simple-signing JSON");
                payload["critical"]["identity"]["docker-reference"]
                    .as_str()
                    .expect("docker-reference")
                    .to_owned()
            })
            .collect();
        let expected: std::collections::BTreeSet<String> = [
            format!("{}/{REPO}", reg.host),
            format!("{}/team/copy", reg.host),
        ]
        .into();
        assert_eq!(named, expected, "round {round}");
    }
}

#[test]
fn a_github_step_pushes_to_the_registry_of_its_image_subject() {
    // `push-to-registry: true` in action.yml: a GitHub build naming its image by
    // subject-name + subject-digest also lands in the image's `.att` tag.
    let Some(scene) = Scene::new(false, "github") else {
        return;
    };
    let (dir, reg) = (&scene.dir, &scene.reg);
    let env_text = std::fs::read_to_string(repo("tests/fixtures/ci/github.env")).expect("env");
    let mut cmd = chainseal(dir.path());
    for line in env_text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
    {
        let (k, v) = line.split_once('=').expect("KEY=value");
        cmd.env(k, v);
    }
    cmd.env("CHAINSEAL_KEY", repo("examples/demo.key"))
        .env("CHAINSEAL_SUBJECT_NAME", format!("{}/{REPO}", reg.host))
        .env("CHAINSEAL_SUBJECT_DIGEST", &scene.digest)
        .env("CHAINSEAL_PUSH_TO_REGISTRY", "true")
        .env("CHAINSEAL_INSECURE_REGISTRIES", &reg.host);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let att = reg
        .inspect_raw(REPO, &format!("sha256-{}.att", scene.hex()))
        .expect(".att tag exists");
    let [layer] = layers(&att).try_into().expect("one layer");
    let envelope = reg.blob(REPO, layer["digest"].as_str().expect("digest"));
    let file = dir.path().join("github-att.json");
    std::fs::write(&file, &envelope).expect("write");
    let (ok, said) = securesystemslib_verifies(&scene.python, &file, &repo("examples/demo.pub"));
    assert!(ok, "securesystemslib: {said}");
    let v = verify_image(
        dir.path(),
        &format!("{}/{REPO}@{}", reg.host, scene.digest),
        &[("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone())],
        &[],
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(
        v.stdout.contains("builder id: https://github.com/octo-org/hello-service/.github/workflows/release.yml@refs/heads/main"),
        "{}",
        v.stdout
    );
    // No image signature for CI builds (actions/attest pushes only the attestation).
    assert!(
        reg.inspect_raw(REPO, &format!("sha256-{}.sig", scene.hex()))
            .is_none()
    );
}

#[test]
fn keyless_pushes_carry_the_certificate_and_the_rekor_bundle() {
    let Some(scene) = Scene::new(false, "keyless") else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double("OCI keyless") else {
        return;
    };
    let (dir, reg) = (&scene.dir, &scene.reg);
    let hex = scene.hex();
    let token = dir.path().join("oidc-token");
    let identity = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
    std::fs::write(
        &token,
        common::identity_token(serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com", "sub": identity, "aud": "sigstore"
        })),
    )
    .expect("token");
    let env = vec![
        ("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone()),
        ("CHAINSEAL_KEY", "keyless".to_owned()),
        ("CHAINSEAL_FULCIO_URL", url.clone()),
        ("CHAINSEAL_REKOR_URL", url.clone()),
        ("CHAINSEAL_IDENTITY_TOKEN_FILE", token.display().to_string()),
    ];
    let taskrun = record(dir.path(), &reg.host, &scene.digest, true, "taskrun.yaml");
    let r = attest(dir.path(), &taskrun, "oci", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Read back with skopeo: both layers carry the certificate, its chain and cosign's
    // Rekor bundle (a `dsse` entry for the attestation, `hashedrekord` for the image).
    for (tag, kind) in [("att", "dsse"), ("sig", "hashedrekord")] {
        let manifest = reg
            .inspect_raw(REPO, &format!("sha256-{hex}.{tag}"))
            .unwrap_or_else(|| panic!(".{tag} tag exists"));
        let [layer] = layers(&manifest).try_into().expect("one layer");
        let notes = &layer["annotations"];
        let cert = notes["dev.sigstore.cosign/certificate"]
            .as_str()
            .expect("cert");
        assert!(
            cert.starts_with("-----BEGIN CERTIFICATE-----\n"),
            ".{tag}: {cert}"
        );
        assert!(
            notes["dev.sigstore.cosign/chain"]
                .as_str()
                .is_some_and(|c| c.contains("BEGIN CERTIFICATE")),
            ".{tag}"
        );
        let bundle: Value = serde_json::from_str(
            notes["dev.sigstore.cosign/bundle"]
                .as_str()
                .expect("bundle annotation"),
        )
        .expect("JSON");
        assert!(
            bundle["SignedEntryTimestamp"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(bundle["Payload"]["logIndex"].is_i64(), ".{tag}: {bundle}");
        let body = STANDARD
            .decode(bundle["Payload"]["body"].as_str().expect("body"))
            .expect("base64");
        let body: Value = serde_json::from_slice(&body).expect("JSON body");
        assert_eq!(body["kind"], kind, ".{tag}");
        // The certificate is the one the signature verifies with.
        if tag == "att" {
            let public = dir.path().join("leaf.pub");
            let out = Command::new(&scene.python)
                .args(["-c", "import sys; from cryptography import x509; from cryptography.hazmat.primitives import serialization as s; c = x509.load_pem_x509_certificate(sys.argv[1].encode()); sys.stdout.buffer.write(c.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))", cert])
                .output()
                .expect("python");
            assert!(out.status.success());
            std::fs::write(&public, &out.stdout).expect("write");
            let envelope = reg.blob(REPO, layer["digest"].as_str().expect("digest"));
            let file = dir.path().join("att.json");
            std::fs::write(&file, &envelope).expect("write");
            let (ok, said) = securesystemslib_verifies(&scene.python, &file, &public);
            assert!(ok, "securesystemslib: {said}");
        }
    }
    // Independently (python `cryptography`, registry read over HTTP): the `.sig`
    // signature verifies with its certificate's key, and each layer's Rekor bundle has
    // a SignedEntryTimestamp by the test log's key (from its trusted root) over an entry
    // for exactly that layer; a log key it does not know is refused.
    let log_root = dir.path().join("oracle-trusted-root.json");
    common::download(&format!("{url}/trusted_root.json"), &log_root);
    let sig_tag = format!("sha256-{hex}.sig");
    let sig_check = common::oracle(
        &scene.python,
        "verify_cosign_sig.py",
        &[&reg.host, REPO, &sig_tag, &scene.digest, "--certificate"],
    );
    common::assert_oracle_verified(&sig_check, "keyless .sig");
    for tag in ["att", "sig"] {
        let tag = format!("sha256-{hex}.{tag}");
        let check = |how: &str, file: &Path| {
            let file = file.display().to_string();
            common::oracle(
                &scene.python,
                "verify_cosign_bundle.py",
                &[&reg.host, REPO, &tag, how, &file],
            )
        };
        common::assert_oracle_verified(&check("--trusted-root", &log_root), &tag);
        common::assert_oracle_rejected(
            &check("--rekor-key", &repo("examples/demo.pub")),
            "unknown log",
            &format!("{tag} against another log key"),
        );
        let flipped = push_tampered_copy(reg, &tag, &format!("flipped-set-{tag}"), |m| {
            let note = &mut m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"];
            let mut bundle: Value =
                serde_json::from_str(note.as_str().expect("bundle")).expect("bundle JSON");
            let set = bundle["SignedEntryTimestamp"].as_str().expect("SET");
            bundle["SignedEntryTimestamp"] = common::flip_bit_b64(set, 0).into();
            *note = bundle.to_string().into();
        });
        let root = log_root.display().to_string();
        common::assert_oracle_rejected(
            &common::oracle(
                &scene.python,
                "verify_cosign_bundle.py",
                &[&reg.host, REPO, &flipped, "--trusted-root", &root],
            ),
            "SignedEntryTimestamp: the signature does not verify",
            &format!("{tag} with a flipped SignedEntryTimestamp byte"),
        );
    }

    // chainseal verifies the registry's keyless attestation against the trust root.
    let root = dir.path().join("trusted_root.json");
    common::download(&format!("{url}/trusted_root.json"), &root);
    let image = format!("{}/{REPO}@{}", reg.host, scene.digest);
    let keyless_verify = |who: &str| {
        let mut cmd = chainseal(dir.path());
        cmd.args(["verify", "--image", &image, "--certificate-identity", who])
            .args([
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
            ])
            .arg("--trusted-root")
            .arg(&root)
            .env("CHAINSEAL_INSECURE_REGISTRIES", &reg.host);
        run(&mut cmd)
    };
    let v = keyless_verify(identity);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stderr.contains("1 attestation(s) verified"),
        "{}",
        v.stderr
    );
    let v =
        keyless_verify("https://github.com/mallory/app/.github/workflows/x.yml@refs/heads/main");
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("the certificate is for"), "{}", v.stdout);

    // Sigstore bundles as referrers: the attestation and the image signature each carry
    // their own `dsse` entry, and python sigstore verifies both against the image digest.
    let mut bundle_env = env.clone();
    bundle_env.push(("CHAINSEAL_OCI_ENCODING", "sigstore-bundle".to_owned()));
    let r = attest(dir.path(), &taskrun, "oci", &bundle_env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = dir.path().join("trust_config.json");
    common::download(&format!("{url}/client_trust_config.json"), &config);
    let index = reg
        .inspect_raw(REPO, &format!("sha256-{hex}"))
        .expect("referrers tag");
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    assert_eq!(manifests.len(), 2, "{index}");
    for m in &manifests {
        let referrer = reg
            .inspect_raw(REPO, m["digest"].as_str().expect("digest"))
            .expect("referrer manifest");
        let [layer] = layers(&referrer).try_into().expect("one layer");
        let bundle = reg.blob(REPO, layer["digest"].as_str().expect("digest"));
        let b: Value = serde_json::from_slice(&bundle).expect("bundle JSON");
        assert_eq!(
            b["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
            "dsse"
        );
        let file = dir.path().join("referrer.sigstore.json");
        std::fs::write(&file, &bundle).expect("write");
        let out = Command::new(&scene.python)
            .args(["-m", "sigstore", "--trust-config"])
            .arg(&config)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(&file)
            .args(["--cert-identity", identity])
            .args([
                "--cert-oidc-issuer",
                "https://token.actions.githubusercontent.com",
            ])
            .arg(&scene.digest)
            .output()
            .expect("python sigstore");
        assert!(
            out.status.success(),
            "sigstore-python rejected referrer {}: {}{}",
            m["digest"],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A cosign `.att` manifest for `digest` in `REPO` with `layers` (envelopes, each with
/// its predicate type) pushed over plain HTTP with curl, independent of chainseal.
fn verify_type_push_att(reg: &TestRegistry, digest: &str, layers: &[(String, &str)]) {
    use sha2::Digest as _;
    let push_blob = |data: &[u8]| -> String {
        let digest = format!(
            "sha256:{}",
            common::registry::hex(&sha2::Sha256::digest(data))
        );
        let start = Command::new("curl")
            .args(["-sf", "-X", "POST", "-o", "/dev/null", "-D", "-"])
            .arg(format!("http://{}/v2/{REPO}/blobs/uploads/", reg.host))
            .output()
            .expect("curl");
        assert!(start.status.success(), "blob upload start");
        let headers = String::from_utf8_lossy(&start.stdout).into_owned();
        let location = headers
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .expect("upload location");
        let location = if location.starts_with('/') {
            format!("http://{}{location}", reg.host)
        } else {
            location
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut put = Command::new("curl")
            .args([
                "-sf",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/octet-stream",
            ])
            .args(["--data-binary", "@-"])
            .arg(format!("{location}{sep}digest={digest}"))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("curl");
        use std::io::Write as _;
        put.stdin
            .take()
            .expect("stdin")
            .write_all(data)
            .expect("write");
        assert!(put.wait().expect("curl").success(), "blob upload");
        digest
    };
    let config = b"{}";
    let config_digest = push_blob(config);
    let layers: Vec<Value> = layers
        .iter()
        .map(|(envelope, predicate_type)| {
            serde_json::json!({
                "mediaType": "application/vnd.dsse.envelope.v1+json",
                "digest": push_blob(envelope.as_bytes()),
                "size": envelope.len(),
                "annotations": {"predicateType": predicate_type, "dev.cosignproject.cosign/signature": ""},
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layers,
    });
    let tag = format!("{}.att", digest.replace(':', "-"));
    let out = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
        ])
        .args(["--data-binary", &manifest.to_string()])
        .arg(format!("http://{}/v2/{REPO}/manifests/{tag}", reg.host))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "manifest push: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An in-toto Statement about `digest` with `predicate_type`, signed with the demo key.
fn verify_type_envelope(predicate_type: &str, digest: &str) -> String {
    common::demo_envelope(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": REPO, "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": predicate_type,
        "predicate": {},
    }))
}

#[test]
fn verify_image_counts_only_slsa_provenance_unless_type_says_otherwise() {
    // Regression (issue #18): `verify --image` passed when any attestation verified,
    // whatever its predicate type.
    let Some(scene) = Scene::new(false, "verify-type") else {
        return;
    };
    let (dir, reg, digest) = (&scene.dir, &scene.reg, scene.digest.clone());
    let env = vec![("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone())];
    let image = format!("{}/{REPO}@{digest}", reg.host);
    let custom = "https://cosign.sigstore.dev/attestation/v1";
    verify_type_push_att(
        reg,
        &digest,
        &[(verify_type_envelope(custom, &digest), custom)],
    );
    // Only a custom attestation: skipped by default, and the run fails saying what it
    // found and how to ask for it.
    let v = verify_image(dir.path(), &image, &env, &[]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.contains(&format!("(predicate type {custom})")) && v.stdout.contains("skipped "),
        "{}",
        v.stdout
    );
    assert!(
        v.stderr.contains(custom) && v.stderr.contains("--type"),
        "{}",
        v.stderr
    );
    for t in ["custom", custom, "any"] {
        let v = verify_image(dir.path(), &image, &env, &["--type", t]);
        assert_eq!(v.code, 0, "--type {t}: {}{}", v.stdout, v.stderr);
        assert!(
            v.stderr.contains("1 attestation(s) verified"),
            "{}",
            v.stderr
        );
    }
    // Next to SLSA provenance: the provenance counts, the custom one is skipped.
    let slsa = "https://slsa.dev/provenance/v0.2";
    verify_type_push_att(
        reg,
        &digest,
        &[
            (verify_type_envelope(custom, &digest), custom),
            (verify_type_envelope(slsa, &digest), slsa),
        ],
    );
    let v = verify_image(dir.path(), &image, &env, &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stderr.contains("1 attestation(s) verified"),
        "{}",
        v.stderr
    );
    assert!(
        v.stdout.contains(&format!("(predicate type {custom})")),
        "{}",
        v.stdout
    );
    let v = verify_image(dir.path(), &image, &env, &["--type", "slsaprovenance1"]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stderr.contains(slsa) && v.stderr.contains(custom),
        "{}",
        v.stderr
    );
}

/// Regression (#18): what a hostile registry returns is an error with exit 2 — a
/// manifest of the wrong JSON type panicked (exit 101), a huge one was read whole, and
/// the registry's error text was repeated in messages.
#[test]
fn a_hostile_registry_gets_a_clear_error_never_a_panic_or_its_words_repeated() {
    let Some(python) = common::tool("INTEROP_PYTHON", "hostile registry attest test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let (_registry, url) = common::http_double(&python, "hostile_registry.py", &[]);
    let host = url.trim_start_matches("http://").to_owned();
    let digest = format!("sha256:{}", "d3".repeat(32));
    for (mode, needle) in [
        ("array", "cannot read"),
        ("string", "cannot read"),
        ("huge", "larger than"),
        ("errorbody", "HTTP 400 (DENIED)"),
    ] {
        let rec = record(
            dir.path(),
            &format!("{host}/{mode}"),
            &digest,
            true,
            &format!("{mode}.yaml"),
        );
        let r = attest(
            dir.path(),
            &rec,
            "oci",
            &[("CHAINSEAL_INSECURE_REGISTRIES", host.clone())],
        );
        assert_error(&r, needle);
        assert!(
            !r.stderr.contains("HOSTILE-REGISTRY-BODY"),
            "{mode}: {}",
            r.stderr
        );
    }
}

/// `attest` to the hostile registry's `mode` repository with basic credentials for
/// it (`robot:hunter2-secret`); returns the run and the registry's request log.
fn attest_with_credentials(python: &Path, mode: &str) -> (common::Run, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("requests.jsonl");
    let (_registry, url) = common::http_double(
        python,
        "hostile_registry.py",
        &[log.to_str().expect("utf-8")],
    );
    let host = url.trim_start_matches("http://").to_owned();
    let auth = dir.path().join("config.json");
    // base64("robot:hunter2-secret")
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"{host}":{{"auth":"cm9ib3Q6aHVudGVyMi1zZWNyZXQ="}}}}}}"#),
    )
    .expect("auth file");
    let digest = format!("sha256:{}", "d3".repeat(32));
    let rec = record(
        dir.path(),
        &format!("{host}/{mode}"),
        &digest,
        true,
        "r.yaml",
    );
    let r = attest(
        dir.path(),
        &rec,
        "oci",
        &[
            ("CHAINSEAL_INSECURE_REGISTRIES", host.clone()),
            ("CHAINSEAL_REGISTRY_AUTH_FILES", auth.display().to_string()),
        ],
    );
    (r, std::fs::read_to_string(&log).expect("request log"))
}

/// #18: credentials never follow a redirect to another host. The registry asks for
/// basic credentials, then redirects the manifest read to another host name; the
/// request there must carry no `Authorization`.
#[test]
fn credentials_do_not_follow_a_redirect_to_another_host() {
    let Some(python) = common::tool("INTEROP_PYTHON", "redirect credentials test") else {
        return;
    };
    let (r, requests) = attest_with_credentials(&python, "redirect");
    let requests: Vec<serde_json::Value> = requests
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let authed = requests
        .iter()
        .filter(|q| {
            q["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v2/redirect/"))
        })
        .filter(|q| q["authorization"].is_string())
        .count();
    assert!(
        authed > 0,
        "the registry itself got the credentials: {requests:?}"
    );
    let landed: Vec<_> = requests
        .iter()
        .filter(|q| {
            q["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v2/landed/"))
        })
        .collect();
    assert!(
        !landed.is_empty(),
        "the redirect was followed: {requests:?}\n{}",
        r.stderr
    );
    assert!(
        landed.iter().all(|q| q["authorization"].is_null()),
        "credentials followed the redirect: {landed:?}"
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}

/// #18: basic credentials go to a token service only over https or on the registry's
/// own origin. A registry naming a plain-HTTP token service on another host gets a
/// refusal, and the token service never sees the credentials.
#[test]
fn credentials_are_not_sent_to_a_plain_http_token_service_elsewhere() {
    let Some(python) = common::tool("INTEROP_PYTHON", "token realm test") else {
        return;
    };
    let (r, requests) = attest_with_credentials(&python, "realm");
    assert_error(&r, "refused the token service localhost: not https");
    assert!(
        !requests.contains("/token"),
        "the token service was asked: {requests}"
    );
    assert!(
        !requests.contains("Basic "),
        "credentials were sent: {requests}"
    );
}

/// #18: an https registry cannot send chainseal to plain http. The registry (https,
/// trusted through a test CA) redirects a manifest read to `http://`; chainseal
/// refuses the redirect and says so.
#[test]
fn an_https_registry_cannot_redirect_to_plain_http() {
    let Some(python) = common::tool("INTEROP_PYTHON", "https downgrade test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let tls = dir.path().join("tls");
    std::fs::create_dir(&tls).expect("mkdir");
    let (_registry, url) = common::http_double(
        &python,
        "hostile_registry.py",
        &["--tls", tls.to_str().expect("utf-8")],
    );
    let host = url.trim_start_matches("http://").to_owned();
    let digest = format!("sha256:{}", "d3".repeat(32));
    let rec = record(
        dir.path(),
        &format!("{host}/downgrade"),
        &digest,
        true,
        "d.yaml",
    );
    let r = attest(
        dir.path(),
        &rec,
        "oci",
        &[("SSL_CERT_FILE", tls.join("ca.pem").display().to_string())],
    );
    assert_error(&r, "refused a redirect from https to http");
}

/// The message of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// "Tag absent" (`inspect_raw` → `None`) means the registry answered 404 for the
/// manifest; denied credentials or a refused connection fail the check instead of
/// passing as "nothing was pushed".
#[test]
fn the_tag_absent_check_tells_not_found_from_registry_errors() {
    let Some(mut scene) = Scene::new(true, "absent") else {
        return;
    };
    assert!(scene.reg.inspect_raw(REPO, "v1").is_some(), "pushed tag");
    assert!(scene.reg.inspect_raw(REPO, "no-such-tag").is_none());
    assert!(scene.reg.inspect_raw("no/such-repo", "v1").is_none());

    let check = |what: &str, reg: &TestRegistry| {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            reg.inspect_raw(REPO, "no-such-tag")
        }));
        let message = panic_message(&*caught.expect_err(what));
        assert!(
            message.contains("failed for another reason than a missing manifest"),
            "{what}: {message}"
        );
    };
    // No credentials for the basic-auth registry: 401, not 404.
    scene.reg.auth = false;
    check("denied credentials pass as absent", &scene.reg);
    scene.reg.auth = true;
    // Nothing listens (port 1 is privileged): connection refused.
    let host = std::mem::replace(&mut scene.reg.host, "127.0.0.1:1".to_owned());
    check("a refused connection passes as absent", &scene.reg);
    scene.reg.host = host;
}

/// Copy the manifest at `REPO:tag` to `REPO:new_tag` (curl, plain HTTP) after `edit`
/// changed it, e.g. a flipped byte in an annotation; returns `new_tag`.
fn push_tampered_copy(
    reg: &TestRegistry,
    tag: &str,
    new_tag: &str,
    edit: impl FnOnce(&mut Value),
) -> String {
    let mut manifest = reg.inspect_raw(REPO, tag).expect("manifest to copy");
    edit(&mut manifest);
    let out = Command::new("curl")
        .args(["-sf", "-X", "PUT", "-H"])
        .arg("Content-Type: application/vnd.oci.image.manifest.v1+json")
        .args(["--data-binary", &manifest.to_string()])
        .arg(format!("http://{}/v2/{REPO}/manifests/{new_tag}", reg.host))
        .output()
        .expect("curl");
    assert!(out.status.success(), "PUT {new_tag}: {out:?}");
    new_tag.to_owned()
}

/// Read the manifest `reference` with a registry client whose settings have
/// `insecure_everywhere`; `Ok(found)` or the error's text.
async fn read_manifest(reference: String, insecure_everywhere: bool) -> Result<bool, String> {
    let registry = chainseal::oci::Registry::new(&chainseal::oci::Settings {
        insecure_everywhere,
        ..Default::default()
    })
    .map_err(|e| e.to_string())?
    // The doubles listen on loopback, an internal address.
    .unverified_internal_for_tests();
    let r = chainseal::oci::parse_reference(&reference).map_err(|e| e.to_string())?;
    registry
        .manifest(&r, &["application/vnd.oci.image.manifest.v1+json"])
        .await
        .map(|m| m.is_some())
        .map_err(|e| chainseal::error_text::joined(&e))
}

/// Chains parity (#20): with `insecure_everywhere` (chains-config's
/// `storage.oci.repository.insecure`), a registry nobody listed insecure is reached
/// over https with a certificate no trusted CA signed, and over plain HTTP when it
/// does not speak https; without it, both are refused before a request is made. The
/// #18 redirect guard still holds: an https registry cannot send chainseal to http.
#[test]
fn insecure_everywhere_skips_tls_verification_and_falls_back_to_plain_http() {
    let Some(python) = common::tool("INTEROP_PYTHON", "insecure registry test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let tls = dir.path().join("tls");
    std::fs::create_dir(&tls).expect("mkdir");
    let (tls_log, plain_log) = (dir.path().join("tls.jsonl"), dir.path().join("plain.jsonl"));
    let (_tls_registry, url) = common::http_double(
        &python,
        "hostile_registry.py",
        &[
            tls_log.to_str().expect("utf-8"),
            "--tls",
            tls.to_str().expect("utf-8"),
        ],
    );
    let tls_host = url.trim_start_matches("http://").to_owned();
    let (_plain_registry, url) = common::http_double(
        &python,
        "hostile_registry.py",
        &[plain_log.to_str().expect("utf-8")],
    );
    let plain_host = url.trim_start_matches("http://").to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ((tls_refused, plain_refused), (tls_reached, plain_reached, downgrade)) =
        runtime.block_on(async {
            // Refused first, so the logs show no request got through without the key.
            let refused = tokio::join!(
                read_manifest(format!("{tls_host}/plain/app:v1"), false),
                read_manifest(format!("{plain_host}/plain/app:v1"), false),
            );
            let requests = |log: &Path| std::fs::read_to_string(log).unwrap_or_default();
            assert_eq!(requests(&tls_log), "", "a request passed the refused TLS");
            assert_eq!(requests(&plain_log), "", "https went to plain HTTP");
            let reached = tokio::join!(
                read_manifest(format!("{tls_host}/plain/app:v1"), true),
                read_manifest(format!("{plain_host}/plain/app:v1"), true),
                read_manifest(format!("{tls_host}/downgrade/app:v1"), true),
            );
            (refused, reached)
        });
    let refused = tls_refused.expect_err("an unverified certificate is refused");
    assert!(refused.contains("certificate"), "{refused}");
    plain_refused.expect_err("plain HTTP is refused");
    // The double answers MANIFEST_UNKNOWN: reached, and the manifest is absent.
    assert_eq!(tls_reached, Ok(false), "https without verification");
    assert_eq!(plain_reached, Ok(false), "the plain-HTTP fallback");
    let downgrade = downgrade.expect_err("the https registry redirects to http");
    assert!(
        downgrade.contains("refused a redirect from https to http"),
        "{downgrade}"
    );
    let log = std::fs::read_to_string(&plain_log).expect("plain log");
    assert!(log.contains("/v2/plain/app/manifests/v1"), "{log}");
}

/// Review of #20: with `insecure_everywhere`, an https-only registry whose plain-HTTP
/// side redirects to https, after one https hiccup (its first TLS connection dropped,
/// or answered in plain HTTP), was settled on as "plain HTTP" (the redirect was
/// followed, so the probe's final answer was a 200) and its basic credentials went
/// out in cleartext. It must stay on https: nothing but the probe's anonymous
/// `GET /v2/` is sent over http, credentials never.
#[test]
fn insecure_everywhere_never_sends_credentials_over_http_to_an_https_registry() {
    let Some(python) = common::tool("INTEROP_PYTHON", "insecure https-only registry test") else {
        return;
    };
    for hiccup in ["drop", "plain"] {
        https_only_registry_stays_https(&python, hiccup);
    }
}

/// Read a manifest with basic credentials from the hostile registry's `--dual` mode
/// (https, its plain-HTTP side redirecting to https) with `--hiccup hiccup`, through
/// an `insecure_everywhere` transport; assert nothing went over plain HTTP.
fn https_only_registry_stays_https(python: &Path, hiccup: &str) {
    use chainseal::oci::transport::{Op, Request, Transport};
    let dir = tempfile::tempdir().expect("tmp");
    let tls = dir.path().join("tls");
    std::fs::create_dir(&tls).expect("mkdir");
    let log = dir.path().join("requests.jsonl");
    let (_registry, url) = common::http_double(
        python,
        "hostile_registry.py",
        &[
            log.to_str().expect("utf-8"),
            "--dual",
            tls.to_str().expect("utf-8"),
            "--hiccup",
            hiccup,
        ],
    );
    let host = url.trim_start_matches("http://").to_owned();
    // The double listens on loopback, an internal address.
    let transport = Transport::new(Vec::new())
        .insecure_everywhere(true)
        .unverified_internal_for_tests();
    let auth = oci_client::secrets::RegistryAuth::Basic("robot".into(), "hunter2-secret".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let reply = runtime.block_on(async {
        let request = Request {
            method: http::Method::GET,
            repository: "auth/app",
            path: "manifests/v1".into(),
            accept: &["application/vnd.oci.image.manifest.v1+json"],
            content_type: None,
            body: None,
            limit: 1 << 20,
            op: Op::Pull,
        };
        transport.send(&host, &request, &auth).await
    });
    let requests = std::fs::read_to_string(&log).unwrap_or_default();
    let over_http: Vec<&str> = requests
        .lines()
        .filter(|l| l.contains(r#""scheme": "http""#))
        .collect();
    // Only the scheme probe's anonymous `GET /v2/` may go to http (after a TLS
    // handshake answered in plain HTTP), and its redirect to https is no answer.
    let probe = r#"{"method": "GET", "path": "/v2/", "scheme": "http", "authorization": null}"#;
    assert!(
        over_http.iter().all(|l| *l == probe),
        "{hiccup}: requests went over plain HTTP to an https registry: {over_http:?}"
    );
    // Reached over https with the credentials: the double answers MANIFEST_UNKNOWN.
    let failure = reply.expect_err("the manifest is unknown");
    assert!(failure.is_not_found(), "{hiccup}: {failure}\n{requests}");
    assert!(
        requests.contains(r#""authorization": "Basic "#),
        "{hiccup}: no credentials sent: {requests}"
    );
}

/// `cosign <verb> --key <key> <image>` (no transparency log, plain-HTTP registry).
fn cosign_key_check(
    cosign: &Path,
    home: &Path,
    image: &str,
    verb: &str,
    key: &Path,
    extra: &[&str],
) -> Run {
    let mut cmd = Command::new(cosign);
    cmd.env_clear()
        .env("HOME", home)
        .arg(verb)
        .arg("--key")
        .arg(key)
        .args(["--insecure-ignore-tlog=true", "--allow-http-registry=true"])
        .args(extra)
        .arg(image);
    run(&mut cmd)
}

/// The predicate types of the envelopes `cosign verify-attestation` printed, one
/// JSON envelope a line.
fn printed_predicate_types(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            let envelope: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("cosign printed no envelope ({e}): {stdout}"));
            let payload = STANDARD
                .decode(envelope["payload"].as_str().expect("payload"))
                .expect("base64");
            serde_json::from_slice::<Value>(&payload).expect("statement")["predicateType"].clone()
        })
        .collect()
}

/// cosign v3 (`COSIGN_BIN`, built by scripts/peers), what users verify with, on
/// what `--storage oci` pushes: `cosign verify-attestation --type slsaprovenance1`
/// and `slsaprovenance02` on the `.att` tag and `cosign verify` on the `.sig` tag, with the key and no
/// transparency log. Another key, and a `.sig` whose signature lost one bit, are
/// refused, so the check can fail.
#[test]
fn cosign_v3_verifies_what_oci_storage_pushes() {
    let Some(cosign) = tool("COSIGN_BIN", "cosign interop") else {
        return;
    };
    let Some(scene) = Scene::new(false, "cosign") else {
        return;
    };
    let (dir, reg) = (scene.dir.path(), &scene.reg);
    let env = vec![("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone())];
    let taskrun = record(dir, &reg.host, &scene.digest, true, "taskrun.yaml");
    let r = attest(dir, &taskrun, "oci", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let image = format!("{}/{REPO}@{}", reg.host, scene.digest);
    let cosign_with = |verb: &str, key: &Path, extra: &[&str]| {
        cosign_key_check(&cosign, dir, &image, verb, key, extra)
    };
    let demo = repo("examples/demo.pub");
    let other = repo("tests/fixtures/keys/cosign.pub");

    let att = cosign_with("verify-attestation", &demo, &["--type", "slsaprovenance1"]);
    assert_eq!(att.code, 0, "cosign verify-attestation: {}", att.stderr);
    assert_eq!(
        printed_predicate_types(&att.stdout),
        ["https://slsa.dev/provenance/v1"]
    );
    // SLSA v0.2 (Chains' `slsa/v1` format) joins the `.att` tag as a second layer.
    let mut v02 = env.clone();
    v02.push(("CHAINSEAL_FORMAT", "slsa/v0.2".to_owned()));
    let r = attest(dir, &taskrun, "oci", &v02);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let att = cosign_with("verify-attestation", &demo, &["--type", "slsaprovenance02"]);
    assert_eq!(
        att.code, 0,
        "cosign verify-attestation v0.2: {}",
        att.stderr
    );
    assert_eq!(
        printed_predicate_types(&att.stdout),
        ["https://slsa.dev/provenance/v0.2"],
        "cosign picked the v0.2 layer only"
    );
    let refused = cosign_with("verify-attestation", &other, &["--type", "slsaprovenance1"]);
    assert_ne!(refused.code, 0, "another key verified: {}", refused.stdout);
    assert!(
        refused.stderr.contains("no matching attestations"),
        "{}",
        refused.stderr
    );

    let sig = cosign_with("verify", &demo, &[]);
    assert_eq!(sig.code, 0, "cosign verify: {}", sig.stderr);
    let claims: Value = serde_json::from_str(sig.stdout.trim()).expect("claims JSON");
    assert_eq!(
        claims[0]["critical"]["image"]["docker-manifest-digest"],
        scene.digest.as_str()
    );
    let tag = format!("sha256-{}.sig", scene.hex());
    push_tampered_copy(reg, &tag, &tag, |m| {
        let note = &mut m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"];
        *note = common::flip_bit_b64(note.as_str().expect("signature"), 0).into();
    });
    let tampered = cosign_with("verify", &demo, &[]);
    assert_ne!(
        tampered.code, 0,
        "a flipped signature verified: {}",
        tampered.stdout
    );
    assert!(
        tampered.stderr.contains("no matching signatures"),
        "{}",
        tampered.stderr
    );
}

/// cosign v3 on the Sigstore bundles `CHAINSEAL_OCI_ENCODING=sigstore-bundle` pushes
/// as OCI 1.1 referrers (this registry has no referrers API: the tag-schema index):
/// no cosign tags exist, so what cosign verifies is read from the bundles; another
/// key is refused.
#[test]
fn cosign_v3_verifies_sigstore_bundle_referrers() {
    let Some(cosign) = tool("COSIGN_BIN", "cosign interop") else {
        return;
    };
    let Some(scene) = Scene::new(false, "cosign-bundles") else {
        return;
    };
    let (dir, reg) = (scene.dir.path(), &scene.reg);
    let env = vec![
        ("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone()),
        ("CHAINSEAL_OCI_ENCODING", "sigstore-bundle".to_owned()),
    ];
    let taskrun = record(dir, &reg.host, &scene.digest, true, "taskrun.yaml");
    let r = attest(dir, &taskrun, "oci", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for suffix in ["att", "sig"] {
        let tag = format!("sha256-{}.{suffix}", scene.hex());
        assert!(
            reg.inspect_raw(REPO, &tag).is_none(),
            "a cosign tag {tag} exists"
        );
    }
    let image = format!("{}/{REPO}@{}", reg.host, scene.digest);
    let cosign_with = |verb: &str, key: &Path, extra: &[&str]| {
        cosign_key_check(&cosign, dir, &image, verb, key, extra)
    };
    let demo = repo("examples/demo.pub");
    let att = cosign_with("verify-attestation", &demo, &["--type", "slsaprovenance1"]);
    assert_eq!(att.code, 0, "cosign verify-attestation: {}", att.stderr);
    assert_eq!(
        printed_predicate_types(&att.stdout),
        ["https://slsa.dev/provenance/v1"]
    );
    let sig = cosign_with("verify", &demo, &[]);
    assert_eq!(sig.code, 0, "cosign verify: {}", sig.stderr);
    let other = repo("tests/fixtures/keys/cosign.pub");
    for (verb, extra) in [
        ("verify-attestation", &["--type", "slsaprovenance1"][..]),
        ("verify", &[][..]),
    ] {
        let refused = cosign_with(verb, &other, extra);
        assert_ne!(
            refused.code, 0,
            "{verb}: another key verified: {}",
            refused.stdout
        );
        assert!(
            refused.stderr.contains("no matching"),
            "{verb}: {}",
            refused.stderr
        );
    }
}

/// The OCI manifest `digest` of `REPO` (curl, plain HTTP).
fn manifest_by_digest(reg: &TestRegistry, digest: &str) -> Value {
    let out = Command::new("curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!("http://{}/v2/{REPO}/manifests/{digest}", reg.host))
        .output()
        .expect("curl");
    assert!(out.status.success(), "GET manifest {digest}: {out:?}");
    serde_json::from_slice(&out.stdout).expect("manifest JSON")
}

/// Upload `bytes` as a blob of `REPO` (monolithic upload); returns its descriptor
/// fields (digest, size).
fn push_blob(reg: &TestRegistry, bytes: &[u8], dir: &Path) -> (String, usize) {
    (reg.put_blob(REPO, bytes, dir), bytes.len())
}

/// Flip one bit of the DSSE signature of the SLSA provenance bundle among the image's
/// referrers (what cosign 3 pushes): push the changed bundle, a referrer manifest naming
/// it and the tag-schema index naming that.
fn tamper_referred_attestation(scene: &Scene) {
    let (dir, reg) = (scene.dir.path(), &scene.reg);
    let index_tag = format!("sha256-{}", scene.hex());
    let mut index = reg.inspect_raw(REPO, &index_tag).expect("referrers index");
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let mut tampered = false;
    for (n, entry) in manifests.iter().enumerate() {
        let digest = entry["digest"].as_str().expect("digest");
        let manifest = manifest_by_digest(reg, digest);
        let layer = manifest["layers"][0]["digest"].as_str().expect("layer");
        let mut bundle: Value = serde_json::from_slice(&reg.blob(REPO, layer)).expect("bundle");
        // cosign 3 signs images as DSSE too (`https://sigstore.dev/cosign/sign/v1`):
        // only the provenance attestation is changed.
        let payload = bundle
            .pointer("/dsseEnvelope/payload")
            .and_then(Value::as_str)
            .map(|p| STANDARD.decode(p).expect("base64"))
            .unwrap_or_default();
        let statement: Value = serde_json::from_slice(&payload).unwrap_or_default();
        if statement["predicateType"] != "https://slsa.dev/provenance/v1" {
            continue;
        }
        let sig = bundle
            .pointer_mut("/dsseEnvelope/signatures/0/sig")
            .expect("a DSSE signature");
        *sig = common::flip_bit_b64(sig.as_str().expect("sig"), 0).into();
        let (blob, size) = push_blob(reg, bundle.to_string().as_bytes(), dir);
        let mut manifest = manifest.clone();
        manifest["layers"][0]["digest"] = blob.into();
        manifest["layers"][0]["size"] = size.into();
        let body = manifest.to_string();
        let (new_digest, new_size) = {
            use sha2::Digest as _;
            (
                format!(
                    "sha256:{}",
                    hex::encode(sha2::Sha256::digest(body.as_bytes()))
                ),
                body.len(),
            )
        };
        common::registry::curl_send(
            "PUT",
            &format!("http://{}/v2/{REPO}/manifests/{new_digest}", reg.host),
            manifest["mediaType"]
                .as_str()
                .unwrap_or("application/vnd.oci.image.manifest.v1+json"),
            body.as_bytes(),
            dir,
        );
        index["manifests"][n]["digest"] = new_digest.into();
        index["manifests"][n]["size"] = new_size.into();
        tampered = true;
    }
    assert!(
        tampered,
        "no attestation bundle among the referrers: {index}"
    );
    common::registry::curl_send(
        "PUT",
        &format!("http://{}/v2/{REPO}/manifests/{index_tag}", reg.host),
        "application/vnd.oci.image.index.v1+json",
        index.to_string().as_bytes(),
        dir,
    );
}

/// The other direction: what cosign v3 (`COSIGN_BIN`) writes with a key —
/// `cosign sign` and `cosign attest --type slsaprovenance1`, Sigstore bundles as
/// referrers (a signing config with no log, offline) — is read and verified by
/// `chainseal verify --image`. Another key verifies nothing, and an attestation bundle
/// whose signature lost one bit is rejected.
#[test]
fn chainseal_verifies_what_cosign_v3_signs_and_attests() {
    let Some(cosign) = tool("COSIGN_BIN", "cosign interop") else {
        return;
    };
    let Some(scene) = Scene::new(false, "cosign-signs") else {
        return;
    };
    let (dir, reg) = (scene.dir.path(), &scene.reg);
    let image = format!("{}/{REPO}@{}", reg.host, scene.digest);
    // Sigstore's SigningConfig with no CA, log or timestamp authority: key signing
    // with nothing uploaded anywhere.
    let config = dir.join("signing-config.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [], "oidcUrls": [], "rekorTlogUrls": [], "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"},
        })
        .to_string(),
    )
    .expect("write");
    let predicate = dir.join("predicate.json");
    std::fs::write(
        &predicate,
        r#"{"builder":{"id":"https://example.com/cosign"}}"#,
    )
    .expect("write");
    let password =
        std::fs::read_to_string(repo("tests/fixtures/keys/cosign.password")).expect("password");
    let key = repo("tests/fixtures/keys/cosign.key");
    for extra in [
        vec![],
        vec![
            "--type".to_owned(),
            "slsaprovenance1".to_owned(),
            "--predicate".to_owned(),
            predicate.display().to_string(),
        ],
    ] {
        let verb = if extra.is_empty() { "sign" } else { "attest" };
        let mut cmd = Command::new(&cosign);
        cmd.env_clear()
            .env("HOME", dir)
            .env("COSIGN_PASSWORD", password.trim_end_matches('\n'))
            .arg(verb)
            .arg("--key")
            .arg(&key)
            .arg("--signing-config")
            .arg(&config)
            .arg("--allow-http-registry=true")
            .args(&extra)
            .arg(&image);
        let out = run(&mut cmd);
        assert_eq!(out.code, 0, "cosign {verb}: {}", out.stderr);
    }
    let verify = |public: &str| {
        let mut cmd = chainseal(dir);
        cmd.args(["verify", "--key"])
            .arg(repo(public))
            .args(["--image", &image])
            .env("CHAINSEAL_INSECURE_REGISTRIES", &reg.host);
        run(&mut cmd)
    };
    let ok = verify("tests/fixtures/keys/cosign.pub");
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(
        ok.stderr.contains("1 attestation(s) verified")
            && ok
                .stderr
                .contains("1 image signature(s) verified; 0 item(s) rejected"),
        "{}",
        ok.stderr
    );
    assert!(
        ok.stdout
            .contains("predicate type: https://slsa.dev/provenance/v1"),
        "{}",
        ok.stdout
    );
    let other = verify("examples/demo.pub");
    assert_eq!(
        other.code, 1,
        "another key: {}{}",
        other.stdout, other.stderr
    );

    tamper_referred_attestation(&scene);
    let broken = verify("tests/fixtures/keys/cosign.pub");
    assert_eq!(
        broken.code, 1,
        "a tampered attestation verified: {}{}",
        broken.stdout, broken.stderr
    );
    assert!(
        broken.stderr.contains("0 attestation(s) verified")
            && broken.stderr.contains("1 item(s) rejected"),
        "{}",
        broken.stderr
    );
}

/// cosign v3 verifies what `--storage oci` pushes for every kind of key file chainseal
/// signs with (`common::cosign::SignerScene::check`: `.att` and `.sig`, refusals of
/// another key and of a flipped bit), each public key printed by `chainseal
/// public-key`: ECDSA P-256 (PKCS#8, SEC1), Ed25519, RSA 2048 (PKCS#8, PKCS#1), a
/// cosign-encrypted key with its password file, and ECDSA P-384, which chainseal signs
/// over SHA-384 and cosign checks over SHA-256 unless told otherwise
/// (`--signature-digest-algorithm sha384`; docs/chains-compatibility.md).
#[test]
fn cosign_v3_verifies_every_key_file_signer() {
    use common::cosign::{NO_ATTESTATION, Signer, SignerScene, assert_refused};
    let Some(scene) = SignerScene::new("cosign key-file signers") else {
        return;
    };
    let keys = |name: &str| repo(&format!("tests/fixtures/keys/{name}"));
    let password = [(
        "CHAINSEAL_KEY_PASSWORD_FILE",
        keys("cosign.password").display().to_string(),
    )];
    let other = keys("cosign.pub");
    let demo_public = repo("examples/demo.pub");
    for (label, key, env, flags) in [
        ("p256-pkcs8", repo("examples/demo.key"), &[][..], &[][..]),
        ("p256-sec1", keys("p256-sec1.pem"), &[], &[]),
        ("ed25519", keys("ed25519.pem"), &[], &[]),
        ("rsa2048-pkcs8", keys("rsa2048.pem"), &[], &[]),
        ("rsa2048-pkcs1", keys("rsa2048-pkcs1.pem"), &[], &[]),
        ("cosign-encrypted", keys("cosign.key"), &password[..], &[]),
        (
            "p384-sec1",
            keys("p384-sec1.pem"),
            &[],
            &["--signature-digest-algorithm=sha384"][..],
        ),
    ] {
        let key = key.display().to_string();
        let public = scene.public_key(label, &key, env);
        // The cosign key's own public key is `other`: refuse with demo.pub instead.
        let other = if label == "cosign-encrypted" {
            &demo_public
        } else {
            &other
        };
        let image = scene.check(
            &Signer {
                label,
                key: &key,
                env,
                public: &public,
                cosign_flags: flags,
            },
            other,
        );
        if label == "p384-sec1" {
            // Without the flag cosign checks the ECDSA P-384 signature over SHA-256.
            let r = common::cosign::cosign(
                &scene.cosign,
                scene.dir.path(),
                &[],
                &[
                    "verify-attestation",
                    "--key",
                    &public.display().to_string(),
                    "--insecure-ignore-tlog=true",
                    "--type",
                    "slsaprovenance1",
                ],
                &image,
            );
            assert_refused(&r, NO_ATTESTATION, "P-384 over SHA-256");
        }
    }
}

/// The transparency log on: chainseal logs the attestation (`dsse`) and the image
/// signature (`hashedrekord`) in the Sigstore double's Rekor and puts cosign's Rekor
/// bundle on each layer; cosign v3 verifies both tags with the log checked offline
/// against the double's `trusted_root.json` (no `--insecure-ignore-tlog`), with a key
/// and keyless (Fulcio chain, identity, issuer). A SignedEntryTimestamp with one bit
/// flipped is refused ("unable to verify SET"), and so is another identity.
#[test]
fn cosign_v3_verifies_oci_pushes_with_the_transparency_log() {
    use common::cosign::{
        REPO as R, SignerScene, assert_refused, cosign, edit_manifest, taskrun_record,
    };
    let Some(scene) = SignerScene::new("cosign with the transparency log") else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double("cosign with the transparency log") else {
        return;
    };
    let dir = scene.dir.path();
    let root = dir.join("trusted_root.json");
    common::download(&format!("{url}/trusted_root.json"), &root);
    let root = root.display().to_string();
    let identity = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
    let issuer = "https://token.actions.githubusercontent.com";
    let token = dir.join("oidc-token");
    std::fs::write(
        &token,
        common::identity_token(
            serde_json::json!({"iss": issuer, "sub": identity, "aud": "sigstore"}),
        ),
    )
    .expect("token");
    let demo_public = repo("examples/demo.pub").display().to_string();
    let keyed = vec![
        (
            "CHAINSEAL_KEY",
            repo("examples/demo.key").display().to_string(),
        ),
        ("CHAINSEAL_TRANSPARENCY", "on".to_owned()),
        ("CHAINSEAL_REKOR_URL", url.clone()),
    ];
    let keyless = vec![
        ("CHAINSEAL_KEY", "keyless".to_owned()),
        ("CHAINSEAL_FULCIO_URL", url.clone()),
        ("CHAINSEAL_REKOR_URL", url.clone()),
        ("CHAINSEAL_IDENTITY_TOKEN_FILE", token.display().to_string()),
    ];
    let keyed_flags = vec!["--key", demo_public.as_str()];
    let keyless_flags = vec![
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
    ];
    for (label, env, flags, checked) in [
        (
            "tlog-key",
            &keyed,
            &keyed_flags,
            "The signatures were verified against the specified public key",
        ),
        (
            "tlog-keyless",
            &keyless,
            &keyless_flags,
            "The code-signing certificate was verified using trusted certificate authority certificates",
        ),
    ] {
        let digest = scene.reg.push_image(R, label, label);
        let image = format!("{}/{R}@{digest}", scene.reg.host);
        let record = taskrun_record(dir, &image, &format!("{label}.yaml"));
        let mut cmd = chainseal(dir);
        cmd.env("CHAINSEAL_RECORD", &record)
            .env("CHAINSEAL_STORAGE", "oci")
            .env("CHAINSEAL_INSECURE_REGISTRIES", &scene.reg.host);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{label}: attest: {}", r.stderr);
        assert!(
            r.stdout.contains("transparency log: "),
            "{label}: {}",
            r.stdout
        );
        let check = |verb: &str, extra: &[&str]| {
            let mut args = vec![verb, "--trusted-root", root.as_str()];
            args.extend_from_slice(flags);
            args.extend_from_slice(extra);
            cosign(&scene.cosign, dir, &[], &args, &image)
        };
        for (verb, extra) in [
            ("verify-attestation", &["--type", "slsaprovenance1"][..]),
            ("verify", &[][..]),
        ] {
            let ok = check(verb, extra);
            assert_eq!(ok.code, 0, "{label}: cosign {verb}: {}", ok.stderr);
            for said in [
                "Existence of the claims in the transparency log was verified offline",
                checked,
            ] {
                assert!(ok.stderr.contains(said), "{label}: {verb}: {}", ok.stderr);
            }
        }
        if label == "tlog-keyless" {
            let mut other = flags.clone();
            other[1] = "https://github.com/mallory/app/.github/workflows/x.yml@refs/heads/main";
            let mut args = vec!["verify", "--trusted-root", root.as_str()];
            args.extend_from_slice(&other);
            assert_refused(
                &cosign(&scene.cosign, dir, &[], &args, &image),
                "none of the expected identities matched what was in the certificate",
                "another identity",
            );
        }
        // One bit of each layer's SignedEntryTimestamp flipped.
        let hex = digest.trim_start_matches("sha256:");
        for (tag, verb, extra, refusal) in [
            (
                "att",
                "verify-attestation",
                &["--type", "slsaprovenance1"][..],
                "no matching attestations: error verifying bundle: verifying bundle with trusted root: unable to verify SET",
            ),
            (
                "sig",
                "verify",
                &[][..],
                "no matching signatures: error verifying bundle: verifying bundle with trusted root: unable to verify SET",
            ),
        ] {
            edit_manifest(&scene.reg, &format!("sha256-{hex}.{tag}"), |m| {
                let note = &mut m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"];
                let mut bundle: Value =
                    serde_json::from_str(note.as_str().expect("bundle")).expect("bundle JSON");
                let set = bundle["SignedEntryTimestamp"].as_str().expect("SET");
                bundle["SignedEntryTimestamp"] = common::flip_bit_b64(set, usize::MAX).into();
                *note = bundle.to_string().into();
            });
            assert_refused(
                &check(verb, extra),
                refusal,
                &format!("{label}: .{tag} with a flipped SET bit"),
            );
        }
    }
}

/// The other direction, keyless: `cosign sign` and `cosign attest --type
/// slsaprovenance1` (v3) certified by the Sigstore double's Fulcio for an identity
/// token of the test issuer and logged in its Rekor (the SigningConfig and trust root
/// the double serves), pushed as Sigstore bundle referrers; `chainseal verify --image`
/// with `--certificate-identity`, `--certificate-oidc-issuer` and `--trusted-root`
/// verifies the attestation, and refuses another identity and an attestation bundle
/// whose DSSE signature lost one bit.
#[test]
fn chainseal_verifies_what_cosign_v3_signs_and_attests_keyless() {
    let Some(cosign) = tool("COSIGN_BIN", "cosign keyless interop") else {
        return;
    };
    let Some(scene) = Scene::new(false, "cosign-keyless") else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double("cosign keyless interop") else {
        return;
    };
    let (dir, reg) = (scene.dir.path(), &scene.reg);
    let image = format!("{}/{REPO}@{}", reg.host, scene.digest);
    let root = dir.join("trusted_root.json");
    common::download(&format!("{url}/trusted_root.json"), &root);
    let trust = dir.join("client_trust_config.json");
    common::download(&format!("{url}/client_trust_config.json"), &trust);
    let trust: Value =
        serde_json::from_slice(&std::fs::read(&trust).expect("trust config")).expect("JSON");
    let config = dir.join("signing-config.json");
    std::fs::write(&config, trust["signingConfig"].to_string()).expect("write");
    let identity = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
    let issuer = "https://token.actions.githubusercontent.com";
    let token = common::identity_token(
        serde_json::json!({"iss": issuer, "sub": identity, "aud": "sigstore"}),
    );
    let predicate = dir.join("predicate.json");
    std::fs::write(
        &predicate,
        r#"{"builder":{"id":"https://example.com/cosign"}}"#,
    )
    .expect("write");
    let predicate = predicate.display().to_string();
    for extra in [
        &[][..],
        &[
            "--type",
            "slsaprovenance1",
            "--predicate",
            predicate.as_str(),
        ][..],
    ] {
        let verb = if extra.is_empty() { "sign" } else { "attest" };
        let mut cmd = Command::new(&cosign);
        cmd.env_clear()
            .env("HOME", dir)
            .args([verb, "--yes", "--identity-token", &token])
            .arg("--signing-config")
            .arg(&config)
            .arg("--trusted-root")
            .arg(&root)
            .arg("--allow-http-registry=true")
            .args(extra)
            .arg(&image);
        let out = run(&mut cmd);
        assert_eq!(out.code, 0, "cosign {verb}: {}", out.stderr);
    }
    let verify = |who: &str| {
        let mut cmd = chainseal(dir);
        cmd.args(["verify", "--image", &image, "--certificate-identity", who])
            .args(["--certificate-oidc-issuer", issuer])
            .arg("--trusted-root")
            .arg(&root)
            .env("CHAINSEAL_INSECURE_REGISTRIES", &reg.host);
        run(&mut cmd)
    };
    let ok = verify(identity);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(
        ok.stderr.contains("1 attestation(s) verified"),
        "{}",
        ok.stderr
    );
    assert!(
        ok.stdout
            .contains("predicate type: https://slsa.dev/provenance/v1"),
        "{}",
        ok.stdout
    );
    let other = verify("https://github.com/mallory/app/.github/workflows/x.yml@refs/heads/main");
    assert_eq!(
        other.code, 1,
        "another identity: {}{}",
        other.stdout, other.stderr
    );
    assert!(
        other.stdout.contains("the certificate is for"),
        "{}",
        other.stdout
    );

    tamper_referred_attestation(&scene);
    let broken = verify(identity);
    assert_eq!(
        broken.code, 1,
        "a tampered attestation verified: {}{}",
        broken.stdout, broken.stderr
    );
    // Found and rejected (not merely missing after the re-push).
    assert!(
        broken.stderr.contains("0 attestation(s) verified")
            && broken.stderr.contains("1 item(s) rejected"),
        "{}",
        broken.stderr
    );
}

/// An SLSA v1 provenance envelope built by `builder`, about the image and `other`.
fn provenance_envelope(builder: &str, digest: &str, other: &str) -> String {
    common::demo_envelope(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": REPO, "digest": {"sha256": digest.trim_start_matches("sha256:")}},
            {"name": "other", "digest": {"sha256": other}},
        ],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://example.com/x"},
                      "runDetails": {"builder": {"id": builder}}},
    }))
}

/// Issue #23: with `--image`, one attestation passing the policy is enough, a failing
/// one beside it does not fail the image, and the VSA is about the image alone (not
/// the other subjects of the attestations found for it).
#[test]
fn verify_image_with_a_policy_and_a_vsa_about_the_image_only() {
    let Some(scene) = Scene::new(false, "verify-policy") else {
        return;
    };
    let (dir, reg, digest) = (&scene.dir, &scene.reg, scene.digest.clone());
    let env = vec![("CHAINSEAL_INSECURE_REGISTRIES", reg.host.clone())];
    let image = format!("{}/{REPO}@{digest}", reg.host);
    let slsa = "https://slsa.dev/provenance/v1";
    let other = "ab".repeat(32);
    verify_type_push_att(
        reg,
        &digest,
        &[
            (
                provenance_envelope("https://ours.example", &digest, &other),
                slsa,
            ),
            (
                provenance_envelope("https://theirs.example", &digest, &other),
                slsa,
            ),
        ],
    );
    let out = dir.path().join("vsas");
    let mut env_vsa = env.clone();
    env_vsa.push((
        "CHAINSEAL_VSA_KEY",
        repo("examples/demo.key").display().to_string(),
    ));
    env_vsa.push(("CHAINSEAL_STORAGE", out.display().to_string()));
    let v = verify_image(
        dir.path(),
        &image,
        &env_vsa,
        &[
            "--builder-id",
            "https://ours.example",
            "--vsa",
            "--format",
            "json",
        ],
    );
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let report: Value = serde_json::from_str(&v.stdout).expect("JSON");
    let results: Vec<&str> = report["attestations"]
        .as_array()
        .expect("attestations")
        .iter()
        .map(|a| a["result"].as_str().expect("result"))
        .collect();
    let mut sorted = results.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["failed-policy", "passed"], "{report:#}");
    let vsas = report["vsas"].as_array().expect("vsas");
    assert_eq!(vsas.len(), 1, "one VSA, for the image only: {report:#}");
    assert_eq!(vsas[0]["verificationResult"], "PASSED");
    assert!(
        vsas[0]["subject"]
            .as_str()
            .expect("subject")
            .contains(&digest),
        "{report:#}"
    );
    // No attestation from the required builder: the image fails.
    let v = verify_image(
        dir.path(),
        &image,
        &env,
        &["--builder-id", "https://nobody.example"],
    );
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stderr.contains("2 failed the policy"), "{}", v.stderr);
}
