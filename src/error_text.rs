//! Error chains as one line of text, for messages that quote a library's error.

/// `e` and its causes joined with `: ` (how the binary prints an error), each cause
/// left out when the text so far already says it: chainseal's own messages do not
/// repeat their `#[source]`, but some libraries' errors (and messages that quote one)
/// do.
pub fn joined(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let line = err.to_string();
        if !parts.iter().any(|p| p.contains(&line)) {
            parts.push(line);
        }
        next = err.source();
    }
    parts.join(": ")
}

/// An AWS SDK error as one line: the service's error code and message when it
/// answered, else the cause chain (connection refused, timeout, no credentials) — not
/// the raw response the SDK's `Display` shows.
#[cfg(feature = "aws")]
pub fn aws<E, R>(e: &aws_sdk_kms::error::SdkError<E, R>) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_kms::error::ProvideErrorMetadata as _;
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
    }
}

/// At most 200 characters of something an untrusted source said (an attestation, a
/// run's results, a file a job names), for messages, with control characters escaped:
/// a value cannot forge lines of a report, a log or a CI workflow command.
pub fn shown(text: &str) -> String {
    const MAX: usize = 200;
    let mut out = escaped(text.chars().take(MAX));
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// All of `text`, control characters escaped: for a report that prints what a
/// verified attestation says (its signer vouches for it, not for its bytes being safe
/// to print on a terminal or in a CI log).
pub fn escaped(text: impl IntoIterator<Item = char>) -> String {
    let mut out = String::new();
    for c in text {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        assert_eq!(escaped("a\u{1b}[2J\nb".chars()), "a\\u{1b}[2J\\nb");
        assert_eq!(shown("ok"), "ok");
        let long = "x".repeat(201);
        assert_eq!(shown(&long), format!("{}…", "x".repeat(200)));
        assert_eq!(shown(&"y".repeat(200)), "y".repeat(200));
    }
}
