//! DynamoDB storage: Chains' docdb document ([`super::docdb::Document`]) put into one
//! table, replacing the item with the same key, as gocloud's `awsdynamodb` does for
//! Chains' `dynamodb://<table>?partition_key=…`.
//!
//! Attributes keep Chains' names: `Name` (S), `Signed` (B), `Signature`, `Cert`,
//! `Chain` (S) and `Object` (M, the Statement). The table's partition key is
//! `partition_key` (default `Name`); when it is another attribute, that attribute
//! holds the storage key too. Credentials, region and endpoint come from the AWS
//! chain (`AWS_*` variables, web identity, instance metadata;
//! `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` for another endpoint).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::Value;

use super::docdb::{Document, DocumentStore, failed};
use super::{Error, Stored};
use super::{query_pairs, query_param};
use crate::error_kind::{Kind, Reply};

/// The attributes of Chains' document.
const FIELDS: [&str; 6] = ["Name", "Signed", "Signature", "Cert", "Chain", "Object"];

/// A DynamoDB table.
pub struct DynamoDbStorage {
    table: String,
    partition_key: String,
    client: tokio::sync::OnceCell<aws_sdk_dynamodb::Client>,
}

impl fmt::Debug for DynamoDbStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbStorage")
            .field("table", &self.table)
            .field("partition_key", &self.partition_key)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for DynamoDbStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dynamodb://{}", self.table)
    }
}

impl DynamoDbStorage {
    /// Storage for `dynamodb://<table>[?partition_key=<attribute>]`.
    pub fn new(uri: &str) -> Result<Self, Error> {
        let usage = |why: &str| {
            failed(
                "DynamoDB",
                uri,
                why,
                "expected `dynamodb://<table>[?partition_key=<attribute>]`",
            )
        };
        let rest = uri
            .strip_prefix("dynamodb://")
            .ok_or_else(|| usage("bad URI"))?;
        let (table, query) = rest.split_once('?').unwrap_or((rest, ""));
        let table = table.trim_end_matches('/');
        // DynamoDB's own rule for table names.
        if table.len() < 3
            || table.len() > 255
            || !table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(usage("bad table name"));
        }
        for (k, v) in query_pairs(query) {
            if k != "partition_key" || v.is_empty() {
                return Err(failed(
                    "DynamoDB",
                    uri,
                    "unsupported option",
                    format!(
                        "`{k}={v}`: the only option is `partition_key=<attribute>` (a table keyed by the storage key alone; no sort key)"
                    ),
                ));
            }
        }
        let partition_key = query_param(query, "partition_key").unwrap_or("Name");
        if FIELDS.contains(&partition_key) && partition_key != "Name" {
            return Err(failed(
                "DynamoDB",
                uri,
                "unsupported option",
                format!(
                    "`partition_key={partition_key}` names a field of Chains' document; key the table by `Name` (or another attribute)"
                ),
            ));
        }
        Ok(Self {
            table: table.to_owned(),
            partition_key: partition_key.to_owned(),
            client: tokio::sync::OnceCell::new(),
        })
    }

    async fn client(&self) -> Result<&aws_sdk_dynamodb::Client, Error> {
        self.client
            .get_or_try_init(|| async {
                let config = crate::cloud::aws::sdk_config(Duration::from_secs(30), None).await;
                if config.region().is_none() {
                    return Err(failed(
                        "DynamoDB",
                        &self.to_string(),
                        "no AWS region",
                        "set `AWS_REGION` to the table's region",
                    ));
                }
                Ok(aws_sdk_dynamodb::Client::new(&config))
            })
            .await
    }

    /// The item for `doc`.
    fn item(&self, doc: &Document) -> HashMap<String, AttributeValue> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let mut item = HashMap::from([
            ("Name".to_owned(), s(&doc.name)),
            (
                "Signed".to_owned(),
                AttributeValue::B(Blob::new(doc.signed.clone())),
            ),
            ("Signature".to_owned(), s(&doc.signature)),
            ("Cert".to_owned(), s(&doc.cert)),
            ("Chain".to_owned(), s(&doc.chain)),
            ("Object".to_owned(), attribute(&doc.object)),
        ]);
        item.insert(self.partition_key.clone(), s(&doc.name));
        item
    }
}

/// A JSON value as a DynamoDB attribute value (numbers keep their text).
fn attribute(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(attribute).collect()),
        Value::Object(o) => {
            AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), attribute(v))).collect())
        }
    }
}

