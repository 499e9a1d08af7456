//! Operator terminals in the page: each is a line-based TCP service (a sensornet
//! node link's terminal port, say). A page that opens one gets a session: the
//! dashboard connects to the service, streams what arrives to the page
//! (`/terminal/stream`), and writes each line the page posts (`/terminal/send`).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Most bytes one event carries to the page.
const CHUNK: usize = 16 * 1024;

/// The terminals offered, and the open sessions' write halves.
#[derive(Debug, Default)]
pub(crate) struct Terminals {
    offered: Mutex<BTreeMap<String, SocketAddr>>,
    sessions: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<OwnedWriteHalf>>>>,
    next: AtomicU64,
}

impl Terminals {
    pub(crate) fn add(&self, name: &str, addr: SocketAddr) {
        lock(&self.offered).insert(name.to_string(), addr);
    }

    pub(crate) fn names(&self) -> Vec<String> {
        lock(&self.offered).keys().cloned().collect()
    }

    /// Connect a session to terminal `name`: its id and what the service sends.
    ///
    /// # Errors
    ///
    /// No such terminal, or the service does not answer.
    pub(crate) async fn open(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>, String> {
        let addr = lock(&self.offered)
            .get(name)
            .copied()
            .ok_or_else(|| format!("no terminal {name:?}"))?;
        let socket = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("terminal {name:?} at {addr}: {e}"))?;
        let (read, write) = socket.into_split();
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.sessions).insert(id, Arc::new(tokio::sync::Mutex::new(write)));
        let session = Session {
            terminals: self.clone(),
            id,
            read,
            opened: false,
        };
        let stream = futures::stream::unfold(session, |mut s| async move {
            let event = s.next().await?;
            Some((Ok(event), s))
        });
        Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
    }

    /// Write `line` and `\r\n` to session `id`.
    ///
    /// # Errors
    ///
    /// No such session, or the service closed.
    pub(crate) async fn send(&self, id: u64, line: &str) -> Result<(), String> {
        let write = lock(&self.sessions)
            .get(&id)
            .cloned()
            .ok_or_else(|| format!("no terminal session {id}"))?;
        let mut w = write.lock().await;
        let line = format!("{}\r\n", line.trim_end_matches(['\r', '\n']));
        w.write_all(line.as_bytes())
            .await
            .map_err(|e| format!("terminal session {id}: {e}"))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One page's connection to a terminal; closed when the page goes away.
struct Session {
    terminals: Arc<Terminals>,
    id: u64,
    read: OwnedReadHalf,
    opened: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        lock(&self.terminals.sessions).remove(&self.id);
    }
}

impl Session {
    async fn next(&mut self) -> Option<Event> {
        if !self.opened {
            self.opened = true;
            return Some(Event::default().event("session").data(self.id.to_string()));
        }
        let mut buf = vec![0u8; CHUNK];
        match self.read.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                // SSE data is line-based: send the text as a JSON string.
                Some(
                    Event::default()
                        .event("data")
                        .data(serde_json::Value::String(text).to_string()),
                )
            }
        }
    }
}
