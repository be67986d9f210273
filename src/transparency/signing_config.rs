//! Sigstore SigningConfig v0.2 (`application/vnd.dev.sigstore.signingconfig.v0.2+json`):
//! which certificate authority, transparency logs and timestamp authorities to sign
//! with, each with an API version, a `validFor` window and an operator, and selectors
//! (`ANY`, `ALL`, `EXACT` n) for logs and timestamp authorities.
//!
//! Selection follows sigstore-go (what cosign v3 does): of the services valid now and
//! of an API version chainseal speaks, those of the highest version; then `ANY` needs
//! one of them (the others are fallbacks, in the file's order), `ALL` every one, and
//! `EXACT` n that many. The shortcuts `CHAINSEAL_FULCIO_URL`, `CHAINSEAL_REKOR_URL` and
//! `CHAINSEAL_TSA_URL` make a one-service selection each.

use serde_json::Value;
use thiserror::Error;

use crate::valid_for::{Window, WindowError};

/// Media types read.
const MEDIA_TYPES: [&str; 2] = [
    "application/vnd.dev.sigstore.signingconfig.v0.2+json",
    "application/vnd.dev.sigstore.signingconfig+json;version=0.2",
];

/// Why a signing config cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Not JSON.
    #[error("the signing config is not JSON")]
    NotJson(#[source] serde_json::Error),
    /// Another media type (e.g. v0.1).
    #[error(
        "the signing config's mediaType is `{0}`: chainseal reads SigningConfig v0.2 (`application/vnd.dev.sigstore.signingconfig.v0.2+json`)"
    )]
    MediaType(String),
    /// A service without a URL or API version.
    #[error("the signing config's {list}[{index}] has no {field}")]
    Service {
        /// `caUrls`, `rekorTlogUrls`, `tsaUrls`.
        list: &'static str,
        /// Its position.
        index: usize,
        /// `url` or `majorApiVersion`.
        field: &'static str,
    },
    /// A malformed window.
    #[error(transparent)]
    Window(#[from] WindowError),
    /// A selector that is none of ANY, ALL, EXACT.
    #[error("the signing config's {0} selector is `{1}`: use ANY, ALL or EXACT")]
    Selector(&'static str, String),
    /// `EXACT` with fewer usable services than its count.
    #[error(
        "the signing config asks for exactly {count} {what} but {usable} are valid now with an API version chainseal speaks"
    )]
    TooFew {
        /// `transparency logs` or `timestamp authorities`.
        what: &'static str,
        /// The count asked for.
        count: usize,
        /// How many there are.
        usable: usize,
    },
    /// A plain-HTTP URL to another machine.
    #[error("is fetched over plain HTTP: use https:// (http:// only to 127.0.0.1 or localhost)")]
    Insecure,
    /// A list of services none of which can be used now.
    #[error(
        "the signing config lists {what} but none is valid now with an API version chainseal speaks ({versions})"
    )]
    NoneUsable {
        /// `transparency logs` or `timestamp authorities`.
        what: &'static str,
        /// The versions chainseal speaks.
        versions: &'static str,
    },
    /// More than one log required.
    #[error(
        "the signing config requires {0} transparency logs: chainseal logs each signature in one log (use ANY or EXACT 1)"
    )]
    ManyLogs(usize),
}

/// A selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    /// One of the services.
    Any,
    /// Every service.
    All,
    /// That many services.
    Exact(usize),
}

/// One service of a signing config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Its URL.
    pub url: String,
    /// Its major API version.
    pub api_version: u32,
    /// When it may be used.
    pub window: Window,
    /// Who runs it.
    pub operator: String,
}

/// A parsed signing config.
#[derive(Debug, Clone)]
pub struct SigningConfig {
    cas: Vec<Service>,
    logs: Vec<Service>,
    tsas: Vec<Service>,
    log_selector: Selector,
    tsa_selector: Selector,
}

/// Services picked for a kind: `required` of `candidates` (tried in order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selected {
    /// The services, URL and API version, in the order they are tried.
    pub candidates: Vec<(String, u32)>,
    /// How many must answer.
    pub required: usize,
}

/// What signing uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services {
    /// Fulcio's URL, when the config names one.
    pub fulcio: Option<String>,
    /// The transparency logs.
    pub logs: Selected,
    /// The timestamp authorities.
    pub tsas: Selected,
}

