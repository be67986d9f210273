//! JSON text exactly as Go's `encoding/json` writes Tekton values, for byproduct
//! `content` (Chains base64-encodes `json.Marshal(v1.ParamValue)`).
//!
//! Go escapes `<`, `>`, `&`, U+2028 and U+2029 as `\u003c`-style sequences, uses the
//! short escapes `\n \r \t \b \f`, and `\u00XX` for other control characters; object
//! keys are sorted bytewise.

use crate::record::tekton::hints::ParamValue;

/// Go's JSON encoding of a Tekton parameter/result value.
pub fn param_value(value: &ParamValue) -> String {
    let mut out = String::new();
    match value {
        ParamValue::String(s) => quote(s, &mut out),
        ParamValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(item, &mut out);
            }
            out.push(']');
        }
        ParamValue::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(k, &mut out);
                out.push(':');
                quote(v, &mut out);
            }
            out.push('}');
        }
    }
    out
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn matches_go_encoding() {
        assert_eq!(
            param_value(&ParamValue::String("result-value".into())),
            "\"result-value\""
        );
        assert_eq!(
            param_value(&ParamValue::String("<a&b>\n\u{1}/\u{2028}".into())),
            r#""\u003ca\u0026b\u003e\n\u0001/\u2028""#
        );
        assert_eq!(param_value(&ParamValue::Array(vec![])), "[]");
        assert_eq!(
            param_value(&ParamValue::Object(BTreeMap::from([
                ("uri".to_owned(), "u".to_owned()),
                ("digest".to_owned(), "d".to_owned())
            ]))),
            r#"{"digest":"d","uri":"u"}"#
        );
    }
}
