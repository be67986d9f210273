//! The registry HTTP API (OCI distribution) on `reqwest`, with the defences a
//! registry named by an untrusted run needs.
//!
//! * **No downgrade, no pivot.** Redirects are followed at most [`MAX_REDIRECTS`]
//!   times, never from https to plain http, and never to a loopback, link-local or
//!   private address unless the registry itself is on one (or is listed insecure):
//!   literal addresses are checked by the redirect policy, names by the resolver,
//!   which also stops a registry name from being re-pointed at such an address.
//!   A token service (`realm`) gets the same checks. Reaching every registry without
//!   TLS verification ([`Transport::insecure_everywhere`], Chains'
//!   `storage.oci.repository.insecure`) changes none of this: it weakens the
//!   transport's security, not the address guard.
//! * **Credentials stay with their host.** `Authorization` is dropped on a redirect
//!   to another host, scheme or port (reqwest); basic credentials go to a token
//!   service only over https (or to the registry's own host).
//! * **Bounded replies.** Every body is read up to a limit (manifests 4 MiB as
//!   distribution allows, blobs their descriptor's size, tokens 1 MiB); every request
//!   has a total time limit, so a registry trickling bytes cannot hold a caller.
//! * **No reflected text.** Failures carry the HTTP status and the registry's error
//!   code (only if it is a well-formed code), never a response body.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use oci_client::secrets::RegistryAuth;

use crate::env_vars::EnvVars;

/// Redirects followed per request.
pub const MAX_REDIRECTS: usize = 5;
/// The largest token-service reply read.
const MAX_TOKEN_BYTES: u64 = 1 << 20;
/// The largest error reply read (only its error code is used).
const MAX_ERROR_BYTES: u64 = 64 << 10;
/// A request's whole time limit (connect, send, read the reply).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the registry name's own lookup may take (whether it is internal).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many registries' clients are kept (registries are named by runs).
const MAX_HOSTS: usize = 64;
/// How many bearer tokens are kept.
const MAX_TOKENS: usize = 1024;
/// How long each probe of [`probe_scheme`] may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a registry [`probe_scheme`] found speaking only plain HTTP is reached so
/// before https is tried again.
const PLAIN_RECHECK: Duration = Duration::from_secs(300);
/// How long a registry [`probe_scheme`] could not reach is left unprobed (requests
/// go to https meanwhile), so a dead host is not probed on every attempt.
const UNREACHABLE_RECHECK: Duration = Duration::from_secs(30);

/// How a registry is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// https with verified certificates (the default).
    Verified,
    /// Plain HTTP only (listed in `CHAINSEAL_INSECURE_REGISTRIES`).
    Plain,
    /// https without certificate verification, or plain HTTP when the registry does
    /// not speak https (go-containerregistry's `name.Insecure` with an
    /// `InsecureSkipVerify` transport: Chains' `storage.oci.repository.insecure`).
    Unverified,
}

/// What a request is for: the token scope it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Reading.
    Pull,
    /// Writing.
    Push,
}

/// One request to a registry (its `Debug` gives the body's length, not its bytes).
pub struct Request<'a> {
    /// Method.
    pub method: Method,
    /// Repository.
    pub repository: &'a str,
    /// What follows `/v2/<repository>/` (e.g. `manifests/v1`); or an absolute path or
    /// URL on the registry's own host (an upload location).
    pub path: String,
    /// `Accept` values.
    pub accept: &'a [&'a str],
    /// `Content-Type` of the body.
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: Option<bytes::Bytes>,
    /// The most bytes of a successful reply read.
    pub limit: u64,
    /// Reading or writing.
    pub op: Op,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("repository", &self.repository)
            .field("path", &self.path)
            .field("accept", &self.accept)
            .field("content_type", &self.content_type)
            .field("body_bytes", &self.body.as_ref().map(bytes::Bytes::len))
            .field("limit", &self.limit)
            .field("op", &self.op)
            .finish()
    }
}

/// A registry's reply.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body (successful replies only; at most the request's limit).
    pub body: Vec<u8>,
}

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The registry answered with an error status.
    #[error("HTTP {status}{}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Status {
        /// The status.
        status: u16,
        /// The registry's error code (e.g. `MANIFEST_UNKNOWN`), when well-formed.
        code: Option<String>,
    },
    /// The registry could not be reached or the connection broke.
    #[error("{0}")]
    Connection(String),
    /// No reply in time.
    #[error("no complete reply within {0:?}")]
    Timeout(Duration),
    /// The reply was larger than allowed.
    #[error("the reply is larger than {0} bytes")]
    TooLarge(u64),
    /// A redirect, token service or address chainseal refuses.
    #[error("{0}")]
    Refused(String),
    /// The token service refused or answered nonsense.
    #[error("token service: {0}")]
    Token(String),
}

