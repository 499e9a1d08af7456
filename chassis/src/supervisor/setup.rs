//! A supervisor's setup: its children's first instances, the holds in front of their
//! inboxes, its boundary boxes and the layout's links, remembered so that each
//! restart can make them again.

use axon::{BoxId, ComponentId, LinkError, Policy, Runtime, Setup};

use super::{LinkSpec, Supervisor};

/// The name that means the supervisor's own boundary in a link.
pub(crate) const SELF: &str = "self";

/// A link from a child's box to a box the supervisor owns (a hold or a boundary
/// outbox), made again for each new instance of the child.
#[derive(Debug)]
pub(crate) struct OutLink {
    pub(crate) child: usize,
    pub(crate) from_box: String,
    pub(crate) to: BoxId,
    pub(crate) policy: Policy,
}

/// A hold in front of a child's inbox, linked again to each new instance.
#[derive(Debug)]
pub(crate) struct HoldLink {
    pub(crate) hold: BoxId,
    pub(crate) name: String,
    pub(crate) child: usize,
    pub(crate) to_box: String,
}

/// What setup made, for the body.
#[derive(Debug)]
pub(crate) struct Wiring {
    pub(crate) ids: Vec<ComponentId>,
    pub(crate) outs: Vec<OutLink>,
    pub(crate) holds: Vec<HoldLink>,
}

struct Layout<'a> {
    rt: Runtime,
    me: ComponentId,
    label: String,
    names: Vec<&'a str>,
    ids: Vec<ComponentId>,
    hold_capacity: usize,
    holds: Vec<HoldLink>,
}

impl Layout<'_> {
    fn child(&self, key: &str) -> Result<usize, LinkError> {
        self.names
            .iter()
            .position(|n| *n == key)
            .ok_or_else(|| LinkError::UnknownComponent {
                component: format!(
                    "{key:?} in {}; its children are: {} (and {SELF:?} for its own boxes)",
                    self.label,
                    self.names.join(", ")
                ),
            })
    }

    fn child_box(&self, k: usize, name: &str) -> Result<BoxId, LinkError> {
        self.rt.box_id(self.ids[k], name).map_err(|e| match e {
            LinkError::UnknownBox {
                component,
                name,
                existing,
            } => LinkError::UnknownBox {
                component: format!("child {:?} ({component}) of {}", self.names[k], self.label),
                name,
                existing,
            },
            other => other,
        })
    }

    /// The hold in front of child `k`'s box `name`, made (and linked) on first use.
    fn hold(&mut self, s: &mut Setup<'_>, k: usize, name: &str) -> Result<BoxId, LinkError> {
        if let Some(h) = self.holds.iter().find(|h| h.child == k && h.to_box == name) {
            return Ok(h.hold);
        }
        let target = self.child_box(k, name)?;
        let hold_name = format!("{}.{name}", self.names[k]);
        let hold = self.rt.add_hold_like(
            self.me,
            hold_name.clone(),
            "holds messages for a supervised child's inbox while it restarts",
            target,
            self.hold_capacity,
        )?;
        s.link_ids(hold, target, Policy::Block)?;
        self.holds.push(HoldLink {
            hold,
            name: hold_name,
            child: k,
            to_box: name.to_string(),
        });
        Ok(hold)
    }

    /// The supervisor's own box `name`, made like `like` if it does not exist yet.
    fn own_box(
        &self,
        name: &str,
        description: &'static str,
        like: BoxId,
    ) -> Result<BoxId, LinkError> {
        match self.rt.box_id(self.me, name) {
            Ok(id) => Ok(id),
            Err(_) => self
                .rt
                .add_box_like(self.me, name.to_string(), description, like),
        }
    }
}

fn refused(spec: &LinkSpec, reason: &'static str) -> LinkError {
    LinkError::WrongDirection {
        from: format!("{}.{}", spec.from.0, spec.from.1),
        to: format!("{}.{}", spec.to.0, spec.to.1),
        reason,
    }
}

