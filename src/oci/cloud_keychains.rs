//! Registry credentials from the cloud identity chainseal runs with, for the clouds'
//! own registries, as Tekton Chains' k8schain and cosign find them: tried when no
//! pull secret or docker configuration has credentials for the registry, before
//! anonymous access.
//!
//! * **ECR** (`<account>.dkr.ecr.<region>.amazonaws.com` and its FIPS, dual-stack,
//!   China and isolated-partition forms): `GetAuthorizationToken` in the registry's
//!   region with the AWS SDK's credential chain (`AWS_*`, IRSA / Pod Identity, the
//!   instance role); the token decodes to `AWS:<password>`.
//! * **Google** (`gcr.io`, `*.gcr.io`, `*.pkg.dev`): an access token from Application
//!   Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, workload identity, the
//!   metadata server) as the password of `oauth2accesstoken`.
//! * **ACR** (`*.azurecr.io`): an Entra ID token for the registry audience
//!   (`https://containerregistry.azure.net/.default`) from
//!   [`crate::cloud::azure::credential`]'s chain, exchanged at the registry's
//!   `/oauth2/exchange` for an ACR refresh token, the password of the all-zero user.
//!
//! `CHAINSEAL_REGISTRY_KEYCHAINS` chooses which are on (default all; `none`). A
//! keychain that finds no identity, or whose cloud refuses, leaves the registry
//! anonymous and says why in the credentials' source (which a refusal's error
//! names). Credentials are shared by every client of the process (the controller's
//! per-ServiceAccount clients included: the identity is the process's own), kept at
//! most [`FRESH_FOR`] (less when they expire sooner) and fetched again at once after a
//! refusal; a keychain that found nothing is asked again after [`MISS_FOR`]. Each
//! lookup is bounded by [`LOOKUP_TIMEOUT`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use oci_client::secrets::RegistryAuth;

use super::auth::Found;
use super::transport::Transport;

/// The most time one keychain lookup may take (a cloud's metadata endpoint that is
/// not there must not hold a push up for long).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long cloud credentials are used before they are fetched again.
pub const FRESH_FOR: Duration = Duration::from_secs(600);
/// How long a keychain that found nothing is not asked again.
pub const MISS_FOR: Duration = Duration::from_secs(60);
/// Credentials this close to their expiry are not kept.
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);
/// How many registries' credentials are remembered.
const MAX_REMEMBERED: usize = 256;

