//! Digest strings (`alg:hex`): one parser, with the rules a caller accepts as an
//! explicit [`Rules`] value.
//!
//! * [`Rules::CHAINS`] is Tekton Chains' `ParseDigest` (type hints in run results):
//!   exactly one `:`; the algorithm is trimmed and lower-cased; `sha256` needs 64,
//!   `sha384` 96, `sha512` 128 and `sha1` 40 lower-case hex characters; every other
//!   algorithm is rejected.
//! * [`Rules::SUBJECTS`] is for subjects named by the user (`actions/attest`'s
//!   `subject-digest`): the whole value is trimmed; `sha256` or `sha512` only; hex of
//!   either case, lower-cased.

use thiserror::Error;

use crate::error_text::shown;

/// Why a digest was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigestError {
    /// Not `alg:hex`.
    #[error("`{0}` is not `algorithm:hex`")]
    Shape(String),
    /// An algorithm the rules do not accept.
    #[error("`{digest}` uses an unsupported algorithm (expected {expected})")]
    Algorithm {
        /// The digest.
        digest: String,
        /// The accepted algorithms, for the message.
        expected: &'static str,
    },
    /// Wrong length or non-hex characters.
    #[error("`{digest}`: a {alg} digest is {want} {case}hex characters, found {found}")]
    Hex {
        /// The digest.
        digest: String,
        /// Its algorithm.
        alg: &'static str,
        /// Expected length.
        want: usize,
        /// `lower-case ` when only lower case is accepted, else empty.
        case: &'static str,
        /// What was found: the length, or `other characters`.
        found: String,
    },
}

/// Where whitespace around a digest is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trim {
    /// Around the algorithm only (Chains: `strings.TrimSpace` of the part before `:`).
    Algorithm,
    /// Around the whole value.
    Whole,
}

/// The digests a caller accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Accepted algorithms and their hex lengths.
    algorithms: &'static [(&'static str, usize)],
    /// The same list for messages.
    expected: &'static str,
    /// Whether upper-case hex is accepted (and lower-cased).
    any_case: bool,
    /// Where whitespace is ignored.
    trim: Trim,
}

impl Rules {
    /// Tekton Chains' `ParseDigest`, for type hints in run results.
    pub const CHAINS: Rules = Rules {
        algorithms: &[
            ("sha256", 64),
            ("sha384", 96),
            ("sha512", 128),
            ("sha1", 40),
        ],
        expected: "sha256, sha384, sha512 or sha1",
        any_case: false,
        trim: Trim::Algorithm,
    };

    /// Subjects named by the user: sha256 or sha512, hex of either case.
    pub const SUBJECTS: Rules = Rules {
        algorithms: &[("sha256", 64), ("sha512", 128)],
        expected: "sha256 or sha512",
        any_case: true,
        trim: Trim::Whole,
    };
}

/// Parse and validate `alg:hex` under `rules`, returning the algorithm and the
/// lower-case hex.
pub fn parse_digest(s: &str, rules: Rules) -> Result<(&'static str, String), DigestError> {
    let digest = match rules.trim {
        Trim::Whole => s.trim(),
        Trim::Algorithm => s,
    };
    let mut parts = digest.split(':');
    let (Some(alg), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(DigestError::Shape(shown(digest)));
    };
    let alg = match rules.trim {
        Trim::Algorithm => alg.trim(),
        Trim::Whole => alg,
    }
    .to_ascii_lowercase();
    let Some(&(alg, want)) = rules.algorithms.iter().find(|(name, _)| *name == alg) else {
        return Err(DigestError::Algorithm {
            digest: shown(digest),
            expected: rules.expected,
        });
    };
    let hex_digit = |b: u8| match rules.any_case {
        true => b.is_ascii_hexdigit(),
        false => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
    };
    let found = if hex.len() != want {
        Some(hex.len().to_string())
    } else if !hex.bytes().all(hex_digit) {
        Some("other characters".to_owned())
    } else {
        None
    };
    if let Some(found) = found {
        return Err(DigestError::Hex {
            digest: shown(digest),
            alg,
            want,
            case: if rules.any_case { "" } else { "lower-case " },
            found,
        });
    }
    Ok((alg, hex.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_rules_accept_known_algorithms_with_the_right_length() {
        let h64 = "a".repeat(64);
        assert_eq!(
            parse_digest(&format!(" SHA256:{h64}"), Rules::CHAINS),
            Ok(("sha256", h64.clone()))
        );
        assert!(parse_digest(&format!("sha384:{}", "0".repeat(96)), Rules::CHAINS).is_ok());
        assert!(parse_digest(&format!("sha512:{}", "f".repeat(128)), Rules::CHAINS).is_ok());
        assert!(parse_digest(&format!("sha1:{}", "1".repeat(40)), Rules::CHAINS).is_ok());
        assert!(parse_digest(&format!("sha256 :{h64}"), Rules::CHAINS).is_ok());
    }

    #[test]
    fn chains_rules_reject_bad_shapes_lengths_case_and_algorithms() {
        let chains = |s: &str| parse_digest(s, Rules::CHAINS);
        assert!(matches!(chains("abc"), Err(DigestError::Shape(_))));
        assert!(matches!(chains("a:b:c"), Err(DigestError::Shape(_))));
        assert!(matches!(
            chains("md5:abc"),
            Err(DigestError::Algorithm { .. })
        ));
        assert!(matches!(chains("sha256:abc"), Err(DigestError::Hex { .. })));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(matches!(chains(&upper), Err(DigestError::Hex { .. })));
        // The value itself is not trimmed, only the algorithm.
        assert!(chains(&format!("sha256:{} ", "a".repeat(64))).is_err());
    }

    #[test]
    fn subject_rules_take_either_case_and_sha256_or_sha512_only() {
        let subjects = |s: &str| parse_digest(s, Rules::SUBJECTS);
        let h64 = "A".repeat(64);
        assert_eq!(
            subjects(&format!(" sha256:{h64} ")),
            Ok(("sha256", h64.to_ascii_lowercase()))
        );
        assert!(subjects(&format!("SHA512:{}", "b".repeat(128))).is_ok());
        for bad in [
            format!("sha1:{}", "1".repeat(40)),
            format!("sha384:{}", "0".repeat(96)),
            format!("sha256 :{}", "a".repeat(64)),
            format!("sha256:{}g", "a".repeat(63)),
            "sha256:abcd".to_owned(),
        ] {
            assert!(subjects(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            subjects("sha256:abcd").map_err(|e| e.to_string()),
            Err("`sha256:abcd`: a sha256 digest is 64 hex characters, found 4".to_owned())
        );
    }
}