/// DynamoDB's item size limit.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// An item's size as DynamoDB counts it (attribute names and values; a few bytes of
/// overhead per nested value), closely enough to tell an item over the limit.
fn item_bytes(item: &HashMap<String, AttributeValue>) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| 1 + k.len() + value(v)).sum::<usize>()
            }
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

/// What to check, by kind; `too_large`: the item is over DynamoDB's size limit.
fn hint(kind: Kind, too_large: bool) -> &'static str {
    match kind {
        Kind::NotFound => {
            " (create the table, keyed by a string partition key, or fix its name and `AWS_REGION`)"
        }
        Kind::Invalid if too_large => {
            " (DynamoDB items are limited to 400 KB; store large attestations in a bucket or registry)"
        }
        Kind::PermissionDenied => {
            " (check the AWS credentials and their dynamodb:PutItem permission on the table)"
        }
        Kind::Unauthenticated => {
            " (set AWS credentials: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, web identity or instance metadata)"
        }
        _ => "",
    }
}

#[async_trait]
impl DocumentStore for DynamoDbStorage {
    async fn put(&self, doc: Document) -> Result<Stored, Error> {
        let attributes = self.item(&doc);
        let client = self.client().await?;
        let out = client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attributes.clone()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| {
                let kind = Kind::from_aws(&e);
                let too_large = item_bytes(&attributes) > MAX_ITEM_BYTES;
                super::failed_by(
                    "DynamoDB",
                    &self.to_string(),
                    format!("putting item `{}`{}", doc.name, hint(kind, too_large)),
                    kind,
                    Reply(crate::error_text::aws(&e)),
                )
            })?;
        Ok(Stored {
            backend: "dynamodb",
            location: format!("dynamodb://{}#{}", self.table, doc.name),
            // DynamoDB may normalise numbers in `Object`; the signed bytes say it all.
            written: ["Signed", "Signature", "Cert", "Chain"]
                .iter()
                .any(|k| out.attributes().and_then(|old| old.get(*k)) != attributes.get(*k)),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_choose_the_hints() {
        use super::{Kind, hint};
        let kind = crate::error_kind::aws_code_kind(Some("ResourceNotFoundException"));
        assert!(hint(kind.expect("known"), false).contains("create the table"));
        let kind = crate::error_kind::aws_code_kind(Some("ValidationException"));
        assert!(hint(kind.expect("known"), true).contains("400 KB"));
        assert_eq!(hint(Kind::Invalid, false), "");
        let kind = crate::error_kind::aws_code_kind(Some("UnrecognizedClientException"));
        assert_eq!(kind, Some(Kind::Unauthenticated));
        let kind = crate::error_kind::aws_code_kind(Some("AccessDeniedException"));
        assert!(hint(kind.expect("known"), false).contains("dynamodb:PutItem"));
    }

    #[test]
    fn item_sizes_count_names_and_values() {
        use aws_sdk_dynamodb::types::AttributeValue;
        let item = std::collections::HashMap::from([
            ("Name".to_owned(), AttributeValue::S("abc".into())),
            (
                "Object".to_owned(),
                AttributeValue::M(std::collections::HashMap::from([(
                    "k".to_owned(),
                    AttributeValue::S("x".repeat(500 * 1024)),
                )])),
            ),
        ]);
        assert!(super::item_bytes(&item) > super::MAX_ITEM_BYTES);
    }

    use super::*;

    #[test]
    fn uris() {
        let s = DynamoDbStorage::new("dynamodb://chains-prov").expect("parses");
        assert_eq!(s.partition_key, "Name");
        assert_eq!(s.to_string(), "dynamodb://chains-prov");
        let s = DynamoDbStorage::new("dynamodb://chains?partition_key=name").expect("parses");
        assert_eq!(s.partition_key, "name");
        for bad in [
            "dynamodb://",
            "dynamodb://ab",
            "dynamodb://a/b/c",
            "dynamodb://t123?sort_key=x",
            "dynamodb://t123?partition_key=",
            "dynamodb://t123?partition_key=Signature",
        ] {
            assert!(DynamoDbStorage::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_attributes() {
        let v = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {}});
        let AttributeValue::M(m) = attribute(&v) else {
            panic!("a map")
        };
        assert_eq!(
            m["a"],
            AttributeValue::L(vec![
                AttributeValue::N("1".into()),
                AttributeValue::N("2.5".into()),
                AttributeValue::S("x".into()),
                AttributeValue::Null(true),
                AttributeValue::Bool(true),
            ])
        );
        assert_eq!(m["b"], AttributeValue::M(HashMap::new()));
    }
}