impl Failure {
    /// Worth another attempt.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, code } => {
                *status >= 500
                    || *status == 429
                    || matches!(
                        code.as_deref(),
                        Some("TOOMANYREQUESTS" | "MANIFEST_BLOB_UNKNOWN")
                    )
            }
            Self::Connection(_) | Self::Timeout(_) => true,
            Self::TooLarge(_) | Self::Refused(_) | Self::Token(_) => false,
        }
    }

    /// The registry wants other credentials, or refused them.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            Self::Status {
                status: 401 | 403,
                ..
            }
        ) || matches!(self, Self::Status { code: Some(c), .. } if c == "UNAUTHORIZED" || c == "DENIED")
    }

    /// What kind of failure this is: the status's, or the registry unreachable.
    pub fn kind(&self) -> crate::error_kind::Kind {
        use crate::error_kind::Kind;
        match self {
            Self::Status { status, code } => match code.as_deref() {
                Some("UNAUTHORIZED") => Kind::Unauthenticated,
                Some("DENIED") => Kind::PermissionDenied,
                Some("NAME_UNKNOWN" | "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN") => Kind::NotFound,
                _ => Kind::from_http_status(*status),
            },
            Self::Connection(_) | Self::Timeout(_) => Kind::Unavailable,
            Self::Token(_) => Kind::Unauthenticated,
            Self::TooLarge(_) | Self::Refused(_) => Kind::Invalid,
        }
    }

    /// The registry was never reached.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Connection(_) | Self::Timeout(_))
    }

    /// The thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status { status: 404, .. })
            || matches!(self, Self::Status { code: Some(c), .. }
                if matches!(c.as_str(), "MANIFEST_UNKNOWN" | "NAME_UNKNOWN" | "BLOB_UNKNOWN"))
    }
}

/// Whether `ip` is loopback, link-local, private, shared (CGNAT) or unspecified: an
/// address a registry named by a run must not send chainseal to.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The host part of `host[:port]` (brackets of an IPv6 literal removed).
fn host_only(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

/// A URL chainseal will not follow or contact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefusedUrl {
    /// A redirect from https to another scheme.
    #[error("refused a redirect from https to {scheme} ({host})")]
    Downgrade {
        /// The scheme redirected to.
        scheme: String,
        /// The host redirected to.
        host: String,
    },
    /// A redirect to neither https nor http.
    #[error("refused a redirect to a `{0}` URL")]
    Scheme(String),
    /// No host.
    #[error("refused a URL without a host")]
    NoHost,
    /// An internal address for a registry that is not on one.
    #[error(
        "refused to contact {0}: a loopback, link-local or private address, and the registry is not on one"
    )]
    Internal(IpAddr),
}

/// Whether a redirect from `previous` to `next` may be followed.
pub fn redirect_allowed(
    previous: &url::Url,
    next: &url::Url,
    internal_ok: bool,
) -> Result<(), RefusedUrl> {
    if previous.scheme() == "https" && next.scheme() != "https" {
        return Err(RefusedUrl::Downgrade {
            scheme: next.scheme().to_owned(),
            host: next.host_str().unwrap_or_default().to_owned(),
        });
    }
    if !matches!(next.scheme(), "https" | "http") {
        return Err(RefusedUrl::Scheme(next.scheme().to_owned()));
    }
    check_host(next, internal_ok)
}

/// Whether `url`'s host, if an address literal, may be contacted.
fn check_host(url: &url::Url, internal_ok: bool) -> Result<(), RefusedUrl> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err(RefusedUrl::NoHost),
    };
    if !internal_ok && is_internal(ip) {
        return Err(RefusedUrl::Internal(ip));
    }
    Ok(())
}

/// A resolver that refuses internal addresses for a registry that is not on one
/// (the proxies the environment names are exempt: they are the operator's).
#[derive(Debug, Clone)]
struct Guarded {
    internal_ok: bool,
    proxies: Arc<Vec<String>>,
}

