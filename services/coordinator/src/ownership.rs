//! Draft ownership across coordinator replicas.
//!
//! Each open draft is owned by one replica through the key `owners/{p}/{a}/{id}`, attached
//! to that replica's registration lease. A replica acquires a draft by creating the key
//! (compare-and-swap on its absence); when the owner dies its lease lapses, the key
//! vanishes, and the next replica to touch the draft takes it over and rebuilds the draft
//! from stored state. Every write to the draft compares the owner key's revision, so a
//! replica that lost ownership — its lease lapsed, another replica took over — cannot
//! change or commit the draft: its transaction fails.

use cairn_meta::Txn;

use crate::error::{decode, encode};
use crate::{CoordError, Coordinator, keys};

/// Who owns a draft, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct OwnerRecord {
    /// Node id of the owning replica.
    pub node_id: String,
    /// Address clients and other replicas reach it at.
    pub address: String,
}

/// Proof of ownership: the owner key and its revision, compared by every draft write.
#[derive(Debug, Clone)]
pub(crate) struct Ownership {
    pub key: String,
    pub revision: i64,
}

/// Attempts before giving up on a contended owner key.
const MAX_ACQUIRE_ATTEMPTS: usize = 16;

impl Coordinator {
    /// Makes this replica the draft's owner, or says which replica is.
    pub(crate) async fn acquire_ownership(
        &self,
        project: &str,
        artifact: &str,
        distributed_id: &str,
    ) -> Result<Ownership, CoordError> {
        let key = keys::owner(project, artifact, distributed_id);
        let mine = OwnerRecord { node_id: self.node.id.clone(), address: self.node.address.clone() };
        for _ in 0..MAX_ACQUIRE_ATTEMPTS {
            let lease = self.node.registration.lease().ok_or(CoordError::SteppedDown)?;
            match self.meta.get(&key).await? {
                Some(kv) => {
                    let owner: OwnerRecord = decode(&key, &kv.value)?;
                    if owner.node_id != mine.node_id {
                        return Err(CoordError::NotOwner { node_id: owner.node_id, address: owner.address });
                    }
                    if kv.lease == Some(lease) {
                        return Ok(Ownership { key, revision: kv.mod_revision });
                    }
                    // Ours under an older lease (we re-registered): move it to the live one.
                    let txn =
                        Txn::new().when_revision(&key, kv.mod_revision).put_with_lease(&key, encode(&mine), lease);
                    self.meta.txn(txn).await?;
                }
                None => {
                    let txn = Txn::new().when_revision(&key, 0).put_with_lease(&key, encode(&mine), lease);
                    if self.meta.txn(txn).await? {
                        tracing::debug!(draft = %key, "draft ownership acquired");
                    }
                }
            }
        }
        Err(CoordError::ConcurrentUpdate(key))
    }

    /// Gives up ownership of an ended draft.
    pub(crate) async fn release_ownership(&self, ownership: &Ownership) {
        let txn = Txn::new().when_revision(&ownership.key, ownership.revision).delete(&ownership.key);
        if let Err(err) = self.meta.txn(txn).await {
            tracing::warn!(key = %ownership.key, error = %err, "could not release draft ownership");
        }
    }
}
