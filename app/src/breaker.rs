//! A circuit breaker for a helper the server can do without (Redis): after a failure the
//! helper is skipped for a back-off period (doubling from [`FIRST_BACKOFF`] up to
//! [`MAX_BACKOFF`]), then a single caller probes it; an answer closes the circuit. Each change
//! between working and not working is logged once, not once per request.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct Breaker {
    name: &'static str,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open {
        until: Instant,
        backoff: Duration,
    },
    /// One caller is trying the helper again; the others keep skipping it.
    Probing {
        backoff: Duration,
    },
}

/// What the breaker says of its helper, for health and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    Probing,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::Probing => "probing",
        }
    }
}

impl Breaker {
    pub fn new(name: &'static str) -> Self {
        Breaker {
            name,
            state: Mutex::new(State::Closed),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this caller may use the helper now. Past the back-off, the first caller to ask
    /// becomes the probe.
    pub fn allow(&self) -> bool {
        let mut state = self.state();
        match *state {
            State::Closed => true,
            State::Open { until, backoff } if Instant::now() >= until => {
                *state = State::Probing { backoff };
                true
            }
            State::Open { .. } | State::Probing { .. } => false,
        }
    }

    pub fn succeeded(&self) {
        let mut state = self.state();
        if *state != State::Closed {
            tracing::info!("{} answers again: using it", self.name);
            *state = State::Closed;
        }
    }

    pub fn failed(&self, error: &dyn std::fmt::Display) {
        let mut state = self.state();
        let backoff = match *state {
            State::Closed => {
                tracing::warn!(
                    "{} failed ({error}): skipping it for now, trying again in {} s",
                    self.name,
                    FIRST_BACKOFF.as_secs()
                );
                FIRST_BACKOFF
            }
            State::Probing { backoff } | State::Open { backoff, .. } => {
                let next = (backoff * 2).min(MAX_BACKOFF);
                tracing::debug!(
                    "{} still failing ({error}); next try in {next:?}",
                    self.name
                );
                next
            }
        };
        *state = State::Open {
            until: Instant::now() + backoff,
            backoff,
        };
    }

    pub fn current(&self) -> BreakerState {
        match *self.state() {
            State::Closed => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::Probing { .. } => BreakerState::Probing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_opens_the_circuit_until_one_probe_succeeds() {
        let breaker = Breaker::new("helper");
        assert!(breaker.allow());
        breaker.failed(&"refused");
        assert_eq!(breaker.current(), BreakerState::Open);
        assert!(!breaker.allow(), "skipped during the back-off");
        std::thread::sleep(FIRST_BACKOFF);
        assert!(breaker.allow(), "the first caller past the back-off probes");
        assert_eq!(breaker.current(), BreakerState::Probing);
        assert!(!breaker.allow(), "the others keep skipping while it probes");
        breaker.succeeded();
        assert_eq!(breaker.current(), BreakerState::Closed);
        assert!(breaker.allow());
    }

    #[test]
    fn a_failed_probe_doubles_the_back_off() {
        let breaker = Breaker::new("helper");
        breaker.failed(&"refused");
        std::thread::sleep(FIRST_BACKOFF);
        assert!(breaker.allow());
        breaker.failed(&"refused again");
        std::thread::sleep(FIRST_BACKOFF);
        assert!(!breaker.allow(), "now two seconds");
        std::thread::sleep(FIRST_BACKOFF);
        assert!(breaker.allow());
    }
}
