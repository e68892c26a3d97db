//! Real servers for tests: etcd (Debian's `etcd-server`) and two S3-compatible servers
//! (`s3s-fs` and moto), each on loopback ports chosen at run time, each stopped by its pid when its
//! handle drops. A test that needs one and cannot find the binary fails with a message
//! saying how to install it; it never skips.

mod etcd;
mod moto;
mod process;
mod s3;

/// The loopback CA tests use (made with rcgen inside the test).
pub use cairn_proto::pki::LocalPki as TestPki;
pub use etcd::{EtcdServer, EtcdTls};
pub use moto::MotoServer;
pub use process::free_port;
pub use s3::{S3Server, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY};
