//! The gRPC contract between a gateway and its nodes (see `proto/node.proto`).
//!
//! Re-exports the generated messages plus the client and server halves of the
//! `Node` service.

#![allow(clippy::all)]

tonic::include_proto!("servicenode.v1");

pub use node_client::NodeClient;
pub use node_server::{Node, NodeServer};
