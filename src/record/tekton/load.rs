//! Reading Tekton records from files.
//!
//! Accepted input: JSON or YAML files holding one object, a YAML multi-document
//! stream, or a Kubernetes `List`; several files may be given. Among all objects
//! there must be exactly one run to attest: the PipelineRun if there is one (the
//! TaskRuns are then its children), otherwise a single TaskRun.
//!
//! Objects must be `tekton.dev/v1`. Objects without `apiVersion` and `kind` (as in
//! Tekton Chains' own test data) are recognised by their shape: a `pipelineRef`,
//! `pipelineSpec`, `status.pipelineSpec` or `status.childReferences` makes a
//! PipelineRun, anything else a TaskRun.

use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use super::model::{PipelineRun, TaskRun};
use crate::kube::TektonKind;

/// Errors reading a record. Each names the file and what to do.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read record `{path}`")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is neither valid JSON nor valid YAML.
    #[error("record `{path}` is not valid {format}: {message}")]
    Syntax {
        /// File.
        path: PathBuf,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// Parser message with position.
        message: String,
    },
    /// The file holds no objects.
    #[error("record `{0}` is empty: expected a TaskRun or PipelineRun")]
    Empty(PathBuf),
    /// An object that is not a JSON object.
    #[error(
        "record `{path}` (document {index}) is not an object: expected a TaskRun or PipelineRun"
    )]
    NotAnObject {
        /// File.
        path: PathBuf,
        /// 1-based document index in the file.
        index: usize,
    },
    /// A Tekton version other than v1.
    #[error(
        "record `{path}` is `{api_version}` {kind}: chainseal reads `tekton.dev/v1` only; export it as v1, e.g. `kubectl get {}.v1.tekton.dev NAME -o yaml`", .kind.resource_name()
    )]
    UnsupportedApiVersion {
        /// File.
        path: PathBuf,
        /// The apiVersion found.
        api_version: String,
        /// The kind found.
        kind: TektonKind,
    },
    /// A kind that is not a run.
    #[error(
        "record `{path}` is a `{api_version}` `{kind}`: expected a TaskRun or PipelineRun (or a List of them)"
    )]
    UnsupportedKind {
        /// File.
        path: PathBuf,
        /// apiVersion found.
        api_version: String,
        /// Kind found.
        kind: String,
    },
    /// A run without `status`.
    #[error(
        "{kind} `{name}` in `{path}` has no `status`: attest a run after it has finished, exported with its status (`kubectl get ... -o yaml`)"
    )]
    MissingStatus {
        /// File.
        path: PathBuf,
        /// Kind.
        kind: TektonKind,
        /// Object name.
        name: String,
    },
    /// A run whose fields have the wrong shape.
    #[error("{kind} `{name}` in `{path}` is malformed at `{field}`: {message}")]
    Malformed {
        /// File.
        path: PathBuf,
        /// Kind.
        kind: TektonKind,
        /// Object name.
        name: String,
        /// JSON path of the bad field.
        field: String,
        /// What was wrong.
        message: String,
    },
    /// Nothing to attest.
    #[error("the record has no TaskRun or PipelineRun")]
    NoRun,
    /// Several candidate runs.
    #[error(
        "the record holds {count} {kind}s ({names}): give one run per attestation (a PipelineRun with its TaskRuns, or one TaskRun)"
    )]
    Ambiguous {
        /// How many.
        count: usize,
        /// `PipelineRun` or `TaskRun`.
        kind: TektonKind,
        /// Their names.
        names: String,
    },
}

/// The run to attest, with a PipelineRun's child TaskRuns.
#[derive(Debug, Clone)]
pub enum Record {
    /// A single TaskRun.
    TaskRun(Box<TaskRun>),
    /// A PipelineRun and the TaskRuns given with it.
    PipelineRun {
        /// The PipelineRun.
        run: Box<PipelineRun>,
        /// Its TaskRuns, in input order.
        children: Vec<TaskRun>,
    },
}

/// Load the run to attest from `paths`.
pub fn load(paths: &[PathBuf]) -> Result<Record, Error> {
    let mut objects = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        for (i, doc) in parse_documents(path, &text)?.into_iter().enumerate() {
            flatten(path, i + 1, doc, &mut objects)?;
        }
    }
    assemble(objects)
}

