//! The gateway's side of the node gRPC API: one client per configured node,
//! every call bounded by `node_timeout`.
//!
//! `list` turns a node's `ListHandles` stream into a [`NodeListing`]; a
//! stream that errs, stalls, skips a batch number or ends without its final
//! batch becomes `NodeListing::Failed`, never a shorter list.

use std::time::Duration;

use proto::{HandlesBatch, ListHandlesRequest, NodeClient};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::config::NodeAddress;
use crate::orphan::{BindingSeen, InstanceSeen, InstanceState, NodeListing};

/// Adds the node's token to every call.
#[derive(Clone)]
pub struct NodeToken(MetadataValue<Ascii>);

impl tonic::service::Interceptor for NodeToken {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

pub type Client = NodeClient<InterceptedService<Channel, NodeToken>>;

#[derive(Clone)]
pub struct NodeHandle {
    pub id: String,
    pub address: String,
    client: Client,
    timeout: Duration,
}

impl NodeHandle {
    pub fn new(addr: &NodeAddress, timeout: Duration) -> anyhow::Result<Self> {
        let endpoint = Endpoint::from_shared(addr.address.clone())
            .map_err(|e| anyhow::anyhow!("node {}: bad address {}: {e}", addr.id, addr.address))?
            .connect_timeout(timeout);
        let mut token: MetadataValue<Ascii> = format!("Bearer {}", addr.token)
            .parse()
            .map_err(|_| anyhow::anyhow!("node {}: token must be printable ASCII", addr.id))?;
        token.set_sensitive(true);
        Ok(NodeHandle {
            id: addr.id.clone(),
            address: addr.address.clone(),
            client: NodeClient::with_interceptor(endpoint.connect_lazy(), NodeToken(token)),
            timeout,
        })
    }

    /// A client for one call; `tonic` clients are cheap to clone.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs one call with the node timeout; a timeout becomes `DeadlineExceeded`.
    pub async fn call<T>(
        &self,
        timeout: Duration,
        fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, tonic::Status> {
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r.map(tonic::Response::into_inner),
            Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                "node {} did not answer within {}s",
                self.id,
                timeout.as_secs()
            ))),
        }
    }

    pub async fn info(&self) -> Result<proto::NodeInfo, tonic::Status> {
        let mut c = self.client();
        self.call(self.timeout, c.info(proto::InfoRequest {})).await
    }

    /// Whether the node holds `instance_id` (a row, a server, a data dir).
    pub async fn lookup(&self, instance_id: &str) -> Result<bool, tonic::Status> {
        let mut c = self.client();
        let req = proto::LookupRequest {
            instance_id: instance_id.to_string(),
        };
        let reply = self.call(self.timeout, c.lookup(req)).await?;
        if reply.node_id != self.id {
            return Err(tonic::Status::failed_precondition(format!(
                "answered as node {:?}",
                reply.node_id
            )));
        }
        Ok(reply.exists)
    }

    /// Everything the node holds, complete or `Failed`.
    pub async fn list(&self) -> NodeListing {
        match tokio::time::timeout(self.timeout, self.list_inner()).await {
            Ok(Ok(l)) => l,
            Ok(Err(reason)) => NodeListing::Failed(reason),
            Err(_) => NodeListing::Failed(format!(
                "no complete list within {}s",
                self.timeout.as_secs()
            )),
        }
    }

    async fn list_inner(&self) -> Result<NodeListing, String> {
        let mut c = self.client();
        let mut stream = c
            .list_handles(ListHandlesRequest { batch_size: 0 })
            .await
            .map_err(|s| status_text(&s))?
            .into_inner();
        let mut batches = Vec::new();
        loop {
            match stream.message().await {
                Ok(Some(b)) => {
                    let last = b.last;
                    batches.push(b);
                    if last {
                        break;
                    }
                }
                Ok(None) => return Err("list ended without its end marker".into()),
                Err(s) => return Err(status_text(&s)),
            }
        }
        assemble(&self.id, batches)
    }
}

/// Checks a node's batches (ids, numbering, totals) and joins them.
pub fn assemble(node_id: &str, batches: Vec<HandlesBatch>) -> Result<NodeListing, String> {
    let mut instances = Vec::new();
    let mut bindings = Vec::new();
    let n = batches.len();
    for (i, b) in batches.into_iter().enumerate() {
        if b.node_id != node_id {
            return Err(format!("answered as node {:?}", b.node_id));
        }
        if b.seq as usize != i {
            return Err(format!("batch {} arrived as number {i}", b.seq));
        }
        if b.last && i + 1 != n {
            return Err("batches after the end marker".into());
        }
        for h in b.instances {
            let state = match proto::InstanceState::try_from(h.state) {
                Ok(proto::InstanceState::Running) => InstanceState::Running,
                Ok(proto::InstanceState::Stopped) => InstanceState::Stopped,
                Ok(proto::InstanceState::Untracked) => InstanceState::Untracked,
                _ => return Err(format!("instance {} has an unknown state", h.instance_id)),
            };
            instances.push(InstanceSeen {
                id: h.instance_id,
                created_at: h.created_at,
                state,
            });
        }
        for h in b.bindings {
            bindings.push(BindingSeen {
                instance_id: h.instance_id,
                binding_id: h.binding_id,
                username: h.username,
                created_at: h.created_at,
                present_on_server: h.present_on_server,
            });
        }
        if b.last
            && (b.total_instances != instances.len() as u64
                || b.total_bindings != bindings.len() as u64)
        {
            return Err(format!(
                "list incomplete: got {} instances and {} bindings of {} and {}",
                instances.len(),
                bindings.len(),
                b.total_instances,
                b.total_bindings
            ));
        }
    }
    Ok(NodeListing::Complete {
        instances,
        bindings,
    })
}

/// A node error for humans: the message only (no metadata, which could
/// carry anything).
pub fn status_text(s: &tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::InstanceHandle;

    fn batch(seq: u32, ids: &[&str], last: bool, total: u64) -> HandlesBatch {
        HandlesBatch {
            node_id: "n0".into(),
            seq,
            instances: ids
                .iter()
                .map(|i| InstanceHandle {
                    instance_id: i.to_string(),
                    state: proto::InstanceState::Running as i32,
                    ..Default::default()
                })
                .collect(),
            bindings: vec![],
            last,
            total_instances: if last { total } else { 0 },
            total_bindings: 0,
        }
    }

    #[test]
    fn a_complete_list_is_joined() {
        let l = assemble(
            "n0",
            vec![batch(0, &["a"], false, 0), batch(1, &["b"], true, 2)],
        )
        .unwrap();
        match l {
            NodeListing::Complete { instances, .. } => assert_eq!(instances.len(), 2),
            NodeListing::Failed(r) => panic!("{r}"),
        }
    }

    #[test]
    fn gaps_wrong_totals_and_wrong_node_ids_are_refused() {
        assert!(assemble(
            "n0",
            vec![batch(0, &["a"], false, 0), batch(2, &["b"], true, 2)]
        )
        .is_err());
        assert!(assemble("n0", vec![batch(0, &["a"], true, 2)]).is_err());
        assert!(assemble("n1", vec![batch(0, &["a"], true, 1)]).is_err());
        assert!(assemble(
            "n0",
            vec![batch(0, &["a"], true, 1), batch(1, &[], true, 1)]
        )
        .is_err());
    }
}
