//! The `Node` gRPC service: where a gateway's request enters a node.
//!
//! Thin by design: it checks the caller's token, converts messages and hands
//! each call to [`Node`]. Calls that change anything run in their own task,
//! so a gateway that gives up waiting cannot cut a provision or a purge off
//! half-way. `ListHandles` streams the node's holdings in numbered batches
//! and marks the final one, so a gateway can tell a complete list from a
//! cut-short one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use proto::{
    BindRequest, BindResponse, HandlesBatch, InfoRequest, ListHandlesRequest, LookupRequest,
    LookupResponse, NodeInfo, NodeServer, ProvisionRequest, ProvisionResponse, PurgeRequest,
    PurgeResponse, UnbindRequest, UnbindResponse, UnprovisionRequest, UnprovisionResponse,
};
use tonic::{Request, Response, Status};

use crate::error::NodeError;
use crate::secret::Secret;

use crate::backend::Backend;
use crate::node::{Handles, Node};

/// Seconds between two passes of the supervisor that restarts dead servers.
const SUPERVISE_EVERY_SECS: u64 = 30;

/// Items per `ListHandles` batch when the caller does not say.
const DEFAULT_BATCH: usize = 500;

pub struct NodeService<B: Backend> {
    node: Arc<Node<B>>,
}

impl<B: Backend> NodeService<B> {
    pub fn new(node: Arc<Node<B>>) -> Self {
        NodeService { node }
    }
}

/// Splits `handles` into batches of at most `size` items, instances first;
/// the last batch (there is always one) carries `last` and the totals.
pub fn batches(node_id: &str, handles: Handles, size: usize) -> Vec<HandlesBatch> {
    let size = size.max(1);
    let total_instances = handles.instances.len() as u64;
    let total_bindings = handles.bindings.len() as u64;
    let mut out = Vec::new();
    let mut current = HandlesBatch {
        node_id: node_id.to_string(),
        ..Default::default()
    };
    let mut count = 0;
    let flush = |current: &mut HandlesBatch, out: &mut Vec<HandlesBatch>| {
        let seq = out.len() as u32;
        let mut b = std::mem::take(current);
        b.node_id = node_id.to_string();
        b.seq = seq;
        out.push(b);
        current.node_id = node_id.to_string();
    };
    for i in handles.instances {
        current.instances.push(i);
        count += 1;
        if count == size {
            flush(&mut current, &mut out);
            count = 0;
        }
    }
    for b in handles.bindings {
        current.bindings.push(b);
        count += 1;
        if count == size {
            flush(&mut current, &mut out);
            count = 0;
        }
    }
    if count > 0 || out.is_empty() {
        flush(&mut current, &mut out);
    }
    let last = out.last_mut().expect("at least one batch");
    last.last = true;
    last.total_instances = total_instances;
    last.total_bindings = total_bindings;
    out
}

type BatchStream = Pin<Box<dyn Stream<Item = Result<HandlesBatch, Status>> + Send>>;

/// Runs a node operation in its own task, so it completes even when the
/// caller stops waiting (a gateway timeout drops the request future).
async fn detached<T: Send + 'static>(
    fut: impl Future<Output = Result<T, NodeError>> + Send + 'static,
) -> Result<T, Status> {
    match tokio::spawn(fut).await {
        Ok(r) => r.map_err(Status::from),
        Err(e) => Err(Status::internal(format!("operation failed: {e}"))),
    }
}

/// Rejects a call without `authorization: Bearer <token>`, in constant time.
pub fn check_token(token: &Secret, req: &Request<()>) -> Result<(), Status> {
    let presented = req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if token.matches(presented) {
        Ok(())
    } else {
        Err(Status::unauthenticated("bad or missing node token"))
    }
}

#[tonic::async_trait]
impl<B: Backend> proto::Node for NodeService<B> {
    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<NodeInfo>, Status> {
        Ok(Response::new(self.node.info()?))
    }

    async fn provision(
        &self,
        req: Request<ProvisionRequest>,
    ) -> Result<Response<ProvisionResponse>, Status> {
        let r = req.into_inner();
        let node = self.node.clone();
        let (credentials, created) =
            detached(async move { node.provision(&r.instance_id, &r.plan).await }).await?;
        Ok(Response::new(ProvisionResponse {
            credentials: Some(credentials),
            created,
        }))
    }

    async fn unprovision(
        &self,
        req: Request<UnprovisionRequest>,
    ) -> Result<Response<UnprovisionResponse>, Status> {
        let node = self.node.clone();
        let id = req.into_inner().instance_id;
        detached(async move { node.unprovision(&id).await }).await?;
        Ok(Response::new(UnprovisionResponse {}))
    }

    async fn bind(&self, req: Request<BindRequest>) -> Result<Response<BindResponse>, Status> {
        let r = req.into_inner();
        let node = self.node.clone();
        let (credentials, created) =
            detached(async move { node.bind(&r.instance_id, &r.binding_id).await }).await?;
        Ok(Response::new(BindResponse {
            credentials: Some(credentials),
            created,
        }))
    }