/// The run to attest from objects read elsewhere (e.g. the Kubernetes API);
/// `source` names where they came from in messages.
pub fn from_values(source: &str, values: Vec<Value>) -> Result<Record, Error> {
    let path = PathBuf::from(source);
    let mut objects = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        flatten(&path, i + 1, value, &mut objects)?;
    }
    assemble(objects)
}

fn assemble(objects: Vec<(PathBuf, TektonKind, Value)>) -> Result<Record, Error> {
    let mut pipelineruns = Vec::new();
    let mut taskruns = Vec::new();
    for (path, kind, value) in objects {
        match kind {
            TektonKind::PipelineRun => {
                let mut pr: PipelineRun = typed(&path, kind, &value)?;
                pr.raw = value;
                pipelineruns.push(pr);
            }
            TektonKind::TaskRun => {
                let mut tr: TaskRun = typed(&path, kind, &value)?;
                tr.raw = value;
                taskruns.push(tr);
            }
        }
    }
    match (pipelineruns.len(), taskruns.len()) {
        (0, 0) => Err(Error::NoRun),
        (0, 1) => Ok(Record::TaskRun(Box::new(taskruns.remove(0)))),
        (0, n) => Err(Error::Ambiguous {
            count: n,
            kind: TektonKind::TaskRun,
            names: names(taskruns.iter().map(|t| t.metadata.name.as_str())),
        }),
        (1, _) => Ok(Record::PipelineRun {
            run: Box::new(pipelineruns.remove(0)),
            children: taskruns,
        }),
        (n, _) => Err(Error::Ambiguous {
            count: n,
            kind: TektonKind::PipelineRun,
            names: names(pipelineruns.iter().map(|p| p.metadata.name.as_str())),
        }),
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn parse_documents(path: &Path, text: &str) -> Result<Vec<Value>, Error> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(Error::Empty(path.to_owned()));
    }
    let json_error = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        // JSON; a top-level array is treated like a List.
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => return Ok(items),
            Ok(other) => return Ok(vec![other]),
            // Maybe JSON documents in a YAML stream (`---` separated): try YAML,
            // but report the JSON error if that fails too.
            Err(e) => Some(e),
        }
    } else {
        None
    };
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| match &json_error {
        Some(je) => Error::Syntax {
            path: path.to_owned(),
            format: "JSON",
            message: je.to_string(),
        },
        None => Error::Syntax {
            path: path.to_owned(),
            format: "YAML",
            message: e.to_string(),
        },
    })?;
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.is_empty() {
        return Err(Error::Empty(path.to_owned()));
    }
    Ok(docs)
}

fn flatten(
    path: &Path,
    index: usize,
    doc: Value,
    out: &mut Vec<(PathBuf, TektonKind, Value)>,
) -> Result<(), Error> {
    let Some(obj) = doc.as_object() else {
        return Err(Error::NotAnObject {
            path: path.to_owned(),
            index,
        });
    };
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == "List" || (kind.ends_with("List") && obj.contains_key("items")) {
        let mut doc = doc;
        if let Some(Value::Array(items)) = doc.get_mut("items").map(Value::take) {
            for item in items {
                flatten(path, index, item, out)?;
            }
        }
        return Ok(());
    }
    let resolved = match TektonKind::from_name(kind) {
        Some(kind) => kind,
        None if kind.is_empty()
            && (api_version.is_empty() || api_version.starts_with("tekton.dev/")) =>
        {
            shape_of(&doc)
        }
        None => {
            return Err(Error::UnsupportedKind {
                path: path.to_owned(),
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            });
        }
    };
    if !api_version.is_empty() && api_version != "tekton.dev/v1" {
        if !api_version.starts_with("tekton.dev/") {
            return Err(Error::UnsupportedKind {
                path: path.to_owned(),
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            });
        }
        return Err(Error::UnsupportedApiVersion {
            path: path.to_owned(),
            api_version: api_version.to_owned(),
            kind: resolved,
        });
    }
    out.push((path.to_owned(), resolved, doc));
    Ok(())
}

