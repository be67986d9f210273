//! `validFor` windows of Sigstore's trust files (TrustedRoot, SigningConfig): a
//! `{start, end}` object of RFC 3339 times, either bound open when absent.

use serde_json::Value;
use thiserror::Error;

/// Why a `validFor` is malformed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WindowError {
    /// A `validFor` that is not an object.
    #[error("{what} validFor is not an object with `start` and `end`")]
    NotObject {
        /// Whose window.
        what: String,
    },
    /// A `validFor` bound that is not an RFC 3339 time.
    #[error("{what} validFor.{bound} is not an RFC 3339 time")]
    Time {
        /// Whose window.
        what: String,
        /// `start` or `end`.
        bound: &'static str,
        /// Cause.
        #[source]
        source: jiff::Error,
    },
    /// A `validFor` bound that is not a string.
    #[error("{what} validFor.{bound} is not a string")]
    NotString {
        /// Whose window.
        what: String,
        /// `start` or `end`.
        bound: &'static str,
    },
}

/// A `validFor` window of the trusted root, in Unix seconds; open where absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// The first second it is valid, if bounded.
    pub start: Option<i64>,
    /// The last second it is valid, if bounded.
    pub end: Option<i64>,
}

impl Window {
    /// Parse a `validFor` object (`{start, end}`, RFC 3339); absent is always valid.
    pub fn parse(v: &Value, what: &str) -> Result<Self, WindowError> {
        if !(v.is_null() || v.is_object()) {
            return Err(WindowError::NotObject {
                what: what.to_owned(),
            });
        }
        let at = |bound: &'static str| -> Result<Option<i64>, WindowError> {
            match &v[bound] {
                Value::Null => Ok(None),
                Value::String(text) => text
                    .parse::<jiff::Timestamp>()
                    .map(|t| Some(t.as_second()))
                    .map_err(|source| WindowError::Time {
                        what: what.to_owned(),
                        bound,
                        source,
                    }),
                _ => Err(WindowError::NotString {
                    what: what.to_owned(),
                    bound,
                }),
            }
        };
        Ok(Self {
            start: at("start")?,
            end: at("end")?,
        })
    }

    /// Whether `at` (Unix seconds) is inside the window.
    pub fn contains(&self, at: i64) -> bool {
        self.start.is_none_or(|s| s <= at) && self.end.is_none_or(|e| at <= e)
    }

    /// The window, for messages.
    pub fn describe(&self) -> String {
        let show = |t: Option<i64>| {
            t.and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map_or_else(|| "(open)".to_owned(), |t| t.to_string())
        };
        format!("validFor {} to {}", show(self.start), show(self.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_valid_for() {
        let w = Window::parse(
            &serde_json::json!({"start": "2024-01-01T00:00:00Z", "end": "2024-02-01T00:00:00.5Z"}),
            "a CA's",
        )
        .expect("window");
        let jan = 1_704_067_200; // 2024-01-01T00:00:00Z
        assert!(!w.contains(jan - 1));
        assert!(w.contains(jan) && w.contains(jan + 86_400));
        assert!(!w.contains(jan + 32 * 86_400));
        assert_eq!(
            w.describe(),
            "validFor 2024-01-01T00:00:00Z to 2024-02-01T00:00:00Z"
        );
        let open = Window::parse(&Value::Null, "a CA's").expect("absent");
        assert!(open.contains(0) && open.contains(i64::MAX));
        let start_only = Window::parse(&serde_json::json!({"start": "2024-01-01T00:00:00Z"}), "x")
            .expect("start only");
        assert!(start_only.contains(jan + 10 * 365 * 86_400) && !start_only.contains(jan - 1));
        assert!(matches!(
            Window::parse(&serde_json::json!({"start": "yesterday"}), "x"),
            Err(WindowError::Time { bound: "start", .. })
        ));
        assert!(matches!(
            Window::parse(&serde_json::json!({"end": 5}), "x"),
            Err(WindowError::NotString { bound: "end", .. })
        ));
        // A window that is not an object is malformed, not open.
        for odd in [
            serde_json::json!("2024-01-01T00:00:00Z"),
            serde_json::json!(["2024-01-01T00:00:00Z"]),
            serde_json::json!(0),
        ] {
            let e = Window::parse(&odd, "a CA's").expect_err("malformed validFor");
            assert!(
                matches!(&e, WindowError::NotObject { what } if what == "a CA's"),
                "{e}"
            );
        }
    }
}
