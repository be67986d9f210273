//! A token bucket for client-side request rate limits (client-go's `--kube-api-qps`
//! and `--kube-api-burst`, which kube-rs does not have).

use std::time::Duration;

use tokio::time::Instant;

/// At most `qps` requests per second on average, `burst` at once.
#[derive(Debug)]
pub struct RateLimit {
    qps: f64,
    burst: f64,
    state: tokio::sync::Mutex<(f64, Instant)>,
}

impl RateLimit {
    /// A full bucket; `None` when `qps` is 0 (no limit).
    pub fn new(qps: f64, burst: u32) -> Option<Self> {
        (qps > 0.0).then(|| {
            let burst = f64::from(burst.max(1));
            Self {
                qps,
                burst,
                state: tokio::sync::Mutex::new((burst, Instant::now())),
            }
        })
    }

    /// Wait for a token.
    pub async fn acquire(&self) {
        let wait = {
            let mut state = self.state.lock().await;
            let (tokens, last) = &mut *state;
            let now = Instant::now();
            *tokens =
                (*tokens + now.duration_since(*last).as_secs_f64() * self.qps).min(self.burst);
            *last = now;
            *tokens -= 1.0;
            // A negative balance is the time this caller has to wait for its token.
            (*tokens < 0.0).then(|| Duration::from_secs_f64(-*tokens / self.qps))
        };
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bursts_then_paces() {
        let limit = RateLimit::new(10.0, 5).expect("limited");
        let start = tokio::time::Instant::now();
        for _ in 0..5 {
            limit.acquire().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(1),
            "the burst is immediate"
        );
        for _ in 0..10 {
            limit.acquire().await;
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(990) && took < Duration::from_millis(1100),
            "10 more at 10/s take a second: {took:?}"
        );
        assert!(RateLimit::new(0.0, 10).is_none());
    }
}
