//! The MetaStore: small keys and values with compare-and-swap transactions, prefix ranges
//! and leases — the shape of etcd, so the coordinator runs unchanged on etcd (cluster) or
//! on the embedded store (single node). Business logic never sees a backend's client.

mod embedded;
mod error;
mod etcd;
mod metered;
pub mod metrics;
mod open;
mod registration;
mod store;

pub mod conformance;

pub use open::{EtcdArgs, EtcdSecurity};

pub use embedded::EmbeddedStore;
pub use error::MetaError;
pub use etcd::EtcdStore;
pub use metered::Metered;
pub use registration::{COORDINATORS_PREFIX, Member, Registration, WORKERS_PREFIX};
pub use store::{
    Compare, KeyValue, LeaseId, MAX_TXN_OPS, MAX_VALUE_BYTES, MetaStore, MetaStoreExt, Snapshot, Txn, TxnOp,
};
