//! The container image assembled without a base image (`scripts/oci-image`): an OCI
//! layout that skopeo reads and pushes to the real local registry, reproducible, whose
//! one layer, pulled back, holds the binary (which runs), the CA bundle and the
//! nonroot user the config names.
//!
//! Needs `REGISTRY_BIN` (docker-registry) and skopeo; skipped outside CI, with a
//! message, when they are missing. In CI the image holds the static release binary
//! `.ci/run` built (`STATIC_CHAINSEAL_BIN`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::registry::TestRegistry;
use crate::common::{repo, tool};
use serde_json::Value;

fn assemble(binary: &Path, layout: &Path, tag: &str) -> std::process::Output {
    Command::new(repo("scripts/oci-image"))
        .arg(binary)
        .arg(layout)
        .arg(tag)
        .output()
        .expect("scripts/oci-image runs")
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo").args(args).output().expect("skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The binary the image ships: the static release binary `.ci/run` builds
/// (`STATIC_CHAINSEAL_BIN`), else a stripped copy of the one under test (the debug
/// build is 600 MB with its symbols).
fn shipped_binary(dir: &Path) -> PathBuf {
    if let Some(bin) = std::env::var_os("STATIC_CHAINSEAL_BIN") {
        return PathBuf::from(bin);
    }
    let stripped = dir.join("chainseal");
    let out = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(env!("CARGO_BIN_EXE_chainseal"))
        .output()
        .expect("strip runs (binutils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stripped
}

#[test]
fn the_image_assembled_without_a_base_pushes_and_reads_back_with_skopeo() {
    let Some(registry) = tool("REGISTRY_BIN", "image assembly test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let binary = &shipped_binary(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for layout in [&a, &b] {
        let out = assemble(binary, layout, "v1");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Reproducible: the same inputs, the same manifest digest.
    let digest = |layout: &Path| {
        let index: Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
                .expect("index JSON");
        index["manifests"][0]["digest"]
            .as_str()
            .expect("digest")
            .to_owned()
    };
    assert_eq!(digest(&a), digest(&b));

    // skopeo reads the layout; the config is the Dockerfile's default image's.
    let config: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--config",
        &format!("oci:{}:v1", a.display()),
    ]))
    .expect("config JSON");
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/local/bin/chainseal"])
    );
    assert_eq!(config["config"]["WorkingDir"], "/home/nonroot");
    assert!(
        config["config"]["Env"]
            .as_array()
            .expect("env")
            .contains(&"MIMALLOC_ARENA_EAGER_COMMIT=0".into())
    );

    // Pushed to the real registry and pulled back into a new layout by skopeo.
    let reg = TestRegistry::start(&registry, &dir.path().join("registry"), false);
    let remote = format!("docker://{}/chainseal/chainseal:v1", reg.host);
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &format!("oci:{}:v1", a.display()),
        &remote,
    ]);
    let pushed = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--format",
        "{{.Digest}}",
        &remote,
    ]);
    assert_eq!(
        pushed.trim(),
        digest(&a),
        "the registry holds the same manifest"
    );
    let pulled = dir.path().join("pulled");
    skopeo(&[
        "copy",
        "-q",
        "--src-tls-verify=false",
        &remote,
        &format!("oci:{}:v1", pulled.display()),
    ]);
    let index: Value =
        serde_json::from_slice(&std::fs::read(pulled.join("index.json")).expect("index"))
            .expect("index JSON");
    let blob = |digest: &str| {
        pulled
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(blob(index["manifests"][0]["digest"].as_str().expect("d"))).expect("m"),
    )
    .expect("manifest JSON");
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "one layer, no base image");

    // The layer: the binary (byte for byte, and it runs), the CA bundle, the users.
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("root");
    let untar = Command::new("tar")
        .arg("-xzf")
        .arg(blob(layers[0]["digest"].as_str().expect("layer")))
        .arg("-C")
        .arg(&root)
        .output()
        .expect("tar");
    assert!(
        untar.status.success(),
        "{}",
        String::from_utf8_lossy(&untar.stderr)
    );
    let shipped = root.join("usr/local/bin/chainseal");
    assert_eq!(
        std::fs::read(&shipped).expect("binary"),
        std::fs::read(binary).expect("binary")
    );
    // Run as the image runs it: with nothing of this process's environment (the test
    // harness's own CHAINSEAL_* variables would be refused as unknown settings).
    let version = Command::new(&shipped)
        .env_clear()
        .arg("--version")
        .output()
        .expect("runs");
    assert!(
        version.status.success(),
        "{}",
        String::from_utf8_lossy(&version.stderr)
    );
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("chainseal "));
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("passwd");
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    let ca = std::fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).expect("ca");
    assert!(ca.contains("-----BEGIN CERTIFICATE-----"));
    assert!(root.join("tmp").is_dir() && root.join("home/nonroot").is_dir());
}

#[test]
fn the_image_script_refuses_what_it_cannot_use() {
    let dir = tempfile::tempdir().expect("tmp");
    let not_elf = dir.path().join("script.sh");
    std::fs::write(&not_elf, "#!/bin/sh\n").expect("write");
    let out = assemble(&not_elf, &dir.path().join("l"), "v1");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an ELF executable"));
    let out = assemble(&dir.path().join("missing"), &dir.path().join("l"), "v1");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such file"));
    // An existing, non-empty directory is never written into.
    let out = assemble(Path::new(env!("CARGO_BIN_EXE_chainseal")), dir.path(), "v1");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert!(!dir.path().join("index.json").exists());
}
