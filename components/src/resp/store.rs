//! The key-value store: [`Keyspace`], the data and the command semantics, and
//! [`KeyValueStore`], the component that owns one and answers [`StoreRequest`]s.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axon::{BoxError, Component, Context, LinkError, Request, Setup};
use bytes::Bytes;
use tokio::time::Instant;

use super::command::{Command, ExpireCondition, SetCondition, parse_integer};
use super::error::CommandError;
use super::glob::glob_match;
use super::reply::Reply;

/// The service name connection handlers find the store by, unless told otherwise.
///
/// # Examples
///
/// ```
/// assert_eq!(components::resp::STORE_SERVICE, "kvstore");
/// ```
pub const STORE_SERVICE: &str = "kvstore";

/// Capacity of the store's `inbox`: every connection's handler feeds it.
const INBOX_CAPACITY: usize = 1024;

/// A request to the store, asked with [`Outbox::ask`](axon::Outbox::ask): the commands
/// of one batch (what a connection had decoded at once, run in order with nothing in
/// between), answered with one reply per command in the same order.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use axon::testing::Harness;
/// use components::resp::{Command, KeyValueStore, Reply, StoreRequest};
///
/// let mut h = Harness::new(KeyValueStore::new());
/// let mut store = h.inbox_sender::<StoreRequest>("inbox")?;
/// let commands = vec![Command::Get("k".into()), Command::DbSize];
/// let replies = store.ask(commands, Duration::from_secs(5)).await?;
/// assert_eq!(replies, vec![Reply::Nil, Reply::Integer(0)]);
/// # Ok(()) }
/// ```
pub type StoreRequest = Request<Vec<Command>, Vec<Reply>>;

/// One stored string and when it expires.
#[derive(Debug, Clone)]
struct Entry {
    value: Bytes,
    expires: Option<Instant>,
}

/// The keys and string values of one database, with their times to live, and what
/// each [`Command`] does to them (Redis's semantics and replies).
///
/// Time is passed in (`now`), read from tokio's clock by [`KeyValueStore`], so expiry
/// can be tested on a paused clock. A key whose time has come is removed before any
/// command that runs at or after that time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::resp::{Command, Keyspace, Reply};
/// use tokio::time::Instant;
///
/// let mut keys = Keyspace::default();
/// let t0 = Instant::now();
/// let set = Command::Set { key: "k".into(), value: "v".into(), expire: Some(Duration::from_secs(2)), condition: None };
/// assert_eq!(keys.execute(set, t0), Reply::OK);
/// assert_eq!(keys.execute(Command::Ttl("k".into()), t0), Reply::Integer(2));
/// assert_eq!(keys.execute(Command::Get("k".into()), t0 + Duration::from_secs(2)), Reply::Nil);
/// assert_eq!(keys.len(), 0);
/// ```
#[derive(Debug, Default)]
pub struct Keyspace {
    entries: HashMap<Bytes, Entry>,
    /// Every key with a time to live, soonest first.
    expiries: BTreeSet<(Instant, Bytes)>,
    /// Bytes of keys and values stored.
    used: usize,
    /// Above this many bytes, writes are refused.
    max_bytes: Option<usize>,
}