fn shape_of(doc: &Value) -> TektonKind {
    let has = |ptr: &str| doc.pointer(ptr).is_some_and(|v| !v.is_null());
    if has("/spec/pipelineRef")
        || has("/spec/pipelineSpec")
        || has("/status/pipelineSpec")
        || has("/status/childReferences")
    {
        TektonKind::PipelineRun
    } else {
        TektonKind::TaskRun
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    path: &Path,
    kind: TektonKind,
    value: &Value,
) -> Result<T, Error> {
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)")
        .to_owned();
    if value.get("status").is_none_or(Value::is_null) {
        return Err(Error::MissingStatus {
            path: path.to_owned(),
            kind,
            name,
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| Error::Malformed {
        path: path.to_owned(),
        kind,
        field: e.path().to_string(),
        message: e.inner().to_string(),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    const TR: &str = r#"{"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":"t1","uid":"u1"},"spec":{},"status":{"steps":[]}}"#;

    #[test]
    fn yaml_multi_document_pipelinerun_with_children() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = write(
            dir.path(),
            "r.yaml",
            "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: p, uid: pu}\nspec: {}\nstatus: {}\n---\napiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: c1}\nstatus: {}\n---\n",
        );
        match load(&[p]).expect("loads") {
            Record::PipelineRun { run, children } => {
                assert_eq!(run.metadata.name, "p");
                assert_eq!(children.len(), 1);
            }
            Record::TaskRun(_) => panic!("expected a PipelineRun"),
        }
    }

    #[test]
    fn kubernetes_list_and_comma_separated_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let list = format!(r#"{{"apiVersion":"v1","kind":"List","items":[{TR}]}}"#);
        let a = write(dir.path(), "list.json", &list);
        assert!(matches!(
            load(std::slice::from_ref(&a)),
            Ok(Record::TaskRun(_))
        ));
        let b = write(dir.path(), "two.json", TR);
        assert!(matches!(
            load(&[a, b]),
            Err(Error::Ambiguous { count: 2, .. })
        ));
    }

    #[test]
    fn v1beta1_and_other_kinds_are_refused_clearly() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = write(
            dir.path(),
            "b.json",
            &TR.replace("tekton.dev/v1", "tekton.dev/v1beta1"),
        );
        let err = load(&[p]).expect_err("v1beta1");
        assert!(err.to_string().contains("taskruns.v1.tekton.dev"), "{err}");
        let p = write(
            dir.path(),
            "pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
        );
        assert!(matches!(load(&[p]), Err(Error::UnsupportedKind { .. })));
    }

    #[test]
    fn malformed_inputs_name_the_problem() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = write(dir.path(), "bad.json", "{\"a\": ");
        assert!(matches!(
            load(&[p]),
            Err(Error::Syntax { format: "JSON", .. })
        ));
        let p = write(dir.path(), "bad.yaml", "a: [1, 2\n");
        assert!(matches!(
            load(&[p]),
            Err(Error::Syntax { format: "YAML", .. })
        ));
        let p = write(
            dir.path(),
            "nostatus.json",
            &TR.replace(r#","status":{"steps":[]}"#, ""),
        );
        assert!(matches!(load(&[p]), Err(Error::MissingStatus { .. })));
        let p = write(
            dir.path(),
            "shape.json",
            &TR.replace(r#"{"steps":[]}"#, r#"{"steps":[{"name":3}]}"#),
        );
        let err = load(&[p]).expect_err("bad field");
        assert!(err.to_string().contains("status.steps[0].name"), "{err}");
        let p = write(dir.path(), "empty.yaml", "\n");
        assert!(matches!(load(&[p]), Err(Error::Empty(_))));
    }

    #[test]
    fn json_documents_in_a_yaml_stream() {
        let dir = tempfile::tempdir().expect("tmp");
        let pr = r#"{"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"name":"p"},"status":{}}"#;
        let p = write(dir.path(), "stream.yaml", &format!("{pr}\n---\n{TR}\n"));
        match load(&[p]).expect("loads") {
            Record::PipelineRun { children, .. } => assert_eq!(children.len(), 1),
            Record::TaskRun(_) => panic!("expected a PipelineRun"),
        }
    }

    #[test]
    fn objects_without_kind_are_recognised_by_shape() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = write(
            dir.path(),
            "p.json",
            r#"{"metadata":{"name":"p"},"spec":{"pipelineRef":{"name":"x"}},"status":{}}"#,
        );
        assert!(matches!(load(&[p]), Ok(Record::PipelineRun { .. })));
    }
}
