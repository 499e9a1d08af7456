//! How a composite reads its own `control` next to its children's exits: `control`
//! becomes a passthrough into a private inbox the body takes.

use axon::{CONTROL_CAPACITY, Control, LinkError, Setup};

/// The private inbox a composite's body reads its `control` through.
pub(crate) const CONTROL_IN: &str = "_control";

/// Turn `control` into a passthrough to [`CONTROL_IN`] (described as `reader`), and
/// describe `control` as `what`.
pub(crate) fn read_own_control(
    s: &mut Setup<'_>,
    reader: &'static str,
    what: &'static str,
) -> Result<(), LinkError> {
    s.make_passthrough("control")?;
    let own_control = s.inbox_with_capacity::<Control>(CONTROL_IN, reader, CONTROL_CAPACITY)?;
    let control = s.own::<Control>("control")?;
    s.link(control, own_control)?;
    s.describe("control", what)
}
