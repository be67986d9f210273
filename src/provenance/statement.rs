//! in-toto Statement v1 and ResourceDescriptor (in-toto/attestation `spec/v1`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// A digest set: algorithm → lower-case hex.
pub type DigestSet = BTreeMap<String, String>;

/// An in-toto Statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Statement type URI.
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts the statement is about (omitted when empty, as Chains does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject: Vec<ResourceDescriptor>,
    /// Predicate type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate, with object keys sorted (as Chains' protobuf `Struct` writes them).
    pub predicate: Value,
}

/// An in-toto ResourceDescriptor; empty fields are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// URI.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// Digests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: DigestSet,
    /// Content, standard base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// Download location.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub download_location: String,
    /// Media type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
}

impl Statement {
    /// The exact payload bytes: compact JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A Statement holds only strings, maps and JSON values: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Sort every object's keys recursively (Chains' predicates come out sorted because
/// they pass through a protobuf `Struct`). A no-op unless some dependency turns on
/// serde_json's `preserve_order`; kept so our bytes never depend on that.
pub fn sorted(mut value: Value) -> Value {
    value.sort_all_objects();
    value
}

/// Chains' merge rule for subjects (`AppendSubjects`): an item with the same name as
/// an earlier one and at least one identical `algorithm → hex` pair is merged into
/// it (its digests added) instead of appended. Order of first appearance is kept.
pub fn append_subject(list: &mut Vec<ResourceDescriptor>, item: ResourceDescriptor) {
    append_merged_by(list, item, |d| &d.name);
}

/// The same rule for materials (`AppendMaterials`), keyed on the URI.
pub fn append_material(list: &mut Vec<ResourceDescriptor>, item: ResourceDescriptor) {
    append_merged_by(list, item, |d| &d.uri);
}

fn append_merged_by(
    list: &mut Vec<ResourceDescriptor>,
    item: ResourceDescriptor,
    key: fn(&ResourceDescriptor) -> &String,
) {
    let same = list.iter_mut().find(|existing| {
        key(existing) == key(&item)
            && item
                .digest
                .iter()
                .any(|(alg, hex)| existing.digest.get(alg) == Some(hex))
    });
    match same {
        Some(existing) => existing.digest.extend(item.digest),
        None => list.push(item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(name: &str, digests: &[(&str, &str)]) -> ResourceDescriptor {
        ResourceDescriptor {
            name: name.into(),
            digest: digests
                .iter()
                .map(|(a, h)| ((*a).to_owned(), (*h).to_owned()))
                .collect(),
            ..ResourceDescriptor::default()
        }
    }

    #[test]
    fn merge_rule_needs_same_name_and_a_shared_digest() {
        let mut list = vec![rd("a", &[("sha256", "1")])];
        append_subject(&mut list, rd("a", &[("sha256", "1"), ("sha512", "2")]));
        append_subject(&mut list, rd("a", &[("sha256", "9")]));
        append_subject(&mut list, rd("b", &[("sha256", "1")]));
        assert_eq!(
            list,
            vec![
                rd("a", &[("sha256", "1"), ("sha512", "2")]),
                rd("a", &[("sha256", "9")]),
                rd("b", &[("sha256", "1")])
            ]
        );
    }

    #[test]
    fn sorted_orders_keys_recursively() {
        let v: Value =
            serde_json::from_str(r#"{"b":{"z":1,"a":[{"y":1,"x":2}]},"a":0}"#).unwrap_or_default();
        assert_eq!(
            serde_json::to_string(&sorted(v)).unwrap_or_default(),
            r#"{"a":0,"b":{"a":[{"x":2,"y":1}],"z":1}}"#
        );
    }
}
