//! MongoDB storage: Chains' docdb document ([`super::docdb::Document`]) upserted by
//! name into one collection, through the official `mongodb` driver.
//!
//! Two URI forms:
//!
//! * `mongodb://[user:password@]host[:port][,host…]/<db>/<collection>[?options]` (and
//!   `mongodb+srv://`): a standard connection string with the collection appended to
//!   its path;
//! * Chains' `mongo://<db>/<collection>[?id_field=name]`: the server's connection
//!   string comes from elsewhere ([`ServerUrl`]: `MONGO_SERVER_URL`, or in the
//!   controller `storage.docdb.mongo-server-url[-path|-dir]`), read again before every
//!   store so a rotated secret takes effect without a restart.
//!
//! The document id (`_id`) is the storage key, as gocloud's `mongodocstore` writes it
//! with Chains' `id_field=name`. Connection strings carry passwords: they are never
//! printed (`Display` and errors show the hosts, database and collection only).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

pub use super::docdb::ServerUrl;
use super::docdb::{Document, DocumentStore, failed};
use super::{Error, Stored};
use crate::env_vars::EnvVars;
use crate::secret::SecretString;

/// How long the driver may look for a usable server before a store fails.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(10);

impl ServerUrl {
    /// The connection string, or an error naming where it was looked for.
    fn read(&self, target: &str) -> Result<SecretString, Error> {
        let from_file = |path: &PathBuf| {
            std::fs::read_to_string(path)
                .map(|s| SecretString::new(s.trim_end_matches(['\n', '\r']).to_owned()))
                .map_err(|e| {
                    failed(
                        "MongoDB",
                        target,
                        "reading the server's connection string",
                        format!("`{}`: {e}", path.display()),
                    )
                })
        };
        let url = match self {
            Self::Path(p) => from_file(p)?,
            Self::Dir(d) => from_file(&d.join(EnvVars::MONGO_SERVER_URL))?,
            Self::Value(v) => v.clone(),
            Self::Env => match std::env::var(EnvVars::MONGO_SERVER_URL) {
                Ok(v) if !v.is_empty() => SecretString::new(v),
                _ => {
                    return Err(failed(
                        "MongoDB",
                        target,
                        "no server",
                        "`mongo://<db>/<collection>` takes the server's connection string from `MONGO_SERVER_URL` (in the controller also `storage.docdb.mongo-server-url`, `-url-dir` or `-url-path`); set one, or name the server in the URI: `mongodb://<host>/<db>/<collection>`",
                    ));
                }
            },
        };
        if url.expose().is_empty() {
            return Err(failed(
                "MongoDB",
                target,
                "no server",
                "the server's connection string is empty",
            ));
        }
        Ok(url)
    }
}

/// A MongoDB collection.
pub struct MongoStorage {
    /// The URI without credentials, for messages.
    target: String,
    db: String,
    collection: String,
    /// The connection string: in the URI (`Value`), or from elsewhere (`mongo://`).
    server: ServerUrl,
    client: tokio::sync::Mutex<Option<(SecretString, mongodb::Client)>>,
}

impl fmt::Debug for MongoStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MongoStorage")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for MongoStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.target)
    }
}

/// `uri` split at the last `@` after the scheme: the user information (if any) and
/// the rest. The last `@`, so that a password with unescaped `/`, `?` or `,` is still
/// taken whole (and then refused, never printed).
fn userinfo(uri: &str) -> (&str, Option<&str>, &str) {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
    match rest.rfind('@') {
        Some(at) => (scheme, Some(&rest[..at]), &rest[at + 1..]),
        None => (scheme, None, rest),
    }
}

/// Whether a connection-string option holds a secret (a password, a token, AWS
/// session credentials in `authMechanismProperties`, a key file's password).
fn secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "credential",
        "key",
        "authmechanismproperties",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// The secret strings of `uri`: its password and the values of its secret options,
