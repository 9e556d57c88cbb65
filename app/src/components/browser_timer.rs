//! Timers that only ever run in the browser (hover intent, toasts), on gloo-timers behind the
//! `hydrate` feature. The server renders no event handler, so it never starts a timer, and no
//! component holds one: a timer's handle is not `Send`, and a component's state is dropped on
//! whichever server thread finishes the render.

use std::time::Duration;

use leptos::prelude::*;

/// Runs `run` once after `delay` in the browser (nothing on the server). To call it off,
/// have `run` check that it is still wanted, as [`Intent`] does.
pub fn run_after(delay: Duration, run: impl FnOnce() + 'static) {
    #[cfg(feature = "hydrate")]
    {
        let millis = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        gloo_timers::callback::Timeout::new(millis, run).forget();
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (delay, run);
    }
}

/// Intent shown by lingering (a pointer resting on a row): `start` runs its action after a
/// delay unless `cancel` (or another `start`) came first.
#[derive(Clone, Copy)]
pub struct Intent {
    /// Bumped by every start and cancel; a timer acts only if nothing bumped it since.
    generation: StoredValue<u64>,
}

impl Default for Intent {
    fn default() -> Self {
        Self {
            generation: StoredValue::new(0),
        }
    }
}

impl Intent {
    pub fn start(self, delay: Duration, action: impl FnOnce() + 'static) {
        let mine = self.bump();
        run_after(delay, move || {
            if self.generation.try_get_value() == Some(mine) {
                action();
            }
        });
    }

    pub fn cancel(self) {
        self.bump();
    }

    fn bump(self) -> u64 {
        self.generation.update_value(|g| *g += 1);
        self.generation.get_value()
    }
}
