//! A Redis-compatible key-value service built from components: the RESP2 codec,
//! command parsing, the store component and the per-connection handler.
//!
//! - [`RespCodec`]: the RESP2 deframer and framer (inline commands too), and [`Reply`].
//! - [`Command`]: commands parsed and checked, with Redis's error wording.
//! - [`KeyValueStore`] and its [`Keyspace`]: the data, one request at a time;
//!   [`supervised_store`] runs it under a supervisor that restarts it.
//! - [`RespHandler`] and [`kvstore_server`]: one handler per connection under a
//!   [`ServerCore`](chassis::tcp::ServerCore).
//!
//! The `kvstore` example program puts them together.

mod command;
mod error;
mod frame;
mod glob;
mod handler;
mod reply;
mod store;
mod supervised;

pub use command::{Command, ExpireCondition, SetCondition};
pub use error::{CommandError, FrameError, ProtocolError};
pub use frame::RespCodec;
pub use glob::glob_match;
pub use handler::{
    RespFactory, RespHandler, RespHandlerBoxes, RespOptions, RespStats, kvstore_server,
};
pub use reply::Reply;
pub use store::{KeyValueStore, Keyspace, STORE_SERVICE, StoreRequest};
pub use supervised::supervised_store;
