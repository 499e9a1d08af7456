//! [`Echo`]: the seed's `EchoProtocol`.

use std::future::Future;

use axon::{BoxError, Component, Context, LinkError, Setup};
use bytes::Bytes;

/// How many chunks the echo holds before its adapter stops reading.
const ECHO_INBOX_CAPACITY: usize = 16;

/// A protocol handler that sends back every byte it receives (the seed's
/// `EchoProtocol`). With [`ServerCore`](super::ServerCore) it makes an echo server.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | bytes from the client (holds 16 chunks) |
/// | `control` | in | [`Control`](axon::Control) | `SocketShutdown`/`ProducerFinished`: echo what is queued, then end; `Shutdown`: end now |
/// | `outbox` | out | `Bytes` | the same bytes, back to the client |
/// | `signal` | out | [`Control`](axon::Control) | `ProducerFinished` when it ends |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use bytes::Bytes;
///
/// let mut h = Harness::new(chassis::tcp::Echo);
/// h.send(Bytes::from_static(b"ping")).await;
/// assert_eq!(h.recv().await.as_deref(), Some(&b"ping"[..]));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl Component for Echo {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.set_capacity("inbox", ECHO_INBOX_CAPACITY)?;
        s.describe("inbox", "bytes to echo")?;
        s.describe("outbox", "the same bytes, back")
    }

    // An async block rather than an `async fn`, which would keep a second copy of `ctx`
    // for the whole run: this handler exists once per connection.
    #[allow(clippy::manual_async_fn, reason = "see above")]
    fn run(
        self,
        mut ctx: Context<Bytes, Bytes>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        async move {
            // Not `while let`: its scrutinee would be kept (a second copy of the
            // message) while the send waits.
            loop {
                let Some(data) = ctx.recv().await else {
                    return Ok(());
                };
                if ctx.send(data).await.is_err() {
                    // The connection has gone; nothing more to echo to.
                    return Ok(());
                }
            }
        }
    }
}
