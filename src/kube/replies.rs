//! Caps on what the Kubernetes API may send back.
//!
//! The API server is trusted (the cluster admin runs it), but what it returns is
//! shaped by tenants: every TaskRun and PipelineRun in a namespace, with results and
//! annotations they chose. One object is at most about 1.5 MiB (etcd's request limit),
//! so a one-shot reply (a get, a patch, one page of a list) is capped at
//! [`MAX_REPLY_BYTES`] and lists are read in pages of [`PAGE_SIZE`] objects, which
//! keeps every page well inside the cap. A watch is a stream of single-object events
//! that lasts as long as the watch; it is not capped as a whole.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response, Uri};
use http_body_util::Limited;
use tower::{Layer, Service};

/// The largest reply to a one-shot request: 64 MiB.
pub const MAX_REPLY_BYTES: usize = 64 << 20;

/// Objects per page of a list (and of a watch's initial list): 32 objects of at most
/// about 1.5 MiB each stay inside [`MAX_REPLY_BYTES`].
pub const PAGE_SIZE: u32 = 32;

// A page of objects at etcd's default request limit (1.5 MiB each) fits the cap.
const _: () = assert!(PAGE_SIZE as usize * (3 << 19) < MAX_REPLY_BYTES);

/// The most objects one [`super::Cluster::list`] call gathers over all its pages.
pub const MAX_LISTED: usize = 10_000;

/// A tower layer that caps every reply body at [`MAX_REPLY_BYTES`], except a
/// watch's event stream; reading past the cap fails with
/// [`http_body_util::LengthLimitError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CapReplies;

impl<S> Layer<S> for CapReplies {
    type Service = Capped<S>;

    fn layer(&self, inner: S) -> Capped<S> {
        Capped { inner }
    }
}

/// The service [`CapReplies`] wraps around the client's.
#[derive(Debug, Clone)]
pub struct Capped<S> {
    inner: S,
}

impl<S, ReqBody, B> Service<Request<ReqBody>> for Capped<S>
where
    S: Service<Request<ReqBody>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = Response<Limited<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let limit = limit_for(request.uri());
        let reply = self.inner.call(request);
        Box::pin(async move { reply.await.map(|r| r.map(|body| Limited::new(body, limit))) })
    }
}

/// The cap for a request: none for a watch, [`MAX_REPLY_BYTES`] for anything else.
fn limit_for(uri: &Uri) -> usize {
    let watch = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    if watch { usize::MAX } else { MAX_REPLY_BYTES }
}

/// Whether `error` (or what caused it) is a reply over the cap.
pub fn too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_watches_are_uncapped() {
        let cap = |u: &str| limit_for(&u.parse::<Uri>().expect("uri"));
        assert_eq!(
            cap("/apis/tekton.dev/v1/namespaces/ci/taskruns/a"),
            MAX_REPLY_BYTES
        );
        assert_eq!(
            cap("/apis/tekton.dev/v1/taskruns?limit=32"),
            MAX_REPLY_BYTES
        );
        assert_eq!(
            cap("/apis/tekton.dev/v1/taskruns?watch=false"),
            MAX_REPLY_BYTES
        );
        assert_eq!(
            cap("/apis/tekton.dev/v1/taskruns?allowWatchBookmarks=true&watch=true"),
            usize::MAX
        );
        assert_eq!(
            cap("/apis/tekton.dev/v1/taskruns?watch=1&resourceVersion=5"),
            usize::MAX
        );
    }
}
