//! How setting values are read, for flags, environment variables and chains-config
//! alike: an empty value counts as unset, and a list has no empty entries.
//!
//! * An environment variable set to the empty string is unset ([`empty_env`]: a docker
//!   action or a Tekton Task passes every input, given or not; `docker run -e VAR=`
//!   likewise). Values the settings read are also trimmed, and a blank one is unset
//!   ([`non_empty`]).
//! * Lists are comma-separated (some also newline-separated: [`Separators`]); each
//!   entry is trimmed and an empty entry (`a,,b`, a trailing comma) is an error naming
//!   the setting ([`split_list`]).

use std::ffi::OsStr;

use thiserror::Error;

/// `value` without surrounding whitespace, or `None` when it is unset, empty or blank.
pub fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// [`non_empty`] of an owned value.
pub fn non_empty_owned(value: Option<String>) -> Option<String> {
    non_empty(value.as_deref()).map(str::to_owned)
}

/// Whether the environment variable `name` is set to the empty string (and so counts
/// as unset). Not trimmed: a value of spaces may be a password.
pub fn empty_env(name: &OsStr) -> bool {
    std::env::var_os(name).is_some_and(|v| v.is_empty())
}

/// What separates the entries of a list setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separators {
    /// Commas.
    Commas,
    /// Commas and newlines (`actions/attest`'s list inputs, e.g. `subject-path`).
    CommasAndNewlines,
}

impl Separators {
    fn describe(self) -> &'static str {
        match self {
            Self::Commas => "single commas",
            Self::CommasAndNewlines => "single commas or newlines",
        }
    }
}

/// A list setting with an empty entry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "`{setting}` has an empty entry in `{value}`: separate entries with {}",
    .separators.describe()
)]
pub struct EmptyListItem {
    /// The setting's environment variable name.
    pub setting: &'static str,
    /// The whole value (with any password redacted).
    pub value: String,
    /// The separators the setting takes.
    pub separators: Separators,
}

/// The entries of the list setting `setting`, each trimmed; a blank value is the
/// empty list, blank lines of a newline-separated list are skipped, and an empty
/// entry between commas is an error naming the setting.
pub fn split_list(
    setting: &'static str,
    value: &str,
    separators: Separators,
) -> Result<Vec<String>, EmptyListItem> {
    let Some(value) = non_empty(Some(value)) else {
        return Ok(Vec::new());
    };
    let entries: Vec<&str> = match separators {
        Separators::Commas => value.split(',').collect(),
        // A block of lines (a YAML `|` input) may hold blank lines: they separate
        // nothing, as in `actions/attest`; an empty entry between commas is an error.
        Separators::CommasAndNewlines => value
            .lines()
            .filter(|line| !line.trim().is_empty())
            .flat_map(|line| line.split(','))
            .collect(),
    };
    entries
        .into_iter()
        .map(|entry| match entry.trim() {
            "" => Err(EmptyListItem {
                setting,
                value: value.to_owned(),
                separators,
            }),
            entry => Ok(entry.to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_are_unset() {
        assert_eq!(non_empty(Some("  x ")), Some("x"));
        assert_eq!(non_empty(Some(" \n")), None);
        assert_eq!(non_empty(None), None);
        assert_eq!(non_empty_owned(Some(String::new())), None);
    }

    #[test]
    fn list_entries_are_trimmed_and_an_empty_one_names_the_setting() {
        let commas = |v: &str| split_list("SOME_LIST", v, Separators::Commas);
        assert_eq!(commas(" a , b"), Ok(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(commas("  "), Ok(Vec::new()));
        for bad in ["a,,b", "a,", ",a", "a, ,b"] {
            let e = commas(bad).expect_err(bad);
            assert_eq!(e.setting, "SOME_LIST");
            assert!(
                e.to_string().starts_with("`SOME_LIST` has an empty entry"),
                "{e}"
            );
        }
        // Newlines separate only where the setting says so.
        assert_eq!(commas("a\nb"), Ok(vec!["a\nb".to_owned()]));
        let lines = |v: &str| split_list("SOME_LINES", v, Separators::CommasAndNewlines);
        assert_eq!(
            lines("a\r\nb, c\n"),
            Ok(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()])
        );
        assert_eq!(
            lines("a\n\n  \nb"),
            Ok(vec!["a".to_owned(), "b".to_owned()]),
            "blank lines separate nothing"
        );
        let e = lines("a\nb,,c").expect_err("empty entry");
        assert!(e.to_string().contains("single commas or newlines"), "{e}");
    }
}
