//! The sending endpoint: an inbox on this host whose messages go to a remote inbox.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axon::{BoxError, Component, Context, Control, LinkError, Setup};
use serde::Serialize;
use tokio::time::Instant;
use zenoh::bytes::ZBytes;
use zenoh::qos::CongestionControl;
use zenoh::sample::SampleKind;

use super::{LinkOptions, random_source};
use crate::flow::SendWindow;
use crate::frame::{decode_credit, encode_batch, encode_control};
use crate::{RemoteError, RemoteLinkStats};

/// Sends what reaches its `inbox` to a remote inbox, with credit: it takes a message
/// from its inbox only when the receiver has granted room, so a full remote inbox
/// leaves messages in this one and the local link's policy applies (the producer waits
/// under `Block`; a lossy policy drops here, counted on both hosts).
///
/// | box | type | for |
/// | --- | --- | --- |
/// | `inbox` | `T` | messages for the remote inbox |
/// | `control` | `Control` | the producer's lifecycle: sent on after its data |
/// | `outbox` | `()` | unused |
/// | `signal` | `Control` | passes the lifecycle on when it ends |
///
/// Ends `Finished` once `ProducerFinished` and everything before it are acknowledged,
/// `ShutDown` after `Shutdown` (sent on at once), and `Failed` with
/// [`RemoteError::PeerVanished`] naming the receiver when it stays away past the grace
/// period. Made by [`Remote::sender`](super::Remote::sender) or
/// [`Remote::link_to`](super::Remote::link_to).
pub struct RemoteSender<T> {
    pub(super) session: zenoh::Session,
    pub(super) key: String,
    pub(super) opts: LinkOptions,
    pub(super) stats: Arc<RemoteLinkStats>,
    pub(super) lossy: bool,
    pub(super) _t: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for RemoteSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSender")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<T: Serialize + Send + 'static> Component for RemoteSender<T> {
    type In = T;
    type Out = ();

    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(format!("remote-sender {}", self.key))
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.set_capacity("inbox", self.opts.inbox_capacity)?;
        s.describe(
            "inbox",
            "messages for the remote inbox, taken as credit allows",
        )?;
        s.describe(
            "control",
            "the producer's lifecycle, sent on after its data",
        )
    }

    async fn run(self, mut ctx: Context<T, ()>) -> Result<(), BoxError> {
        let stats = self.stats.clone();
        super::publish(&ctx, &stats);
        let r = self.body(&mut ctx).await;
        super::ended(&mut ctx, &stats, r)
    }
}