/// The hosts of the proxies reqwest takes from the environment.
fn proxy_hosts() -> Vec<String> {
    [
        EnvVars::HTTPS_PROXY,
        EnvVars::https_proxy,
        EnvVars::HTTP_PROXY,
        EnvVars::http_proxy,
        EnvVars::ALL_PROXY,
        EnvVars::all_proxy,
    ]
    .iter()
    .filter_map(|v| std::env::var(v).ok())
    .filter_map(|v| {
        let v = if v.contains("://") {
            v
        } else {
            format!("http://{v}")
        };
        url::Url::parse(&v).ok()?.host_str().map(str::to_owned)
    })
    .collect()
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let internal_ok = self.internal_ok || self.proxies.iter().any(|p| p == name.as_str());
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !internal_ok && let Some(bad) = addrs.iter().find(|a| is_internal(a.ip())) {
                return Err(format!(
                    "refused to contact {host}: it resolves to {}, a loopback, link-local or private address, and the registry is not on one",
                    bad.ip()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for a registry reached with `access`: the redirect policy and the
/// guarded resolver of the module's defences, https only unless `access` allows plain
/// HTTP, certificates verified unless it is [`Access::Unverified`].
fn client(access: Access, internal_ok: bool) -> Result<reqwest::Client, Failure> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        let checked = match attempt.previous().last() {
            Some(previous) => redirect_allowed(previous, attempt.url(), internal_ok),
            None => Ok(()),
        };
        match checked {
            Ok(()) => attempt.follow(),
            Err(why) => attempt.error(why),
        }
    });
    builder(access, internal_ok, policy)
}

/// The client [`probe_scheme`] uses: as [`client`]'s, but following no redirect (a
/// probe's answer counts only on the scheme it was sent over).
fn probe_client(access: Access, internal_ok: bool) -> Result<reqwest::Client, Failure> {
    builder(access, internal_ok, reqwest::redirect::Policy::none())
}

/// A registry client following `policy`.
fn builder(
    access: Access,
    internal_ok: bool,
    policy: reqwest::redirect::Policy,
) -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .user_agent(concat!("chainseal/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .timeout(REQUEST_TIMEOUT)
        .redirect(policy)
        .dns_resolver(Guarded {
            internal_ok,
            proxies: Arc::new(proxy_hosts()),
        })
        .https_only(access == Access::Verified)
        .tls_danger_accept_invalid_certs(access == Access::Unverified)
        .build()
        .map_err(|e| Failure::Connection(format!("creating the HTTP client: {e}")))
}

/// The scheme an [`Access::Unverified`] registry is reached with. Unlike
/// go-containerregistry's ping for `name.Insecure`, which races both schemes,
/// chainseal tries https first and keeps it whenever it gets any HTTP answer over
/// TLS; plain HTTP is tried only when the https attempt failed because the port
/// speaks plain HTTP (the TLS handshake got an HTTP reply), never after a timeout or
/// a dropped connection, and accepted only when `GET /v2/` over http itself answers
/// 200 or 401 (`probe` follows no redirect, so an http→https redirect is no
/// answer). `None`: neither scheme could be spoken (unreachable for now).
async fn probe_scheme(probe: &reqwest::Client, registry: &str) -> Option<&'static str> {
    let https = probe
        .get(format!("https://{registry}/v2/"))
        .timeout(PROBE_TIMEOUT)
        .send()
        .await;
    match https {
        Ok(_) => return Some("https"),
        Err(e) if !speaks_plain_http(&e) => return None,
        Err(_) => {}
    }
    let reply = probe
        .get(format!("http://{registry}/v2/"))
        .timeout(PROBE_TIMEOUT)
        .send()
        .await
        .ok()?;
    (reply.url().scheme() == "http"
        && matches!(reply.status(), StatusCode::OK | StatusCode::UNAUTHORIZED))
    .then_some("http")
}

/// Whether an https attempt failed because the server answered in plain HTTP: the
/// TLS handshake got a record that is not TLS (rustls' `InvalidMessage`, e.g.
/// `InvalidContentType`).
fn speaks_plain_http(e: &reqwest::Error) -> bool {
    !e.is_timeout()
        && matches!(
            crate::error_kind::tls_error(e),
            Some(rustls::Error::InvalidMessage(_))
        )
}

/// One registry's client.
#[derive(Debug)]
struct Host {
    http: reqwest::Client,
    /// `http://host[:port]` or `https://host[:port]`.
    base: url::Url,
    /// Whether internal addresses may be contacted for it.
    internal_ok: bool,
    /// The registry asked for basic credentials (no token service).
    basic: std::sync::atomic::AtomicBool,
    /// How it is reached (the scheme and the client say it).
    access: Access,
    /// When the scheme is decided again (`None`: never).
    until: Option<tokio::time::Instant>,
}

#[derive(Debug, Clone)]
struct Token {
    value: String,
    until: Instant,
}

/// The HTTP side of [`super::Registry`].
#[derive(Debug, Default)]
pub struct Transport {
    insecure: Vec<String>,
    /// Every registry may be reached without TLS verification or over plain HTTP.
    insecure_everywhere: bool,
    /// Tests only: registries on internal addresses get `insecure_everywhere`'s
    /// treatment too (the test doubles all listen on loopback).
    unverified_internal: bool,
    /// Each registry's client (shared by the transports made with
    /// [`Transport::sharing_hosts`]: connections carry no credentials).
    hosts: Arc<tokio::sync::Mutex<HashMap<String, Arc<Host>>>>,
    /// Bearer tokens, per registry and scope: never shared, since they stand for the
    /// credentials they were exchanged for.
    tokens: std::sync::Mutex<HashMap<(String, String), Token>>,
}

impl Transport {
    /// A transport reaching `insecure` registries over plain HTTP.
    pub fn new(insecure: Vec<String>) -> Self {
        Self {
            insecure,
            ..Self::default()
        }
    }

    /// With `on`, every registry not listed insecure and not on an internal address is
    /// reached over https without certificate verification, or over plain HTTP when
    /// its port speaks plain HTTP (decided by [`probe_scheme`]; plain HTTP is decided
    /// again after [`PLAIN_RECHECK`]). Dangerous: anyone on the path
    /// can read and change what is sent, credentials included.
    #[must_use]
    pub fn insecure_everywhere(mut self, on: bool) -> Self {
        self.insecure_everywhere = on;
        self
    }

    /// For tests on loopback only: with `insecure_everywhere`, registries on internal
    /// addresses are reached without verification too (as if they were public ones).
    #[doc(hidden)]
    #[must_use]
    pub fn unverified_internal_for_tests(mut self) -> Self {
        self.unverified_internal = true;
        self
    }

    /// A transport with the same settings and registry clients but its own tokens: for
    /// other credentials (a run's ServiceAccount's pull secrets), whose tokens must
    /// never be handed to anyone else.
    pub fn sharing_hosts(&self) -> Self {
        Self {
            insecure: self.insecure.clone(),
            insecure_everywhere: self.insecure_everywhere,
            unverified_internal: self.unverified_internal,
            hosts: self.hosts.clone(),
            tokens: Default::default(),
        }
    }

    /// Forget the tokens of `registry` (its credentials changed).
    pub fn forget_tokens(&self, registry: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.retain(|(r, _), _| r != registry);
        }
    }

    async fn host(&self, registry: &str) -> Result<Arc<Host>, Failure> {
        if let Some(h) = self.hosts.lock().await.get(registry)
            && h.until
                .is_none_or(|until| until > tokio::time::Instant::now())
        {
            return Ok(h.clone());
        }
        // Built without holding the map: a registry whose name resolves slowly holds up
        // only its own requests.
        let listed = self.insecure.iter().any(|i| i == registry);
        let name = host_only(registry);
        // Only a registry the operator listed, or one on an internal address itself,
        // may reach internal addresses: `insecure_everywhere` does not widen this.
        let internal = name.eq_ignore_ascii_case("localhost")
            || match name.parse::<IpAddr>() {
                Ok(ip) => is_internal(ip),
                Err(_) => tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name, 0)))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .is_some_and(|mut addrs| addrs.any(|a| is_internal(a.ip()))),
            };
        let internal_ok = listed || internal;
        // `insecure_everywhere` does not reach internal services over plain HTTP or
        // unverified https: a registry on an internal address gets that only when the
        // operator listed it (and then it is plain HTTP).
        let unverified = self.insecure_everywhere && (!internal || self.unverified_internal);
        let access = match (listed, unverified) {
            (true, _) => Access::Plain,
            (false, true) => Access::Unverified,
            (false, false) => Access::Verified,
        };
        let http = client(access, internal_ok)?;
        let now = tokio::time::Instant::now();
        let (scheme, until) = match access {
            Access::Plain => ("http", None),
            Access::Verified => ("https", None),
            Access::Unverified => {
                match probe_scheme(&probe_client(access, internal_ok)?, registry).await {
                    Some("https") => ("https", None),
                    Some(_) => ("http", Some(now + PLAIN_RECHECK)),
                    // Unreachable for now: https, probed again a little later.
                    None => ("https", Some(now + UNREACHABLE_RECHECK)),
                }
            }
        };
        let base = url::Url::parse(&format!("{scheme}://{registry}/"))
            .map_err(|e| Failure::Refused(format!("`{registry}` is not a registry host: {e}")))?;
        let host = Arc::new(Host {
            http,
            base,
            internal_ok,
            basic: Default::default(),
            access,
            until,
        });
        let mut hosts = self.hosts.lock().await;
        if hosts.len() >= MAX_HOSTS {
            hosts.clear();
        }
        // Another request may have built a current one meanwhile: keep that.
        let entry = hosts.entry(registry.to_owned()).or_insert(host.clone());
        if entry.until.is_some_and(|until| until <= now) {
            *entry = host;
        }
        Ok(entry.clone())
    }

    /// Where `registry` is reached, when it is reached as the operator configured it —
    /// verified https, or plain HTTP because it is listed — and not through
    /// `insecure_everywhere`'s unverified access; `None` then, or when it cannot be
    /// reached. Credentials that are not the registry's own (a cloud identity's) go
    /// only there.
    pub async fn trusted_base(&self, registry: &str) -> Option<url::Url> {
        let host = self.host(registry).await.ok()?;
        (host.access != Access::Unverified).then(|| host.base.clone())
    }

    /// Send `req` to `registry`, answering its authentication challenge with `auth`.
    pub async fn send(
        &self,
        registry: &str,
        req: &Request<'_>,
        auth: &RegistryAuth,
    ) -> Result<Reply, Failure> {
        let host = self.host(registry).await?;
        let url = if req.path.starts_with("http://") || req.path.starts_with("https://") {
            let url = url::Url::parse(&req.path)
                .map_err(|e| Failure::Refused(format!("the registry sent an unusable URL: {e}")))?;
            if url.origin() != host.base.origin() {
                return Err(Failure::Refused(format!(
                    "the registry sent chainseal to another host ({}) for an upload",
                    url.host_str().unwrap_or_default()
                )));
            }
            url
        } else if req.path.starts_with('/') {
            host.base
                .join(&req.path)
                .map_err(|e| Failure::Refused(format!("the registry sent an unusable path: {e}")))?
        } else {
            host.base
                .join(&format!("v2/{}/{}", req.repository, req.path))
                .map_err(|e| Failure::Refused(format!("cannot build the request URL: {e}")))?
        };
        let scope = format!(
            "repository:{}:{}",
            req.repository,
            match req.op {
                Op::Pull => "pull",
                Op::Push => "pull,push",
            }
        );
        let key = (registry.to_owned(), scope.clone());
        let mut authorization = self.cached_token(&key).map(|t| format!("Bearer {t}"));
        if authorization.is_none() && host.basic.load(std::sync::atomic::Ordering::Relaxed) {
            authorization = basic(auth);
        }
        let reply = self
            .once(&host, &url, req, authorization.as_deref())
            .await?;
        if reply.status() != StatusCode::UNAUTHORIZED {
            return finish(reply, req.limit).await;
        }
        // The challenge: a token service, or basic credentials.
        let challenge = reply
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let authorization = match challenge.as_deref().map(Challenge::parse) {
            Some(Some(Challenge::Bearer { realm, service })) => {
                let token = self
                    .fetch_token(&host, registry, &realm, service.as_deref(), &scope, auth)
                    .await?;
                Some(format!("Bearer {token}"))
            }
            Some(Some(Challenge::Basic)) => {
                host.basic.store(true, std::sync::atomic::Ordering::Relaxed);
                basic(auth)
            }
            _ => None,
        };
        let Some(authorization) = authorization else {
            return finish(reply, req.limit).await;
        };
        let reply = self.once(&host, &url, req, Some(&authorization)).await?;
        finish(reply, req.limit).await
    }

    fn cached_token(&self, key: &(String, String)) -> Option<String> {
        let tokens = self.tokens.lock().ok()?;
        tokens
            .get(key)
            .filter(|t| t.until > Instant::now())
            .map(|t| t.value.clone())
    }

    async fn once(
        &self,
        host: &Host,
        url: &url::Url,
        req: &Request<'_>,
        authorization: Option<&str>,
    ) -> Result<reqwest::Response, Failure> {
        let mut builder = host.http.request(req.method.clone(), url.clone());
        if !req.accept.is_empty() {
            builder = builder.header(header::ACCEPT, req.accept.join(", "));
        }
        if let Some(ct) = req.content_type {
            let value = HeaderValue::from_str(ct)
                .map_err(|_| Failure::Refused(format!("`{ct}` is not a valid media type")))?;
            builder = builder.header(header::CONTENT_TYPE, value);
        }
        if let Some(a) = authorization {
            let mut value = HeaderValue::from_str(a).map_err(|_| {
                Failure::Refused("the credentials are not valid in a header".into())
            })?;
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder = match &req.body {
            Some(b) => builder.body(b.clone()),
            None if req.method == Method::PUT || req.method == Method::POST => {
                builder.header(header::CONTENT_LENGTH, "0")
            }
            None => builder,
        };
        builder.send().await.map_err(describe)
    }

    async fn fetch_token(
        &self,
        host: &Host,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        auth: &RegistryAuth,
    ) -> Result<String, Failure> {
        let mut url = url::Url::parse(realm).map_err(|_| {
            Failure::Token("the registry named a token service that is not a URL".into())
        })?;
        let same_origin = url.origin() == host.base.origin();
        if url.scheme() != "https" && !same_origin {
            return Err(Failure::Refused(format!(
                "refused the token service {}: not https",
                url.host_str().unwrap_or_default()
            )));
        }
        if host.base.scheme() == "https" && url.scheme() != "https" {
            return Err(Failure::Refused(
                "refused a plain-http token service for an https registry".into(),
            ));
        }
        check_host(&url, host.internal_ok).map_err(|e| Failure::Refused(e.to_string()))?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(s) = service {
                query.append_pair("service", s);
            }
            query.append_pair("scope", scope);
        }
        let mut builder = host.http.get(url);
        if let Some(b) = basic(auth) {
            let mut value = HeaderValue::from_str(&b).map_err(|_| {
                Failure::Refused("the credentials are not valid in a header".into())
            })?;
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let reply = builder.send().await.map_err(describe)?;
        let status = reply.status();
        if !status.is_success() {
            return Err(Failure::Token(format!("HTTP {}", status.as_u16())));
        }
        let body = read_capped(reply, MAX_TOKEN_BYTES).await?;
        #[derive(serde::Deserialize)]
        struct Answer {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|_| Failure::Token("the reply is not a token".into()))?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Failure::Token("the reply holds no token".into()))?;
        // Used a little less long than granted; 60 s when the service does not say.
        let life = Duration::from_secs(answer.expires_in.unwrap_or(60).clamp(10, 3600));
        if let Ok(mut tokens) = self.tokens.lock() {
            let now = Instant::now();
            tokens.retain(|_, t| t.until > now);
            if tokens.len() >= MAX_TOKENS {
                tokens.clear();
            }
            tokens.insert(
                (registry.to_owned(), scope.to_owned()),
                Token {
                    value: token.clone(),
                    until: now + life.mul_f64(0.9),
                },
            );
        }
        Ok(token)
    }
}

