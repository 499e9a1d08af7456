//! [`ColorState`]: Lumina's four-colour state and its combine rule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::registry::error::LuminaError;

/// A Lumina state: OFF, YELLOW, RED or GREEN. On the wire it is the upper-case name.
///
/// # Examples
///
/// ```
/// use components::registry::lumina::ColorState;
///
/// let state: ColorState = "GREEN".parse()?;
/// assert_eq!(state, ColorState::Green);
/// assert_eq!(ColorState::Red.to_string(), "RED");
/// # Ok::<(), components::registry::LuminaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ColorState {
    /// Not running.
    #[default]
    Off,
    /// Starting, degraded, or a mix of states.
    Yellow,
    /// Failed.
    Red,
    /// Running well.
    Green,
}

impl ColorState {
    /// The upper-case wire name.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::ColorState;
    /// assert_eq!(ColorState::Yellow.as_str(), "YELLOW");
    /// assert_eq!(ColorState::default().as_str(), "OFF");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Yellow => "YELLOW",
            Self::Red => "RED",
            Self::Green => "GREEN",
        }
    }

    /// Combines several states into one: any RED → RED; all GREEN → GREEN; all OFF → OFF;
    /// otherwise YELLOW.
    ///
    /// An empty set is OFF: nothing is being watched, so nothing can claim to be well.
    /// (Lumina's Python `all([])` made it GREEN; we do not claim health without evidence.)
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::ColorState::{self, Green, Off, Red, Yellow};
    ///
    /// assert_eq!(ColorState::combine([Green, Red, Off]), Red);
    /// assert_eq!(ColorState::combine([Green, Green]), Green);
    /// assert_eq!(ColorState::combine([Green, Off]), Yellow);
    /// assert_eq!(ColorState::combine([]), Off);
    /// ```
    pub fn combine<I: IntoIterator<Item = ColorState>>(states: I) -> ColorState {
        let (mut any, mut red, mut all_green, mut all_off) = (false, false, true, true);
        for state in states {
            any = true;
            red |= state == Self::Red;
            all_green &= state == Self::Green;
            all_off &= state == Self::Off;
        }
        match (any, red, all_green, all_off) {
            (false, ..) => Self::Off,
            (true, true, ..) => Self::Red,
            (true, false, true, _) => Self::Green,
            (true, false, false, true) => Self::Off,
            (true, false, false, false) => Self::Yellow,
        }
    }
}

impl fmt::Display for ColorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ColorState {
    type Err = LuminaError;

    /// Parses a state name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Off, Self::Yellow, Self::Red, Self::Green]
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| LuminaError::UnknownColorState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::ColorState::{self, Green, Off, Red, Yellow};

    #[test]
    fn combine_table() {
        let cases: &[(&[ColorState], ColorState)] = &[
            (&[], Off),
            (&[Off], Off),
            (&[Green], Green),
            (&[Yellow], Yellow),
            (&[Red], Red),
            (&[Off, Off, Off], Off),
            (&[Green, Green, Green], Green),
            (&[Green, Off], Yellow),
            (&[Green, Yellow], Yellow),
            (&[Off, Yellow], Yellow),
            (&[Yellow, Yellow], Yellow),
            (&[Red, Green], Red),
            (&[Off, Red], Red),
            (&[Green, Yellow, Off, Red], Red),
        ];
        for &(states, expected) in cases {
            assert_eq!(
                ColorState::combine(states.iter().copied()),
                expected,
                "combine({states:?})"
            );
        }
    }

    #[test]
    fn parses_and_prints_wire_names() {
        for state in [Off, Yellow, Red, Green] {
            assert_eq!(state.as_str().parse::<ColorState>(), Ok(state));
            assert_eq!(
                state.as_str().to_lowercase().parse::<ColorState>(),
                Ok(state)
            );
            let json = serde_json::to_string(&state).unwrap_or_default();
            assert_eq!(json, format!("\"{state}\""));
        }
        assert!("BLUE".parse::<ColorState>().is_err());
    }
}
