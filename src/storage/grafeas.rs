//! Grafeas storage (`grafeas://projects/<project>[?noteid=…&notehint=…]`): the
//! attestation as Grafeas BUILD occurrences through the Grafeas v1 REST API (Google's
//! Container Analysis, `https://containeranalysis.googleapis.com`, by default), as
//! Tekton Chains' `grafeas` backend writes them.
//!
//! * A BUILD note `<noteid>-<kind>-intoto` (`kind` = `taskrun`, `pipelinerun`, or the
//!   CI platform), created once (`409 ALREADY_EXISTS` is fine); `noteid` defaults to
//!   `tekton-<namespace>` as in Chains (`chainseal` outside Tekton).
//! * One occurrence per subject, `resourceUri` = `<name>@sha256:<hex>`, with the
//!   Statement as `build.intotoStatement` (SLSA v0.2, Chains' conversion) or
//!   `build.inTotoSlsaProvenanceV1` (SLSA v1.0; Chains converts those to an empty v0.2
//!   shape, chainseal keeps them), and an `envelope` whose payload is the Statement and
//!   whose one signature is, as in Chains, the whole DSSE envelope JSON.
//!
//! * Image signatures (Chains' `oci` artifacts): an ATTESTATION note
//!   `<noteid>-simplesigning` (hint `notehint`) and one occurrence per image with the
//!   simple-signing payload, its signature and `publicKeyId` = the signer's key id.
//!
//! Credentials: Google's application default credentials (service-account file,
//! workload identity, metadata server). `CHAINSEAL_GRAFEAS_URL` points the client
//! at another Grafeas server; with it and no `GOOGLE_APPLICATION_CREDENTIALS`,
//! requests carry no token (a self-hosted Grafeas or a test server); Google
//! credentials are never sent over plain HTTP.

use std::fmt;

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::{Error, Signed, SignedImage, Storage, Stored};
use super::{query_pairs, query_param};
use crate::env_vars::EnvVars;

/// The most pages of a note's occurrences read when looking for an existing one.
const MAX_PAGES: usize = 100;

/// Container Analysis, Google's Grafeas.
pub const DEFAULT_ENDPOINT: &str = "https://containeranalysis.googleapis.com";

/// A Grafeas project.
pub struct GrafeasStorage {
    project: String,
    note_id: Option<String>,
    note_hint: Option<String>,
    endpoint: String,
    /// Whether requests carry Google credentials.
    google_auth: bool,
    client: reqwest::Client,
    #[cfg(feature = "gcp")]
    credentials: tokio::sync::OnceCell<google_cloud_auth::credentials::AccessTokenCredentials>,
}

impl fmt::Debug for GrafeasStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrafeasStorage")
            .field("project", &self.project)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for GrafeasStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "grafeas://projects/{}", self.project)
    }
}

fn failed(target: &str, detail: impl fmt::Display) -> Error {
    super::failed("Grafeas", target, detail)
}

/// Grafeas settings besides the project (Chains' `storage.grafeas.*`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `storage.grafeas.noteid`: the note id prefix.
    pub note_id: Option<String>,
    /// `storage.grafeas.notehint`: the attestation note's human-readable hint.
    pub note_hint: Option<String>,
    /// Another Grafeas server than Container Analysis.
    pub endpoint: Option<String>,
}

