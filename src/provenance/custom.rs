//! Custom predicates and SBOMs in place of provenance (as actions/attest v4's custom
//! and SBOM modes): the subjects the build would have had, with the predicate the user
//! gives (`CHAINSEAL_PREDICATE_TYPE` with `CHAINSEAL_PREDICATE` or
//! `CHAINSEAL_PREDICATE_PATH`), or an SPDX or CycloneDX SBOM (`CHAINSEAL_SBOM_PATH`)
//! with its predicate type detected.

use std::path::PathBuf;

use serde_json::Value;
use thiserror::Error;

/// The largest predicate or SBOM signed (actions/attest's limit).
pub const MAX_PREDICATE_BYTES: u64 = 16 * 1024 * 1024;

/// SPDX documents' predicate type (actions/attest's).
pub const SPDX: &str = "https://spdx.dev/Document/v2.3";
/// CycloneDX BOMs' predicate type.
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";

/// Where the predicate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A predicate of `predicate_type` given inline (JSON).
    Inline {
        /// Its type (a URI).
        predicate_type: String,
        /// The JSON text.
        json: String,
    },
    /// A predicate of `predicate_type` read from a file.
    File {
        /// Its type (a URI).
        predicate_type: String,
        /// The file.
        path: PathBuf,
    },
    /// An SPDX or CycloneDX SBOM (JSON) read from a file.
    Sbom(PathBuf),
}

/// Why the predicate cannot be used; each names the setting to fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The file cannot be read.
    #[error("`{setting}`: cannot read `{}`", path.display())]
    Read {
        /// The setting.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Over the size limit.
    #[error("`{setting}`: the predicate is {size} bytes; at most 16 MiB is signed")]
    TooLarge {
        /// The setting.
        setting: &'static str,
        /// Its size.
        size: u64,
    },
    /// Not a JSON object.
    #[error("`{setting}`: the predicate must be a JSON object: {reason}")]
    NotObject {
        /// The setting.
        setting: &'static str,
        /// What was found.
        reason: String,
    },
    /// An SBOM of a kind chainseal does not know.
    #[error(
        "`CHAINSEAL_SBOM_PATH`: `{}` is neither an SPDX JSON document (`spdxVersion`) nor a CycloneDX JSON BOM (`bomFormat: CycloneDX`); for another kind, set `CHAINSEAL_PREDICATE_TYPE` and `CHAINSEAL_PREDICATE_PATH`",
        path.display()
    )]
    UnknownSbom {
        /// The file.
        path: PathBuf,
    },
}

const PREDICATE: &str = "CHAINSEAL_PREDICATE";
const PREDICATE_PATH: &str = "CHAINSEAL_PREDICATE_PATH";
const SBOM_PATH: &str = "CHAINSEAL_SBOM_PATH";

impl Source {
    /// The predicate type and the predicate.
    pub fn load(&self) -> Result<(String, Value), Error> {
        match self {
            Self::Inline {
                predicate_type,
                json,
            } => {
                if json.len() as u64 > MAX_PREDICATE_BYTES {
                    return Err(Error::TooLarge {
                        setting: PREDICATE,
                        size: json.len() as u64,
                    });
                }
                Ok((predicate_type.clone(), object(PREDICATE, json.as_bytes())?))
            }
            Self::File {
                predicate_type,
                path,
            } => Ok((
                predicate_type.clone(),
                object(PREDICATE_PATH, &read(PREDICATE_PATH, path)?)?,
            )),
            Self::Sbom(path) => {
                let sbom = object(SBOM_PATH, &read(SBOM_PATH, path)?)?;
                let predicate_type = if sbom.get("spdxVersion").is_some_and(Value::is_string) {
                    SPDX
                } else if sbom.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
                    CYCLONEDX
                } else {
                    return Err(Error::UnknownSbom { path: path.clone() });
                };
                Ok((predicate_type.to_owned(), sbom))
            }
        }
    }
}

fn read(setting: &'static str, path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let err = |source| Error::Read {
        setting,
        path: path.to_owned(),
        source,
    };
    use crate::read_limited::{Refused, read_at_most};
    read_at_most(path, MAX_PREDICATE_BYTES).map_err(|e| match e {
        Refused::Io(e) => err(e),
        Refused::TooLarge(size) => Error::TooLarge { setting, size },
    })
}

fn object(setting: &'static str, bytes: &[u8]) -> Result<Value, Error> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(Error::NotObject {
            setting,
            reason: format!("it is JSON of another kind ({})", kind(&other)),
        }),
        Err(e) => Err(Error::NotObject {
            setting,
            reason: e.to_string(),
        }),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sboms_are_recognised_and_predicates_must_be_objects() {
        let dir = tempfile::tempdir().expect("tmp");
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            p
        };
        let spdx = write("s.json", r#"{"spdxVersion": "SPDX-2.3", "name": "x"}"#);
        assert_eq!(Source::Sbom(spdx).load().expect("spdx").0, SPDX);
        let cdx = write(
            "c.json",
            r#"{"bomFormat": "CycloneDX", "specVersion": "1.6"}"#,
        );
        assert_eq!(Source::Sbom(cdx).load().expect("cdx").0, CYCLONEDX);
        let other = write("o.json", r#"{"hello": 1}"#);
        assert!(matches!(
            Source::Sbom(other).load(),
            Err(Error::UnknownSbom { .. })
        ));
        let inline = |json: &str| Source::Inline {
            predicate_type: "https://example.com/p/v1".into(),
            json: json.into(),
        };
        assert_eq!(inline(r#"{"a": 1}"#).load().expect("ok").1["a"], 1);
        for bad in ["[1]", "\"x\"", "{", ""] {
            assert!(
                matches!(inline(bad).load(), Err(Error::NotObject { .. })),
                "{bad}"
            );
        }
        let missing = Source::File {
            predicate_type: "https://example.com/p/v1".into(),
            path: dir.path().join("nope.json"),
        };
        let e = missing.load().expect_err("missing");
        assert!(
            e.to_string()
                .starts_with("`CHAINSEAL_PREDICATE_PATH`: cannot read"),
            "{e}"
        );
    }
}
