//! The errors a node operation can end in, each with its gRPC status.

use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("no capacity left: {0}")]
    Exhausted(String),
    #[error("instance not running: {0}")]
    NotRunning(String),
    #[error("{0}")]
    Internal(String),
}

impl From<rusqlite::Error> for NodeError {
    fn from(e: rusqlite::Error) -> Self {
        NodeError::Internal(format!("registry: {e}"))
    }
}

impl From<NodeError> for Status {
    fn from(e: NodeError) -> Self {
        let code = match &e {
            NodeError::InvalidArgument(_) => Code::InvalidArgument,
            NodeError::NotFound(_) => Code::NotFound,
            NodeError::AlreadyExists(_) => Code::AlreadyExists,
            NodeError::Exhausted(_) => Code::ResourceExhausted,
            NodeError::NotRunning(_) => Code::FailedPrecondition,
            NodeError::Internal(_) => Code::Internal,
        };
        Status::new(code, e.to_string())
    }
}
