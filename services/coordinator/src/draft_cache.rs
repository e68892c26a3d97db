//! The per-draft locks and in-memory entries of one coordinator replica.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cairn_core::StagedIndex;

/// One draft's in-memory entries and how far they are synced with the record.
#[derive(Default)]
pub(crate) struct Slot {
    /// The draft these entries belong to; empty when nothing is loaded.
    pub(crate) uid: String,
    /// How many of the draft's segments `index` holds.
    pub(crate) loaded_segments: u64,
    pub(crate) index: StagedIndex,
}

/// Per-draft locks and in-memory entries. A slot lives while a request uses it, and after
/// that only while it holds the entries of a draft this replica loaded (and so owns);
/// slots of forwarded, unknown and ended drafts go when their last request does, so the
/// cache holds no more than this replica's open drafts.
///
/// A slot is never removed while a request holds or awaits it: the next request of the
/// draft would lock a fresh slot and run beside the first, and two upserts of one draft
/// at once write the same segment key. Forgetting a slot in use marks it instead; its
/// entries are dropped when it is next locked, and the slot when its last request ends.
#[derive(Default)]
pub(crate) struct DraftCache {
    slots: Mutex<HashMap<String, Arc<SlotCell>>>,
}

#[derive(Default)]
struct SlotCell {
    /// Set by [`DraftCache::forget`]: the entries are not to be trusted any more.
    forgotten: AtomicBool,
    slot: tokio::sync::Mutex<Slot>,
}

/// One request's hold on a draft's slot; settles the slot when dropped.
pub(crate) struct SlotLease<'a> {
    cache: &'a DraftCache,
    key: String,
    cell: Arc<SlotCell>,
}

impl SlotLease<'_> {
    /// Waits for the draft's lock.
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, Slot> {
        let mut slot = self.cell.slot.lock().await;
        if self.cell.forgotten.swap(false, Ordering::SeqCst) {
            *slot = Slot::default();
        }
        slot
    }
}

impl Drop for SlotLease<'_> {
    fn drop(&mut self) {
        let mut slots = self.cache.slots.lock().expect("draft cache lock poisoned");
        // Only our own slot, and only when no other request holds or awaits it (holders:
        // the map and this lease); the last of them settles it.
        let ours = slots.get(&self.key).is_some_and(|cell| Arc::ptr_eq(cell, &self.cell));
        if !ours || Arc::strong_count(&self.cell) > 2 {
            return;
        }
        let loaded = self.cell.slot.try_lock().map(|slot| !slot.uid.is_empty()).unwrap_or(true);
        if !loaded || self.cell.forgotten.load(Ordering::SeqCst) {
            slots.remove(&self.key);
        }
        crate::metrics::OPEN_DRAFTS.set(slots.len() as i64);
    }
}

impl DraftCache {
    pub(crate) fn lease(&self, key: &str) -> SlotLease<'_> {
        let mut slots = self.slots.lock().expect("draft cache lock poisoned");
        let cell = slots.entry(key.to_owned()).or_default().clone();
        crate::metrics::OPEN_DRAFTS.set(slots.len() as i64);
        SlotLease { cache: self, key: key.to_owned(), cell }
    }

    /// Drops a draft's entries (it ended, or this replica no longer owns it): at once when
    /// no request holds the slot, else when its last request ends.
    pub(crate) fn forget(&self, key: &str) {
        let mut slots = self.slots.lock().expect("draft cache lock poisoned");
        let Some(cell) = slots.get(key) else { return };
        cell.forgotten.store(true, Ordering::SeqCst);
        // No lease can be taken meanwhile: that needs the map's lock, which we hold.
        if Arc::strong_count(cell) == 1 {
            slots.remove(key);
        }
        crate::metrics::OPEN_DRAFTS.set(slots.len() as i64);
    }

    /// Keys of the drafts whose entries are cached.
    pub(crate) fn cached_keys(&self) -> Vec<String> {
        self.slots.lock().expect("draft cache lock poisoned").keys().cloned().collect()
    }

    /// Number of cached slots.
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().expect("draft cache lock poisoned").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[tokio::test]
    async fn a_forgotten_slot_in_use_still_serializes_the_next_request_and_loses_its_entries() {
        let cache = DraftCache::default();
        let first = cache.lease("drafts/d");
        let mut held = first.lock().await;
        held.uid = "u1".into();
        held.loaded_segments = 3;

        cache.forget("drafts/d");
        let second = cache.lease("drafts/d");
        let mut waiting = Box::pin(second.lock());
        assert!(waiting.as_mut().now_or_never().is_none(), "the second request ran beside the first");
        drop(held);
        let slot = waiting.await;
        assert_eq!((slot.uid.as_str(), slot.loaded_segments), ("", 0), "forgotten entries were kept");
        drop(slot);
        drop(first);
        drop(second);
        assert_eq!(cache.len(), 0, "the forgotten slot outlived its last request");
    }

    #[tokio::test]
    async fn a_loaded_slot_stays_cached_and_an_idle_one_is_forgotten_at_once() {
        let cache = DraftCache::default();
        let lease = cache.lease("drafts/d");
        lease.lock().await.uid = "u1".into();
        drop(lease);
        assert_eq!(cache.cached_keys(), vec!["drafts/d".to_owned()]);
        cache.forget("drafts/d");
        assert_eq!(cache.len(), 0);
        let lease = cache.lease("drafts/d");
        assert_eq!(lease.lock().await.uid, "", "a new slot starts empty");
    }

    #[tokio::test]
    async fn a_request_that_only_looked_leaves_no_slot() {
        let cache = DraftCache::default();
        let lease = cache.lease("drafts/unknown");
        drop(lease.lock().await);
        drop(lease);
        assert_eq!(cache.len(), 0);
    }
}