/// raw and percent-decoded, and each `NAME:value` part of a list value.
fn secrets_of(uri: &str) -> Vec<String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut secrets = Vec::new();
    if let Some((_, password)) = userinfo(uri).1.and_then(|u| u.split_once(':')) {
        secrets.push(password.to_owned());
        secrets.push(decode(password));
    }
    let query = uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
    for pair in query.split(['&', ';']) {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        if !secret_option(&decode(key)) {
            continue;
        }
        let decoded = decode(value);
        // `AWS_SESSION_TOKEN:xyz,SERVICE_NAME:svc`: each value on its own too, as
        // written (separators maybe percent-encoded) and decoded.
        let separators_decoded = value
            .replace("%3A", ":")
            .replace("%3a", ":")
            .replace("%2C", ",")
            .replace("%2c", ",");
        for list in [separators_decoded.as_str(), decoded.as_str()] {
            for part in list.split(',') {
                secrets.push(part.split_once(':').map_or(part, |(_, v)| v).to_owned());
            }
        }
        secrets.push(value.to_owned());
        secrets.push(decoded);
    }
    secrets.retain(|s| !s.is_empty());
    // Longest first, so no part of a secret survives a shorter replacement.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// `text` with the secrets of `uri` replaced (see [`secrets_of`]), for driver
/// messages.
fn scrub(text: &str, uri: &str) -> String {
    let mut text = text.to_owned();
    for secret in secrets_of(uri) {
        text = text.replace(&secret, "[redacted]");
    }
    text
}

/// `uri` for messages: no password, no options (their values may be secrets).
fn shown(uri: &str) -> String {
    let uri = crate::secret::without_password(uri);
    match uri.split_once('?') {
        Some((head, _)) => format!("{head}?…"),
        None => uri,
    }
}

fn usage(uri: &str) -> Error {
    failed(
        "MongoDB",
        &shown(uri),
        "bad URI",
        "expected `mongodb://[user:password@]host[:port]/<db>/<collection>[?options]`, `mongodb+srv://…` or Chains' `mongo://<db>/<collection>[?id_field=name]`",
    )
}

/// A database or collection name as MongoDB accepts it.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\', ' ', '"', '$', '\0'])
}

impl MongoStorage {
    /// Storage for `uri`; `server` is where a `mongo://` URI's connection string comes
    /// from ([`ServerUrl::Env`] for `chainseal attest`).
    pub fn new(uri: &str, server: ServerUrl) -> Result<Self, Error> {
        if let Some(rest) = uri.strip_prefix("mongo://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let (db, collection) = path.split_once('/').ok_or_else(|| usage(uri))?;
            for (k, v) in super::query_pairs(query) {
                // Chains names its documents' `Name` the id; nothing else maps onto them.
                if k != "id_field" || !v.eq_ignore_ascii_case("name") {
                    return Err(failed(
                        "MongoDB",
                        &format!("mongo://{path}"),
                        "unsupported option",
                        format!(
                            "`{k}`: the only option of `mongo://` is `id_field=name` (documents are keyed by their `Name`)"
                        ),
                    ));
                }
            }
            if !valid_name(db) || !valid_name(collection) {
                return Err(usage(uri));
            }
            return Ok(Self {
                target: format!("mongo://{db}/{collection}"),
                db: db.to_owned(),
                collection: collection.to_owned(),
                server,
                client: tokio::sync::Mutex::new(None),
            });
        }
        let (scheme, user, rest) = userinfo(uri);
        if !matches!(scheme, "mongodb" | "mongodb+srv") {
            return Err(usage(uri));
        }
        if user.is_some_and(|u| u.contains(['/', '?', '#', '[', ']', '@'])) {
            return Err(failed(
                "MongoDB",
                &shown(uri),
                "bad URI",
                "percent-encode `/ ? # [ ] @ :` in the user name and password",
            ));
        }
        let slash = rest.find('/').ok_or_else(|| usage(uri))?;
        let (hosts, path_query) = rest.split_at(slash);
        let (path, query) = path_query[1..]
            .split_once('?')
            .unwrap_or((&path_query[1..], ""));
        let (db, collection) = path.split_once('/').ok_or_else(|| usage(uri))?;
        let collection = collection.trim_end_matches('/');
        if hosts.is_empty() || hosts.contains('?') || !valid_name(db) || !valid_name(collection) {
            return Err(usage(uri));
        }
        let credentials = user.map(|u| format!("{u}@")).unwrap_or_default();
        let connection = if query.is_empty() {
            format!("{scheme}://{credentials}{hosts}/{db}")
        } else {
            format!("{scheme}://{credentials}{hosts}/{db}?{query}")
        };
        Ok(Self {
            target: format!("{scheme}://{hosts}/{db}/{collection}"),
            db: db.to_owned(),
            collection: collection.to_owned(),
            server: ServerUrl::Value(SecretString::new(connection)),
            client: tokio::sync::Mutex::new(None),
        })
    }

