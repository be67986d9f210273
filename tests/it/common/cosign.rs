//! cosign v3 (`COSIGN_BIN`, built by scripts/peers) as the verifier of what chainseal's
//! `--storage oci` pushes, for every signer type: one registry per test, one image per
//! signer, and the same checks for each ([`SignerScene::check`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::registry::TestRegistry;
use super::{Run, chainseal, repo, run, tool};

/// The repository every image of these tests is pushed to.
pub const REPO: &str = "team/hello-service";

/// What cosign says when no `.att` layer verifies with the key.
pub const NO_ATTESTATION: &str =
    "no matching attestations: accepted signatures do not match threshold";
/// What cosign says when no `.sig` layer verifies (then why, which depends on the key
/// type and the bit flipped).
pub const NO_SIGNATURE: &str = "no matching signatures";

/// The example TaskRun (`examples/pipelinerun.yaml`'s last document), its image result
/// naming `image` (`host/repo@sha256:…`), written to `dir/name`.
pub fn taskrun_record(dir: &Path, image: &str, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo("examples/pipelinerun.yaml")).expect("example");
    let (repository, digest) = image.split_once('@').expect("repo@digest");
    let text = text
        .replace("registry.example.com/team/hello-service", repository)
        .replace(super::EXAMPLE_DIGEST, digest);
    let taskrun = text.split("\n---\n").last().expect("a TaskRun").to_owned();
    let path = dir.join(name);
    std::fs::write(&path, taskrun).expect("write record");
    path
}

/// `cosign ARGS IMAGE` with a clean environment (`HOME` = `home`, plus `env`), on a
/// plain-HTTP registry.
pub fn cosign(bin: &Path, home: &Path, env: &[(&str, String)], args: &[&str], image: &str) -> Run {
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("HOME", home)
        .args(args)
        .arg("--allow-http-registry=true")
        .arg(image);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// Assert that cosign refused (non-zero) and said `words`.
pub fn assert_refused(r: &Run, words: &str, what: &str) {
    assert_ne!(r.code, 0, "{what}: cosign accepted it: {}", r.stderr);
    assert!(
        r.stderr.contains(words),
        "{what}: cosign should say `{words}`:\n{}",
        r.stderr
    );
}

/// Copy the manifest `REPO:tag` back to the same tag after `edit` (curl, plain HTTP).
pub fn edit_manifest(reg: &TestRegistry, tag: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut manifest = reg.inspect_raw(REPO, tag).expect("manifest to edit");
    edit(&mut manifest);
    let dir = tempfile::tempdir().expect("tmp");
    reg.put_manifest(REPO, tag, &manifest, dir.path());
}

/// A registry and cosign for checking one signer type after another.
pub struct SignerScene {
    /// cosign v3.
    pub cosign: PathBuf,
    /// The registry chainseal pushes to.
    pub reg: TestRegistry,
    /// Scratch directory (cosign's `HOME`, records).
    pub dir: tempfile::TempDir,
}

/// How cosign is to check one signer's pushes.
pub struct Signer<'a> {
    /// Names the signer in messages and its image.
    pub label: &'a str,
    /// `CHAINSEAL_KEY`.
    pub key: &'a str,
    /// chainseal's environment for this key (KMS address, credentials, password file).
    pub env: &'a [(&'a str, String)],
    /// The PEM public key, as the user got it (`chainseal public-key`, the KMS).
    pub public: &'a Path,
    /// Extra flags cosign needs for this key type.
    pub cosign_flags: &'a [&'a str],
}

impl SignerScene {
    /// cosign and a started registry; `None` (skipped) outside CI without them.
    pub fn new(what: &str) -> Option<Self> {
        let cosign = tool("COSIGN_BIN", what)?;
        let bin = tool("REGISTRY_BIN", what)?;
        let dir = tempfile::tempdir().expect("tmp");
        let reg = TestRegistry::start(&bin, &dir.path().join("registry"), false);
        Some(Self { cosign, reg, dir })
    }

    /// `chainseal public-key --key KEY` with `env`, written to `dir/<label>.pub`.
    pub fn public_key(&self, label: &str, key: &str, env: &[(&str, String)]) -> PathBuf {
        let mut cmd = chainseal(self.dir.path());
        cmd.args(["public-key", "--key", key]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{label}: public-key: {}", r.stderr);
        let path = self.dir.path().join(format!("{label}.pub"));
        std::fs::write(&path, r.stdout).expect("write public key");
        path
    }

    /// Push a new image, attest a TaskRun naming it with `signer` into `--storage oci`
    /// and have cosign verify the `.att` tag (`verify-attestation --key --type
    /// slsaprovenance1`) and the `.sig` tag (`verify --key`) with the signer's public
    /// key, the transparency log off. Then it must refuse: the attestation with
    /// `other` (another key), and the image signature once its signature lost one bit.
    /// Returns the image (`host/repo@sha256:…`).
    pub fn check(&self, signer: &Signer<'_>, other: &Path) -> String {
        let label = signer.label;
        let dir = self.dir.path();
        let digest = self.reg.push_image(REPO, label, label);
        let image = format!("{}/{REPO}@{digest}", self.reg.host);
        let record = taskrun_record(dir, &image, &format!("{label}.yaml"));
        let mut cmd = chainseal(dir);
        cmd.env("CHAINSEAL_RECORD", &record)
            .env("CHAINSEAL_KEY", signer.key)
            .env("CHAINSEAL_STORAGE", "oci")
            .env("CHAINSEAL_INSECURE_REGISTRIES", &self.reg.host);
        for (k, v) in signer.env {
            cmd.env(k, v);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{label}: attest: {}", r.stderr);

        let public = signer.public.display().to_string();
        let check = |verb: &str, key: &str, extra: &[&str]| {
            let mut args = vec![verb, "--key", key, "--insecure-ignore-tlog=true"];
            args.extend_from_slice(signer.cosign_flags);
            args.extend_from_slice(extra);
            cosign(&self.cosign, dir, &[], &args, &image)
        };
        let att = check(
            "verify-attestation",
            &public,
            &["--type", "slsaprovenance1"],
        );
        assert_eq!(
            att.code, 0,
            "{label}: cosign verify-attestation: {}",
            att.stderr
        );
        assert!(
            att.stderr
                .contains("The signatures were verified against the specified public key"),
            "{label}: {}",
            att.stderr
        );
        let sig = check("verify", &public, &[]);
        assert_eq!(sig.code, 0, "{label}: cosign verify: {}", sig.stderr);
        let claims: serde_json::Value =
            serde_json::from_str(sig.stdout.trim()).expect("cosign prints the claims");
        assert_eq!(
            claims[0]["critical"]["image"]["docker-manifest-digest"], digest,
            "{label}"
        );

        let other = other.display().to_string();
        let refused = check("verify-attestation", &other, &["--type", "slsaprovenance1"]);
        assert_refused(&refused, NO_ATTESTATION, &format!("{label}: another key"));
        let tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
        edit_manifest(&self.reg, &tag, |m| {
            let note = &mut m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"];
            *note = super::flip_bit_b64(note.as_str().expect("signature"), usize::MAX).into();
        });
        let tampered = check("verify", &public, &[]);
        assert_refused(
            &tampered,
            NO_SIGNATURE,
            &format!("{label}: a .sig whose signature lost a bit"),
        );
        image
    }
}
