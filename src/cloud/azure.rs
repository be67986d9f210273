//! Azure's identity: one credential chain for Key Vault and the container registries'
//! ACR keychain, with bounded retries.
//!
//! In this order: a service principal secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
//! `AZURE_CLIENT_SECRET`); workload identity (`AZURE_FEDERATED_TOKEN_FILE`, as AKS
//! injects it); the Azure CLI when `AZURE_AUTH_METHOD=cli`; otherwise managed identity
//! (App Service / IMDS, a user-assigned identity when `AZURE_CLIENT_ID` is set).

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
};

use crate::env_vars::EnvVars;

/// A set, non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Bounded retries: a build's last step must fail in seconds, not minutes, when the
/// vault or the token endpoint is unreachable or refuses the TLS handshake.
pub fn client_options() -> azure_core::http::ClientOptions {
    azure_core::http::ClientOptions {
        retry: azure_core::http::RetryOptions::exponential(
            azure_core::http::ExponentialRetryOptions {
                max_retries: 2,
                ..Default::default()
            },
        ),
        ..Default::default()
    }
}

/// The credential chain described in the module documentation, and its name for
/// messages.
pub fn credential() -> azure_core::Result<(Arc<dyn TokenCredential>, &'static str)> {
    if let (Some(tenant), Some(client), Some(secret)) = (
        env(EnvVars::AZURE_TENANT_ID),
        env(EnvVars::AZURE_CLIENT_ID),
        env(EnvVars::AZURE_CLIENT_SECRET),
    ) {
        let options = azure_identity::ClientSecretCredentialOptions {
            client_options: client_options(),
        };
        let c = ClientSecretCredential::new(&tenant, client, Secret::new(secret), Some(options))?;
        return Ok((c, "service principal (AZURE_CLIENT_SECRET)"));
    }
    if env(EnvVars::AZURE_FEDERATED_TOKEN_FILE).is_some() {
        return Ok((
            WorkloadIdentityCredential::new(None)?,
            "workload identity (AZURE_FEDERATED_TOKEN_FILE)",
        ));
    }
    if env(EnvVars::AZURE_AUTH_METHOD).is_some_and(|m| m.eq_ignore_ascii_case("cli")) {
        return Ok((AzureCliCredential::new(None)?, "Azure CLI"));
    }
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id: env(EnvVars::AZURE_CLIENT_ID).map(UserAssignedId::ClientId),
        client_options: client_options(),
    };
    Ok((
        ManagedIdentityCredential::new(Some(options))?,
        "managed identity",
    ))
}
