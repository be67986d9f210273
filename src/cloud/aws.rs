//! The AWS SDK's configuration: the SDK's own credential and region chain
//! (`AWS_*`, profiles, web identity, the instance or container role) with bounded
//! timeouts.

use std::time::Duration;

/// How long the SDK may try to connect before the call fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The SDK configuration from the environment, each operation limited to `operation`
/// (retries included); `endpoint` replaces the service's own (`AWS_ENDPOINT_URL` and
/// `AWS_ENDPOINT_URL_<SERVICE>` are read by the SDK itself).
pub async fn sdk_config(operation: Duration, endpoint: Option<String>) -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_timeout(operation)
        .connect_timeout(CONNECT_TIMEOUT)
        .build();
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts);
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}