impl Keyspace {
    /// An empty keyspace that refuses writes (SET, MSET, INCR, DECR) with Redis's
    /// `OOM command not allowed when used memory > 'maxmemory'.` once its keys and
    /// values take more than `max_bytes` (as Redis's `noeviction` policy does).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::resp::{Command, Keyspace, Reply};
    /// use tokio::time::Instant;
    ///
    /// let mut keys = Keyspace::with_max_bytes(4);
    /// let set = |k: &'static str| Command::Set { key: k.into(), value: "v".into(), expire: None, condition: None };
    /// assert_eq!(keys.execute(set("a"), Instant::now()), Reply::OK);
    /// assert_eq!(keys.execute(set("b"), Instant::now()), Reply::OK); // 4 bytes: not above
    /// assert_eq!(keys.execute(set("c"), Instant::now()), Reply::OK); // 6 bytes now
    /// assert!(matches!(keys.execute(set("d"), Instant::now()), Reply::Error(e) if e.starts_with("OOM")));
    /// ```
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Keyspace {
            max_bytes: Some(max_bytes),
            ..Keyspace::default()
        }
    }

    /// Bytes of keys and values stored (not counting the index's own overhead).
    pub fn used_bytes(&self) -> usize {
        self.used
    }

    /// How many keys are stored (expired ones included until the next command removes them).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// When the soonest time to live runs out, if any key has one.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// Remove every key whose time has come by `now`; returns how many went.
    pub fn remove_expired(&mut self, now: Instant) -> usize {
        let mut removed = 0;
        while let Some((at, _)) = self.expiries.first() {
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.expiries.pop_first() {
                if let Some(entry) = self.entries.remove(&key) {
                    self.used -= key.len() + entry.value.len();
                }
                removed += 1;
            }
        }
        removed
    }

    /// Run `command` at `now` and return its reply. PING, ECHO and QUIT are answered
    /// as Redis does, though a connection usually answers them itself.
    ///
    /// # Panics
    ///
    /// On [`Command::DebugCrash`], on purpose.
    pub fn execute(&mut self, command: Command, now: Instant) -> Reply {
        self.remove_expired(now);
        let writes = matches!(
            command,
            Command::Set { .. } | Command::MSet(_) | Command::IncrBy { .. }
        );
        if writes && self.max_bytes.is_some_and(|max| self.used > max) {
            return Reply::error(CommandError::OutOfMemory);
        }
        match command {
            Command::Ping(None) => Reply::Status("PONG"),
            Command::Ping(Some(message)) | Command::Echo(message) => Reply::Bulk(message),
            Command::Quit | Command::FlushDb => {
                if matches!(command, Command::FlushDb) {
                    self.entries.clear();
                    self.expiries.clear();
                    self.used = 0;
                }
                Reply::OK
            }
            Command::Get(key) => self.get(&key),
            Command::Set {
                key,
                value,
                expire,
                condition,
            } => {
                let exists = self.entries.contains_key(&key);
                match condition {
                    Some(SetCondition::Nx) if exists => return Reply::Nil,
                    Some(SetCondition::Xx) if !exists => return Reply::Nil,
                    _ => {}
                }
                self.insert(key, value, expire.map(|d| now + d));
                Reply::OK
            }
            Command::Del(keys) => {
                Reply::Integer(keys.iter().filter(|k| self.remove(k)).count() as i64)
            }
            Command::Exists(keys) => Reply::Integer(
                keys.iter()
                    .filter(|k| self.entries.contains_key(*k))
                    .count() as i64,
            ),
            Command::IncrBy { key, by } => match self.incr_by(key, by) {
                Ok(n) => Reply::Integer(n),
                Err(e) => Reply::error(e),
            },
            Command::MGet(keys) => Reply::Array(keys.iter().map(|k| self.get(k)).collect()),
            Command::MSet(pairs) => {
                for (key, value) in pairs {
                    self.insert(key, value, None);
                }
                Reply::OK
            }
            Command::Expire {
                key,
                seconds,
                condition,
            } => Reply::Integer(i64::from(self.expire(key, seconds, condition, now))),
            Command::Ttl(key) => Reply::Integer(match self.entries.get(&key) {
                None => -2,
                Some(Entry { expires: None, .. }) => -1,
                Some(Entry {
                    expires: Some(at), ..
                }) => ((at.saturating_duration_since(now).as_millis() + 500) / 1000) as i64,
            }),
            Command::Keys(pattern) => Reply::Array(
                self.entries
                    .keys()
                    .filter(|k| glob_match(&pattern, k))
                    .map(|k| Reply::Bulk(k.clone()))
                    .collect(),
            ),
            Command::DbSize => Reply::Integer(self.entries.len() as i64),
            Command::DebugCrash => panic!("DEBUG CRASH: the store was asked to crash"),
        }
    }

    fn get(&self, key: &Bytes) -> Reply {
        self.entries
            .get(key)
            .map_or(Reply::Nil, |e| Reply::Bulk(e.value.clone()))
    }

    fn insert(&mut self, key: Bytes, value: Bytes, expires: Option<Instant>) {
        self.forget_expiry(&key);
        if let Some(at) = expires {
            self.expiries.insert((at, key.clone()));
        }
        self.used += key.len() + value.len();
        if let Some(old) = self.entries.insert(key.clone(), Entry { value, expires }) {
            self.used -= key.len() + old.value.len();
        }
    }

    /// Remove `key`; whether it was there.
    fn remove(&mut self, key: &Bytes) -> bool {
        self.forget_expiry(key);
        match self.entries.remove(key) {
            Some(entry) => {
                self.used -= key.len() + entry.value.len();
                true
            }
            None => false,
        }
    }

    fn forget_expiry(&mut self, key: &Bytes) {
        if let Some(Entry {
            expires: Some(at), ..
        }) = self.entries.get(key)
        {
            self.expiries.remove(&(*at, key.clone()));
        }
    }

    fn incr_by(&mut self, key: Bytes, by: i64) -> Result<i64, CommandError> {
        let (current, expires) = match self.entries.get(&key) {
            Some(entry) => (parse_integer(&entry.value)?, entry.expires),
            None => (0, None),
        };
        let n = current.checked_add(by).ok_or(CommandError::Overflow)?;
        // INCR keeps the key's time to live, as Redis does.
        if let Some(entry) = self.entries.get_mut(&key) {
            let value = Bytes::from(n.to_string());
            self.used = self.used + value.len() - entry.value.len();
            entry.value = value;
        } else {
            self.insert(key, Bytes::from(n.to_string()), expires);
        }
        Ok(n)
    }

    /// EXPIRE: whether the time to live was set (or the key deleted for a time already past).
    fn expire(
        &mut self,
        key: Bytes,
        seconds: i64,
        condition: Option<ExpireCondition>,
        now: Instant,
    ) -> bool {
        let Some(entry) = self.entries.get(&key) else {
            return false;
        };
        let current = entry.expires;
        let ms = seconds.saturating_mul(1000);
        let when = (ms > 0).then(|| now + Duration::from_millis(ms.unsigned_abs()));
        let allowed = match condition {
            None => true,
            Some(ExpireCondition::Nx) => current.is_none(),
            Some(ExpireCondition::Xx) => current.is_some(),
            // A key without a time to live never expires: no new one is later.
            Some(ExpireCondition::Gt) => current.is_some_and(|c| when.is_some_and(|w| w > c)),
            Some(ExpireCondition::Lt) => current.is_none_or(|c| when.is_none_or(|w| w < c)),
        };
        if !allowed {
            return false;
        }
        match when {
            None => {
                self.remove(&key);
            }
            Some(at) => {
                self.forget_expiry(&key);
                self.expiries.insert((at, key.clone()));
                if let Some(entry) = self.entries.get_mut(&key) {
                    entry.expires = Some(at);
                }
            }
        }
        true
    }
}