fn services(root: &Value, list: &'static str) -> Result<Vec<Service>, Error> {
    root[list]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, s)| {
            let missing = |field| Error::Service { list, index, field };
            Ok(Service {
                url: s["url"].as_str().ok_or(missing("url"))?.to_owned(),
                api_version: s["majorApiVersion"]
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or(missing("majorApiVersion"))?,
                window: Window::parse(&s["validFor"], list)?,
                operator: s["operator"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

fn selector(v: &Value, what: &'static str) -> Result<Selector, Error> {
    match v["selector"].as_str().unwrap_or("ANY") {
        "ANY" | "" => Ok(Selector::Any),
        "ALL" => Ok(Selector::All),
        "EXACT" => Ok(Selector::Exact(
            v["count"]
                .as_u64()
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(1),
        )),
        other => Err(Error::Selector(what, other.to_owned())),
    }
}

/// Of `services`, those valid at `now` whose API version is in `versions`, of the
/// highest such version, in the file's order.
fn usable(services: &[Service], versions: &[u32], now: i64) -> Vec<(String, u32)> {
    let valid: Vec<&Service> = services
        .iter()
        .filter(|s| s.window.contains(now) && versions.contains(&s.api_version))
        .collect();
    let Some(top) = valid.iter().map(|s| s.api_version).max() else {
        return Vec::new();
    };
    valid
        .into_iter()
        .filter(|s| s.api_version == top)
        .map(|s| (s.url.trim_end_matches('/').to_owned(), s.api_version))
        .collect()
}

fn select(
    listed: usize,
    candidates: Vec<(String, u32)>,
    selector: Selector,
    (what, versions): (&'static str, &'static str),
) -> Result<Selected, Error> {
    // A config that names services of a kind wants them: none usable is an error, not
    // signing without them.
    if listed > 0 && candidates.is_empty() {
        return Err(Error::NoneUsable { what, versions });
    }
    let required = match selector {
        Selector::Any => candidates.len().min(1),
        Selector::All => candidates.len(),
        Selector::Exact(count) if count > candidates.len() => {
            return Err(Error::TooFew {
                what,
                count,
                usable: candidates.len(),
            });
        }
        Selector::Exact(count) => count,
    };
    Ok(Selected {
        candidates,
        required,
    })
}

impl SigningConfig {
    /// Parse a SigningConfig v0.2.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let root: Value = serde_json::from_slice(bytes).map_err(Error::NotJson)?;
        let media_type = root["mediaType"].as_str().unwrap_or_default();
        if !MEDIA_TYPES.contains(&media_type) {
            return Err(Error::MediaType(media_type.to_owned()));
        }
        Ok(Self {
            cas: services(&root, "caUrls")?,
            logs: services(&root, "rekorTlogUrls")?,
            tsas: services(&root, "tsaUrls")?,
            log_selector: selector(&root["rekorTlogConfig"], "rekorTlogConfig")?,
            tsa_selector: selector(&root["tsaConfig"], "tsaConfig")?,
        })
    }

    /// The services to use at `now` (Unix seconds).
    pub fn select(&self, now: i64) -> Result<Services, Error> {
        let fulcio = usable(&self.cas, &[1], now)
            .into_iter()
            .next()
            .map(|(u, _)| u);
        let logs = select(
            self.logs.len(),
            usable(&self.logs, &[1, 2], now),
            self.log_selector,
            ("transparency logs", "1 or 2"),
        )?;
        if logs.required > 1 {
            return Err(Error::ManyLogs(logs.required));
        }
        let tsas = select(
            self.tsas.len(),
            usable(&self.tsas, &[1], now),
            self.tsa_selector,
            ("timestamp authorities", "1"),
        )?;
        Ok(Services { fulcio, logs, tsas })
    }
}

impl Services {
    /// The one-service selections of the URL shortcuts: a log of unknown API version
    /// (detected), and every TSA given required.
    pub fn from_urls(rekor_url: &str, tsa_urls: &[String]) -> Self {
        Self {
            fulcio: None,
            logs: Selected {
                candidates: vec![(rekor_url.trim_end_matches('/').to_owned(), 0)],
                required: 1,
            },
            tsas: Selected {
                candidates: tsa_urls.iter().map(|u| (u.clone(), 1)).collect(),
                required: tsa_urls.len(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JAN_2026: i64 = 1_767_225_600;

    fn config(logs: Value, tsas: Value, log_cfg: Value, tsa_cfg: Value) -> SigningConfig {
        parse(logs, tsas, log_cfg, tsa_cfg).expect("parses")
    }

    fn parse(
        logs: Value,
        tsas: Value,
        log_cfg: Value,
        tsa_cfg: Value,
    ) -> Result<SigningConfig, Error> {
        let doc = json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [
                {"url": "https://old-ca", "majorApiVersion": 1,
                 "validFor": {"start": "2020-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"}},
                {"url": "https://ca", "majorApiVersion": 1, "validFor": {"start": "2025-01-01T00:00:00Z"}}],
            "rekorTlogUrls": logs, "tsaUrls": tsas,
            "rekorTlogConfig": log_cfg, "tsaConfig": tsa_cfg,
        });
        SigningConfig::from_json(doc.to_string().as_bytes())
    }

    fn svc(url: &str, version: u32, start: &str, end: Option<&str>) -> Value {
        let mut s = json!({"url": url, "majorApiVersion": version, "validFor": {"start": start}, "operator": "op"});
        if let Some(end) = end {
            s["validFor"]["end"] = json!(end);
        }
        s
    }

    #[test]
    fn the_highest_version_valid_now_is_selected() {
        let c = config(
            json!([
                svc("https://rekor-v1", 1, "2020-01-01T00:00:00Z", None),
                svc("https://log2025", 2, "2025-01-01T00:00:00Z", None),
                svc("https://log2027", 2, "2027-01-01T00:00:00Z", None),
                svc("https://rekor-v3", 3, "2020-01-01T00:00:00Z", None),
            ]),
            json!([svc(
                "https://tsa/api/v1/timestamp",
                1,
                "2020-01-01T00:00:00Z",
                None
            )]),
            json!({"selector": "ANY"}),
            json!({"selector": "ANY"}),
        );
        let s = c.select(JAN_2026).expect("selects");
        assert_eq!(
            s.fulcio.as_deref(),
            Some("https://ca"),
            "the expired CA is skipped"
        );
        assert_eq!(
            s.logs.candidates,
            vec![("https://log2025".to_owned(), 2)],
            "v2 over v1; not yet valid and unknown versions are skipped"
        );
        assert_eq!(s.logs.required, 1);
        assert_eq!(s.tsas.required, 1);
        // Before the v2 log's start, v1 is what there is.
        let s = c.select(1_700_000_000).expect("selects");
        assert_eq!(s.logs.candidates, vec![("https://rekor-v1".to_owned(), 1)]);
    }

    #[test]
    fn selectors_count_what_must_answer() {
        let tsas = json!([
            svc("https://tsa1", 1, "2020-01-01T00:00:00Z", None),
            svc("https://tsa2", 1, "2020-01-01T00:00:00Z", None),
            svc(
                "https://retired",
                1,
                "2020-01-01T00:00:00Z",
                Some("2021-01-01T00:00:00Z")
            ),
        ]);
        let logs = json!([svc("https://log", 2, "2020-01-01T00:00:00Z", None)]);
        let pick = |tsa_cfg: Value| {
            parse(
                logs.clone(),
                tsas.clone(),
                json!({"selector": "ANY"}),
                tsa_cfg,
            )?
            .select(JAN_2026)
        };
        let any = pick(json!({"selector": "ANY"})).expect("any");
        assert_eq!((any.tsas.candidates.len(), any.tsas.required), (2, 1));
        let all = pick(json!({"selector": "ALL"})).expect("all");
        assert_eq!(all.tsas.required, 2, "the retired TSA is not counted");
        let exact = pick(json!({"selector": "EXACT", "count": 2})).expect("exact");
        assert_eq!(exact.tsas.required, 2);
        let e = pick(json!({"selector": "EXACT", "count": 3})).expect_err("too few");
        assert!(
            matches!(
                e,
                Error::TooFew {
                    count: 3,
                    usable: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(matches!(
            pick(json!({"selector": "SOME"})),
            Err(Error::Selector("tsaConfig", _))
        ));
        // Only a retired TSA: an error, not signing without a timestamp.
        let retired = config(
            logs.clone(),
            json!([svc(
                "https://old",
                1,
                "2020-01-01T00:00:00Z",
                Some("2021-01-01T00:00:00Z")
            )]),
            json!({}),
            json!({"selector": "ANY"}),
        );
        assert!(matches!(
            retired.select(JAN_2026),
            Err(Error::NoneUsable {
                what: "timestamp authorities",
                ..
            })
        ));
        // No TSA at all: nothing required.
        let none = config(
            logs.clone(),
            json!([]),
            json!({}),
            json!({"selector": "ANY"}),
        )
        .select(JAN_2026)
        .expect("none");
        assert_eq!(none.tsas, Selected::default());
        // Two logs required: refused, chainseal logs in one.
        let two = config(
            json!([
                svc("https://a", 2, "2020-01-01T00:00:00Z", None),
                svc("https://b", 2, "2020-01-01T00:00:00Z", None),
            ]),
            json!([]),
            json!({"selector": "ALL"}),
            json!({}),
        );
        assert!(matches!(two.select(JAN_2026), Err(Error::ManyLogs(2))));
    }

    #[test]
    fn malformed_configs_say_what_is_wrong() {
        let e = SigningConfig::from_json(
            br#"{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.1+json"}"#,
        )
        .expect_err("v0.1");
        assert!(e.to_string().contains("v0.2"), "{e}");
        let e = SigningConfig::from_json(
            br#"{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json", "tsaUrls": [{"url": "x"}]}"#,
        )
        .expect_err("no version");
        assert_eq!(
            e.to_string(),
            "the signing config's tsaUrls[0] has no majorApiVersion"
        );
        assert!(matches!(
            SigningConfig::from_json(b"{"),
            Err(Error::NotJson(_))
        ));
    }
}
