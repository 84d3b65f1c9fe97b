//! The MongoDB node: one MongoDB-wire server per instance, database users as
//! bindings.
//!
//! Each instance gets `instances/<id>/data/`, which holds the server's data,
//! and its own server process: by default a real `mongod --auth`, or FerretDB
//! (SQLite backend, SCRAM users) with [`ferretdb_server_config`].
//!
//! Every instance has an administrator `admin` (password `adminpass`, both in
//! the registry row) that lives in the `admin` database, and one database for
//! clients, `db`. A `mongod` administrator is created on first start through
//! the localhost exception; FerretDB creates it itself from its `--setup-*`
//! flags. A binding is a user of that same `db` database with the roles
//! `readWrite` and `dbAdmin` on it (`createUser`, or `updateUser` when it
//! already exists); unbind is `dropUser`. The server keeps its users in its
//! own data, so bindings survive a restart.
//!
//! The node talks to every server with the official `mongodb` driver and
//! does not know which server it is. (FerretDB 1.24 as published cannot
//! complete the driver's SCRAM login; `scripts/install-ferretdb.sh` builds it
//! with a one-line fix that makes it answer as MongoDB does.)

mod backend;
mod client;
pub mod testing;

pub use backend::{ferretdb_server_config, MongoBackend};
pub use client::connect;