/// The store component: owns a [`Keyspace`] and runs the commands of every
/// connection, one [`StoreRequest`] at a time, so connections share no mutable state.
///
/// # What it does
///
/// Handlers find it by name in the runtime's service registry (register its `inbox`
/// under [`STORE_SERVICE`]) and link an outbox to it, then [`ask`](axon::Outbox::ask).
/// Each request's commands run in order and their replies are its answer; a request
/// whose asker has stopped waiting (timed out, or its connection closed) is skipped,
/// since the client has already been told it failed. Keys whose time to live
/// runs out are removed when it does (the store wakes for the soonest), not only when
/// next touched, so expired keys hold no memory. Time is tokio's clock.
///
/// `DEBUG CRASH` panics the store. The runtime catches the panic and the store ends;
/// its queued requests are dropped with its inbox, so every waiting asker gets
/// [`AskError::NoReply`](axon::AskError::NoReply) at once. All its data is lost with it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::Runtime;
/// use components::resp::{Command, KeyValueStore, Reply, STORE_SERVICE, StoreRequest};
///
/// let rt = Runtime::new();
/// let store = rt.add(KeyValueStore::new())?;
/// rt.register_service(STORE_SERVICE, store.inbox())?;
/// let _store = store.start();
///
/// let mut main = rt.external("main");
/// let (to_store, mut store) = main.add_outbox::<StoreRequest>("store")?;
/// rt.link(to_store, rt.service::<StoreRequest>(STORE_SERVICE)?)?;
/// let commands = vec![Command::IncrBy { key: "n".into(), by: 1 }];
/// let replies = store.ask(commands, std::time::Duration::from_secs(5)).await?;
/// assert_eq!(replies, vec![Reply::Integer(1)]);
/// # Ok(()) }
/// ```
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`StoreRequest`] | commands from connection handlers |
/// | `control` | in | [`Control`](axon::Control) | `Shutdown`: stop |
/// | `outbox` | out | `()` | unused |
/// | `signal` | out | [`Control`](axon::Control) | passed on by the runtime when it ends |
#[derive(Debug, Default)]
pub struct KeyValueStore {
    keyspace: Keyspace,
}

impl KeyValueStore {
    /// An empty store with no limit on its size.
    pub fn new() -> Self {
        KeyValueStore::default()
    }

    /// An empty store that refuses writes once its keys and values take more than
    /// `max_bytes` (see [`Keyspace::with_max_bytes`]).
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        KeyValueStore {
            keyspace: Keyspace::with_max_bytes(max_bytes),
        }
    }
}

