//! Provenance: build records → in-toto Statements. Pure: no I/O, no clock (every
//! time comes from the record), so the same record always gives the same bytes.
//!
//! Formats ([`Format`]): SLSA v1.0 (`slsa/v1.0`, the default; Chains' `slsa/v2alpha4`
//! rules; Chains' `slsa/v2alpha3` also available) and SLSA v0.2 (`slsa/v0.2`, Chains'
//! `in-toto` / `slsa/v1`).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::record::tekton::Record;
use crate::record::tekton::hints::Finding;

/// Default builder id for Tekton records: the id Tekton Chains writes, so that
/// policies written for Chains keep matching (see `docs/configuration.md`).
pub const DEFAULT_BUILDER_ID: &str = "https://tekton.dev/chains/v2";

pub mod ci;
pub mod custom;
pub mod digest;
pub mod gojson;
pub mod simplesigning;
pub mod slsa_v02;
pub mod slsa_v1;
pub mod statement;
pub mod tekton;
pub mod time;

pub use statement::{DigestSet, ResourceDescriptor, Statement};

/// A provenance format, by the names chainseal and Tekton Chains use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `slsa/v1.0`: SLSA v1.0 with Chains' `slsa/v2alpha4` rules (default).
    SlsaV1,
    /// `slsa/v2alpha4`: Chains' name for the same.
    V2Alpha4,
    /// `slsa/v2alpha3`: Chains' earlier SLSA v1.0 rules (no StepAction results).
    V2Alpha3,
    /// `slsa/v0.2`, Chains' `in-toto` and `slsa/v1`: SLSA v0.2.
    SlsaV02,
}

impl Format {
    /// Every accepted name, for messages.
    pub const NAMES: &'static str =
        "slsa/v1.0, slsa/v0.2, in-toto, slsa/v1, slsa/v2alpha3, slsa/v2alpha4";
}

/// An unknown format or build type name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what} `{value}`: use one of {valid}")]
pub struct UnknownName {
    what: &'static str,
    value: String,
    valid: &'static str,
}

impl FromStr for Format {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "slsa/v1.0" => Self::SlsaV1,
            "slsa/v2alpha4" => Self::V2Alpha4,
            "slsa/v2alpha3" => Self::V2Alpha3,
            "slsa/v0.2" | "in-toto" | "slsa/v1" => Self::SlsaV02,
            other => {
                return Err(UnknownName {
                    what: "format",
                    value: other.to_owned(),
                    valid: Self::NAMES,
                });
            }
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SlsaV1 => "slsa/v1.0",
            Self::V2Alpha4 => "slsa/v2alpha4",
            Self::V2Alpha3 => "slsa/v2alpha3",
            Self::SlsaV02 => "slsa/v0.2",
        })
    }
}

/// `buildDefinition.buildType` of the SLSA v1.0 formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildType {
    /// `https://tekton.dev/chains/v2/slsa` (default).
    #[default]
    Slsa,
    /// `https://tekton.dev/chains/v2/slsa-tekton`: adds the run's labels and
    /// annotations and each child TaskRun's full content.
    SlsaTekton,
}

impl BuildType {
    /// The build type URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Slsa => "https://tekton.dev/chains/v2/slsa",
            Self::SlsaTekton => "https://tekton.dev/chains/v2/slsa-tekton",
        }
    }
}

impl FromStr for BuildType {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "https://tekton.dev/chains/v2/slsa" => Ok(Self::Slsa),
            "https://tekton.dev/chains/v2/slsa-tekton" => Ok(Self::SlsaTekton),
            other => Err(UnknownName {
                what: "build type",
                value: other.to_owned(),
                valid: "https://tekton.dev/chains/v2/slsa, https://tekton.dev/chains/v2/slsa-tekton",
            }),
        }
    }
}

/// Settings of the generator.
#[derive(Debug, Clone)]
pub struct Options {
    /// The format.
    pub format: Format,
    /// `buildDefinition.buildType` (SLSA v1.0 formats).
    pub build_type: BuildType,
    /// The builder id.
    pub builder_id: String,
    /// Walk a PipelineRun's child TaskRuns for subjects, inputs and byproducts
    /// (Chains' `artifacts.pipelinerun.enable-deep-inspection`).
    pub deep_inspection: bool,
    /// How complete the run was when read (a `finally` Task attests a PipelineRun
    /// that is still running); recorded under [`RUN_STATE_KEY`].
    pub run_state: Option<serde_json::Value>,
    /// Subjects named explicitly, added after those found in the record.
    pub extra_subjects: Vec<ResourceDescriptor>,
}