    async fn unbind(
        &self,
        req: Request<UnbindRequest>,
    ) -> Result<Response<UnbindResponse>, Status> {
        let r = req.into_inner();
        let node = self.node.clone();
        detached(async move { node.unbind(&r.instance_id, &r.binding_id).await }).await?;
        Ok(Response::new(UnbindResponse {}))
    }

    type ListHandlesStream = BatchStream;

    async fn list_handles(
        &self,
        req: Request<ListHandlesRequest>,
    ) -> Result<Response<Self::ListHandlesStream>, Status> {
        let size = match req.into_inner().batch_size {
            0 => DEFAULT_BATCH,
            n => n as usize,
        };
        let handles = self.node.list_handles().await?;
        let out = batches(&self.node.config().node_id, handles, size);
        Ok(Response::new(Box::pin(tokio_stream::iter(
            out.into_iter().map(Ok),
        ))))
    }

    async fn purge(&self, req: Request<PurgeRequest>) -> Result<Response<PurgeResponse>, Status> {
        let r = req.into_inner();
        let node = self.node.clone();
        let results = detached(async move {
            Ok(node
                .purge(&r.instance_ids, &r.bindings, r.min_age_secs)
                .await)
        })
        .await?;
        Ok(Response::new(PurgeResponse { results }))
    }

    async fn lookup(
        &self,
        req: Request<LookupRequest>,
    ) -> Result<Response<LookupResponse>, Status> {
        Ok(Response::new(
            self.node.lookup(&req.into_inner().instance_id)?,
        ))
    }
}

/// Serves the node's gRPC API on `listener` until `shutdown` completes.
pub async fn serve<B: Backend>(
    node: Arc<Node<B>>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let token = node.config().token.clone();
    let service = NodeServer::with_interceptor(NodeService::new(node), move |req: Request<()>| {
        check_token(&token, &req).map(|()| req)
    });
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await?;
    Ok(())
}

/// What a node binary's `main` does: restart the registry's instances, then
/// serve gRPC until SIGINT or SIGTERM, then stop the instances (their rows
/// and data stay, and the next start-up restarts them).
pub async fn run<B: Backend>(node: Arc<Node<B>>) -> anyhow::Result<()> {
    // Files the node and its servers create hold data and passwords.
    // SAFETY: umask(2) only sets the process's file mode mask.
    unsafe { libc::umask(0o077) };
    node.start_all().await;
    if let Some(nats) = node.config().nats.clone() {
        tokio::spawn(crate::announce::run(node.clone(), nats));
    }
    // Supervision: a server that died is started again, like at start-up.
    let supervised = node.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(SUPERVISE_EVERY_SECS)).await;
            supervised.start_all().await;
        }
    });
    let addr = node.config().listen.clone();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(node = %node.config().node_id, %addr, "node serving gRPC");
    serve(node.clone(), listener, shutdown_signal()).await?;
    tracing::info!("shutting down; stopping instances");
    node.stop_all().await;
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{BindingHandle, InstanceHandle};

    fn handles(ni: usize, nb: usize) -> Handles {
        Handles {
            instances: (0..ni)
                .map(|i| InstanceHandle {
                    instance_id: format!("i{i}"),
                    ..Default::default()
                })
                .collect(),
            bindings: (0..nb)
                .map(|i| BindingHandle {
                    binding_id: format!("b{i}"),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn an_empty_node_still_sends_a_final_batch() {
        let out = batches("n0", handles(0, 0), 10);
        assert_eq!(out.len(), 1);
        assert!(out[0].last);
        assert_eq!((out[0].total_instances, out[0].total_bindings), (0, 0));
    }

    #[test]
    fn batches_are_numbered_full_and_only_the_last_is_marked() {
        for size in 1..8 {
            for (ni, nb) in [(0, 5), (5, 0), (3, 4), (7, 7)] {
                let out = batches("n0", handles(ni, nb), size);
                let items: usize = out
                    .iter()
                    .map(|b| b.instances.len() + b.bindings.len())
                    .sum();
                assert_eq!(items, ni + nb);
                for (i, b) in out.iter().enumerate() {
                    assert_eq!(b.seq as usize, i);
                    assert_eq!(b.node_id, "n0");
                    assert_eq!(b.last, i == out.len() - 1);
                    assert!(b.instances.len() + b.bindings.len() <= size);
                }
                let last = out.last().unwrap();
                assert_eq!(last.total_instances as usize, ni);
                assert_eq!(last.total_bindings as usize, nb);
                let names: Vec<_> = out
                    .iter()
                    .flat_map(|b| b.instances.iter().map(|i| i.instance_id.clone()))
                    .collect();
                assert_eq!(names, (0..ni).map(|i| format!("i{i}")).collect::<Vec<_>>());
            }
        }
    }
}
