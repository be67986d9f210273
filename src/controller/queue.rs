//! The work queue: run keys only (never run objects), each queued at most once, and
//! two lanes so that runs completing now are served before a backlog found at start-up
//! or waiting for a retry.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::kube::TektonKind;

/// A run to look at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunKey {
    /// TaskRun or PipelineRun.
    pub kind: TektonKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for RunKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kind.plural(), self.namespace, self.name)
    }
}

/// Which lane a key goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Seen completing while watching: served first.
    Fresh,
    /// Found by the initial list, or coming back for a retry.
    Backlog,
}

#[derive(Default)]
struct Lanes {
    fresh: VecDeque<RunKey>,
    backlog: VecDeque<RunKey>,
    /// Queued or being worked on: a key is never worked on twice at once.
    held: HashSet<RunKey>,
    /// Keys that arrived again while being worked on: requeued when done.
    again: HashSet<RunKey>,
    closed: bool,
}

/// The queue, shared by the watchers and the workers.
#[derive(Default)]
pub struct Queue {
    lanes: Mutex<Lanes>,
    ready: Notify,
}

impl Queue {
    /// Add `key` unless it is queued already (a key being worked on is looked at
    /// again once the worker is done).
    pub fn push(&self, key: RunKey, lane: Lane) {
        let Ok(mut l) = self.lanes.lock() else { return };
        if l.closed {
            return;
        }
        if l.held.contains(&key) {
            if !l.fresh.contains(&key) && !l.backlog.contains(&key) {
                l.again.insert(key);
            }
            return;
        }
        l.held.insert(key.clone());
        match lane {
            Lane::Fresh => l.fresh.push_back(key),
            Lane::Backlog => l.backlog.push_back(key),
        }
        drop(l);
        self.ready.notify_one();
    }

    /// The next key (fresh lane first); `None` once the queue is closed and empty.
    pub async fn pop(&self) -> Option<RunKey> {
        loop {
            let notified = self.ready.notified();
            {
                let Ok(mut l) = self.lanes.lock() else {
                    return None;
                };
                if let Some(k) = l.fresh.pop_front().or_else(|| l.backlog.pop_front()) {
                    return Some(k);
                }
                if l.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// A worker is done with `key`; if it arrived again meanwhile, queue it again.
    pub fn done(&self, key: &RunKey) {
        let Ok(mut l) = self.lanes.lock() else { return };
        l.held.remove(key);
        let again = l.again.remove(key);
        drop(l);
        if again {
            self.push(key.clone(), Lane::Fresh);
        }
    }

    /// Stop handing out work: workers finish what they hold and stop.
    pub fn close(&self) {
        if let Ok(mut l) = self.lanes.lock() {
            l.closed = true;
            l.fresh.clear();
            l.backlog.clear();
        }
        self.ready.notify_waiters();
    }

    /// Whether [`Queue::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.lanes.lock().map(|l| l.closed).unwrap_or(true)
    }

    /// Keys waiting (both lanes).
    pub fn depth(&self) -> usize {
        self.lanes
            .lock()
            .map(|l| l.fresh.len() + l.backlog.len())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> RunKey {
        RunKey {
            kind: TektonKind::TaskRun,
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn fresh_work_goes_before_the_backlog_and_keys_are_held_once() {
        let q = Queue::default();
        q.push(key("old-1"), Lane::Backlog);
        q.push(key("old-2"), Lane::Backlog);
        q.push(key("new"), Lane::Fresh);
        q.push(key("new"), Lane::Fresh);
        assert_eq!(q.depth(), 3);
        assert_eq!(q.pop().await, Some(key("new")));
        // Seen again while being worked on: looked at again afterwards, once.
        q.push(key("new"), Lane::Fresh);
        q.push(key("new"), Lane::Fresh);
        assert_eq!(q.pop().await, Some(key("old-1")));
        q.done(&key("new"));
        assert_eq!(q.pop().await, Some(key("new")));
        assert_eq!(q.pop().await, Some(key("old-2")));
        q.close();
        assert_eq!(q.pop().await, None);
    }
}