impl Component for KeyValueStore {
    type In = StoreRequest;
    type Out = ();

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.set_capacity("inbox", INBOX_CAPACITY)?;
        s.describe("inbox", "commands from connection handlers")?;
        Ok(())
    }

    async fn run(mut self, mut ctx: Context<StoreRequest, ()>) -> Result<(), BoxError> {
        loop {
            let next_expiry = self.keyspace.next_expiry();
            let expiry = async {
                match next_expiry {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                request = ctx.recv() => {
                    let Some(request) = request else {
                        return Ok(());
                    };
                    if request.is_abandoned() {
                        continue;
                    }
                    let (commands, replier) = request.into_parts();
                    let now = Instant::now();
                    let replies = commands
                        .into_iter()
                        .map(|c| self.keyspace.execute(c, now))
                        .collect();
                    // The asker may have gone since (its connection closed); nothing to answer.
                    let _ = replier.reply(replies);
                }
                () = expiry => {
                    self.keyspace.remove_expired(Instant::now());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon::testing::Harness;

    fn cmd(line: &str) -> Command {
        Command::parse(
            line.split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect(),
        )
        .expect("a valid command")
    }

    /// A started store and a way to ask it.
    struct Client {
        _store: Harness<StoreRequest, ()>,
        ask: axon::Outbox<StoreRequest>,
    }

    fn client(store: KeyValueStore) -> Client {
        let mut h = Harness::new(store);
        let ask = h
            .inbox_sender::<StoreRequest>("inbox")
            .expect("the store's inbox");
        Client { _store: h, ask }
    }

    /// Run `lines` in one request and return the replies.
    async fn run(c: &mut Client, lines: &[&str]) -> Vec<Reply> {
        let commands = lines.iter().map(|l| cmd(l)).collect();
        c.ask
            .ask(commands, Duration::from_secs(5))
            .await
            .expect("the store answers")
    }

    async fn one(c: &mut Client, line: &str) -> Reply {
        run(c, &[line]).await.remove(0)
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[tokio::test(start_paused = true)]
    async fn set_ex_expires_on_tokios_clock() {
        let mut h = client(KeyValueStore::new());
        assert_eq!(one(&mut h, "SET k v EX 2").await, Reply::OK);
        assert_eq!(one(&mut h, "TTL k").await, Reply::Integer(2));
        tokio::time::advance(Duration::from_millis(1400)).await;
        assert_eq!(
            one(&mut h, "TTL k").await,
            Reply::Integer(1),
            "0.6 s left rounds to 1"
        );
        assert_eq!(one(&mut h, "GET k").await, bulk("v"));
        tokio::time::advance(Duration::from_millis(600)).await;
        assert_eq!(one(&mut h, "GET k").await, Reply::Nil);
        assert_eq!(one(&mut h, "TTL k").await, Reply::Integer(-2));
        assert_eq!(one(&mut h, "DBSIZE").await, Reply::Integer(0));
    }

    #[tokio::test(start_paused = true)]
    async fn set_px_expires_to_the_millisecond() {
        let mut h = client(KeyValueStore::new());
        assert_eq!(one(&mut h, "SET k v PX 250").await, Reply::OK);
        tokio::time::advance(Duration::from_millis(249)).await;
        assert_eq!(one(&mut h, "EXISTS k").await, Reply::Integer(1));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(one(&mut h, "EXISTS k").await, Reply::Integer(0));
    }

    #[tokio::test(start_paused = true)]
    async fn set_without_expiry_clears_the_old_one_and_incr_keeps_it() {
        let mut h = client(KeyValueStore::new());
        run(&mut h, &["SET n 1 EX 10", "INCR n"]).await;
        assert_eq!(one(&mut h, "TTL n").await, Reply::Integer(10));
        assert_eq!(one(&mut h, "SET n 5").await, Reply::OK);
        assert_eq!(one(&mut h, "TTL n").await, Reply::Integer(-1));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(one(&mut h, "GET n").await, bulk("5"));
    }

    #[tokio::test(start_paused = true)]
    async fn expire_sets_replaces_and_deletes() {
        let mut h = client(KeyValueStore::new());
        assert_eq!(one(&mut h, "EXPIRE missing 10").await, Reply::Integer(0));
        one(&mut h, "SET k v").await;
        assert_eq!(one(&mut h, "TTL k").await, Reply::Integer(-1));
        assert_eq!(one(&mut h, "EXPIRE k 10 XX").await, Reply::Integer(0));
        assert_eq!(one(&mut h, "EXPIRE k 10 GT").await, Reply::Integer(0));
        assert_eq!(one(&mut h, "EXPIRE k 10 NX").await, Reply::Integer(1));
        assert_eq!(one(&mut h, "EXPIRE k 20 NX").await, Reply::Integer(0));
        assert_eq!(one(&mut h, "EXPIRE k 5 LT").await, Reply::Integer(1));
        assert_eq!(one(&mut h, "TTL k").await, Reply::Integer(5));
        assert_eq!(one(&mut h, "EXPIRE k 30").await, Reply::Integer(1));
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(one(&mut h, "TTL k").await, Reply::Integer(1));
        assert_eq!(one(&mut h, "EXPIRE k 0").await, Reply::Integer(1));
        assert_eq!(one(&mut h, "GET k").await, Reply::Nil);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_keys_leave_the_keyspace_when_their_time_comes() {
        let mut keys = Keyspace::default();
        let t0 = Instant::now();
        for (i, secs) in [3u64, 1, 2].into_iter().enumerate() {
            let set = cmd(&format!("SET k{i} v EX {secs}"));
            keys.execute(set, t0);
        }
        keys.execute(cmd("SET forever v"), t0);
        assert_eq!(keys.next_expiry(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(keys.remove_expired(t0 + Duration::from_secs(2)), 2);
        assert_eq!(keys.len(), 2);
        keys.execute(cmd("DEL k0"), t0);
        assert_eq!(
            keys.next_expiry(),
            None,
            "a deleted key leaves the expiry index"
        );
    }

    #[test]
    fn used_bytes_follow_every_write_and_delete() {
        let mut keys = Keyspace::default();
        let t0 = Instant::now();
        keys.execute(cmd("MSET ab 123 c 4"), t0);
        assert_eq!(keys.used_bytes(), 7);
        keys.execute(cmd("INCR c"), t0);
        keys.execute(cmd("SET c 100"), t0);
        assert_eq!(keys.used_bytes(), 9);
        keys.execute(cmd("SET e x PX 10"), t0);
        keys.execute(cmd("DEL ab"), t0 + Duration::from_millis(10));
        assert_eq!(
            keys.used_bytes(),
            4,
            "the deleted and the expired keys gave theirs back"
        );
        keys.execute(cmd("FLUSHDB"), t0);
        assert_eq!(keys.used_bytes(), 0);
    }

    #[test]
    fn a_full_keyspace_refuses_writes_but_serves_reads_and_deletes() {
        let mut keys = Keyspace::with_max_bytes(3);
        let t0 = Instant::now();
        assert_eq!(keys.execute(cmd("SET a 1234"), t0), Reply::OK);
        let oom = Reply::Error("OOM command not allowed when used memory > 'maxmemory'.".into());
        for write in ["SET b 1", "MSET b 1", "INCR n"] {
            assert_eq!(keys.execute(cmd(write), t0), oom, "{write}");
        }
        assert_eq!(keys.execute(cmd("GET a"), t0), bulk("1234"));
        assert_eq!(keys.execute(cmd("DEL a"), t0), Reply::Integer(1));
        assert_eq!(keys.execute(cmd("SET b 1"), t0), Reply::OK);
    }

    #[tokio::test]
    async fn string_commands_answer_as_redis() {
        let mut h = client(KeyValueStore::new());
        let replies = run(
            &mut h,
            &[
                "SET a 1",
                "SET a 2 NX",
                "SET b 1 XX",
                "MSET b 2 c x",
                "MGET a b c d",
                "INCR a",
                "DECR fresh",
                "INCR c",
                "SET big 9223372036854775807",
                "INCR big",
                "EXISTS a a d",
                "DEL a d",
                "KEYS *",
                "DBSIZE",
                "FLUSHDB",
                "DBSIZE",
            ],
        )
        .await;
        let not_integer = Reply::Error("ERR value is not an integer or out of range".into());
        let overflow = Reply::Error("ERR increment or decrement would overflow".into());
        let mut keys = match &replies[12] {
            Reply::Array(keys) => keys.clone(),
            other => panic!("KEYS answers an array, got {other:?}"),
        };
        keys.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(
            replies,
            vec![
                Reply::OK,
                Reply::Nil,
                Reply::Nil,
                Reply::OK,
                Reply::Array(vec![bulk("1"), bulk("2"), bulk("x"), Reply::Nil]),
                Reply::Integer(2),
                Reply::Integer(-1),
                not_integer,
                Reply::OK,
                overflow,
                Reply::Integer(2),
                Reply::Integer(1),
                replies[12].clone(),
                Reply::Integer(4),
                Reply::OK,
                Reply::Integer(0),
            ]
        );
        assert_eq!(keys, vec![bulk("b"), bulk("big"), bulk("c"), bulk("fresh")]);
    }
}
