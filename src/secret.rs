//! Secret values (passwords, tokens) that never reach logs, errors or `Debug` output.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

/// A secret string: zeroed on drop, printed as `[redacted]`.
#[derive(Clone, Default)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wrap a secret.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret bytes, for the one place that needs them.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for SecretString {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s.to_owned()))
    }
}

/// Secret bytes read from a file: zeroed on drop, printed as `[redacted]`.
#[derive(Clone, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wrap secret bytes.
    pub fn new(value: Vec<u8>) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret bytes, for the one place that needs them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<SecretString> for SecretBytes {
    fn from(s: SecretString) -> Self {
        Self::new(s.expose().to_vec())
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s: SecretString = "hunter2".parse().unwrap_or_default();
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), b"hunter2");
        let b = SecretBytes::from(s);
        assert_eq!(format!("{b:?}"), "[redacted]");
        assert_eq!(b.expose(), b"hunter2");
    }
}
