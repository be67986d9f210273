//! What kind of failure an error is, decided from typed facts.
//!
//! The errors that cross subsystem boundaries (`signing::Error`, `storage::Error`,
//! `kube::Error`, `oci::Error`, `transparency::Error`, `keyless::Error`) each have a
//! `kind()`. A kind is decided where the failure is met, from what the library or
//! service said in a typed way — an HTTP status, an SDK error variant or code (the AWS
//! SDK's `ProvideErrorMetadata::code()`, a gRPC code), a [`std::io::ErrorKind`],
//! reqwest's `is_connect()`/`is_timeout()` — and never by searching an error's text.
//! Hints ("the caller needs kms:Sign on this key", "is the endpoint reachable?") are
//! chosen by kind, and callers that decide what to do next (retry, give up, mark a
//! run) can ask for the kind instead of matching variants of another module.
//!
//! An error's message says what failed and, chosen by kind, what to check; the cause
//! follows as its `#[source]` and is never repeated in the message:
//! [`crate::error_text::joined`] (how the binary and the controller print errors)
//! prints the whole chain on one line. Where a library's error is not fit to print (the
//! AWS SDK's), its one-line summary is kept as a [`Reply`] beside the kind decided from
//! the typed error.

use std::fmt;

/// The kind of a failure, as far as a caller needs to know to choose a hint or what to
/// do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The thing named does not exist (HTTP 404, `ENOENT`, an SDK's `NotFound`).
    NotFound,
    /// The caller is known but not allowed (HTTP 403, `EACCES`, `AccessDenied`).
    PermissionDenied,
    /// The caller is not known: no credentials, or credentials refused (HTTP 401, an
    /// identity token refused, no credentials found).
    Unauthenticated,
    /// The service could not be reached or did not answer in time (connection refused,
    /// timeout, HTTP 5xx and 429): the same request may succeed later.
    Unavailable,
    /// The request or the configuration is wrong (HTTP 400/422, a malformed key or
    /// URI): the same request will never succeed.
    Invalid,
    /// Anything else.
    Other,
}

impl Kind {
    /// The kind of an HTTP error status.
    pub fn from_http_status(status: u16) -> Self {
        match status {
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            404 | 410 => Self::NotFound,
            408 | 429 | 500..=599 => Self::Unavailable,
            400 | 405 | 411 | 413 | 414 | 415 | 422 => Self::Invalid,
            _ => Self::Other,
        }
    }

    /// The kind of an I/O error.
    pub fn from_io(kind: std::io::ErrorKind) -> Self {
        use std::io::ErrorKind as Io;
        match kind {
            Io::NotFound => Self::NotFound,
            Io::PermissionDenied | Io::ReadOnlyFilesystem => Self::PermissionDenied,
            Io::ConnectionRefused
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::NotConnected
            | Io::HostUnreachable
            | Io::NetworkUnreachable
            | Io::NetworkDown
            | Io::AddrNotAvailable
            | Io::BrokenPipe
            | Io::TimedOut
            | Io::UnexpectedEof => Self::Unavailable,
            Io::InvalidInput | Io::InvalidData | Io::InvalidFilename | Io::IsADirectory => {
                Self::Invalid
            }
            _ => Self::Other,
        }
    }

    /// The kind of an I/O error, or of the I/O error it wraps when its own kind is
    /// `Other` (hyper-util wraps the connector's I/O errors so; an I/O error's
    /// `source()` skips the error it wraps).
    fn from_nested_io(io: &std::io::Error) -> Self {
        match Self::from_io(io.kind()) {
            Self::Other => match io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<std::io::Error>())
            {
                Some(inner) => Self::from_nested_io(inner),
                None => Self::Other,
            },
            kind => kind,
        }
    }

    /// The kind of a reqwest error: its status, else a failed connection or timeout.
    pub fn from_reqwest(e: &reqwest::Error) -> Self {
        match e.status() {
            Some(status) => Self::from_http_status(status.as_u16()),
            None if e.is_connect() || e.is_timeout() => Self::Unavailable,
            None if e.is_builder() => Self::Invalid,
            None => Self::Other,
        }
    }

    #[cfg(feature = "aws")]
    /// The kind of a failed AWS SDK call, from its typed error: its failure variant,
    /// the service's error code, a credentials error among the causes.
    pub fn from_aws<E>(
        e: &aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
    ) -> Self
    where
        E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_kms::error::{ProvideErrorMetadata as _, SdkError};
        match e {
            SdkError::TimeoutError(_) => Self::Unavailable,
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => Self::Unavailable,
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
                if aws_no_credentials(e) =>
            {
                Self::Unauthenticated
            }
            SdkError::DispatchFailure(_) => Self::Unavailable,
            _ => aws_code_kind(e.code()).unwrap_or_else(|| match e.raw_response() {
                Some(r) => Self::from_http_status(r.status().as_u16()),
                None => Self::Other,
            }),
        }
    }

    /// The kind of the first cause in `e`'s chain that says one: an I/O error or a
    /// reqwest error (found by type, not by text); [`Kind::Other`] when none does.
    pub fn of_chain(e: &(dyn std::error::Error + 'static)) -> Self {
        let mut next = Some(e);
        while let Some(err) = next {
            let kind = if let Some(io) = err.downcast_ref::<std::io::Error>() {
                Self::from_nested_io(io)
            } else if let Some(r) = err.downcast_ref::<reqwest::Error>() {
                Self::from_reqwest(r)
            } else {
                Self::Other
            };
            if kind != Self::Other {
                return kind;
            }
            next = err.source();
        }
        Self::Other
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "not found",
            Self::PermissionDenied => "permission denied",
            Self::Unauthenticated => "not authenticated",
            Self::Unavailable => "unavailable",
            Self::Invalid => "invalid",
            Self::Other => "failed",
        })
    }
}

