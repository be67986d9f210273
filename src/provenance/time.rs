//! Timestamps as Chains writes them: RFC 3339 in UTC with `Z`. SLSA v1.0 uses
//! protobuf JSON's `Timestamp` form (0, 3, 6 or 9 fractional digits); SLSA v0.2 uses
//! Go's `RFC3339Nano` (trailing fractional zeros dropped).

use jiff::Timestamp;

/// Normalise an RFC 3339 timestamp; `Err` is the parser's.
pub fn normalise(input: &str) -> Result<String, jiff::Error> {
    let ts: Timestamp = input.trim().parse()?;
    let nanos = ts.subsec_nanosecond();
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Ok(match nanos {
        0 => format!("{base}Z"),
        n if n % 1_000_000 == 0 => format!("{base}.{:03}Z", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{base}.{:06}Z", n / 1_000),
        n => format!("{base}.{n:09}Z"),
    })
}

/// Normalise as Go's `time.RFC3339Nano` in UTC (SLSA v0.2).
pub fn normalise_nano(input: &str) -> Result<String, jiff::Error> {
    let ts: Timestamp = input.trim().parse()?;
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = format!("{:09}", ts.subsec_nanosecond());
    let frac = frac.trim_end_matches('0');
    Ok(if frac.is_empty() {
        format!("{base}Z")
    } else {
        format!("{base}.{frac}Z")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_utc_with_protobuf_precision() {
        assert_eq!(
            normalise("2021-03-29T09:50:00Z").ok().as_deref(),
            Some("2021-03-29T09:50:00Z")
        );
        assert_eq!(
            normalise("2021-03-29T11:50:00+02:00").ok().as_deref(),
            Some("2021-03-29T09:50:00Z")
        );
        assert_eq!(
            normalise("2021-03-29T09:50:00.5Z").ok().as_deref(),
            Some("2021-03-29T09:50:00.500Z")
        );
        assert_eq!(
            normalise("2021-03-29T09:50:00.1234Z").ok().as_deref(),
            Some("2021-03-29T09:50:00.123400Z")
        );
        assert!(normalise("yesterday").is_err());
        assert_eq!(
            normalise_nano("2021-03-29T09:50:00.500Z").ok().as_deref(),
            Some("2021-03-29T09:50:00.5Z")
        );
        assert_eq!(
            normalise_nano("2021-03-29T11:50:00+02:00").ok().as_deref(),
            Some("2021-03-29T09:50:00Z")
        );
    }
}