/// The user name ACR refresh tokens go with.
const ACR_USER: &str = "00000000-0000-0000-0000-000000000000";
/// The Entra ID scope of ACR's own audience (accepted by every registry; the ARM
/// audience may be turned off by policy).
pub const ACR_SCOPE: &str = "https://containerregistry.azure.net/.default";
/// The Google scope of registry access tokens.
const GOOGLE_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The keychains (`CHAINSEAL_REGISTRY_KEYCHAINS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cloud {
    /// Amazon ECR.
    Ecr,
    /// Google Artifact Registry and Container Registry.
    Google,
    /// Azure Container Registry.
    Acr,
}

impl Cloud {
    /// Every keychain, in the order of `CHAINSEAL_REGISTRY_KEYCHAINS`' default.
    pub const ALL: [Cloud; 3] = [Cloud::Ecr, Cloud::Google, Cloud::Acr];

    /// The setting's word for it.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Ecr => "ecr",
            Cloud::Google => "google",
            Cloud::Acr => "acr",
        }
    }

    /// How messages name it.
    fn keychain(self) -> &'static str {
        match self {
            Cloud::Ecr => "the ECR keychain (AWS credentials)",
            Cloud::Google => "the Google keychain (Application Default Credentials)",
            Cloud::Acr => "the ACR keychain (Azure identity)",
        }
    }
}

/// A `CHAINSEAL_REGISTRY_KEYCHAINS` that names something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`CHAINSEAL_REGISTRY_KEYCHAINS` names `{}`: use a comma-separated list of ecr, google, acr, or none",
    crate::error_text::shown(.0)
)]
pub struct UnknownKeychain(pub String);

/// The keychains `value` turns on: a comma-separated list of `ecr`, `google`, `acr`;
/// `none` (or empty) for none.
pub fn parse(value: &str) -> Result<Vec<Cloud>, UnknownKeychain> {
    let mut on = Vec::new();
    for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word.eq_ignore_ascii_case("none") {
            continue;
        }
        let cloud = Cloud::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(word))
            .ok_or_else(|| UnknownKeychain(word.to_owned()))?;
        if !on.contains(&cloud) {
            on.push(cloud);
        }
    }
    Ok(on)
}

/// The cloud registry `registry` (a host, perhaps with a port) is, and for ECR its
/// region.
pub fn cloud_of(registry: &str) -> Option<(Cloud, Option<String>)> {
    let host = host_of(registry).to_ascii_lowercase();
    if let Some(region) = ecr_region(&host) {
        return Some((Cloud::Ecr, Some(region)));
    }
    if host == "gcr.io" || host.ends_with(".gcr.io") || host.ends_with(".pkg.dev") {
        return Some((Cloud::Google, None));
    }
    if host.ends_with(".azurecr.io") && host.len() > ".azurecr.io".len() {
        return Some((Cloud::Acr, None));
    }
    None
}

/// The region of an ECR registry host: `<12 digits>.dkr.ecr[-fips].<region>.<domain>`
/// or `<12 digits>.dkr-ecr[-fips].<region>.<domain>` (dual-stack), with the domains of
/// AWS's partitions (as amazon-ecr-credential-helper matches them).
fn ecr_region(host: &str) -> Option<String> {
    const DOMAINS: [&str; 8] = [
        "amazonaws.com",
        "amazonaws.com.cn",
        "on.aws",
        "on.amazonwebservices.com.cn",
        "sc2s.sgov.gov",
        "c2s.ic.gov",
        "cloud.adc-e.uk",
        "csp.hci.ic.gov",
    ];
    let (account, rest) = host.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = ["dkr.ecr.", "dkr.ecr-fips.", "dkr-ecr.", "dkr-ecr-fips."]
        .iter()
        .find_map(|prefix| rest.strip_prefix(prefix))?;
    let (region, domain) = rest.split_once('.')?;
    let region_ok = !region.is_empty()
        && region.starts_with(|c: char| c.is_ascii_alphanumeric())
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (region_ok && DOMAINS.contains(&domain)).then(|| region.to_owned())
}

/// Credentials a keychain gave, with how long they may be used.
struct Fetched {
    auth: RegistryAuth,
    /// When they expire, when the cloud says.
    expires_in: Option<Duration>,
}

/// Why a keychain gave nothing.
enum Miss {
    /// No identity, or the cloud refused it: asked again after [`MISS_FOR`].
    NoIdentity(String),
    /// A timeout, a throttle, a server error: asked again at the next request.
    Transient(String),
}

impl Miss {
    fn reason(&self) -> &str {
        match self {
            Miss::NoIdentity(r) | Miss::Transient(r) => r,
        }
    }
}

/// What is remembered of one cloud credential.
struct Remembered {
    found: Found,
    /// When its fetch ended.
    at: Instant,
    /// Fetched anew after a refusal (not from credentials the cloud SDK cached).
    forced: bool,
    until: Instant,
    /// The keychain found nothing (asked again only after [`MISS_FOR`]).
    miss: bool,
}

/// The cloud keychains of one process.
pub struct CloudKeychains {
    on: Vec<Cloud>,
    /// By [`cache_key`]: one ECR token per region, one Google token, one ACR refresh
    /// token per registry.
    remembered: tokio::sync::Mutex<HashMap<String, Remembered>>,
    /// One fetch per [`cache_key`] at a time: the clients of the process asking
    /// meanwhile (every run ServiceAccount's) get what it fetched.
    fetching: super::Locks,
    /// The AWS SDK's configuration, loaded once (its credential chain caches).
    #[cfg(feature = "aws")]
    aws: tokio::sync::OnceCell<aws_config::SdkConfig>,
    /// Google's credentials (they keep their token and renew it before it expires);
    /// made again after a refusal, so a revoked token is not offered twice.
    #[cfg(feature = "gcp")]
    google: tokio::sync::Mutex<Option<google_cloud_auth::credentials::AccessTokenCredentials>>,
    /// Azure's credential, made once (it caches its tokens).
    #[cfg(feature = "azure")]
    azure: tokio::sync::OnceCell<(
        std::sync::Arc<dyn azure_core::credentials::TokenCredential>,
        &'static str,
    )>,
}

impl std::fmt::Debug for CloudKeychains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudKeychains")
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

/// What a registry's credentials are remembered by: an ECR token serves every
/// registry of its region, a Google token every registry, an ACR refresh token its
/// own registry (so runs naming many hosts cost one fetch per region, not per host).
fn cache_key(cloud: Cloud, region: Option<&str>, registry: &str) -> String {
    match cloud {
        Cloud::Ecr => format!("ecr {}", region.unwrap_or_default()),
        Cloud::Google => "google".to_owned(),
        Cloud::Acr => format!("acr {}", registry.to_ascii_lowercase()),
    }
}

impl CloudKeychains {
    /// The keychains `on`.
    pub fn new(on: Vec<Cloud>) -> Self {
        Self {
            on,
            remembered: tokio::sync::Mutex::default(),
            fetching: super::Locks::default(),
            #[cfg(feature = "aws")]
            aws: tokio::sync::OnceCell::new(),
            #[cfg(feature = "gcp")]
            google: tokio::sync::Mutex::default(),
            #[cfg(feature = "azure")]
            azure: tokio::sync::OnceCell::new(),
        }
    }

    /// The keychain that would be asked for `registry`, for messages.
    pub fn searched(&self, registry: &str) -> Option<&'static str> {
        cloud_of(registry)
            .filter(|(cloud, _)| self.on.contains(cloud))
            .map(|(cloud, _)| cloud.keychain())
    }

    /// Credentials for `registry` from its cloud's keychain; `None` when it is no cloud
    /// registry or its keychain is off. When the keychain finds nothing the result is
    /// anonymous access, its source saying why. `stale`: the registry refused what was
    /// given last, so it is fetched again. Cloud credentials go only to a registry
    /// reached over verified https, or over plain HTTP when the operator listed it
    /// (`CHAINSEAL_INSECURE_REGISTRIES`): never through the unverified access of
    /// chains-config's `storage.oci.repository.insecure`.
    pub async fn lookup(
        &self,
        transport: &Transport,
        registry: &str,
        stale: bool,
    ) -> Option<Found> {
        let (cloud, region) = cloud_of(registry).filter(|(cloud, _)| self.on.contains(cloud))?;
        let Some(base) = transport.trusted_base(registry).await else {
            return Some(anonymous(
                cloud,
                "its registry is not reached over verified https or as a listed plain-HTTP registry (chains-config `storage.oci.repository.insecure`, or unreachable), so cloud credentials are not sent to it",
            ));
        };
        let key = cache_key(cloud, region.as_deref(), registry);
        let fetch = self.fetch(cloud, region.as_deref(), &base, registry, stale);
        Some(self.remembered_or(key, stale, cloud, registry, fetch).await)
    }

    /// What is remembered under `key`, else what `fetch` gets (one fetch per key at a
    /// time; callers waiting meanwhile get its result), remembered.
    async fn remembered_or(
        &self,
        key: String,
        stale: bool,
        cloud: Cloud,
        registry: &str,
        fetch: impl std::future::Future<Output = Result<Fetched, Miss>>,
    ) -> Found {
        let asked = Instant::now();
        // Fetched while this caller waited (even a passing failure: each waiter does
        // not ask again in turn), else remembered. A caller whose credentials were
        // refused takes only a fetch forced by a refusal (a plain one may hand back
        // what the cloud SDK cached, the refused token) or a miss.
        let usable = |r: &Remembered| {
            let fresh = r.at >= asked;
            let live = r.until > Instant::now();
            match stale {
                false => fresh || live,
                true => (fresh && r.forced) || (r.miss && (fresh || live)),
            }
        };
        if let Some(r) = self.remembered.lock().await.get(&key).filter(|r| usable(r)) {
            return r.found.clone();
        }
        let _fetch = super::hold(&self.fetching, key.clone()).await;
        if let Some(r) = self.remembered.lock().await.get(&key).filter(|r| usable(r)) {
            return r.found.clone();
        }
        let fetched = tokio::time::timeout(LOOKUP_TIMEOUT, fetch)
            .await
            .unwrap_or_else(|_| {
                Err(Miss::Transient(format!(
                    "no answer within {LOOKUP_TIMEOUT:?}"
                )))
            });
        let now = Instant::now();
        let (found, until, miss) = match fetched {
            Ok(Fetched { auth, expires_in }) => {
                let keep = expires_in.map_or(FRESH_FOR, |left| {
                    left.saturating_sub(EXPIRY_MARGIN).min(FRESH_FOR)
                });
                let found = Found {
                    auth,
                    source: cloud.keychain().to_owned(),
                    passing: false,
                };
                (found, now + keep, false)
            }
            Err(miss) => {
                let reason = brief(miss.reason());
                tracing::warn!(
                    registry,
                    "{}: {reason}; trying anonymous access",
                    cloud.keychain()
                );
                // A passing failure is not remembered: the next request asks again.
                let (until, passing) = match miss {
                    Miss::NoIdentity(_) => (now + MISS_FOR, false),
                    Miss::Transient(_) => (now, true),
                };
                let found = Found {
                    passing,
                    ..anonymous(cloud, &reason)
                };
                (found, until, true)
            }
        };
        let mut remembered = self.remembered.lock().await;
        if remembered.len() >= MAX_REMEMBERED {
            remembered.retain(|_, r| r.until > now);
            // Still full (a run naming ever new regions or registries): the entries
            // closest to their end go, never every one at once.
            while remembered.len() >= MAX_REMEMBERED {
                let Some(first) = remembered
                    .iter()
                    .min_by_key(|(_, r)| r.until)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                remembered.remove(&first);
            }
        }
        remembered.insert(
            key,
            Remembered {
                found: found.clone(),
                at: now,
                forced: stale,
                until,
                miss,
            },
        );
        found
    }

    /// Ask `cloud` for credentials for `registry` (reached at `base`; in `region`, for
    /// ECR); `stale`: the last ones were refused.
    async fn fetch(
        &self,
        cloud: Cloud,
        region: Option<&str>,
        base: &url::Url,
        registry: &str,
        stale: bool,
    ) -> Result<Fetched, Miss> {
        match cloud {
            Cloud::Ecr => self.ecr(region).await,
            Cloud::Google => self.google(stale).await,
            Cloud::Acr => self.acr(base, registry).await,
        }
    }

    /// ECR: `GetAuthorizationToken` in `region`.
    #[cfg(feature = "aws")]
    async fn ecr(&self, region: Option<&str>) -> Result<Fetched, Miss> {
        use aws_sdk_ecr::error::SdkError;
        use base64::Engine as _;
        let sdk = self
            .aws
            .get_or_init(|| crate::cloud::aws::sdk_config(LOOKUP_TIMEOUT, None))
            .await;
        let mut config = aws_sdk_ecr::config::Builder::from(sdk);
        if let Some(region) = region {
            config = config.region(aws_config::Region::new(region.to_owned()));
        }
        let client = aws_sdk_ecr::Client::from_conf(config.build());
        let reply = client.get_authorization_token().send().await.map_err(|e| {
            let transient = match &e {
                SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
                SdkError::DispatchFailure(d) => d.is_timeout() || d.is_io(),
                SdkError::ServiceError(s) => matches!(
                    s.err().meta().code(),
                    Some("ThrottlingException" | "ServerException" | "ServiceUnavailableException")
                ),
                _ => false,
            };
            // Its first line: the SDK's cause chain goes on with every provider it
            // tried.
            let text = crate::error_text::aws(&e);
            let first = text.lines().next().unwrap_or_default();
            let reason = format!(
                "GetAuthorizationToken failed: {}",
                first.trim_end_matches(" Attempted:")
            );
            if transient {
                Miss::Transient(reason)
            } else {
                Miss::NoIdentity(reason)
            }
        })?;
        let bad = |what: &str| Miss::NoIdentity(format!("GetAuthorizationToken returned {what}"));
        let data = reply
            .authorization_data()
            .first()
            .ok_or_else(|| bad("no authorization data"))?;
        let decoded = data
            .authorization_token()
            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .and_then(|t| String::from_utf8(t).ok())
            .ok_or_else(|| bad("a token that is not base64 `user:password`"))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| bad("a token that is not `user:password`"))?;
        Ok(Fetched {
            auth: RegistryAuth::Basic(user.to_owned(), password.to_owned()),
            expires_in: data.expires_at().map(|at| seconds_until(at.secs())),
        })
    }

    #[cfg(not(feature = "aws"))]
    async fn ecr(&self, _region: Option<&str>) -> Result<Fetched, Miss> {
        Err(Miss::NoIdentity(
            "this build has no ECR keychain (the `aws` feature)".to_owned(),
        ))
    }

    #[cfg(feature = "gcp")]
    async fn google(&self, stale: bool) -> Result<Fetched, Miss> {
        let mut held = self.google.lock().await;
        if stale || held.is_none() {
            *held = Some(
                google_cloud_auth::credentials::Builder::default()
                    .with_scopes([GOOGLE_SCOPE])
                    .build_access_token_credentials()
                    .map_err(|e| Miss::NoIdentity(format!("no Google credentials: {e}")))?,
            );
        }
        let credentials = held
            .as_ref()
            .ok_or_else(|| Miss::NoIdentity("no Google credentials".to_owned()))?;
        let token = credentials.access_token().await.map_err(|e| {
            let reason = format!("no Google access token: {e}");
            if e.is_transient() {
                Miss::Transient(reason)
            } else {
                Miss::NoIdentity(reason)
            }
        })?;
        Ok(Fetched {
            auth: RegistryAuth::Basic("oauth2accesstoken".to_owned(), token.token),
            // The credentials renew the token before it expires; it is asked again
            // within FRESH_FOR.
            expires_in: None,
        })
    }

    #[cfg(not(feature = "gcp"))]
    async fn google(&self, _stale: bool) -> Result<Fetched, Miss> {
        let _ = GOOGLE_SCOPE;
        Err(Miss::NoIdentity(
            "this build has no Google keychain (the `gcp` feature)".to_owned(),
        ))
    }

    /// ACR: an Entra ID token for the registry audience, exchanged at the registry
    /// (`<base>/oauth2/exchange`: verified https, or plain HTTP for a listed registry),
    /// through a client that follows no redirect (the token is in the body).
    #[cfg(feature = "azure")]
    async fn acr(&self, base: &url::Url, registry: &str) -> Result<Fetched, Miss> {
        let (credential, source) = self
            .azure
            .get_or_try_init(|| async { crate::cloud::azure::credential() })
            .await
            .map_err(|e| Miss::NoIdentity(format!("no Azure credential: {e}")))?;
        let token = credential
            .get_token(&[ACR_SCOPE], None)
            .await
            .map_err(|e| {
                let transient = matches!(
                    e.kind(),
                    azure_core::error::ErrorKind::Connection | azure_core::error::ErrorKind::Io
                ) || e
                    .http_status()
                    .is_some_and(|s| u16::from(s) >= 500 || u16::from(s) == 429);
                let reason = format!("{source} gave no token: {e}");
                if transient {
                    Miss::Transient(reason)
                } else {
                    Miss::NoIdentity(reason)
                }
            })?;
        let access_token = token.token.secret();
        let service = host_of(registry);
        // Built in a block: the serializer is not `Send` and must not live across an await.
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "access_token")
                .append_pair("service", service);
            if let Some(tenant) = tenant_of(access_token) {
                form.append_pair("tenant", &tenant);
            }
            form.append_pair("access_token", access_token);
            form.finish()
        };
        let url = base
            .join("oauth2/exchange")
            .map_err(|e| Miss::NoIdentity(format!("no exchange URL: {e}")))?;
        let client = crate::http::credentialed_client()
            .map_err(|e| Miss::Transient(format!("no HTTP client: {}", e.detail())))?;
        let request = client
            .post(url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(form);
        let reply = crate::http::send_within(request, MAX_EXCHANGE_REPLY)
            .await
            .map_err(|e| {
                Miss::Transient(format!("the token exchange got no answer: {}", e.detail()))
            })?;
        let status = reply.status;
        if !status.is_success() {
            let reason = format!("the registry refused the token exchange: HTTP {status}");
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                Miss::Transient(reason)
            } else {
                Miss::NoIdentity(reason)
            });
        }
        let body = reply.body;
        #[derive(serde::Deserialize)]
        struct Exchanged {
            refresh_token: String,
        }
        let exchanged: Exchanged = serde_json::from_slice(&body).map_err(|_| {
            Miss::NoIdentity("the registry's token exchange answered no refresh token".to_owned())
        })?;
        if exchanged.refresh_token.is_empty() {
            return Err(Miss::NoIdentity(
                "the registry's token exchange answered an empty refresh token".to_owned(),
            ));
        }
        // ACR refresh tokens live for hours; the Entra ID token's life bounds the reuse.
        Ok(Fetched {
            auth: RegistryAuth::Basic(ACR_USER.to_owned(), exchanged.refresh_token),
            expires_in: Some(seconds_until(token.expires_on.unix_timestamp())),
        })
    }

    #[cfg(not(feature = "azure"))]
    async fn acr(&self, _base: &url::Url, _registry: &str) -> Result<Fetched, Miss> {
        let _ = (ACR_USER, ACR_SCOPE);
        Err(Miss::NoIdentity(
            "this build has no ACR keychain (the `azure` feature)".to_owned(),
        ))
    }
}

/// Anonymous access, saying why `cloud`'s keychain gave nothing.
fn anonymous(cloud: Cloud, reason: &str) -> Found {
    Found {
        auth: RegistryAuth::Anonymous,
        source: format!("anonymous ({} gave none: {reason})", cloud.keychain()),
        passing: false,
    }
}

/// A registry host without its port.
fn host_of(registry: &str) -> &str {
    registry
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(registry, |(host, _)| host)
}

/// A cloud client's error as a message shows it: its first line (the rest is its chain
/// of causes or a reply body), as [`crate::error_text::shown`] cuts and escapes it.
fn brief(text: &str) -> String {
    crate::error_text::shown(text.lines().next().unwrap_or_default())
}

/// The time left until `unix` (seconds since the epoch); none when it is past.
#[cfg(any(feature = "aws", feature = "azure"))]
fn seconds_until(unix: i64) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Duration::from_secs(u64::try_from(unix.saturating_sub(now)).unwrap_or(0))
}

/// The most bytes of an ACR exchange reply read.
#[cfg(feature = "azure")]
const MAX_EXCHANGE_REPLY: u64 = 64 * 1024;

/// The tenant (`tid` claim) of an Entra ID token, which the exchange names; the
/// token is Azure's own answer to us, so it is read, not verified.
#[cfg(feature = "azure")]
fn tenant_of(token: &str) -> Option<String> {
    let claims = crate::oidc::unverified_claims(token).ok()?;
    let tid = claims.get("tid")?.as_str()?;
    let plausible = !tid.is_empty()
        && tid.len() <= 64
        && tid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    plausible.then(|| tid.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_matched_to_their_cloud_as_the_credential_helpers_match_them() {
        let ecr = |host: &str| match cloud_of(host) {
            Some((Cloud::Ecr, region)) => region,
            _ => None,
        };
        for (host, region) in [
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "us-east-1"),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
                "us-gov-west-1",
            ),
            ("123456789012.dkr-ecr.eu-west-1.on.aws", "eu-west-1"),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn:443",
                "cn-north-1",
            ),
            ("123456789012.DKR.ECR.us-east-1.AMAZONAWS.COM", "us-east-1"),
        ] {
            assert_eq!(ecr(host).as_deref(), Some(region), "{host}");
        }
        for not_ecr in [
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "12345678901a.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
            "123456789012.dkr.ecr..amazonaws.com",
            "123456789012.ecr.us-east-1.amazonaws.com",
            "public.ecr.aws",
        ] {
            assert_eq!(cloud_of(not_ecr), None, "{not_ecr}");
        }
        for google in [
            "gcr.io",
            "eu.gcr.io",
            "europe-west1-docker.pkg.dev",
            "gcr.io:443",
        ] {
            assert_eq!(cloud_of(google), Some((Cloud::Google, None)), "{google}");
        }
        for not_google in ["evilgcr.io", "pkg.dev.example", "docker.io"] {
            assert_eq!(cloud_of(not_google), None, "{not_google}");
        }
        assert_eq!(cloud_of("team.azurecr.io"), Some((Cloud::Acr, None)));
        assert_eq!(cloud_of("team.azurecr.io:5000"), Some((Cloud::Acr, None)));
        assert_eq!(cloud_of(".azurecr.io"), None);
        assert_eq!(cloud_of("azurecr.io.example"), None);
    }

    #[test]
    fn the_setting_names_the_keychains_or_none() {
        assert_eq!(parse("ecr,google,acr"), Ok(Cloud::ALL.to_vec()));
        assert_eq!(parse(" ACR , ecr,acr"), Ok(vec![Cloud::Acr, Cloud::Ecr]));
        assert_eq!(parse("none"), Ok(vec![]));
        assert_eq!(parse(""), Ok(vec![]));
        let err = parse("ecr,gcr").expect_err("gcr");
        assert!(err.to_string().contains("`gcr`"), "{err}");
        assert!(err.to_string().contains("ecr, google, acr"), "{err}");
    }

    #[tokio::test]
    async fn a_keychain_that_is_off_or_a_registry_of_no_cloud_is_not_asked() {
        let transport = Transport::new(Vec::new());
        let keychains = CloudKeychains::new(vec![Cloud::Google]);
        assert!(
            keychains
                .lookup(
                    &transport,
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                    false
                )
                .await
                .is_none()
        );
        assert!(
            keychains
                .lookup(&transport, "ghcr.io", false)
                .await
                .is_none()
        );
        assert_eq!(keychains.searched("ghcr.io"), None);
        assert_eq!(
            keychains.searched("gcr.io"),
            Some("the Google keychain (Application Default Credentials)")
        );
    }

    /// One caller of `remembered_or` for Google, `after` a pause, `stale` or not; its
    /// fetch (counted in `fetches`) takes 100 ms and gives the token `t<n>`.
    fn ask(
        keychains: &std::sync::Arc<CloudKeychains>,
        fetches: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
        stale: bool,
        after: Duration,
    ) -> tokio::task::JoinHandle<String> {
        let (keychains, fetches) = (keychains.clone(), fetches.clone());
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let fetch = async {
                let n = fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(Fetched {
                    auth: RegistryAuth::Basic("oauth2accesstoken".into(), format!("t{n}")),
                    expires_in: None,
                })
            };
            let found = keychains
                .remembered_or("google".into(), stale, Cloud::Google, "gcr.io", fetch)
                .await;
            match found.auth {
                RegistryAuth::Basic(_, password) => password,
                _ => String::new(),
            }
        })
    }

    /// Review of #24: with the credential lookup no longer serialised per registry
    /// across clients, every run ServiceAccount's client asking at once must still
    /// cost one cloud fetch; refused callers fetch again, once, and those refused
    /// meanwhile take that new fetch; a refused caller never takes a plain fetch it
    /// waited for (the cloud SDK may hand back the refused token from its cache).
    #[tokio::test]
    async fn clients_asking_at_once_share_one_fetch() {
        let keychains = std::sync::Arc::new(CloudKeychains::new(vec![Cloud::Google]));
        let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = || fetches.load(std::sync::atomic::Ordering::SeqCst);
        let now = Duration::ZERO;
        let asked: Vec<_> = (0..8)
            .map(|_| ask(&keychains, &fetches, false, now))
            .collect();
        for a in asked {
            assert_eq!(a.await.expect("joined"), "t0");
        }
        assert_eq!(count(), 1);
        let asked: Vec<_> = (0..4)
            .map(|_| ask(&keychains, &fetches, true, now))
            .collect();
        for a in asked {
            assert_eq!(a.await.expect("joined"), "t1");
        }
        assert_eq!(count(), 2);
        // A plain fetch under way (the cache emptied), and a refused caller asking
        // while it runs: the refused one fetches anew.
        keychains.remembered.lock().await.clear();
        let plain = ask(&keychains, &fetches, false, now);
        let refused = ask(&keychains, &fetches, true, Duration::from_millis(20));
        assert_eq!(plain.await.expect("joined"), "t2");
        assert_eq!(refused.await.expect("joined"), "t3");
        assert_eq!(count(), 4);
    }

    /// Review of #24: a push refused after a keychain failed in passing was reported
    /// as a credentials problem; the anonymous credentials now say they are passing.
    #[tokio::test]
    async fn a_passing_keychain_failure_is_marked_passing() {
        let keychains = CloudKeychains::new(vec![Cloud::Google]);
        let ask = |miss: Miss| {
            keychains.remembered_or(
                "google".into(),
                false,
                Cloud::Google,
                "gcr.io",
                async move { Err(miss) },
            )
        };
        let transient = ask(Miss::Transient("HTTP 503".into())).await;
        assert!(transient.passing && transient.auth == RegistryAuth::Anonymous);
        // Not remembered: asked again, and an absent identity is no passing failure.
        let absent = ask(Miss::NoIdentity("no credentials".into())).await;
        assert!(!absent.passing && absent.source.contains("no credentials"));
    }

    #[cfg(feature = "azure")]
    #[test]
    fn the_exchange_names_the_token_s_tenant_when_it_is_plausible() {
        use base64::Engine as _;
        let token = |claims: serde_json::Value| {
            let part = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
            format!("e30.{part}.c2ln")
        };
        assert_eq!(
            tenant_of(&token(
                serde_json::json!({"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"})
            ))
            .as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        assert_eq!(tenant_of(&token(serde_json::json!({"tid": "a&b=c"}))), None);
        assert_eq!(tenant_of(&token(serde_json::json!({}))), None);
        assert_eq!(tenant_of("opaque"), None);
    }
}
