//! Which worker thread runs the caller ([`crate::workers`] sets it when a
//! thread starts): backend pools are kept per worker ([`super::PoolKey`]'s
//! `worker`), so a connection is only ever used on its own runtime.

use std::cell::Cell;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The worker thread running the caller (`usize::MAX` off the workers: the
/// control runtime's background tasks).
pub fn current() -> usize {
    WORKER.with(|w| w.get())
}

/// Marks the calling thread as worker `i`.
pub fn enter(i: usize) {
    WORKER.with(|w| w.set(i));
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_thread_is_the_worker_it_entered() {
        assert_eq!(super::current(), usize::MAX);
        std::thread::spawn(|| {
            super::enter(3);
            assert_eq!(super::current(), 3);
        })
        .join()
        .unwrap();
        assert_eq!(super::current(), usize::MAX, "per thread");
    }
}
