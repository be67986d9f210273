//! Opt-in finalizers (`CHAINSEAL_FINALIZERS=true`), and the release of Chains'
//! finalizers in every mode.
//!
//! With finalizers on, a run gets Chains' own finalizer (`chains.tekton.dev/taskrun`
//! or `chains.tekton.dev/pipelinerun`, added by server-side apply as Chains does) as
//! soon as the controller sees it unfinished, so a run deleted before it is signed
//! stays until it is. Unlike Chains, the finalizer is removed as soon as the run is
//! handled (signed, or marked failed), not when the run is deleted, so it blocks
//! nothing once signing is over.
//!
//! In every mode, a run being deleted that carries a Chains finalizer (this
//! controller's, or one left by Chains before a switch, including the legacy
//! `chains.tekton.dev`) is signed if it needs to be and then released; a cluster
//! that moves from Chains never keeps runs stuck in deletion.

use serde_json::Value;

use crate::kube::TektonKind;

/// Chains' legacy finalizer (before v0.27); released, never added.
pub const LEGACY: &str = "chains.tekton.dev";

/// The field manager that owns the finalizers this controller adds.
pub const FIELD_MANAGER: &str = "chainseal-controller/finalizers";

/// The finalizer this controller adds to runs of `kind` (Chains' name).
pub fn name(kind: TektonKind) -> &'static str {
    match kind {
        TektonKind::TaskRun => "chains.tekton.dev/taskrun",
        TektonKind::PipelineRun => "chains.tekton.dev/pipelinerun",
    }
}

/// Whether `finalizer` is one of Chains' (current or legacy).
pub fn is_chains(finalizer: &str) -> bool {
    finalizer == LEGACY
        || finalizer == "chains.tekton.dev/taskrun"
        || finalizer == "chains.tekton.dev/pipelinerun"
}

/// Chains' finalizers on `obj`, with their positions in `metadata.finalizers`.
pub fn held(obj: &Value) -> Vec<(usize, String)> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .enumerate()
                .filter_map(|(i, f)| f.as_str().filter(|f| is_chains(f)).map(|f| (i, f.into())))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `obj` is being deleted.
pub fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// What the watch knows of a run, to decide whether a worker should look at it.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// Finished (`Succeeded` not `Unknown`).
    pub done: bool,
    /// `signed` is `true` or `failed`.
    pub handled: bool,
    /// It carries a Chains finalizer.
    pub held: bool,
    /// It has a deletion timestamp.
    pub deleting: bool,
}

impl Seen {
    /// Whether a worker has something to do: sign it, add the finalizer (when
    /// `enabled`), or release it.
    pub fn needs_work(self, enabled: bool) -> bool {
        if self.handled {
            // Only a release can be left to do.
            return self.held && (self.deleting || enabled);
        }
        if self.done {
            return true;
        }
        if self.deleting {
            return self.held;
        }
        enabled && !self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn held_finds_chains_finalizers_by_position() {
        let obj = json!({"metadata": {"finalizers": [
            "example.com/keep", "chains.tekton.dev", "chains.tekton.dev/taskrun"
        ]}});
        assert_eq!(
            held(&obj),
            vec![
                (1, "chains.tekton.dev".to_owned()),
                (2, "chains.tekton.dev/taskrun".to_owned())
            ]
        );
        assert!(held(&json!({"metadata": {}})).is_empty());
        assert!(!is_chains("chains.tekton.dev/other"));
    }

    #[test]
    fn deleting_reads_the_timestamp() {
        assert!(deleting(
            &json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
        ));
        assert!(!deleting(&json!({"metadata": {"deletionTimestamp": null}})));
        assert!(!deleting(&json!({"metadata": {}})));
    }

    #[test]
    fn what_needs_a_worker() {
        let seen = |done, handled, held, deleting| Seen {
            done,
            handled,
            held,
            deleting,
        };
        // Finished and unhandled: always signed.
        assert!(seen(true, false, false, false).needs_work(false));
        // Running: only with finalizers on, and only until the finalizer is there.
        assert!(!seen(false, false, false, false).needs_work(false));
        assert!(seen(false, false, false, false).needs_work(true));
        assert!(!seen(false, false, true, false).needs_work(true));
        // Deleted while running: released in every mode.
        assert!(seen(false, false, true, true).needs_work(false));
        assert!(!seen(false, false, false, true).needs_work(true));
        // Handled: released when deleted (every mode) or at once (finalizers on).
        assert!(!seen(true, true, false, false).needs_work(true));
        assert!(!seen(true, true, true, false).needs_work(false));
        assert!(seen(true, true, true, false).needs_work(true));
        assert!(seen(true, true, true, true).needs_work(false));
    }
}
