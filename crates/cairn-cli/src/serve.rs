//! Serving gRPC services with health, reflection and graceful shutdown.

use cairn_coordinator::CoordinatorGrpc;
use cairn_proto::v1::coordinator_service_server::CoordinatorServiceServer;
use cairn_proto::v1::storage_service_server::StorageServiceServer;
use cairn_worker::StorageService;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// The services one process serves.
pub struct Services {
    pub coordinator: Option<CoordinatorServiceServer<CoordinatorGrpc>>,
    pub worker: Option<StorageServiceServer<StorageService>>,
}

/// Serves until SIGINT or SIGTERM, then reports NOT_SERVING and drains.
pub async fn serve(listener: TcpListener, services: Services) -> Result<(), Box<dyn std::error::Error>> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(cairn_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    if services.coordinator.is_some() {
        health_reporter.set_serving::<CoordinatorServiceServer<CoordinatorGrpc>>().await;
    }
    if services.worker.is_some() {
        health_reporter.set_serving::<StorageServiceServer<StorageService>>().await;
    }
    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_optional_service(services.coordinator)
        .add_optional_service(services.worker);
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: reporting NOT_SERVING and draining requests");
        health_reporter.set_not_serving::<CoordinatorServiceServer<CoordinatorGrpc>>().await;
        health_reporter.set_not_serving::<StorageServiceServer<StorageService>>().await;
    };
    router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
