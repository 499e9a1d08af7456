//! The receiving endpoint: messages from a remote sender, delivered to a local inbox.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use axon::{BoxError, Component, Context, Control, LinkError, Setup};
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use zenoh::qos::CongestionControl;
use zenoh::sample::SampleKind;

use super::LinkOptions;
use crate::flow::{Accept, RecvWindow};
use crate::frame::{Payload, decode_data, encode_credit};
use crate::{RemoteError, RemoteLinkStats};

/// Receives from one remote [`RemoteSender`](super::RemoteSender) and sends what it gets
/// on its `outbox`, in the sender's order, each message once. It grants the sender
/// credit for `window` messages beyond what it has delivered, so when the local inbox
/// is full (its send waits) the credit stops and the remote producer is held back.
///
/// | box | type | for |
/// | --- | --- | --- |
/// | `inbox` | `()` | unused |
/// | `control` | `Control` | `Shutdown` stops it (checked between messages) |
/// | `outbox` | `T` | the remote sender's messages |
/// | `signal` | `Control` | the remote producer's `ProducerFinished` or `Shutdown` |
///
/// Ends `Finished` when the remote `ProducerFinished` arrives after all data (and passes
/// it on), `ShutDown` on a remote or local `Shutdown`, and `Failed` with
/// [`RemoteError::PeerVanished`] naming the sender when it stays away past the grace
/// period (after delivering everything that arrived). Made by
/// [`Remote::receiver`](super::Remote::receiver) or [`Remote::expose`](super::Remote::expose).
pub struct RemoteReceiver<T> {
    pub(super) session: zenoh::Session,
    pub(super) key: String,
    pub(super) opts: LinkOptions,
    pub(super) stats: Arc<RemoteLinkStats>,
    pub(super) _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RemoteReceiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteReceiver")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// From the network side of the endpoint to the side that delivers.
enum Item<T> {
    Data(Vec<T>),
    End(Control),
    Fail(RemoteError),
}

impl<T: DeserializeOwned + Send + 'static> Component for RemoteReceiver<T> {
    type In = ();
    type Out = T;

    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(format!("remote-receiver {}", self.key))
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("outbox", "messages from the remote sender, in its order")?;
        s.describe("signal", "the remote producer's lifecycle")
    }

    async fn run(self, mut ctx: Context<(), T>) -> Result<(), BoxError> {
        let stats = self.stats.clone();
        super::publish(&ctx, &stats);
        let r = self.body(&mut ctx).await;
        super::ended(&mut ctx, &stats, r)
    }
}

