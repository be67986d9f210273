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
    let host = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(registry, |(host, _)| host)
        .to_ascii_lowercase();
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

/// What is remembered of one registry.
struct Remembered {
    found: Found,
    until: Instant,
    /// The keychain found nothing (asked again only after [`MISS_FOR`]).
    miss: bool,
}

/// The cloud keychains of one process.
pub struct CloudKeychains {
    on: Vec<Cloud>,
    remembered: tokio::sync::Mutex<HashMap<String, Remembered>>,
    /// Google's credentials (they keep their token and renew it before it expires);
    /// made again after a refusal, so a revoked token is not offered twice.
    #[cfg(feature = "gcp")]
    google: tokio::sync::Mutex<Option<google_cloud_auth::credentials::AccessTokenCredentials>>,
}

impl std::fmt::Debug for CloudKeychains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudKeychains")
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

impl CloudKeychains {
    /// The keychains `on`.
    pub fn new(on: Vec<Cloud>) -> Self {
        Self {
            on,
            remembered: tokio::sync::Mutex::default(),
            #[cfg(feature = "gcp")]
            google: tokio::sync::Mutex::default(),
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
    /// given last, so it is fetched again.
    pub async fn lookup(
        &self,
        transport: &Transport,
        registry: &str,
        stale: bool,
    ) -> Option<Found> {
        let (cloud, region) = cloud_of(registry).filter(|(cloud, _)| self.on.contains(cloud))?;
        let key = registry.to_ascii_lowercase();
        {
            let remembered = self.remembered.lock().await;
            if let Some(r) = remembered.get(&key)
                && r.until > Instant::now()
                && (!stale || r.miss)
            {
                return Some(r.found.clone());
            }
        }
        let fetched = tokio::time::timeout(
            LOOKUP_TIMEOUT,
            self.fetch(cloud, region.as_deref(), transport, registry, stale),
        )
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {LOOKUP_TIMEOUT:?}")));
        let now = Instant::now();
        let (found, until, miss) = match fetched {
            Ok(Fetched { auth, expires_in }) => {
                let keep = expires_in.map_or(FRESH_FOR, |left| {
                    left.saturating_sub(EXPIRY_MARGIN).min(FRESH_FOR)
                });
                let found = Found {
                    auth,
                    source: cloud.keychain().to_owned(),
                };
                (found, now + keep, false)
            }
            Err(reason) => {
                tracing::warn!(
                    registry,
                    "{}: {reason}; trying anonymous access",
                    cloud.keychain()
                );
                let found = Found {
                    auth: RegistryAuth::Anonymous,
                    source: format!("anonymous ({} gave none: {reason})", cloud.keychain()),
                };
                (found, now + MISS_FOR, true)
            }
        };
        let mut remembered = self.remembered.lock().await;
        if remembered.len() >= MAX_REMEMBERED {
            remembered.retain(|_, r| r.until > now);
            if remembered.len() >= MAX_REMEMBERED {
                remembered.clear();
            }
        }
        remembered.insert(
            key,
            Remembered {
                found: found.clone(),
                until,
                miss,
            },
        );
        Some(found)
    }

    /// Ask `cloud` for credentials for `registry` (in `region`, for ECR); `stale`: the
    /// last ones were refused.
    async fn fetch(
        &self,
        cloud: Cloud,
        region: Option<&str>,
        transport: &Transport,
        registry: &str,
        stale: bool,
    ) -> Result<Fetched, String> {
        match cloud {
            Cloud::Ecr => ecr(region).await,
            Cloud::Google => self.google(stale).await,
            Cloud::Acr => acr(transport, registry).await,
        }
    }

    #[cfg(feature = "gcp")]
    async fn google(&self, stale: bool) -> Result<Fetched, String> {
        let mut held = self.google.lock().await;
        if stale || held.is_none() {
            *held = Some(
                google_cloud_auth::credentials::Builder::default()
                    .with_scopes([GOOGLE_SCOPE])
                    .build_access_token_credentials()
                    .map_err(|e| format!("no Google credentials: {e}"))?,
            );
        }
        let credentials = held.as_ref().ok_or("no Google credentials")?;
        let token = credentials
            .access_token()
            .await
            .map_err(|e| format!("no Google access token: {e}"))?;
        Ok(Fetched {
            auth: RegistryAuth::Basic("oauth2accesstoken".to_owned(), token.token),
            expires_in: None,
        })
    }

    #[cfg(not(feature = "gcp"))]
    async fn google(&self, _stale: bool) -> Result<Fetched, String> {
        let _ = GOOGLE_SCOPE;
        Err("this build has no Google keychain (the `gcp` feature)".to_owned())
    }
}

/// The time left until `unix` (seconds since the epoch); none when it is past.
#[cfg(any(feature = "aws", feature = "azure"))]
fn seconds_until(unix: i64) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Duration::from_secs(u64::try_from(unix.saturating_sub(now)).unwrap_or(0))
}

/// ECR: `GetAuthorizationToken` in `region`.
#[cfg(feature = "aws")]
async fn ecr(region: Option<&str>) -> Result<Fetched, String> {
    use base64::Engine as _;
    let config =
        crate::cloud::aws::sdk_config(LOOKUP_TIMEOUT, None, region.map(str::to_owned)).await;
    let client = aws_sdk_ecr::Client::new(&config);
    let reply = client.get_authorization_token().send().await.map_err(|e| {
        // The first line: the SDK's context goes on with every provider it tried.
        let context = aws_sdk_ecr::error::DisplayErrorContext(&e).to_string();
        format!(
            "GetAuthorizationToken failed: {}",
            first_line(&context).trim_end_matches(" Attempted:")
        )
    })?;
    let data = reply
        .authorization_data()
        .first()
        .ok_or("GetAuthorizationToken returned no authorization data")?;
    let decoded = data
        .authorization_token()
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .and_then(|t| String::from_utf8(t).ok())
        .ok_or("GetAuthorizationToken returned a token that is not base64 `user:password`")?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or("GetAuthorizationToken returned a token that is not `user:password`")?;
    let expires_in = data.expires_at().map(|at| seconds_until(at.secs()));
    Ok(Fetched {
        auth: RegistryAuth::Basic(user.to_owned(), password.to_owned()),
        expires_in,
    })
}

#[cfg(not(feature = "aws"))]
async fn ecr(_region: Option<&str>) -> Result<Fetched, String> {
    Err("this build has no ECR keychain (the `aws` feature)".to_owned())
}

/// The most bytes of an ACR exchange reply read.
#[cfg(feature = "azure")]
const MAX_EXCHANGE_REPLY: u64 = 64 * 1024;

/// ACR: an Entra ID token for the registry audience, exchanged at the registry.
#[cfg(feature = "azure")]
async fn acr(transport: &Transport, registry: &str) -> Result<Fetched, String> {
    let (credential, source) = crate::cloud::azure::credential()
        .map_err(|e| format!("no Azure credential: {}", first_line(&e.to_string())))?;
    let token = credential
        .get_token(&[ACR_SCOPE], None)
        .await
        .map_err(|e| format!("{source} gave no token: {}", first_line(&e.to_string())))?;
    let access_token = token.token.secret();
    let service = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(registry, |(host, _)| host);
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
    let request = super::transport::Request {
        method: http::Method::POST,
        repository: "",
        path: "/oauth2/exchange".to_owned(),
        accept: &["application/json"],
        content_type: Some("application/x-www-form-urlencoded"),
        body: Some(bytes::Bytes::from(form)),
        limit: MAX_EXCHANGE_REPLY,
        op: super::transport::Op::Pull,
    };
    let reply = transport
        .send(registry, &request, &RegistryAuth::Anonymous)
        .await
        .map_err(|e| format!("the registry refused the token exchange: {e}"))?;
    #[derive(serde::Deserialize)]
    struct Exchanged {
        refresh_token: String,
    }
    let exchanged: Exchanged = serde_json::from_slice(&reply.body)
        .map_err(|_| "the registry's token exchange answered no refresh token".to_owned())?;
    if exchanged.refresh_token.is_empty() {
        return Err("the registry's token exchange answered an empty refresh token".to_owned());
    }
    // ACR refresh tokens live for hours; the Entra ID token's life bounds the reuse.
    Ok(Fetched {
        auth: RegistryAuth::Basic(ACR_USER.to_owned(), exchanged.refresh_token),
        expires_in: Some(seconds_until(token.expires_on.unix_timestamp())),
    })
}

#[cfg(not(feature = "azure"))]
async fn acr(_transport: &Transport, _registry: &str) -> Result<Fetched, String> {
    let _ = (ACR_USER, ACR_SCOPE);
    Err("this build has no ACR keychain (the `azure` feature)".to_owned())
}

/// The first line of a cloud client's error (the rest is its whole chain of causes).
#[cfg(any(feature = "aws", feature = "azure"))]
fn first_line(text: &str) -> String {
    crate::error_text::shown(text.lines().next().unwrap_or_default())
}

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
        assert_eq!(
            ecr("123456789012.dkr.ecr.us-east-1.amazonaws.com").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            ecr("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(
            ecr("123456789012.dkr-ecr.eu-west-1.on.aws").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            ecr("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn:443").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(
            ecr("123456789012.DKR.ECR.us-east-1.AMAZONAWS.COM").as_deref(),
            Some("us-east-1")
        );
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
