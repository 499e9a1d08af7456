//! Which node ids the MAIN server accepts, and from whom: a bounded table of nodes,
//! each owned by the peer address that first named it.
//!
//! Every MAIN command names a node id. Before a [`MainConnection`] acknowledges a
//! command it asks the [`NodeAdmission`] shared by all connections of the server:
//!
//! | the id | answer |
//! | --- | --- |
//! | outside the configured range ([`NodeLimits::ids`]) | `ERR NODE_ID_OUT_OF_RANGE <id> (allowed LO-HI, --node-ids)` |
//! | new, and [`NodeLimits::max_nodes`] nodes are known | `ERR TOO_MANY_NODES <id> (limit N, --max-nodes)` |
//! | known, live (its owner's MAIN connection is open), from another peer address | `ERR NODE_OWNED <id> (live from ADDR)` |
//! | anything else | admitted: the command is acknowledged and applied |
//!
//! A node is owned by the peer IP address that named it first; the same address may
//! name it again from any connection (a node that reconnects). Once the connections
//! that named it have all closed, another address may take it over (logged at warn).
//! Lookups are O(1) (a hash map); the table never holds more than `max_nodes`
//! entries, so nothing a client sends makes the server open more than
//! `max_nodes` × 2 bridges.
//!
//! [`MainConnection`]: super::main_server::MainConnection
//!
//! # Examples
//!
//! ```
//! use components::cosmici::admission::{NodeAdmission, NodeLimits};
//!
//! let admission = NodeAdmission::new(NodeLimits { max_nodes: 2, ids: 0..=9 });
//! let a: std::net::SocketAddr = "10.0.0.2:5000".parse()?;
//! assert!(admission.admit(1, a.ip(), 1).is_ok());
//! assert!(admission.admit(2, a.ip(), 1).is_ok());
//! let full = admission.admit(3, a.ip(), 1).unwrap_err();
//! assert_eq!(full.to_string(), "TOO_MANY_NODES 3 (limit 2, --max-nodes)");
//! let range = admission.admit(10, a.ip(), 1).unwrap_err();
//! assert_eq!(range.to_string(), "NODE_ID_OUT_OF_RANGE 10 (allowed 0-9, --node-ids)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};

/// Bounds on the nodes a server accepts.
///
/// # Examples
///
/// ```
/// use components::cosmici::admission::NodeLimits;
///
/// let limits = NodeLimits::default();
/// assert_eq!((limits.max_nodes, limits.ids), (64, 0..=63));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLimits {
    /// Most nodes known at once (`--max-nodes`, default 64).
    pub max_nodes: usize,
    /// The node ids accepted (`--node-ids`, default `0-63`).
    pub ids: RangeInclusive<u32>,
}

impl Default for NodeLimits {
    fn default() -> Self {
        Self {
            max_nodes: 64,
            ids: 0..=63,
        }
    }
}

/// Why a node id was refused; its `Display` is the text after `ERR `.
///
/// # Examples
///
/// ```
/// use components::cosmici::admission::Refusal;
///
/// let r = Refusal::Owned { id: 1, by: "10.0.0.2".parse().unwrap() };
/// assert_eq!(r.to_string(), "NODE_OWNED 1 (live from 10.0.0.2)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The id is outside [`NodeLimits::ids`].
    #[error("NODE_ID_OUT_OF_RANGE {id} (allowed {}-{}, --node-ids)", range.start(), range.end())]
    OutOfRange {
        /// The id asked for.
        id: u32,
        /// The ids allowed.
        range: RangeInclusive<u32>,
    },
    /// The table holds [`NodeLimits::max_nodes`] nodes already.
    #[error("TOO_MANY_NODES {id} (limit {max}, --max-nodes)")]
    Full {
        /// The id asked for.
        id: u32,
        /// The limit.
        max: usize,
    },
    /// The node is live and owned by another peer address.
    #[error("NODE_OWNED {id} (live from {by})")]
    Owned {
        /// The id asked for.
        id: u32,
        /// The owner's address.
        by: IpAddr,
    },
}

#[derive(Debug)]
struct Owner {
    ip: IpAddr,
    /// MAIN connections of the owner that named the node and are still open.
    conns: Vec<u64>,
}

/// The shared table of admitted nodes; clones share it. See the [module docs](self).
///
/// # Examples
///
/// ```
/// use components::cosmici::admission::{NodeAdmission, Refusal};
///
/// let admission = NodeAdmission::default();
/// let (a, b) = ("10.0.0.2".parse()?, "10.0.0.3".parse()?);
/// admission.admit(1, a, 7)?;
/// // Node 1 is live from `a`: `b` is refused until `a`'s connection closes.
/// assert!(matches!(admission.admit(1, b, 8), Err(Refusal::Owned { .. })));
/// admission.release(7, [1]);
/// assert!(admission.admit(1, b, 8).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct NodeAdmission {
    limits: Arc<NodeLimits>,
    table: Arc<Mutex<HashMap<u32, Owner>>>,
}