/// Add the children and make the layout; see the module docs of [`super`].
pub(crate) fn wire<I: Send + 'static, O: Send + 'static>(
    sup: &mut Supervisor<I, O>,
    s: &mut Setup<'_>,
) -> Result<Wiring, LinkError> {
    let rt = s.runtime().clone();
    let me = s.id();
    let label = format!("{}#{}", sup.name, me);
    let mut ids = Vec::with_capacity(sup.children.len());
    for (k, spec) in sup.children.iter().enumerate() {
        let clash = spec.name == SELF
            || spec.name.contains('.')
            || sup.children[..k].iter().any(|c| c.name == spec.name);
        if clash {
            return Err(LinkError::DuplicateBox {
                component: format!(
                    "{label} (child names must be unique, not {SELF:?}, without '.')"
                ),
                name: spec.name.clone(),
            });
        }
    }
    for spec in &mut sup.children {
        ids.push(s.add_child_dyn(spec.make()?)?);
    }
    let mut layout = Layout {
        rt: rt.clone(),
        me,
        label,
        names: sup.children.iter().map(|c| c.name.as_str()).collect(),
        ids,
        hold_capacity: sup.hold_capacity,
        holds: Vec::new(),
    };
    let mut outs = Vec::new();
    let mut inbox_passes = false;
    for spec in &sup.links {
        let from_self = spec.from.0 == SELF;
        let to_self = spec.to.0 == SELF;
        if (!to_self && spec.to.1 == "control") || (!from_self && spec.from.1 == "signal") {
            return Err(refused(
                spec,
                "a supervisor links its children's control and signal itself",
            ));
        }
        match (from_self, to_self) {
            (true, true) => {
                return Err(refused(
                    spec,
                    "a supervisor cannot link its own boundary boxes to each other",
                ));
            }
            (true, false) => {
                let k = layout.child(&spec.to.0)?;
                let hold = layout.hold(s, k, &spec.to.1)?;
                let src = match spec.from.1.as_str() {
                    "inbox" => {
                        if !inbox_passes {
                            s.make_passthrough("inbox")?;
                            inbox_passes = true;
                        }
                        rt.box_id(me, "inbox")?
                    }
                    "control" | "outbox" | "signal" => {
                        return Err(refused(
                            spec,
                            "a supervisor's control is its own, and its outbox and signal are destinations",
                        ));
                    }
                    other => layout.own_box(
                        other,
                        "a boundary inbox named in the layout, passed to a child's hold",
                        hold,
                    )?,
                };
                s.link_ids(src, hold, spec.policy)?;
            }
            (false, true) => {
                let k = layout.child(&spec.from.0)?;
                let from = layout.child_box(k, &spec.from.1)?;
                let to = match spec.to.1.as_str() {
                    "outbox" => rt.box_id(me, "outbox")?,
                    "inbox" | "control" | "signal" => {
                        return Err(refused(
                            spec,
                            "a supervisor's inbox and control are sources, and it speaks on its signal itself",
                        ));
                    }
                    other => layout.own_box(
                        other,
                        "a boundary outbox named in the layout, fed by a child",
                        from,
                    )?,
                };
                s.link_ids(from, to, spec.policy)?;
                outs.push(OutLink {
                    child: k,
                    from_box: spec.from.1.clone(),
                    to,
                    policy: spec.policy,
                });
            }
            (false, false) => {
                let (k1, k2) = (layout.child(&spec.from.0)?, layout.child(&spec.to.0)?);
                let from = layout.child_box(k1, &spec.from.1)?;
                let hold = layout.hold(s, k2, &spec.to.1)?;
                s.link_ids(from, hold, spec.policy)?;
                outs.push(OutLink {
                    child: k1,
                    from_box: spec.from.1.clone(),
                    to: hold,
                    policy: spec.policy,
                });
            }
        }
    }
    for (k, spec) in sup.children.iter().enumerate() {
        for (service, box_name) in &spec.services {
            let hold = layout.hold(s, k, box_name)?;
            rt.register_service_id(service.clone(), hold)?;
        }
    }
    // The body reads control next to its children's exits.
    crate::own_control::read_own_control(
        s,
        "the supervisor's control, read by its body",
        "forwarded to every child; after Shutdown, nothing is restarted",
    )?;
    Ok(Wiring {
        ids: layout.ids,
        outs,
        holds: layout.holds,
    })
}