/// `Basic …` for basic credentials.
fn basic(auth: &RegistryAuth) -> Option<String> {
    match auth {
        RegistryAuth::Basic(user, password) => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )),
        RegistryAuth::Bearer(token) => Some(format!("Bearer {token}")),
        RegistryAuth::Anonymous => None,
    }
}

/// A reqwest error as text, without its URL (a redirect target may carry signed
/// query parameters).
fn describe(e: reqwest::Error) -> Failure {
    if e.is_timeout() {
        return Failure::Timeout(REQUEST_TIMEOUT);
    }
    if e.is_redirect() {
        // The policy's own words (chainseal's, not the registry's).
        let why = std::error::Error::source(&e)
            .map(ToString::to_string)
            .unwrap_or_else(|| "refused a redirect".into());
        return Failure::Refused(why);
    }
    Failure::Connection(crate::error_text::joined(&e.without_url()))
}

/// A successful reply's body (capped), or the failure an error status means.
async fn finish(reply: reqwest::Response, limit: u64) -> Result<Reply, Failure> {
    let status = reply.status();
    let headers = reply.headers().clone();
    if status.is_success() {
        let body = read_capped(reply, limit).await?;
        return Ok(Reply {
            status,
            headers,
            body,
        });
    }
    // Only the error code is kept: the rest of an error body is the registry's text.
    let body = read_capped(reply, MAX_ERROR_BYTES)
        .await
        .unwrap_or_default();
    Err(Failure::Status {
        status: status.as_u16(),
        code: error_code(&body),
    })
}