    /// The driver's error `e` while doing `action`, without the password of the
    /// connection string `url`.
    fn driver_error(&self, action: &str, e: &mongodb::error::Error, url: &str) -> Error {
        failed("MongoDB", &self.target, action, scrub(&e.to_string(), url))
    }

    /// A client for the current connection string (made again when it changed), and
    /// that string (to scrub its password from the driver's messages).
    async fn client(&self) -> Result<(mongodb::Client, SecretString), Error> {
        let url = self.server.read(&self.target)?;
        let mut cached = self.client.lock().await;
        if let Some((u, c)) = cached.as_ref()
            && u.expose() == url.expose()
        {
            return Ok((c.clone(), url));
        }
        let text = String::from_utf8_lossy(url.expose()).into_owned();
        let mut options = mongodb::options::ClientOptions::parse(&text)
            .await
            .map_err(|e| self.driver_error("bad connection string", &e, &text))?;
        options.app_name.get_or_insert_with(|| "chainseal".into());
        options
            .server_selection_timeout
            .get_or_insert(SERVER_SELECTION_TIMEOUT);
        options
            .connect_timeout
            .get_or_insert(SERVER_SELECTION_TIMEOUT);
        let client = mongodb::Client::with_options(options)
            .map_err(|e| self.driver_error("configuring the client", &e, &text))?;
        *cached = Some((url.clone(), client.clone()));
        Ok((client, url))
    }
}

/// The BSON form of Chains' document, `_id` = `Name`.
fn to_bson(doc: &Document) -> Result<mongodb::bson::Document, Error> {
    use mongodb::bson::{Binary, Bson, spec::BinarySubtype};
    let object = mongodb::bson::to_bson(&doc.object).map_err(|e| {
        Error::InvalidPayload(format!("the Statement cannot be stored as BSON: {e}"))
    })?;
    Ok(mongodb::bson::doc! {
        "_id": &doc.name,
        "Signed": Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: doc.signed.clone() }),
        "Signature": &doc.signature,
        "Cert": &doc.cert,
        "Chain": &doc.chain,
        "Object": object,
        "Name": &doc.name,
    })
}

