//! Digest strings (`alg:hex`) as Tekton Chains validates them (`ParseDigest`).
//!
//! Exactly one `:`; the algorithm is trimmed and lower-cased; `sha256` needs 64,
//! `sha384` 96 and `sha512` 128 lower-case hex characters; `sha1` needs 40; every
//! other algorithm is rejected.

use thiserror::Error;

/// Why a digest was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigestError {
    /// Not `alg:hex`.
    #[error("`{0}` is not `algorithm:hex`")]
    Shape(String),
    /// An algorithm other than sha1/sha256/sha384/sha512.
    #[error("`{0}` uses an unsupported algorithm (expected sha256, sha384, sha512 or sha1)")]
    Algorithm(String),
    /// Wrong length or non-hex characters.
    #[error("`{digest}` is not a valid {alg} digest ({want} lower-case hex characters)")]
    Hex {
        /// The digest.
        digest: String,
        /// Its algorithm.
        alg: String,
        /// Expected length.
        want: usize,
    },
}

/// Parse and validate `alg:hex`, returning `(alg, hex)`.
pub fn parse_digest(s: &str) -> Result<(String, String), DigestError> {
    let mut parts = s.split(':');
    let (Some(alg), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(DigestError::Shape(s.to_owned()));
    };
    let alg = alg.trim().to_ascii_lowercase();
    let want = match alg.as_str() {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        "sha1" => 40,
        _ => return Err(DigestError::Algorithm(s.to_owned())),
    };
    if hex.len() != want || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(DigestError::Hex {
            digest: s.to_owned(),
            alg,
            want,
        });
    }
    Ok((alg, hex.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_algorithms_with_the_right_length() {
        let h64 = "a".repeat(64);
        assert_eq!(
            parse_digest(&format!(" SHA256:{h64}")),
            Ok(("sha256".into(), h64.clone()))
        );
        assert!(parse_digest(&format!("sha384:{}", "0".repeat(96))).is_ok());
        assert!(parse_digest(&format!("sha512:{}", "f".repeat(128))).is_ok());
        assert!(parse_digest(&format!("sha1:{}", "1".repeat(40))).is_ok());
    }

    #[test]
    fn rejects_bad_shapes_lengths_case_and_algorithms() {
        assert!(matches!(parse_digest("abc"), Err(DigestError::Shape(_))));
        assert!(matches!(parse_digest("a:b:c"), Err(DigestError::Shape(_))));
        assert!(matches!(
            parse_digest("md5:abc"),
            Err(DigestError::Algorithm(_))
        ));
        assert!(matches!(
            parse_digest("sha256:abc"),
            Err(DigestError::Hex { .. })
        ));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(matches!(parse_digest(&upper), Err(DigestError::Hex { .. })));
    }
}
