//! The Redis node: one `redis-server` per instance, ACL users as bindings.
//!
//! Each instance gets `instances/<id>/redis.conf` (port, bind address,
//! memory limit, data dir) and `instances/<id>/users.acl`, which holds the
//! instance's `default` user and every binding's user, so bindings survive
//! a restart. A binding is `ACL SETUSER <binding id>` on that instance only;
//! unbind is `ACL DELUSER`. Both are followed by `ACL SAVE`.

mod backend;

pub use backend::RedisBackend;