impl GrafeasStorage {
    /// Storage for `grafeas://projects/<project>[?noteid=<id>&notehint=<hint>]`
    /// (query values override `options`).
    pub fn new(uri: &str, options: Options) -> Result<Self, Error> {
        let usage = || {
            failed(
                uri,
                "expected `grafeas://projects/<project>[?noteid=<note id prefix>]`",
            )
        };
        let rest = uri.strip_prefix("grafeas://projects/").ok_or_else(usage)?;
        let (project, query) = rest.split_once('?').unwrap_or((rest, ""));
        let project = project.trim_end_matches('/');
        if project.is_empty()
            || !project
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'))
        {
            return Err(usage());
        }
        for (k, _) in query_pairs(query) {
            if !matches!(k, "noteid" | "notehint") {
                return Err(failed(
                    uri,
                    format!("unknown option `{k}`: the options are `noteid` and `notehint`"),
                ));
            }
        }
        let decode = |v: &str| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let note_id = query_param(query, "noteid")
            .map(decode)
            .or(options.note_id)
            .filter(|n| !n.is_empty());
        if let Some(n) = &note_id
            && !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(failed(
                uri,
                format!("note id `{n}` may hold only letters, digits, `-`, `_` and `.`"),
            ));
        }
        let google_auth = options.endpoint.is_none()
            || std::env::var_os(EnvVars::GOOGLE_APPLICATION_CREDENTIALS)
                .is_some_and(|v| !v.is_empty());
        let client = crate::http::credentialed_client().map_err(|e| failed(uri, e))?;
        Ok(Self {
            project: project.to_owned(),
            note_id,
            note_hint: query_param(query, "notehint")
                .map(decode)
                .or(options.note_hint),
            endpoint: options
                .endpoint
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            google_auth,
            client,
            #[cfg(feature = "gcp")]
            credentials: tokio::sync::OnceCell::new(),
        })
    }

    /// The `Authorization` header value, when requests carry Google credentials.
    async fn authorization(&self) -> Result<Option<String>, Error> {
        if !self.google_auth {
            return Ok(None);
        }
        if self.endpoint.starts_with("http://") {
            return Err(failed(
                &self.to_string(),
                format!(
                    "refusing to send Google credentials over plain HTTP to {}: use https, or unset GOOGLE_APPLICATION_CREDENTIALS for a server that needs none",
                    self.endpoint
                ),
            ));
        }
        #[cfg(feature = "gcp")]
        {
            let no_credentials = |e: &dyn fmt::Display| {
                failed(
                    &self.to_string(),
                    format!(
                        "no Google credentials ({e}): set GOOGLE_APPLICATION_CREDENTIALS or use workload identity"
                    ),
                )
            };
            let creds = self
                .credentials
                .get_or_try_init(|| async {
                    google_cloud_auth::credentials::Builder::default()
                        .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
                        .build_access_token_credentials()
                        .map_err(|e| no_credentials(&e))
                })
                .await?;
            let token = creds.access_token().await.map_err(|e| no_credentials(&e))?;
            Ok(Some(format!("Bearer {}", token.token)))
        }
        #[cfg(not(feature = "gcp"))]
        Err(failed(
            &self.to_string(),
            "this build has no Google credentials: rebuild with `--features gcp`, or set `CHAINSEAL_GRAFEAS_URL` to a Grafeas server that needs none",
        ))
    }

    /// The note id prefix: `storage.grafeas.noteid`, else Chains' `tekton-<namespace>`
    /// (`chainseal` for CI builds).
    fn note_prefix(&self, run: Option<&super::RunId>) -> String {
        match (&self.note_id, run) {
            (Some(n), _) => n.clone(),
            (None, Some(run)) => {
                format!("tekton-{}", run.namespace.as_deref().unwrap_or("default"))
            }
            (None, None) => "chainseal".to_owned(),
        }
    }

    /// The name of an occurrence of `note` (`projects/…/notes/…`) for `uri` whose
    /// envelope already carries `sig`: a re-run stores nothing new.
    async fn existing(&self, note: &str, uri: &str, sig: &str) -> Result<Option<String>, Error> {
        let filter = format!("resourceUrl=\"{uri}\"");
        let mut page = String::new();
        // A server that keeps answering with the same page token must not loop forever.
        for _ in 0..MAX_PAGES {
            let mut url = reqwest::Url::parse(&format!("{}/v1/{note}/occurrences", self.endpoint))
                .map_err(|e| failed(&self.to_string(), e))?;
            url.query_pairs_mut()
                .append_pair("filter", &filter)
                .append_pair("pageSize", "1000");
            if !page.is_empty() {
                url.query_pairs_mut().append_pair("pageToken", &page);
            }
            let reply = self.request(self.client.get(url.clone())).await?;
            if reply.status == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let body = self.check(url.as_str(), reply)?;
            let found = body["occurrences"].as_array().and_then(|list| {
                list.iter().find(|o| {
                    o["resourceUri"] == uri
                        && o["envelope"]["signatures"]
                            .as_array()
                            .is_some_and(|s| s.iter().any(|s| s["sig"] == sig))
                })
            });
            if let Some(o) = found {
                return Ok(Some(o["name"].as_str().unwrap_or_default().to_owned()));
            }
            match body["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() && t != page => page = t.to_owned(),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Where an occurrence (`projects/…/occurrences/…`) is read.
    fn stored(&self, name: &str, written: bool) -> Stored {
        Stored {
            backend: "grafeas",
            location: format!("{}/v1/{name}", self.endpoint),
            written,
        }
    }

    /// Send `request` with credentials.
    async fn request(
        &self,
        mut request: reqwest::RequestBuilder,
    ) -> Result<crate::http::Reply, Error> {
        if let Some(auth) = self.authorization().await? {
            request = request.header("Authorization", auth);
        }
        crate::http::send(request).await.map_err(|e| {
            failed(
                &self.to_string(),
                format!(
                    "{} (is Grafeas at {} reachable?)",
                    e.detail(),
                    self.endpoint
                ),
            )
        })
    }

    /// The reply's JSON, or an error naming `url` and the usual fixes.
    fn check(&self, url: &str, reply: crate::http::Reply) -> Result<Value, Error> {
        if !reply.status.is_success() {
            let hint = match reply.status.as_u16() {
                401 | 403 => {
                    " (the credentials need the Container Analysis notes and occurrences editor roles on the project)"
                }
                404 => " (check the project id and that the Container Analysis API is enabled)",
                _ => "",
            };
            return Err(failed(
                url,
                format!("HTTP {}: {}{hint}", reply.status, reply.message()),
            ));
        }
        Ok(reply.json())
    }

    /// POST `body` to `path` (below `/v1/`); `Ok(None)` for 409 when `conflict_ok`.
    async fn post(
        &self,
        path: &str,
        body: &Value,
        conflict_ok: bool,
    ) -> Result<Option<Value>, Error> {
        let url = format!("{}/v1/{path}", self.endpoint);
        let reply = self
            .request(
                self.client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(body.to_string()),
            )
            .await?;
        if reply.status == reqwest::StatusCode::CONFLICT && conflict_ok {
            return Ok(None);
        }
        self.check(&url, reply).map(Some)
    }
}

/// The note kind: `taskrun`, `pipelinerun`, or the CI platform (`github`, …).
fn kind(item: &Signed<'_>) -> String {
    match item.run {
        Some(run) => run.kind.name().to_ascii_lowercase(),
        None => item
            .key
            .split('-')
            .next()
            .unwrap_or("build")
            .to_ascii_lowercase(),
    }
}

/// A field to copy: its JSON name, its proto JSON name, and the conversion.
type Field<'a> = (&'a str, &'a str, fn(&Value) -> Option<Value>);

/// Copy the `fields` of `from` that are set (with `convert`), as proto JSON omits
/// unset fields.
fn pick(from: &Value, fields: &[Field<'_>]) -> Value {
    let mut out = Map::new();
    for (src, dst, convert) in fields {
        if let Some(v) = from.get(src).filter(|v| !v.is_null()).and_then(convert) {
            out.insert((*dst).to_owned(), v);
        }
    }
    Value::Object(out)
}

/// A `google.protobuf.Struct`: JSON objects only.
fn object(v: &Value) -> Option<Value> {
    v.is_object().then(|| v.clone())
}

fn string(v: &Value) -> Option<Value> {
    v.is_string().then(|| v.clone())
}

fn boolean(v: &Value) -> Option<Value> {
    v.is_boolean().then(|| v.clone())
}

/// A proto `map<string, string>`: the string values of a JSON object.
fn digest(v: &Value) -> Option<Value> {
    let map = v.as_object()?;
    Some(Value::Object(
        map.iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

fn subjects(statement: &Value) -> Value {
    Value::Array(
        statement["subject"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|s| pick(s, &[("name", "name", string), ("digest", "digest", digest)]))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// An SLSA v1 ResourceDescriptor as Grafeas' `ResourceDescriptor`.
fn descriptor(v: &Value) -> Value {
    pick(
        v,
        &[
            ("name", "name", string),
            ("uri", "uri", string),
            ("digest", "digest", digest),
            ("content", "content", string),
            ("downloadLocation", "downloadLocation", string),
            ("mediaType", "mediaType", string),
            ("annotations", "annotations", object),
        ],
    )
}

fn descriptors(v: &Value) -> Option<Value> {
    v.as_array()
        .map(|a| Value::Array(a.iter().map(descriptor).collect()))
}

/// Chains' (grafeas-go's) conversion of an SLSA v0.2 predicate to
/// `SlsaProvenanceZeroTwo`.
fn slsa_v02(p: &Value) -> Value {
    pick(
        p,
        &[
            ("builder", "builder", |b| {
                Some(pick(b, &[("id", "id", string)]))
            }),
            ("buildType", "buildType", string),
            ("invocation", "invocation", |i| {
                Some(pick(
                    i,
                    &[
                        ("configSource", "configSource", |c| {
                            Some(pick(
                                c,
                                &[
                                    ("uri", "uri", string),
                                    ("digest", "digest", digest),
                                    ("entryPoint", "entryPoint", string),
                                ],
                            ))
                        }),
                        ("parameters", "parameters", object),
                        ("environment", "environment", object),
                    ],
                ))
            }),
            ("buildConfig", "buildConfig", object),
            ("metadata", "metadata", |m| {
                Some(pick(
                    m,
                    &[
                        ("buildInvocationID", "buildInvocationId", string),
                        ("buildStartedOn", "buildStartedOn", string),
                        ("buildFinishedOn", "buildFinishedOn", string),
                        ("completeness", "completeness", |c| {
                            Some(pick(
                                c,
                                &[
                                    ("parameters", "parameters", boolean),
                                    ("environment", "environment", boolean),
                                    ("materials", "materials", boolean),
                                ],
                            ))
                        }),
                        ("reproducible", "reproducible", boolean),
                    ],
                ))
            }),
            ("materials", "materials", |m| {
                m.as_array().map(|a| {
                    Value::Array(
                        a.iter()
                            .map(|m| {
                                pick(m, &[("uri", "uri", string), ("digest", "digest", digest)])
                            })
                            .collect(),
                    )
                })
            }),
        ],
    )
}

/// An SLSA v1.0 predicate as `InTotoSlsaProvenanceV1.SlsaProvenanceV1`.
fn slsa_v1(p: &Value) -> Value {
    pick(
        p,
        &[
            ("buildDefinition", "buildDefinition", |d| {
                Some(pick(
                    d,
                    &[
                        ("buildType", "buildType", string),
                        ("externalParameters", "externalParameters", object),
                        ("internalParameters", "internalParameters", object),
                        ("resolvedDependencies", "resolvedDependencies", descriptors),
                    ],
                ))
            }),
            ("runDetails", "runDetails", |r| {
                Some(pick(
                    r,
                    &[
                        ("builder", "builder", |b| {
                            Some(pick(
                                b,
                                &[
                                    ("id", "id", string),
                                    ("version", "version", digest),
                                    ("builderDependencies", "builderDependencies", descriptors),
                                ],
                            ))
                        }),
                        ("metadata", "metadata", |m| {
                            Some(pick(
                                m,
                                &[
                                    ("invocationId", "invocationId", string),
                                    ("startedOn", "startedOn", string),
                                    ("finishedOn", "finishedOn", string),
                                ],
                            ))
                        }),
                        ("byproducts", "byproducts", descriptors),
                    ],
                ))
            }),
        ],
    )
}

/// The occurrence's `build` details for `statement`.
pub fn build_details(statement: &Value) -> Value {
    let predicate_type = statement["predicateType"].as_str().unwrap_or_default();
    let mut head = Map::new();
    head.insert("_type".into(), statement["_type"].clone());
    head.insert("subject".into(), subjects(statement));
    head.insert("predicateType".into(), json!(predicate_type));
    match predicate_type {
        "https://slsa.dev/provenance/v1" => {
            head.insert("predicate".into(), slsa_v1(&statement["predicate"]));
            json!({ "inTotoSlsaProvenanceV1": head })
        }
        "https://slsa.dev/provenance/v0.2" => {
            head.insert(
                "slsaProvenanceZeroTwo".into(),
                slsa_v02(&statement["predicate"]),
            );
            json!({ "intotoStatement": head })
        }
        _ => json!({ "intotoStatement": head }),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl GrafeasStorage {
    /// Create note `note_id` in the project (an existing one is fine, as in Chains);
    /// returns its name.
    async fn note(&self, note_id: &str, note: Value) -> Result<String, Error> {
        let project = format!("projects/{}", self.project);
        self.post(&format!("{project}/notes?noteId={note_id}"), &note, true)
            .await?;
        Ok(format!("{project}/notes/{note_id}"))
    }

    /// An occurrence of `note_name` about `uri` with `details` (the kind's field and
    /// the envelope), unless one already carries the envelope signature `sig`.
    async fn occurrence(
        &self,
        note_name: &str,
        uri: &str,
        sig: &str,
        details: Value,
    ) -> Result<Stored, Error> {
        if let Some(name) = self.existing(note_name, uri, sig).await? {
            return Ok(self.stored(&name, false));
        }
        let mut occurrence = json!({ "resourceUri": uri, "noteName": note_name });
        if let (Some(o), Value::Object(d)) = (occurrence.as_object_mut(), details) {
            o.extend(d);
        }
        let project = format!("projects/{}", self.project);
        let reply = self
            .post(&format!("{project}/occurrences"), &occurrence, false)
            .await?
            .unwrap_or_default();
        Ok(self.stored(reply["name"].as_str().unwrap_or(&project), true))
    }
}

#[async_trait]
impl Storage for GrafeasStorage {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        let statement: Value = serde_json::from_slice(&item.envelope.payload)
            .map_err(|e| Error::InvalidPayload(format!("the signed payload is not JSON ({e})")))?;
        let kind = kind(item);
        let builder_version = match item.run {
            Some(run) => format!("tekton.dev/v1/{}", run.kind),
            None => kind.clone(),
        };
        let note_name = self
            .note(
                &format!("{}-{kind}-intoto", self.note_prefix(item.run)),
                json!({
                    "shortDescription": format!("Build Provenance Note for {}", item.run.map_or("build", |r| r.kind.name())),
                    "build": { "builderVersion": builder_version },
                }),
            )
            .await?;
        let keyid = item
            .envelope
            .signatures
            .first()
            .map(|s| s.keyid.clone())
            .unwrap_or_default();
        let sig = b64(item.envelope.to_json().as_bytes());
        let details = json!({
            "build": build_details(&statement),
            "envelope": {
                "payload": b64(&item.envelope.payload),
                "payloadType": item.envelope.payload_type,
                "signatures": [{ "sig": sig, "keyid": keyid }],
            },
        });
        let mut stored = Vec::new();
        for subject in item.subjects {
            let uri = format!("{}@sha256:{}", subject.name, subject.sha256);
            stored.push(
                self.occurrence(&note_name, &uri, &sig, details.clone())
                    .await?,
            );
        }
        Ok(stored)
    }

    fn keeps_image_signatures(&self) -> bool {
        true
    }

    async fn store_image(&self, item: &SignedImage<'_>) -> Result<Vec<Stored>, Error> {
        let note_name = self
            .note(
                &format!("{}-simplesigning", self.note_prefix(item.run)),
                json!({
                    "shortDescription": "OCI Artifact Attestation Note",
                    "attestation": { "hint": { "humanReadableName": self.note_hint.clone().unwrap_or_default() } },
                }),
            )
            .await?;
        let keyid = item
            .public_key
            .map(|k| k.key_id.clone())
            .unwrap_or_default();
        let sig = b64(item.signature);
        let details = json!({
            "attestation": {
                "serializedPayload": b64(item.payload),
                "signatures": [{ "signature": sig, "publicKeyId": keyid }],
            },
            "envelope": {
                "payload": b64(item.payload),
                "payloadType": crate::provenance::simplesigning::MEDIA_TYPE,
                "signatures": [{ "sig": sig, "keyid": keyid }],
            },
        });
        let uri = item.image.to_string();
        Ok(vec![
            self.occurrence(&note_name, &uri, &sig, details).await?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v02_is_converted_as_chains_does() {
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "img", "digest": {"sha256": "ab"}}],
            "predicate": {
                "builder": {"id": "b"},
                "buildType": "t",
                "invocation": {"configSource": {"uri": "u", "digest": {"sha1": "c"}, "entryPoint": "e"}, "parameters": {"p": 1}, "environment": null},
                "buildConfig": {"steps": []},
                "metadata": {"buildInvocationID": "id", "buildStartedOn": "2024-01-01T00:00:00Z", "completeness": {"parameters": false, "environment": false, "materials": false}, "reproducible": false},
                "materials": [{"uri": "m", "digest": {"sha256": "d"}}]
            }
        });
        let d = build_details(&statement);
        let p = &d["intotoStatement"]["slsaProvenanceZeroTwo"];
        assert_eq!(p["metadata"]["buildInvocationId"], "id");
        assert_eq!(p["invocation"]["configSource"]["entryPoint"], "e");
        assert!(p["invocation"].get("environment").is_none());
        assert_eq!(p["materials"][0]["digest"]["sha256"], "d");
        assert_eq!(d["intotoStatement"]["_type"], statement["_type"]);
    }

    #[test]
    fn v1_keeps_the_predicate() {
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "predicateType": "https://slsa.dev/provenance/v1",
            "subject": [],
            "predicate": {
                "buildDefinition": {"buildType": "t", "externalParameters": {"a": "b"}, "resolvedDependencies": [{"uri": "git+x", "digest": {"sha1": "c"}, "extra": 1}]},
                "runDetails": {"builder": {"id": "b"}, "metadata": {"invocationId": "i", "startedOn": "2024-01-01T00:00:00Z"}}
            }
        });
        let d = build_details(&statement);
        let p = &d["inTotoSlsaProvenanceV1"]["predicate"];
        assert_eq!(
            p["buildDefinition"]["resolvedDependencies"][0],
            json!({"uri": "git+x", "digest": {"sha1": "c"}})
        );
        assert_eq!(p["runDetails"]["metadata"]["invocationId"], "i");
    }

    #[tokio::test]
    async fn google_credentials_never_go_over_plain_http() {
        let mut s = GrafeasStorage::new(
            "grafeas://projects/p",
            Options {
                endpoint: Some("http://grafeas.internal:8080".into()),
                ..Options::default()
            },
        )
        .expect("parses");
        // As with GOOGLE_APPLICATION_CREDENTIALS set.
        s.google_auth = true;
        let e = s.authorization().await.expect_err("refused").to_string();
        assert!(e.contains("plain HTTP"), "{e}");
    }

    #[test]
    fn uris() {
        let s = GrafeasStorage::new("grafeas://projects/my-proj?noteid=team", Options::default())
            .expect("parses");
        assert_eq!(s.to_string(), "grafeas://projects/my-proj");
        assert_eq!(s.note_id.as_deref(), Some("team"));
        assert_eq!(s.endpoint, DEFAULT_ENDPOINT);
        for bad in [
            "grafeas://p",
            "grafeas://projects/",
            "grafeas://projects/a b",
            "grafeas://projects/p?x=1",
            "grafeas://projects/p?noteid=a/b",
        ] {
            assert!(
                GrafeasStorage::new(bad, Options::default()).is_err(),
                "{bad}"
            );
        }
    }
}
