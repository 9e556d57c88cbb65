//! Timers that only ever run in the browser (hover intent, toasts), on gloo-timers behind the
//! `hydrate` feature. The server renders no event handler, so it never starts one and holds
//! no timer: there a [`Pending`] is empty, and dropping it on any thread is harmless.

use std::time::Duration;

/// A timer waiting to run; dropping it cancels it.
pub struct Pending(#[cfg(feature = "hydrate")] gloo_timers::callback::Timeout);

impl Pending {
    /// Lets the timer run even though its handle is dropped.
    pub fn forget(self) {
        #[cfg(feature = "hydrate")]
        self.0.forget();
    }
}

/// Runs `run` once after `delay` (in the browser; nothing on the server).
pub fn run_after(delay: Duration, run: impl FnOnce() + 'static) -> Pending {
    #[cfg(feature = "hydrate")]
    {
        let millis = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        Pending(gloo_timers::callback::Timeout::new(millis, run))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (delay, run);
        Pending()
    }
}
