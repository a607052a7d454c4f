//! Retry timing: Ignition's backoff (200 ms doubling, capped at 5 s) with jitter, so a fleet
//! booting at once does not retry in lockstep, bounded by the total deadline.

use std::time::{Duration, Instant};

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);

pub(crate) struct Backoff {
    next: Duration,
    jitter: bool,
    state: u64,
}

impl Backoff {
    pub fn new(jitter: bool) -> Self {
        Backoff {
            next: FIRST_DELAY,
            jitter,
            state: seed(),
        }
    }

    /// The wait before the next attempt: the nominal delay `d`, or with jitter a uniform
    /// pick in `[d/2, 3d/2]`: on average upstream's schedule, spread over a window as wide
    /// as the delay itself.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        if !self.jitter {
            return nominal;
        }
        let spread = u64::try_from(nominal.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        nominal / 2 + Duration::from_micros(self.random() % (spread + 1))
    }

    /// xorshift64*: plenty for spreading retries.
    fn random(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Seed from the kernel's randomness, falling back to the clock and pid: machines of one
/// fleet must not share a sequence.
fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let seed = match getrandom::getrandom(&mut bytes) {
        Ok(()) => u64::from_ne_bytes(bytes),
        Err(_) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            nanos ^ (u64::from(std::process::id()) << 32)
        }
    };
    seed | 1
}

/// The end of the whole operation (`httpTotal`), if there is one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    pub fn after(total: Option<Duration>) -> Self {
        Deadline(total.map(|t| Instant::now() + t))
    }

    pub fn remaining(&self) -> Option<Duration> {
        self.0
            .map(|end| end.saturating_duration_since(Instant::now()))
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|r| r.is_zero())
    }

    /// Sleep `delay` unless that would pass the deadline; `false` means out of time.
    pub fn sleep(&self, delay: Duration) -> bool {
        if self.remaining().is_some_and(|r| r <= delay) {
            return false;
        }
        std::thread::sleep(delay);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut b = Backoff::new(false);
        let ms: Vec<u128> = (0..7).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn jitter_stays_within_half_to_one_and_a_half_and_varies() {
        let mut b = Backoff::new(true);
        let first: Vec<Duration> = (0..50)
            .map(|_| {
                let mut fresh = Backoff::new(true);
                fresh.next_delay()
            })
            .collect();
        assert!(
            first
                .iter()
                .all(|d| *d >= FIRST_DELAY / 2 && *d <= FIRST_DELAY * 3 / 2)
        );
        assert!(first.iter().any(|d| *d != first[0]));
        for _ in 0..20 {
            assert!(b.next_delay() <= MAX_DELAY * 3 / 2);
        }
    }

    #[test]
    fn deadline_refuses_sleeps_past_it() {
        let d = Deadline::after(Some(Duration::from_millis(50)));
        assert!(!d.sleep(Duration::from_secs(10)));
        assert!(Deadline::after(None).remaining().is_none());
    }
}
