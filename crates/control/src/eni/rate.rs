//! EC2's rate limit on ENI creation as a token bucket: a burst, then a steady refill. When
//! Lambda's scale-out exceeds it, the invocation fails with `EC2ThrottledException`, as it
//! does on AWS. Time is passed in, so the bucket is deterministic under test.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `per_second`, starting at time `now`.
    pub fn new(burst: u32, per_second: f64, now: Duration) -> Self {
        TokenBucket {
            capacity: f64::from(burst),
            per_second: per_second.max(0.0),
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// Takes one token if there is one at `now` (a monotonic time since any fixed origin).
    pub fn try_take(&mut self, now: Duration) -> bool {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let t0 = Duration::from_secs(100);
        let mut b = TokenBucket::new(3, 2.0, t0);
        assert!((0..3).all(|_| b.try_take(t0)));
        assert!(!b.try_take(t0), "burst used up");
        assert!(
            b.try_take(t0 + Duration::from_millis(500)),
            "one token after half a second at 2/s"
        );
        assert!(!b.try_take(t0 + Duration::from_millis(500)));
        let later = t0 + Duration::from_secs(60);
        assert!(
            (0..3).all(|_| b.try_take(later)),
            "refills to the burst, not beyond"
        );
        assert!(!b.try_take(later));
    }

    #[test]
    fn a_zero_rate_never_refills() {
        let mut b = TokenBucket::new(1, 0.0, Duration::ZERO);
        assert!(b.try_take(Duration::ZERO));
        assert!(!b.try_take(Duration::from_secs(3600)));
    }
}