impl NodeAdmission {
    /// An empty table with `limits`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::admission::{NodeAdmission, NodeLimits};
    ///
    /// let admission = NodeAdmission::new(NodeLimits { max_nodes: 4, ids: 1..=4 });
    /// assert_eq!(admission.limits().max_nodes, 4);
    /// assert_eq!(admission.len(), 0);
    /// ```
    pub fn new(limits: NodeLimits) -> Self {
        Self {
            limits: Arc::new(limits),
            table: Arc::default(),
        }
    }

    /// The limits.
    ///
    /// # Examples
    ///
    /// ```
    /// let admission = components::cosmici::admission::NodeAdmission::default();
    /// assert_eq!(admission.limits().ids, 0..=63);
    /// ```
    pub fn limits(&self) -> &NodeLimits {
        &self.limits
    }

    fn table(&self) -> MutexGuard<'_, HashMap<u32, Owner>> {
        // A panic while holding the lock leaves a consistent map: every update is one step.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits node `id` named by peer `ip` on MAIN connection `conn`, or says why not.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] naming the limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::admission::NodeAdmission;
    ///
    /// let admission = NodeAdmission::default();
    /// let ip = "10.0.0.2".parse()?;
    /// admission.admit(3, ip, 1)?;
    /// admission.admit(3, ip, 2)?; // the same address, reconnected
    /// assert_eq!(admission.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn admit(&self, id: u32, ip: IpAddr, conn: u64) -> Result<(), Refusal> {
        if !self.limits.ids.contains(&id) {
            return Err(Refusal::OutOfRange {
                id,
                range: self.limits.ids.clone(),
            });
        }
        let mut table = self.table();
        let full = table.len() >= self.limits.max_nodes;
        match table.get_mut(&id) {
            Some(owner) if owner.ip == ip => {
                if !owner.conns.contains(&conn) {
                    owner.conns.push(conn);
                }
                Ok(())
            }
            Some(owner) if !owner.conns.is_empty() => Err(Refusal::Owned { id, by: owner.ip }),
            Some(owner) => {
                tracing::warn!(
                    node = id,
                    "node {id} taken over by {ip} (was {}, whose MAIN connections have closed)",
                    owner.ip
                );
                *owner = Owner {
                    ip,
                    conns: vec![conn],
                };
                Ok(())
            }
            None if full => Err(Refusal::Full {
                id,
                max: self.limits.max_nodes,
            }),
            None => {
                table.insert(
                    id,
                    Owner {
                        ip,
                        conns: vec![conn],
                    },
                );
                Ok(())
            }
        }
    }

    /// MAIN connection `conn`, which named `nodes`, has closed: those nodes are no
    /// longer live through it.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::admission::NodeAdmission;
    ///
    /// let admission = NodeAdmission::default();
    /// admission.admit(1, "10.0.0.2".parse()?, 5)?;
    /// assert!(admission.is_live(1));
    /// admission.release(5, [1]);
    /// assert!(!admission.is_live(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self, conn: u64, nodes: impl IntoIterator<Item = u32>) {
        let mut table = self.table();
        for id in nodes {
            if let Some(owner) = table.get_mut(&id) {
                owner.conns.retain(|&c| c != conn);
            }
        }
    }

    /// Whether node `id` is known and one of its owner's MAIN connections is open.
    ///
    /// # Examples
    ///
    /// ```
    /// let admission = components::cosmici::admission::NodeAdmission::default();
    /// assert!(!admission.is_live(1));
    /// ```
    pub fn is_live(&self, id: u32) -> bool {
        self.table().get(&id).is_some_and(|o| !o.conns.is_empty())
    }

    /// The owner's address of node `id`, if known.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::admission::NodeAdmission;
    ///
    /// let admission = NodeAdmission::default();
    /// let ip = "10.0.0.2".parse()?;
    /// admission.admit(1, ip, 5)?;
    /// assert_eq!(admission.owner(1), Some(ip));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner(&self, id: u32) -> Option<IpAddr> {
        self.table().get(&id).map(|o| o.ip)
    }

    /// Nodes known.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::cosmici::admission::NodeAdmission::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether no node is known.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(components::cosmici::admission::NodeAdmission::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.table().is_empty()
    }
}

impl fmt::Display for NodeLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at most {} nodes, ids {}-{}",
            self.max_nodes,
            self.ids.start(),
            self.ids.end()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_refuses_new_ids_but_serves_known_ones() {
        let admission = NodeAdmission::new(NodeLimits {
            max_nodes: 3,
            ids: 0..=1000,
        });
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        for id in 0..1000 {
            let r = admission.admit(id, ip, 1);
            assert_eq!(r.is_ok(), id < 3, "{id}: {r:?}");
        }
        assert_eq!(admission.len(), 3);
        assert!(admission.admit(2, ip, 1).is_ok());
    }
}