#[cfg(feature = "aws")]
/// Whether the SDK found no credentials (a credentials provider error among the
/// causes).
fn aws_no_credentials(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err
            .downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        next = err.source();
    }
    false
}

#[cfg(feature = "aws")]
/// The kind of an AWS error code (KMS, DynamoDB and the common codes of every AWS
/// service).
pub fn aws_code_kind(code: Option<&str>) -> Option<Kind> {
    Some(match code? {
        "AccessDeniedException" | "AccessDenied" => Kind::PermissionDenied,
        "NotFoundException" | "ResourceNotFoundException" | "NoSuchBucket" => Kind::NotFound,
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "ExpiredTokenException"
        | "ExpiredToken"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => Kind::Unauthenticated,
        "ThrottlingException"
        | "Throttling"
        | "KMSInternalException"
        | "DependencyTimeoutException"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded" => Kind::Unavailable,
        "ValidationException"
        | "InvalidKeyUsageException"
        | "KMSInvalidStateException"
        | "DisabledException"
        | "InvalidParameterValue" => Kind::Invalid,
        _ => return None,
    })
}

/// The TLS error among `e`'s causes, if the connection failed in the TLS handshake
/// (rustls' error, also inside the I/O errors that carry it: an I/O error's
/// `source()` skips the error it wraps, so those are unwrapped here).
pub fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        let mut inner: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(i) = inner {
            if let Some(tls) = i.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            inner = i
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|wrapped| wrapped as &(dyn std::error::Error + 'static));
        }
        next = err.source();
    }
    None
}

/// A cause known by its text only: a service's reply, or a library error whose own
/// `Display` is not fit to print (the AWS SDK's shows the raw response). It ends a
/// chain; the error that holds it keeps the [`Kind`] decided from the typed error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Reply(pub String);

/// A boxed cause, as error variants keep it.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_have_kinds() {
        assert_eq!(Kind::from_http_status(404), Kind::NotFound);
        assert_eq!(Kind::from_http_status(403), Kind::PermissionDenied);
        assert_eq!(Kind::from_http_status(401), Kind::Unauthenticated);
        assert_eq!(Kind::from_http_status(503), Kind::Unavailable);
        assert_eq!(Kind::from_http_status(429), Kind::Unavailable);
        assert_eq!(Kind::from_http_status(422), Kind::Invalid);
        assert_eq!(Kind::from_http_status(409), Kind::Other);
    }

    #[test]
    fn io_errors_have_kinds_through_a_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let refused = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(Kind::of_chain(&refused), Kind::Unavailable);
        let missing = Outer(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(Kind::of_chain(&missing), Kind::NotFound);
        assert_eq!(Kind::of_chain(&Reply("AccessDenied".into())), Kind::Other);
    }

    #[test]
    fn tls_errors_are_found_inside_io_errors() {
        #[derive(Debug, thiserror::Error)]
        #[error("connect")]
        struct Connect(#[source] std::io::Error);
        // As hyper-util and tokio-rustls nest them.
        let e = Connect(std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        )));
        assert!(matches!(
            tls_error(&e),
            Some(rustls::Error::InvalidCertificate(_))
        ));
        assert!(tls_error(&Reply("invalid peer certificate".into())).is_none());
    }
}