/// The first error code of a distribution error body, when it is a well-formed code.
pub fn error_code(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Code>,
    }
    #[derive(serde::Deserialize)]
    struct Code {
        code: String,
    }
    let code = serde_json::from_slice::<Errors>(body)
        .ok()?
        .errors
        .into_iter()
        .next()?
        .code;
    (!code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
    .then_some(code)
}

/// Read `reply`'s body, failing once it passes `limit` bytes.
async fn read_capped(reply: reqwest::Response, limit: u64) -> Result<Vec<u8>, Failure> {
    crate::http::body_within(reply, limit)
        .await
        .map_err(|e| match e {
            crate::http::Body::TooLarge(limit) => Failure::TooLarge(limit),
            crate::http::Body::Transport(e) => describe(e),
        })
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
    },
    Basic,
}

impl Challenge {
    fn parse(text: &str) -> Option<Self> {
        let (scheme, params) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Self::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut realm = None;
        let mut service = None;
        for (k, v) in auth_params(params) {
            match k.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(v),
                "service" => service = Some(v),
                _ => {}
            }
        }
        Some(Self::Bearer {
            realm: realm?,
            service,
        })
    }
}

/// `k="v", k2=v2` pairs of a challenge.
fn auth_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, r)) => (v.to_owned(), r),
                None => (quoted.to_owned(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, r)) => (v.trim().to_owned(), r),
                None => (after.trim().to_owned(), ""),
            }
        };
        out.push((key, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).expect("url")
    }

    /// Regression (#18): a registry could redirect chainseal from https to plain http
    /// and to internal addresses (cloud metadata, the cluster's services).
    #[test]
    fn redirects_never_downgrade_or_pivot_inward() {
        let from = url("https://registry.example.com/v2/x/blobs/sha256:1");
        assert!(redirect_allowed(&from, &url("http://cdn.example.com/b"), true).is_err());
        assert!(redirect_allowed(&from, &url("https://169.254.169.254/latest"), false).is_err());
        assert!(redirect_allowed(&from, &url("https://10.0.0.7/x"), false).is_err());
        assert!(redirect_allowed(&from, &url("https://[::1]/x"), false).is_err());
        assert!(redirect_allowed(&from, &url("https://[::ffff:127.0.0.1]/x"), false).is_err());
        assert!(redirect_allowed(&from, &url("https://100.64.0.1/x"), false).is_err());
        assert!(redirect_allowed(&from, &url("file:///etc/passwd"), true).is_err());
        assert!(redirect_allowed(&from, &url("https://cdn.example.com/b?sig=1"), false).is_ok());
        // A registry on an internal network may send chainseal to its neighbours.
        assert!(redirect_allowed(&from, &url("https://10.0.0.7/x"), true).is_ok());
        let plain = url("http://127.0.0.1:5000/v2/x");
        assert!(redirect_allowed(&plain, &url("http://127.0.0.1:5001/y"), true).is_ok());
    }

    /// #20: `insecure_everywhere` (chains-config's `storage.oci.repository.insecure`)
    /// weakens TLS, not the address guard: a registry on a public address still may not
    /// send chainseal to internal ones, as one the operator listed may. (The clock is
    /// paused, so a probe that cannot connect times out at once.)
    #[tokio::test(start_paused = true)]
    async fn insecure_everywhere_does_not_open_internal_addresses() {
        let public = "192.0.2.1:5000";
        let everywhere = Transport::new(Vec::new()).insecure_everywhere(true);
        let host = everywhere.host(public).await.expect("host");
        assert!(
            !host.internal_ok,
            "insecure_everywhere allowed internal addresses"
        );
        let listed = Transport::new(vec![public.to_owned()]);
        assert!(listed.host(public).await.expect("host").internal_ok);
    }

    /// Review of #20: with `insecure_everywhere`, a run naming a registry on an
    /// internal address (`10.0.0.7:9200/x@sha256:…`) had chainseal speak plain HTTP or
    /// unverified https to an internal service. It stays verified https unless the
    /// operator listed it (then plain HTTP, as without the mode).
    #[tokio::test(start_paused = true)]
    async fn insecure_everywhere_keeps_internal_registries_verified() {
        let internal = "10.0.0.7:9200";
        let everywhere = Transport::new(Vec::new()).insecure_everywhere(true);
        let host = everywhere.host(internal).await.expect("host");
        assert_eq!(host.access, Access::Verified, "an internal registry");
        assert_eq!(host.base.scheme(), "https");
        let listed = Transport::new(vec![internal.to_owned()]).insecure_everywhere(true);
        let host = listed.host(internal).await.expect("host");
        assert_eq!((host.access, host.base.scheme()), (Access::Plain, "http"));
    }

    /// Review of #24: cloud keychain credentials go only to a registry reached as the
    /// operator configured it, never through `insecure_everywhere`'s unverified access.
    #[tokio::test(start_paused = true)]
    async fn cloud_credentials_go_only_where_access_is_as_configured() {
        let public = "192.0.2.1:5000";
        let everywhere = Transport::new(Vec::new()).insecure_everywhere(true);
        assert_eq!(everywhere.trusted_base(public).await, None);
        let verified = Transport::new(Vec::new());
        assert_eq!(
            verified.trusted_base(public).await.map(|u| u.to_string()),
            Some("https://192.0.2.1:5000/".to_owned())
        );
        let listed = Transport::new(vec![public.to_owned()]).insecure_everywhere(true);
        assert_eq!(
            listed.trusted_base(public).await.map(|u| u.to_string()),
            Some("http://192.0.2.1:5000/".to_owned())
        );
    }

    /// Review of #20: an unreachable registry was probed again on every request (and
    /// every retry); the verdict is kept for a while, then probed again.
    #[tokio::test(start_paused = true)]
    async fn an_unreachable_verdict_is_kept_briefly() {
        let public = "192.0.2.1:5000";
        let everywhere = Transport::new(Vec::new()).insecure_everywhere(true);
        let first = everywhere.host(public).await.expect("host");
        assert_eq!(
            (first.access, first.base.scheme()),
            (Access::Unverified, "https")
        );
        let again = everywhere.host(public).await.expect("host");
        assert!(Arc::ptr_eq(&first, &again), "probed again at once");
        tokio::time::advance(UNREACHABLE_RECHECK).await;
        let later = everywhere.host(public).await.expect("host");
        assert!(!Arc::ptr_eq(&first, &later), "never probed again");
    }

    #[test]
    fn internal_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "100.100.100.100",
        ] {
            assert!(is_internal(a.parse().expect("ip")), "{a}");
        }
        for a in ["8.8.8.8", "140.82.112.3", "2606:4700::1111"] {
            assert!(!is_internal(a.parse().expect("ip")), "{a}");
        }
    }

    #[test]
    fn challenges_parse() {
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into())
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Bearer service=x"), None);
        assert_eq!(Challenge::parse("Negotiate"), None);
    }

    /// Regression (#18): registry error bodies reached Warning Events; only a
    /// well-formed code is kept.
    /// Review of #24: a request's `Debug` printed its whole body (up to a blob's
    /// bytes); it gives the length.
    #[test]
    fn a_request_s_debug_gives_its_body_s_length_not_its_bytes() {
        let req = Request {
            method: Method::PUT,
            repository: "team/app",
            path: "blobs/uploads/1".into(),
            accept: &[],
            content_type: Some("application/octet-stream"),
            body: Some(bytes::Bytes::from_static(b"s3cret-bytes-of-a-blob")),
            limit: 1024,
            op: Op::Push,
        };
        let shown = format!("{req:?}");
        assert!(shown.contains("body_bytes: Some(22)"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn only_well_formed_error_codes_are_kept() {
        assert_eq!(
            error_code(br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"secret text"}]}"#),
            Some("MANIFEST_UNKNOWN".into())
        );
        assert_eq!(
            error_code(br#"{"errors":[{"code":"see http://evil/ now"}]}"#),
            None
        );
        assert_eq!(error_code(b"<html>"), None);
        let f = Failure::Status {
            status: 400,
            code: Some("MANIFEST_INVALID".into()),
        };
        assert_eq!(f.to_string(), "HTTP 400 (MANIFEST_INVALID)");
    }

    /// A transport for other credentials shares the registry clients, never the
    /// bearer tokens exchanged for someone else's credentials.
    #[test]
    fn other_credentials_get_their_own_tokens() {
        let base = Transport::new(vec!["r.example".into()]);
        base.tokens.lock().expect("lock").insert(
            ("r.example".into(), "repository:a:push".into()),
            Token {
                value: "secret-token".into(),
                until: Instant::now() + std::time::Duration::from_secs(60),
            },
        );
        let other = base.sharing_hosts();
        assert!(other.tokens.lock().expect("lock").is_empty());
        assert!(Arc::ptr_eq(&base.hosts, &other.hosts));
        assert_eq!(other.insecure, base.insecure);
    }
}
