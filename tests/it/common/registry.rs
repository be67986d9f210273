//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on a
//! loopback port it picks, optionally with htpasswd basic auth, plus test images pushed
//! with `skopeo` from a hand-made OCI layout.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::Digest as _;

use super::Service;

/// User and password of the basic-auth registry.
pub const USER: &str = "testuser";
/// Password of the basic-auth registry.
pub const PASSWORD: &str = "testpass";

/// A running registry.
pub struct TestRegistry {
    _service: Service,
    /// `127.0.0.1:<port>`.
    pub host: String,
    /// Whether it wants basic auth.
    pub auth: bool,
    /// Scratch directory (storage, config).
    pub dir: PathBuf,
}

impl TestRegistry {
    /// Start `docker-registry` (path `bin`) in `dir`; with `auth`, behind htpasswd.
    pub fn start(bin: &Path, dir: &Path, auth: bool) -> Self {
        Self::start_with_users(bin, dir, auth, &[])
    }

    /// [`TestRegistry::start`]; with `auth`, `users` (name, password) may log in too.
    pub fn start_with_users(bin: &Path, dir: &Path, auth: bool, users: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(dir).expect("registry dir");
        // Port 0: the registry picks a free port and logs `listening on 127.0.0.1:<port>`
        // (at level info).
        let mut config = format!(
            "version: 0.1\nlog: {{level: info}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp: {{addr: \"127.0.0.1:0\"}}\n",
            dir.join("data").display()
        );
        if auth {
            let htpasswd = dir.join("htpasswd");
            let mut lines = Vec::new();
            for (user, password) in std::iter::once((USER, PASSWORD)).chain(users.iter().copied()) {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("htpasswd runs (apache2-utils)");
                assert!(out.status.success(), "htpasswd failed");
                lines.extend(
                    String::from_utf8(out.stdout)
                        .expect("utf-8")
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                );
            }
            std::fs::write(&htpasswd, lines.join("\n") + "\n").expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd: {{realm: basic-realm, path: {}}}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let (service, port) = super::spawn_reporting_port(
            Command::new(bin)
                .arg("serve")
                .arg(&config_path)
                .stdout(Stdio::null()),
            "listening on 127.0.0.1:",
            "docker-registry",
        );
        Self {
            _service: service,
            host: format!("127.0.0.1:{port}"),
            auth,
            dir: dir.to_owned(),
        }
    }

    /// A docker `config.json` with this registry's credentials, in `dir`.
    pub fn docker_config(&self, dir: &Path) -> PathBuf {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        std::fs::create_dir_all(dir).expect("mkdir");
        let path = dir.join("config.json");
        std::fs::write(
            &path,
            serde_json::json!({"auths": {self.host.clone(): {"auth": auth}}}).to_string(),
        )
        .expect("write config.json");
        path
    }

    /// skopeo's credential flags for this registry.
    fn creds(&self, flag: &str) -> Vec<String> {
        if self.auth {
            vec![flag.to_owned(), format!("{USER}:{PASSWORD}")]
        } else {
            Vec::new()
        }
    }

    /// Push a small, unique test image (`label` changes its config) to `repo:tag`
    /// with skopeo; returns its manifest digest `sha256:<hex>`.
    pub fn push_image(&self, repo: &str, tag: &str, label: &str) -> String {
        let layout = self.dir.join(format!("layout-{label}"));
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).expect("layout dir");
        let write_blob = |data: &[u8]| {
            let hex = hex(&sha2::Sha256::digest(data));
            std::fs::write(blobs.join(&hex), data).expect("blob");
            (format!("sha256:{hex}"), data.len())
        };
        // An empty tar (two zero blocks) as the only layer.
        let (layer, layer_size) = write_blob(&[0u8; 1024]);
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"test": label}},
            "rootfs": {"type": "layers", "diff_ids": [layer]},
        })
        .to_string();
        let (config_digest, config_size) = write_blob(config.as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer_size}],
        })
        .to_string();
        let (manifest_digest, manifest_size) = write_blob(manifest.as_bytes());
        std::fs::write(
            layout.join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .expect("oci-layout");
        std::fs::write(
            layout.join("index.json"),
            serde_json::json!({
                "schemaVersion": 2,
                "manifests": [{
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest, "size": manifest_size,
                    "annotations": {"org.opencontainers.image.ref.name": tag},
                }],
            })
            .to_string(),
        )
        .expect("index.json");
        let out = Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false", "--preserve-digests"])
            .args(self.creds("--dest-creds"))
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo}:{tag}", self.host))
            .output()
            .expect("skopeo runs");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        manifest_digest
    }

    /// `skopeo inspect --raw` of `repo:tag` (or `repo@digest` when `tag` starts with
    /// `sha256:`), parsed; `None` only when the registry says the manifest (or the
    /// repository) does not exist. Any other failure (refused connection, denied
    /// credentials, a server error) fails the test: it proves nothing about the tag.
    pub fn inspect_raw(&self, repo: &str, tag: &str) -> Option<serde_json::Value> {
        let sep = if tag.starts_with("sha256:") { '@' } else { ':' };
        let reference = format!("docker://{}/{repo}{sep}{tag}", self.host);
        let out = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .args(self.creds("--creds"))
            .arg(&reference)
            .output()
            .expect("skopeo runs");
        if out.status.success() {
            return Some(serde_json::from_slice(&out.stdout).expect("manifest JSON"));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            is_not_found(&stderr),
            "skopeo inspect {reference} failed for another reason than a missing manifest: {stderr}"
        );
        None
    }

    /// A blob of `repo`, fetched over plain HTTP with curl (independent of chainseal).
    pub fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let mut cmd = Command::new("curl");
        cmd.args(["-sfL"]);
        if self.auth {
            cmd.args(["-u", &format!("{USER}:{PASSWORD}")]);
        }
        let out = cmd
            .arg(format!("http://{}/v2/{repo}/blobs/{digest}", self.host))
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "blob {digest} not readable");
        out.stdout
    }

    /// Upload `bytes` as a blob of `repo` (a monolithic upload with curl, the body in a
    /// file under `dir`); returns its digest.
    pub fn put_blob(&self, repo: &str, bytes: &[u8], dir: &Path) -> String {
        let digest = format!("sha256:{}", hex(&sha2::Sha256::digest(bytes)));
        let started = curl_send(
            "POST",
            &format!("http://{}/v2/{repo}/blobs/uploads/", self.host),
            "application/octet-stream",
            b"",
            dir,
        );
        let location = started
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("location").then(|| value.trim())
            })
            .expect("upload location");
        let location = if location.starts_with('/') {
            format!("http://{}{location}", self.host)
        } else {
            location.to_owned()
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        curl_send(
            "PUT",
            &format!("{location}{separator}digest={digest}"),
            "application/octet-stream",
            bytes,
            dir,
        );
        digest
    }

    /// PUT `manifest` as `repo:reference` (its `mediaType` as the content type).
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        manifest: &serde_json::Value,
        dir: &Path,
    ) {
        let media_type = manifest["mediaType"]
            .as_str()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json");
        curl_send(
            "PUT",
            &format!("http://{}/v2/{repo}/manifests/{reference}", self.host),
            media_type,
            manifest.to_string().as_bytes(),
            dir,
        );
    }
}

/// Whether skopeo's error says the registry answered 404 for the manifest: the
/// distribution API's `MANIFEST_UNKNOWN` or `NAME_UNKNOWN` error (skopeo prints
/// their messages, e.g. `reading manifest … in …: manifest unknown`).
/// `method` `url` with `body` (of `content_type`, written to a file under `dir`) by
/// curl; returns the reply's head and body (`-i`). A failure fails the test.
pub fn curl_send(method: &str, url: &str, content_type: &str, body: &[u8], dir: &Path) -> String {
    let file = dir.join("curl-body");
    std::fs::write(&file, body).expect("body");
    let out = Command::new("curl")
        .args(["-sf", "-i", "-X", method, "-H"])
        .arg(format!("Content-Type: {content_type}"))
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(url)
        .output()
        .expect("curl");
    assert!(out.status.success(), "{method} {url}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn is_not_found(skopeo_stderr: &str) -> bool {
    let said = skopeo_stderr.to_ascii_lowercase();
    said.contains("reading manifest")
        && (said.contains(": manifest unknown") || said.contains(": name unknown"))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}