/// Where a partial run's state is recorded: SLSA v1 `internalParameters`, SLSA v0.2
/// `invocation.environment`.
pub const RUN_STATE_KEY: &str = "chainseal.dev/run-state";

impl Options {
    /// Default options (`slsa/v1.0`, build type `…/slsa`) with the given builder id.
    pub fn new(builder_id: impl Into<String>) -> Self {
        Self {
            format: Format::SlsaV1,
            build_type: BuildType::Slsa,
            builder_id: builder_id.into(),
            deep_inspection: false,
            run_state: None,
            extra_subjects: Vec::new(),
        }
    }
}

/// A generated Statement and the type hints that were skipped on the way.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The in-toto Statement.
    pub statement: Statement,
    /// Skipped or suspicious type hints.
    pub findings: Vec<Finding>,
}

/// Why no provenance could be generated.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A step or sidecar image id that is not `repo@alg:hex`.
    #[error(
        "TaskRun `{run}`: {what} `{name}` has image id `{image_id}`, expected `repository@algorithm:hex` (did the {what} run?)"
    )]
    ImageId {
        /// TaskRun name.
        run: String,
        /// `step` or `sidecar`.
        what: &'static str,
        /// Step or sidecar name.
        name: String,
        /// The image id found.
        image_id: String,
    },
    /// A timestamp that is not RFC 3339.
    #[error("{kind} `{run}`: `{field}` is not an RFC 3339 timestamp (`{value}`): {message}")]
    Timestamp {
        /// Run kind.
        kind: &'static str,
        /// Run name.
        run: String,
        /// Field path.
        field: &'static str,
        /// Value found.
        value: String,
        /// Parser message.
        message: String,
    },
    /// A feature flag of the wrong type.
    #[error("{kind} `{run}`: status.provenance.featureFlags")]
    FeatureFlags {
        /// Run kind.
        kind: &'static str,
        /// Run name.
        run: String,
        /// What is wrong.
        #[source]
        source: Box<slsa_v1::feature_flags::WrongType>,
    },
    /// A child TaskRun listed by the PipelineRun but not given.
    #[error(
        "PipelineRun `{run}` lists TaskRun `{child}` in status.childReferences but the record does not contain it: add it to CHAINSEAL_RECORD (e.g. `kubectl get taskrun {child} -o yaml`)"
    )]
    MissingChild {
        /// PipelineRun name.
        run: String,
        /// Missing TaskRun name.
        child: String,
    },
}

/// Generate the Statement for a record in the configured format.
pub fn generate(record: &Record, options: &Options) -> Result<Generated, Error> {
    let mut generated = match options.format {
        Format::SlsaV1 | Format::V2Alpha4 | Format::V2Alpha3 => slsa_v1::generate(record, options)?,
        Format::SlsaV02 => slsa_v02::generate(record, options)?,
    };
    for extra in &options.extra_subjects {
        statement::append_subject(&mut generated.statement.subject, extra.clone());
    }
    if let Some(state) = &options.run_state {
        let pointer = match options.format {
            Format::SlsaV02 => "/invocation/environment",
            _ => "/buildDefinition/internalParameters",
        };
        let predicate = &mut generated.statement.predicate;
        if !predicate
            .pointer(pointer)
            .is_some_and(serde_json::Value::is_object)
        {
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            if let Some(serde_json::Value::Object(map)) = predicate.pointer_mut(parent) {
                map.insert(key.to_owned(), serde_json::json!({}));
            }
        }
        if let Some(serde_json::Value::Object(map)) = predicate.pointer_mut(pointer) {
            map.insert(RUN_STATE_KEY.to_owned(), state.clone());
        }
    }
    Ok(generated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_are_accepted_verbatim() {
        for (name, want) in [
            ("slsa/v1.0", Format::SlsaV1),
            ("slsa/v2alpha4", Format::V2Alpha4),
            ("slsa/v2alpha3", Format::V2Alpha3),
            ("slsa/v0.2", Format::SlsaV02),
            ("in-toto", Format::SlsaV02),
            ("slsa/v1", Format::SlsaV02),
        ] {
            assert_eq!(name.parse::<Format>(), Ok(want));
        }
        let err = "slsa/v2alpha2"
            .parse::<Format>()
            .expect_err("removed in Chains");
        assert!(err.to_string().contains("slsa/v1.0"), "{err}");
        assert_eq!(
            "https://tekton.dev/chains/v2/slsa-tekton".parse::<BuildType>(),
            Ok(BuildType::SlsaTekton)
        );
        assert!("tekton.dev/v1/TaskRun".parse::<BuildType>().is_err());
    }
}
