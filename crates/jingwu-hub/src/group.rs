//! Group commit of pushes.
//!
//! A push is decoded and its keys are checked by the pushing thread; its
//! signatures are then verified on the rayon pool while it waits in the
//! queue. Whichever pushing thread finds no group being written becomes
//! the writer: it takes every push waiting (up to [`MAX_GROUP_EVENTS`]),
//! runs them in ONE database transaction — each inside its own savepoint,
//! so that a push refused by the rules, or whose signature turned out bad,
//! is rolled back alone with its own answer while the others go on —
//! commits once (one fsync), answers each push, and wakes the threads
//! waiting. Pushes that arrived meanwhile form the next group, written by
//! one of their own threads. So verification of later pushes overlaps the
//! commit of earlier ones, and many stations' pushes share one commit.
//!
//! No push is answered before its group's commit has returned: an
//! acknowledged event is durable. Groups are written one at a time (and
//! the database serialises writers as before), so `gseq` grows in commit
//! order.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use jingwu_core::crypto::PublicKey;
use jingwu_core::event::SignedEvent;

use crate::error::ApiError;
use crate::hub::PushResult;

/// Most events written in one group (one transaction); more waiting
/// pushes go to the next group. A single push larger than this is one
/// group of its own.
pub const MAX_GROUP_EVENTS: usize = 4096;

/// A value set once by one thread and taken by another.
pub(crate) struct Slot<T> {
    value: Mutex<Option<T>>,
    ready: Condvar,
}

impl<T> Slot<T> {
    pub fn new() -> Slot<T> {
        Slot {
            value: Mutex::new(None),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<T>> {
        self.value.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, v: T) {
        *self.lock() = Some(v);
        self.ready.notify_all();
    }

    pub fn is_set(&self) -> bool {
        self.lock().is_some()
    }

    pub fn take(&self) -> Option<T> {
        self.lock().take()
    }

    /// Waits until the value is set, and takes it.
    pub fn wait(&self) -> T {
        let mut v = self.lock();
        loop {
            if let Some(x) = v.take() {
                return x;
            }
            v = self.ready.wait(v).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// One push waiting for its group's commit.
pub(crate) struct PendingPush {
    /// The caller.
    pub person: String,
    /// Decoded, each authored by the caller with an approved key.
    pub events: Vec<SignedEvent>,
    /// The authors' keys, one per event.
    pub keys: Vec<PublicKey>,
    /// The signature check, made on the rayon pool while the push waits
    /// (and while the writer applies its rules).
    pub verified: Slot<Result<(), ApiError>>,
    /// The answer, set after the group's commit.
    pub answer: Slot<Result<PushResult, ApiError>>,
}

struct State {
    queue: VecDeque<Arc<PendingPush>>,
    /// A group is being written.
    writing: bool,
}

/// The queue of pushes and who writes the next group.
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    /// Signalled when a group has been written.
    written: Condvar,
}

impl GroupCommit {
    pub fn new() -> GroupCommit {
        GroupCommit {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                writing: false,
            }),
            written: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `push` and returns its answer: written by this thread as
    /// part of a group (`write` commits a group and answers every push in
    /// it), or by another thread's group.
    pub fn submit(
        &self,
        push: Arc<PendingPush>,
        write: &dyn Fn(&[Arc<PendingPush>]),
    ) -> Result<PushResult, ApiError> {
        let mut st = self.lock();
        st.queue.push_back(push.clone());
        loop {
            if let Some(answer) = push.answer.take() {
                return answer;
            }
            if !st.writing {
                st.writing = true;
                let group = take_group(&mut st.queue);
                drop(st);
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(&group)));
                if outcome.is_err() {
                    tracing::error!(pushes = group.len(), "group commit panicked");
                }
                // Whatever was not answered (a panic) must not wait forever.
                for p in &group {
                    if !p.answer.is_set() {
                        p.answer.set(Err(ApiError::internal("写入事件时出错")));
                    }
                }
                st = self.lock();
                st.writing = false;
                self.written.notify_all();
                continue;
            }
            st = self.written.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The next group: the pushes waiting, oldest first, up to
/// [`MAX_GROUP_EVENTS`] events (at least one push).
fn take_group(queue: &mut VecDeque<Arc<PendingPush>>) -> Vec<Arc<PendingPush>> {
    let mut group = Vec::new();
    let mut events = 0;
    while let Some(p) = queue.front() {
        if !group.is_empty() && events + p.events.len() > MAX_GROUP_EVENTS {
            break;
        }
        events += p.events.len();
        if let Some(p) = queue.pop_front() {
            group.push(p);
        }
    }
    group
}