impl<T: DeserializeOwned + Send + 'static> RemoteReceiver<T> {
    async fn body(self, ctx: &mut Context<(), T>) -> Result<Control, RemoteError> {
        let key = self.key.as_str();
        let s = &self.session;
        let z = RemoteError::zenoh;
        let data = s
            .declare_subscriber(format!("{key}/data"))
            .await
            .map_err(z)?;
        let credit_pub = s
            .declare_publisher(format!("{key}/credit"))
            .congestion_control(CongestionControl::Block)
            .await
            .map_err(z)?;
        let peers = s
            .liveliness()
            .declare_subscriber(format!("{key}/live/sender"))
            .history(true)
            .await
            .map_err(z)?;
        let _token = s
            .liveliness()
            .declare_token(format!("{key}/live/receiver"))
            .await
            .map_err(z)?;

        let my_type = std::any::type_name::<T>();
        let window = self.opts.window.max(1) as u64;
        let quarter = (window / 4).max(1);
        let delivered = AtomicU64::new(0);
        let wake = Notify::new();
        let stop = Notify::new();
        let (tx, mut rx) = mpsc::unbounded_channel::<Item<T>>();
        let stats = &self.stats;

        let deliver = typed(async {
            let (outbox, control) = (&mut ctx.outbox, &mut ctx.control);
            loop {
                let item = tokio::select! {
                    biased;
                    _ = stop.notified() => return Ok(Control::Shutdown),
                    c = control.recv() => match c {
                        Some(Control::Shutdown) | None => return Ok(Control::Shutdown),
                        Some(_) => continue,
                    },
                    i = rx.recv() => i,
                };
                match item {
                    Some(Item::Data(msgs)) => {
                        for m in msgs {
                            if let Ok(Control::Shutdown) = control.try_recv() {
                                return Ok(Control::Shutdown);
                            }
                            tokio::select! {
                                biased;
                                _ = stop.notified() => return Ok(Control::Shutdown),
                                r = outbox.send(m) => if r.is_err() {
                                    return Err(RemoteError::NoDestination { key: key.to_string() });
                                },
                            }
                            let n = delivered.fetch_add(1, Relaxed) + 1;
                            stats.messages.store(n, Relaxed);
                            if n.is_multiple_of(quarter) {
                                wake.notify_one();
                            }
                        }
                    }
                    Some(Item::End(c)) => return Ok(c),
                    Some(Item::Fail(e)) => return Err(e),
                    None => return Ok(Control::Shutdown),
                }
            }
        });

        let intake = typed(async {
            let mut win = RecvWindow::new(window);
            let mut seen_delivered = 0u64;
            let mut tick = tokio::time::interval(self.opts.heartbeat);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut vanish: Option<Instant> = None;
            let mut ended = false;
            let codec = |e| RemoteError::Codec {
                key: key.to_string(),
                source: e,
            };
            loop {
                let mut send_credit = false;
                tokio::select! {
                    biased;
                    r = data.recv_async() => {
                        let sample = r.map_err(z)?;
                        let frame = decode_data::<T>(&sample.payload().to_bytes()).map_err(codec)?;
                        stats.frames.fetch_add(1, Relaxed);
                        stats.dropped.fetch_max(frame.dropped, Relaxed);
                        let count = match &frame.payload {
                            Payload::Batch(v) => v.len() as u64,
                            Payload::Control(_) => 1,
                        };
                        match win.on_frame(frame.source, frame.seq, count) {
                            Accept::InOrder { skip } => match frame.payload {
                                Payload::Batch(mut v) => {
                                    v.drain(..skip);
                                    let _ = tx.send(Item::Data(v));
                                    send_credit = win.credit_due();
                                }
                                Payload::Control(c) => {
                                    // Acknowledge before passing it on, so the sender
                                    // hears it even if this endpoint ends at once.
                                    publish_credit(&credit_pub, &mut win, my_type, stats).await?;
                                    if c == Control::Shutdown {
                                        stop.notify_one();
                                    }
                                    let _ = tx.send(Item::End(c));
                                    ended = true;
                                }
                            },
                            Accept::Duplicate | Accept::Gap => send_credit = true,
                            Accept::Foreign => tracing::warn!(
                                key, source = frame.source,
                                "a second sender on a remote link: its frames are discarded"
                            ),
                        }
                        stats.duplicates.store(win.duplicates(), Relaxed);
                    }
                    _ = wake.notified() => {
                        let d = delivered.load(Relaxed);
                        win.on_delivered(d - seen_delivered);
                        seen_delivered = d;
                        send_credit = win.credit_due();
                    }
                    r = peers.recv_async() => {
                        let sample = r.map_err(z)?;
                        if sample.kind() == SampleKind::Put {
                            vanish = None;
                            stats.peer_live.store(true, Relaxed);
                            win.ask_resend();
                            send_credit = true;
                        } else {
                            stats.peer_live.store(false, Relaxed);
                            stats.peer_losses.fetch_add(1, Relaxed);
                            if !ended {
                                vanish = Some(Instant::now() + self.opts.grace);
                            }
                        }
                    }
                    _ = tick.tick() => {
                        let d = delivered.load(Relaxed);
                        win.on_delivered(d - seen_delivered);
                        seen_delivered = d;
                        win.on_tick();
                        send_credit = true;
                    }
                    _ = tokio::time::sleep_until(vanish.unwrap_or_else(Instant::now)), if vanish.is_some() && !ended => {
                        let _ = tx.send(Item::Fail(RemoteError::PeerVanished {
                            peer: format!("sender {key}"),
                            key: key.to_string(),
                            grace: self.opts.grace,
                        }));
                        ended = true;
                    }
                }
                if send_credit {
                    publish_credit(&credit_pub, &mut win, my_type, stats).await?;
                }
            }
        });

        tokio::select! {
            r = deliver => r,
            r = intake => r,
        }
    }
}

async fn publish_credit(
    publisher: &zenoh::pubsub::Publisher<'_>,
    win: &mut RecvWindow,
    message_type: &str,
    stats: &RemoteLinkStats,
) -> Result<(), RemoteError> {
    let credit = win.credit(message_type);
    stats.credit_limit.store(credit.limit, Relaxed);
    stats.next_seq.store(credit.next, Relaxed);
    stats.acked.store(credit.next, Relaxed);
    let bytes = encode_credit(&credit).expect("a credit frame always encodes");
    publisher.put(bytes).await.map_err(RemoteError::zenoh)
}

/// Fixes an async block's output type, which its `?`s and `return`s need.
fn typed<F: Future<Output = Result<Control, RemoteError>>>(f: F) -> F {
    f
}