impl<T: Serialize + Send + 'static> RemoteSender<T> {
    async fn body(self, ctx: &mut Context<T, ()>) -> Result<Control, RemoteError> {
        let key = self.key.as_str();
        let s = &self.session;
        let z = RemoteError::zenoh;
        let publisher = s
            .declare_publisher(format!("{key}/data"))
            .congestion_control(CongestionControl::Block)
            .await
            .map_err(z)?;
        let credits = s
            .declare_subscriber(format!("{key}/credit"))
            .await
            .map_err(z)?;
        let peers = s
            .liveliness()
            .declare_subscriber(format!("{key}/live/receiver"))
            .history(true)
            .await
            .map_err(z)?;
        let _token = s
            .liveliness()
            .declare_token(format!("{key}/live/sender"))
            .await
            .map_err(z)?;
        let source = random_source(ctx.id().get());
        let my_type = std::any::type_name::<T>();
        let max_batch = self.opts.max_batch.max(1) as u64;
        let mut win = SendWindow::<ZBytes>::new(self.opts.rto_ticks);
        let mut tick = tokio::time::interval(self.opts.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut vanish: Option<Instant> = None;
        let mut ending: Option<Control> = None;
        let mut drained = false;
        let mut control_seq: Option<u64> = None;
        let mut batch: Vec<T> = Vec::new();
        let mut dropped = 0u64;
        let codec = |e| RemoteError::Codec {
            key: key.to_string(),
            source: e,
        };

        loop {
            if matches!(ending, Some(c) if c.ends_input()) && !drained {
                // The lifecycle message needs no credit: with none left and nothing
                // queued, it goes now.
                drained = ctx.inbox.is_empty();
                while (batch.len() as u64) < win.room().min(max_batch) {
                    match ctx.inbox.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => {
                            drained = true;
                            break;
                        }
                    }
                }
            }
            if !batch.is_empty() {
                let seq = win.next_seq();
                let bytes =
                    ZBytes::from(encode_batch(source, seq, dropped, &batch).map_err(codec)?);
                win.record(batch.len() as u64, bytes.clone());
                publisher.put(bytes).await.map_err(z)?;
                self.stats.messages.fetch_add(batch.len() as u64, Relaxed);
                self.stats.frames.fetch_add(1, Relaxed);
                self.stats.next_seq.store(win.next_seq(), Relaxed);
                batch.clear();
                continue;
            }
            if let Some(c) = ending
                && control_seq.is_none()
                && (drained || c == Control::Shutdown)
            {
                if self.lossy {
                    dropped = self.refresh_dropped(ctx);
                }
                let seq = win.next_seq();
                let bytes = ZBytes::from(encode_control(source, seq, dropped, c).map_err(codec)?);
                win.record(1, bytes.clone());
                control_seq = Some(seq);
                publisher.put(bytes).await.map_err(z)?;
                self.stats.frames.fetch_add(1, Relaxed);
            }
            // Acknowledged, or a Shutdown with nobody there to tell.
            let unheard = ending == Some(Control::Shutdown) && !self.stats.peer_live.load(Relaxed);
            if control_seq.is_some() && (win.all_acked() || unheard) {
                return Ok(ending.unwrap_or(Control::ProducerFinished));
            }
            tokio::select! {
                biased;
                c = ctx.control.recv(), if ending.is_none() => {
                    ending = Some(c.unwrap_or(Control::ProducerFinished));
                }
                r = credits.recv_async() => {
                    let sample = r.map_err(z)?;
                    let credit = decode_credit(&sample.payload().to_bytes()).map_err(codec)?;
                    if credit.message_type != my_type {
                        return Err(RemoteError::TypeMismatch {
                            key: key.to_string(),
                            local: my_type.to_string(),
                            remote: credit.message_type,
                        });
                    }
                    let again = win.on_credit(&credit);
                    self.resend(&publisher, again).await?;
                    self.stats.credit_limit.store(win.limit(), Relaxed);
                    self.stats.acked.store(win.acked(), Relaxed);
                }
                r = peers.recv_async() => {
                    let sample = r.map_err(z)?;
                    if sample.kind() == SampleKind::Put {
                        vanish = None;
                        self.stats.peer_live.store(true, Relaxed);
                    } else {
                        self.stats.peer_live.store(false, Relaxed);
                        self.stats.peer_losses.fetch_add(1, Relaxed);
                        // A receiver that ended after every message before our
                        // lifecycle message was acknowledged took it: nothing is lost.
                        if control_seq.is_some_and(|seq| win.acked() >= seq) {
                            return Ok(ending.unwrap_or(Control::ProducerFinished));
                        }
                        vanish = Some(Instant::now() + self.opts.grace);
                    }
                }
                m = ctx.inbox.recv(), if ending.is_none() && win.room() > 0 => match m {
                    Some(m) => {
                        batch.push(m);
                        while (batch.len() as u64) < win.room().min(max_batch) {
                            match ctx.inbox.try_recv() {
                                Ok(m) => batch.push(m),
                                Err(_) => break,
                            }
                        }
                    }
                    None => ending = Some(Control::ProducerFinished),
                },
                _ = tick.tick() => {
                    let again = win.on_tick();
                    self.resend(&publisher, again).await?;
                    if self.lossy {
                        dropped = self.refresh_dropped(ctx);
                    }
                }
                _ = tokio::time::sleep_until(vanish.unwrap_or_else(Instant::now)), if vanish.is_some() => {
                    return Err(RemoteError::PeerVanished {
                        peer: format!("receiver {key}"),
                        key: key.to_string(),
                        grace: self.opts.grace,
                    });
                }
            }
        }
    }

    async fn resend(
        &self,
        publisher: &zenoh::pubsub::Publisher<'_>,
        frames: Vec<ZBytes>,
    ) -> Result<(), RemoteError> {
        self.stats
            .retransmitted
            .fetch_add(frames.len() as u64, Relaxed);
        for f in frames {
            publisher.put(f).await.map_err(RemoteError::zenoh)?;
        }
        Ok(())
    }

    /// The drops of the lossy local link into this endpoint's inbox, from the snapshot.
    fn refresh_dropped(&self, ctx: &Context<T, ()>) -> u64 {
        let snap = ctx.runtime().snapshot();
        let n = snap
            .component(ctx.id())
            .and_then(|c| c.boxes.iter().find(|b| b.name == "inbox"))
            .map_or(0, |b| b.dropped);
        self.stats.dropped.store(n, Relaxed);
        n
    }
}
