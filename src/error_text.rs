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
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
