//! Which Sigstore deployment signs when no setting names its services
//! (`CHAINSEAL_SIGSTORE`): the public-good instance (Fulcio, Rekor), GitHub's own
//! (Fulcio and a timestamp authority, no transparency log: how GitHub signs private
//! repositories' builds), or — in a GitHub Actions job — the one the repository's
//! visibility calls for, as actions/attest chooses: public-good for public
//! repositories, GitHub's for private and internal ones, so that a private
//! repository's name never reaches the public log unless asked for.

use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

/// GitHub's Fulcio.
pub const GITHUB_FULCIO_URL: &str = "https://fulcio.githubapp.com";

/// GitHub's timestamp authority (its RFC 3161 endpoint).
pub const GITHUB_TSA_URL: &str = "https://timestamp.githubapp.com/api/v1/timestamp";

/// The largest event payload read (GitHub caps webhook payloads at 25 MB).
const MAX_EVENT_BYTES: u64 = 25 << 20;

/// A Sigstore deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instance {
    /// fulcio.sigstore.dev and rekor.sigstore.dev.
    PublicGood,
    /// fulcio.githubapp.com and timestamp.githubapp.com; no transparency log.
    Github,
}

impl Instance {
    /// The name `CHAINSEAL_SIGSTORE` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::PublicGood => "public-good",
            Self::Github => "github",
        }
    }
}

/// A `CHAINSEAL_SIGSTORE` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// This instance.
    Given(Instance),
    /// By the GitHub repository's visibility (`auto`).
    ByVisibility,
}

/// A `CHAINSEAL_SIGSTORE` value that is no [`Choice`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`CHAINSEAL_SIGSTORE` is `{}`: use public-good, github or auto", crate::error_text::shown(.0))]
pub struct UnknownChoice(pub String);

impl std::str::FromStr for Choice {
    type Err = UnknownChoice;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public-good" => Ok(Self::Given(Instance::PublicGood)),
            "github" => Ok(Self::Given(Instance::Github)),
            "auto" => Ok(Self::ByVisibility),
            other => Err(UnknownChoice(other.to_owned())),
        }
    }
}

/// The repository's visibility as the job's event payload (`GITHUB_EVENT_PATH`) states
/// it (`public`, `private`, `internal`), or why it cannot be told.
pub fn visibility(event_path: Option<&Path>) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Event {
        repository: Option<Repository>,
    }
    #[derive(Deserialize)]
    struct Repository {
        visibility: Option<String>,
    }
    let path = event_path.ok_or("`GITHUB_EVENT_PATH` is not set")?;
    let bytes = crate::read_limited::read_at_most(path, MAX_EVENT_BYTES).map_err(|e| match e {
        crate::read_limited::Refused::Io(e) => format!("the event payload cannot be read: {e}"),
        crate::read_limited::Refused::TooLarge(n) => {
            format!("the event payload is {n} bytes, over the {MAX_EVENT_BYTES}-byte limit")
        }
    })?;
    let event: Event = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the event payload is not JSON of an event: {e}"))?;
    event
        .repository
        .and_then(|r| r.visibility)
        .ok_or_else(|| "the event payload names no `repository.visibility`".to_owned())
}

/// The instance for a repository of `visibility` (as [`visibility`] read it):
/// public-good only for a repository known to be public.
pub fn for_visibility(visibility: &Result<String, String>) -> Instance {
    match visibility {
        Ok(v) if v.eq_ignore_ascii_case("public") => Instance::PublicGood,
        _ => Instance::Github,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Result<String, String> {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("event.json");
        std::fs::write(&path, json).expect("write");
        visibility(Some(&path))
    }

    #[test]
    fn choices_parse_and_unknown_ones_are_named() {
        assert_eq!(
            "public-good".parse::<Choice>(),
            Ok(Choice::Given(Instance::PublicGood))
        );
        assert_eq!(
            " GitHub ".parse::<Choice>(),
            Ok(Choice::Given(Instance::Github))
        );
        assert_eq!("auto".parse::<Choice>(), Ok(Choice::ByVisibility));
        let err = "staging".parse::<Choice>().expect_err("unknown");
        assert!(err.to_string().contains("`staging`"), "{err}");
    }

    #[test]
    fn only_a_public_repository_uses_the_public_good_instance() {
        let public = event(r#"{"repository": {"visibility": "public", "name": "r"}}"#);
        assert_eq!(public.as_deref(), Ok("public"));
        assert_eq!(for_visibility(&public), Instance::PublicGood);
        for private in [
            event(r#"{"repository": {"visibility": "private"}}"#),
            event(r#"{"repository": {"visibility": "internal"}}"#),
            event(r#"{"repository": {}}"#),
            event(r#"{"action": "x"}"#),
            event("not json"),
            visibility(Some(Path::new("/nonexistent/event.json"))),
            visibility(None),
        ] {
            assert_eq!(for_visibility(&private), Instance::Github, "{private:?}");
        }
        let err = event("not json").expect_err("not json");
        assert!(err.contains("not JSON"), "{err}");
        let err = visibility(None).expect_err("unset");
        assert!(err.contains("GITHUB_EVENT_PATH"), "{err}");
    }
}
