//! Error chains as one line of text, for messages that quote a library's error.

/// `e` and its causes joined with `: `, each cause left out when the text so far
/// already says it (many errors quote their cause).
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
