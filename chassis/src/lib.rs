//! Composites for axon: components made of components.
//!
//! - [`pipeline::Pipeline`]: stages wired `outbox -> inbox` and `signal -> control`.
//! - [`graphline::Graphline`]: named children linked by name, with a `"self"` boundary.
//! - [`carousel::Carousel`]: swaps in a new child for each message on `next`.
//! - [`seq::Seq`]: runs children one after another.
//! - [`backplane::Backplane`]: named publish/subscribe.
//! - [`supervisor::Supervisor`]: children restarted when they fail, links kept.
//! - [`tcp`]: `TcpServer`, the connected-socket adapter, `ServerCore` and `TcpClient`.

pub mod backplane;
pub mod carousel;
pub mod graphline;
mod own_control;
pub mod pipeline;
pub mod seq;
pub mod supervisor;
pub mod tcp;
