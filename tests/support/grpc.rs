//! Raw gRPC messages the end-to-end tests send: blob uploads and Log streams.

use cairn_proto::v1::{self, put_blob_request::Part};

use super::{DevServer, sha256_hex};

/// A PutBlob stream: a header naming `sha256` and the size of `content`, then `content`.
pub fn put_blob_messages(sha256: &str, content: &[u8]) -> Vec<v1::PutBlobRequest> {
    vec![
        v1::PutBlobRequest {
            part: Some(Part::Header(v1::PutBlobHeader {
                sha256: sha256.into(),
                size: content.len() as u64,
                offset: 0,
            })),
        },
        v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::copy_from_slice(content))) },
    ]
}

/// Stores `content` as a blob through the server's storage service.
pub async fn store_blob(server: &DevServer, content: &[u8]) {
    let messages = put_blob_messages(&sha256_hex(content), content);
    server.storage().await.put_blob(futures::stream::iter(messages)).await.expect("store blob");
}

/// The header of a Log of `artifact` (type `artifact_type`) in project `default`.
pub fn log_header(artifact: &str, artifact_type: &str) -> v1::LogRequest {
    v1::LogRequest {
        part: Some(v1::log_request::Part::Header(v1::LogHeader {
            project: "default".into(),
            artifact: artifact.into(),
            r#type: artifact_type.into(),
            writer_id: "tester".into(),
            ..Default::default()
        })),
    }
}

/// One batch of a Log stream.
pub fn log_batch(entries: Vec<v1::Entry>, upload_receipts: Vec<String>) -> v1::LogRequest {
    v1::LogRequest { part: Some(v1::log_request::Part::Batch(v1::EntryBatch { entries, upload_receipts })) }
}
