//! Bytes of request data the server holds at once: bodies being read or inflated, and reports
//! waiting for the batcher. The appliance API reserves before it reads; the batcher releases
//! once a report is answered.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone)]
pub struct MemoryBudget(Arc<Semaphore>);

/// Asked for more than the budget has left.
#[derive(Debug)]
pub struct Spent;

impl MemoryBudget {
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(
            bytes.clamp(1, Semaphore::MAX_PERMITS),
        )))
    }

    /// Reserves `bytes`, or [`Spent`] when the budget has not that many left.
    pub fn reserve(&self, bytes: usize) -> Result<MemoryPermit, Spent> {
        let bytes = u32::try_from(bytes.max(1)).map_err(|_| Spent)?;
        self.0
            .clone()
            .try_acquire_many_owned(bytes)
            .map(MemoryPermit)
            .map_err(|_| Spent)
    }

    /// Bytes not reserved now.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}

/// Bytes of the budget held by one request, released when it is dropped (after the report it
/// carried was answered).
#[derive(Debug)]
pub struct MemoryPermit(OwnedSemaphorePermit);

impl MemoryPermit {
    pub fn bytes(&self) -> usize {
        self.0.num_permits()
    }

    /// Adds `more` bytes to this reservation, or [`Spent`].
    pub fn grow(&mut self, budget: &MemoryBudget, more: usize) -> Result<(), Spent> {
        let more = budget.reserve(more)?;
        self.0.merge(more.0);
        Ok(())
    }

    /// Gives back all but `keep` bytes.
    pub fn shrink_to(&mut self, keep: usize) {
        let surplus = self.bytes().saturating_sub(keep.max(1));
        drop(self.0.split(surplus));
    }
}