#[async_trait]
impl DocumentStore for MongoStorage {
    async fn put(&self, doc: Document) -> Result<Stored, Error> {
        let bson = to_bson(&doc)?;
        let (client, url) = self.client().await?;
        let collection = client
            .database(&self.db)
            .collection::<mongodb::bson::Document>(&self.collection);
        let text = String::from_utf8_lossy(url.expose()).into_owned();
        let result = collection
            .replace_one(mongodb::bson::doc! { "_id": &doc.name }, bson)
            .upsert(true)
            .await
            .map_err(|e| {
                self.driver_error(&format!("upserting document `{}`", doc.name), &e, &text)
            })?;
        Ok(Stored {
            backend: "mongodb",
            location: format!("{}#{}", self.target, doc.name),
            written: result.upserted_id.is_some() || result.modified_count > 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let s = MongoStorage::new(
            "mongodb://u:secret@db1:27017,db2/prov/attestations?replicaSet=rs0",
            ServerUrl::Env,
        )
        .expect("parses");
        assert_eq!(s.to_string(), "mongodb://db1:27017,db2/prov/attestations");
        assert_eq!(
            (s.db.as_str(), s.collection.as_str()),
            ("prov", "attestations")
        );
        match &s.server {
            ServerUrl::Value(u) => assert_eq!(
                u.expose(),
                b"mongodb://u:secret@db1:27017,db2/prov?replicaSet=rs0"
            ),
            other => panic!("server in the URI, not {other:?}"),
        }
        assert!(!format!("{s:?}").contains("secret"));

        let s =
            MongoStorage::new("mongo://chains/att?id_field=name", ServerUrl::Env).expect("parses");
        assert_eq!(s.to_string(), "mongo://chains/att");
        assert!(MongoStorage::new("mongo://chains/att", ServerUrl::Env).is_ok());

        for bad in [
            "mongodb://host/db",
            "mongodb://host",
            "mongodb:///db/coll",
            "mongo://chains",
            "mongo://chains/att?id_field=_id",
            "mongo://chains/att?lowercase_fields=true",
        ] {
            let e = MongoStorage::new(bad, ServerUrl::Env)
                .expect_err("fails")
                .to_string();
            assert!(e.contains("MongoDB"), "{bad}: {e}");
        }
        for bad in [
            "mongodb://u:hunter2@host/db",
            "mongodb://u:hun/ter2@host/db/coll",
            "mongodb://u:hun?ter2@host/db/coll",
            "mongodb://u:hun@ter2@host/db/coll",
        ] {
            let e = MongoStorage::new(bad, ServerUrl::Env)
                .expect_err("fails")
                .to_string();
            assert!(!e.contains("ter2"), "{e}");
        }
    }

    #[test]
    fn scrubs_passwords() {
        assert_eq!(
            scrub("auth failed for u:hunter2", "mongodb://u:hunter2@h/db"),
            "auth failed for u:[redacted]"
        );
        assert_eq!(scrub("x", "mongodb://h/db"), "x");
        assert_eq!(
            scrub("bad p@ss", "mongodb://u:p%40ss@h/db"),
            "bad [redacted]"
        );
    }

    #[test]
    fn scrubs_secrets_in_query_options() {
        let uri = "mongodb://h/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:sess%2Ftok-99,SERVICE_NAME:svc&tlsCertificateKeyFilePassword=tls-pw-77&password=plain-pw-55&appName=chainseal";
        let message = "bad AWS_SESSION_TOKEN:sess/tok-99; AWS_SESSION_TOKEN%3Asess%2Ftok-99; tls-pw-77 plain-pw-55 for chainseal";
        let scrubbed = scrub(message, uri);
        for secret in ["sess/tok-99", "sess%2Ftok-99", "tls-pw-77", "plain-pw-55"] {
            assert!(!scrubbed.contains(secret), "{secret}: {scrubbed}");
        }
        assert!(
            scrubbed.contains("AWS_SESSION_TOKEN:[redacted]"),
            "{scrubbed}"
        );
        // Options that are no secret stay readable.
        assert!(scrubbed.ends_with("for chainseal"), "{scrubbed}");
        // `mongo://` options are refused without echoing a value.
        for bad in [
            "mongo://db/c?password=plain-pw-55",
            "mongodb://h/db?password=plain-pw-55",
            "mongodb://u:x/y@h/db/c?password=plain-pw-55",
        ] {
            let e = MongoStorage::new(bad, ServerUrl::Env)
                .expect_err("refused")
                .to_string();
            assert!(!e.contains("plain-pw-55"), "{e}");
        }
    }
}
