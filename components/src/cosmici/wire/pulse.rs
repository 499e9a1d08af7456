//! `CON_PULSE` lines: one candidate-coincidence pulse from the FEDM.
//!
//! ```text
//! CON_PULSE,<sync>,<pll>,<ch>,<pulse_num>,<start_pll>,<x>,<deltas>
//! CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)
//! ```
//!
//! * `sync`, `pll`: the number of the last CTU sync pulse and the FEDM PLL
//!   counter when it arrived;
//! * `ch`: PMT channel (1–3); `pulse_num`: pulse sequence number on that channel;
//! * `start_pll`: PLL counter at the pulse's first rising edge;
//! * `x`: undocumented; *(reading)* the number of threshold levels crossed.
//!   It is kept as [`ConPulse::stated_levels`] and a disagreement with the list
//!   is reported by [`ConPulse::level_count_mismatch`], not rejected;
//! * `deltas`: the last field, itself containing commas.
//!
//! *(reading)* The deltas list nests one level per threshold crossed,
//! `(rise, inner, fall)`, each delta in FEDM clock cycles after the previous
//! edge: rises run outside-in, then falls inside-out. `(0,(2,2),5)` means level 1
//! rises at +0, level 2 rises at +2 and falls 2 cycles later (+4), level 1 falls
//! 5 cycles after that (+9). See [`Deltas::crossings`].
//!
//! # Examples
//!
//! ```
//! use components::cosmici::{ConPulse, Crossing, Edge};
//!
//! let pulse: ConPulse = "CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)".parse().unwrap();
//! assert_eq!(pulse.cycles_since_sync(), 55_405);
//! assert_eq!(
//!     pulse.crossings(),
//!     vec![
//!         Crossing { level: 1, edge: Edge::Rising, cycles: 0 },
//!         Crossing { level: 2, edge: Edge::Rising, cycles: 2 },
//!         Crossing { level: 2, edge: Edge::Falling, cycles: 4 },
//!         Crossing { level: 1, edge: Edge::Falling, cycles: 9 },
//!     ]
//! );
//! ```

use std::fmt;
use std::str::FromStr;

use super::error::{DeltasError, UartError};
use super::fields::{Fields, parse_uint};

/// Direction of a threshold crossing.
///
/// # Examples
///
/// ```
/// use components::cosmici::{Deltas, Edge};
///
/// let d: Deltas = "(0,3)".parse().unwrap();
/// let edges: Vec<Edge> = d.crossings().iter().map(|c| c.edge).collect();
/// assert_eq!(edges, [Edge::Rising, Edge::Falling]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Edge {
    /// The signal crossed the threshold going up.
    Rising,
    /// The signal crossed the threshold going back down.
    Falling,
}

/// One threshold crossing of a pulse.
///
/// # Examples
///
/// ```
/// use components::cosmici::{Crossing, Edge};
///
/// let c = Crossing { level: 1, edge: Edge::Rising, cycles: 0 };
/// assert_eq!(c.level, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Crossing {
    /// Threshold level, 1-based (1 = lowest threshold).
    pub level: u8,
    /// Rising or falling.
    pub edge: Edge,
    /// FEDM clock cycles after the pulse's `start_pll`.
    pub cycles: u64,
}

/// The rise and fall deltas of one threshold level.
///
/// # Examples
///
/// ```
/// use components::cosmici::{Deltas, LevelDeltas};
///
/// let d: Deltas = "(1,(2,3),4)".parse().unwrap();
/// assert_eq!(d.levels()[1], LevelDeltas { rise: 2, fall: 3 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelDeltas {
    /// Cycles from the previous level's rise (from `start_pll` for level 1)
    /// to this level's rise.
    pub rise: u32,
    /// Cycles from the next level's fall (from this level's own rise for the
    /// highest level) to this level's fall.
    pub fall: u32,
}

/// The parsed nested deltas list of a `CON_PULSE`, outermost level first.
///
/// # Examples
///
/// ```
/// use components::cosmici::{Deltas, LevelDeltas};
///
/// let deltas: Deltas = "(0,(2,2),5)".parse().unwrap();
/// assert_eq!(
///     deltas.levels(),
///     &[LevelDeltas { rise: 0, fall: 5 }, LevelDeltas { rise: 2, fall: 2 }]
/// );
/// assert_eq!(deltas.to_string(), "(0,(2,2),5)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Deltas {
    levels: Vec<LevelDeltas>,
}

impl Deltas {
    /// Deepest nesting accepted, which bounds parser recursion.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Deltas, LevelDeltas};
    ///
    /// let too_many = vec![LevelDeltas { rise: 1, fall: 1 }; Deltas::MAX_LEVELS + 1];
    /// assert!(Deltas::new(too_many).is_err());
    /// ```
    pub const MAX_LEVELS: usize = 16;

    /// Builds a list from per-level deltas, outermost first.
    ///
    /// # Errors
    ///
    /// [`DeltasError::Empty`] for no levels, [`DeltasError::TooDeep`] for more
    /// than [`Deltas::MAX_LEVELS`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Deltas, LevelDeltas};
    ///
    /// let d = Deltas::new(vec![LevelDeltas { rise: 0, fall: 3 }]).unwrap();
    /// assert_eq!(d.to_string(), "(0,3)");
    /// ```
    pub fn new(levels: Vec<LevelDeltas>) -> Result<Self, DeltasError> {
        if levels.is_empty() {
            return Err(DeltasError::Empty);
        }
        if levels.len() > Self::MAX_LEVELS {
            return Err(DeltasError::TooDeep {
                max: Self::MAX_LEVELS,
            });
        }
        Ok(Self { levels })
    }

    /// Per-level deltas, outermost (level 1) first; never empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Deltas, LevelDeltas};
    ///
    /// let d: Deltas = "(0,7)".parse().unwrap();
    /// assert_eq!(d.levels(), &[LevelDeltas { rise: 0, fall: 7 }]);
    /// ```
    pub fn levels(&self) -> &[LevelDeltas] {
        &self.levels
    }

    /// Number of threshold levels crossed.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::Deltas;
    ///
    /// assert_eq!("(0,(2,(1,1),2),5)".parse::<Deltas>().unwrap().depth(), 3);
    /// ```
    pub fn depth(&self) -> usize {
        self.levels.len()
    }

    /// The threshold crossings in time order: rises of levels 1..k, then falls
    /// of levels k..1, with cycle offsets from `start_pll`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Deltas, Edge};
    ///
    /// let d: Deltas = "(1,4)".parse().unwrap();
    /// let c = d.crossings();
    /// assert_eq!((c[0].edge, c[0].cycles), (Edge::Rising, 1));
    /// assert_eq!((c[1].edge, c[1].cycles), (Edge::Falling, 5));
    /// ```
    pub fn crossings(&self) -> Vec<Crossing> {
        let mut out = Vec::with_capacity(2 * self.levels.len());
        let mut t = 0u64;
        for (level, d) in (1u8..=Self::MAX_LEVELS as u8).zip(&self.levels) {
            t += u64::from(d.rise);
            out.push(Crossing {
                level,
                edge: Edge::Rising,
                cycles: t,
            });
        }
        for (level, d) in (1u8..=Self::MAX_LEVELS as u8).zip(&self.levels).rev() {
            t += u64::from(d.fall);
            out.push(Crossing {
                level,
                edge: Edge::Falling,
                cycles: t,
            });
        }
        out
    }

    /// The inverse of [`Deltas::crossings`]: rebuilds the list from crossings.
    ///
    /// # Errors
    ///
    /// [`DeltasError::Empty`] for no crossings, [`DeltasError::TooDeep`] for
    /// more than [`Deltas::MAX_LEVELS`] levels, and
    /// [`DeltasError::CrossingOrder`] unless the crossings are rises of levels
    /// 1..k then falls of levels k..1, with non-decreasing cycles and gaps that
    /// fit in 32 bits.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Crossing, Deltas, Edge};
    ///
    /// let crossings = [
    ///     Crossing { level: 1, edge: Edge::Rising, cycles: 0 },
    ///     Crossing { level: 2, edge: Edge::Rising, cycles: 2 },
    ///     Crossing { level: 2, edge: Edge::Falling, cycles: 4 },
    ///     Crossing { level: 1, edge: Edge::Falling, cycles: 9 },
    /// ];
    /// assert_eq!(Deltas::from_crossings(&crossings).unwrap().to_string(), "(0,(2,2),5)");
    /// ```
    pub fn from_crossings(crossings: &[Crossing]) -> Result<Self, DeltasError> {
        if crossings.is_empty() {
            return Err(DeltasError::Empty);
        }
        if !crossings.len().is_multiple_of(2) {
            return Err(DeltasError::CrossingOrder {
                index: crossings.len() - 1,
                reason: "every rising crossing needs a falling one",
            });
        }
        let k = crossings.len() / 2;
        if k > Self::MAX_LEVELS {
            return Err(DeltasError::TooDeep {
                max: Self::MAX_LEVELS,
            });
        }
        let mut levels = vec![LevelDeltas { rise: 0, fall: 0 }; k];
        let mut previous = 0u64;
        for (index, c) in crossings.iter().enumerate() {
            let (edge, slot) = if index < k {
                (Edge::Rising, index)
            } else {
                (Edge::Falling, 2 * k - 1 - index)
            };
            if c.edge != edge {
                return Err(DeltasError::CrossingOrder {
                    index,
                    reason: "all rises must come before all falls",
                });
            }
            if usize::from(c.level) != slot + 1 {
                return Err(DeltasError::CrossingOrder {
                    index,
                    reason: "levels must rise 1, 2, … k and fall k, … 2, 1",
                });
            }
            let Some(gap) = c.cycles.checked_sub(previous) else {
                return Err(DeltasError::CrossingOrder {
                    index,
                    reason: "cycles go backwards",
                });
            };
            let Ok(gap) = u32::try_from(gap) else {
                return Err(DeltasError::CrossingOrder {
                    index,
                    reason: "gap from the previous crossing exceeds 32 bits",
                });
            };
            if index < k {
                levels[slot].rise = gap;
            } else {
                levels[slot].fall = gap;
            }
            previous = c.cycles;
        }
        Ok(Self { levels })
    }
}

impl FromStr for Deltas {
    type Err = DeltasError;

    /// Parses `(rise,[inner,]fall)` by recursive descent, at most
    /// [`Deltas::MAX_LEVELS`] deep. No whitespace is allowed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(DeltasError::Empty);
        }
        let mut parser = DeltasParser {
            text: s.as_bytes(),
            pos: 0,
            levels: Vec::new(),
        };
        parser.level(0)?;
        if parser.pos < s.len() {
            return Err(DeltasError::Trailing {
                pos: parser.pos,
                rest: s[parser.pos..].to_owned(),
            });
        }
        Ok(Self {
            levels: parser.levels,
        })
    }
}

impl fmt::Display for Deltas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.levels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "({}", d.rise)?;
        }
        for d in self.levels.iter().rev() {
            write!(f, ",{})", d.fall)?;
        }
        Ok(())
    }
}

struct DeltasParser<'a> {
    text: &'a [u8],
    pos: usize,
    levels: Vec<LevelDeltas>,
}

impl DeltasParser<'_> {
    /// Parses one `(rise,[inner,]fall)` at nesting `depth` (0 = outermost).
    fn level(&mut self, depth: usize) -> Result<(), DeltasError> {
        if depth >= Deltas::MAX_LEVELS {
            return Err(DeltasError::TooDeep {
                max: Deltas::MAX_LEVELS,
            });
        }
        self.expect(b'(', "'('", depth)?;
        let rise = self.number(depth + 1)?;
        self.levels.push(LevelDeltas { rise, fall: 0 });
        self.expect(b',', "','", depth + 1)?;
        if self.peek() == Some(b'(') {
            self.level(depth + 1)?;
            self.expect(b',', "','", depth + 1)?;
        }
        self.levels[depth].fall = self.number(depth + 1)?;
        self.expect(b')', "')'", depth + 1)
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn expect(&mut self, want: u8, expected: &'static str, open: usize) -> Result<(), DeltasError> {
        match self.peek() {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.unexpected(expected)),
            None => Err(DeltasError::Unbalanced { open }),
        }
    }

    fn number(&mut self, open: usize) -> Result<u32, DeltasError> {
        let start = self.pos;
        match self.peek() {
            None => return Err(DeltasError::Unbalanced { open }),
            Some(b'-') => return Err(DeltasError::Negative { pos: start }),
            Some(b) if !b.is_ascii_digit() => return Err(self.unexpected("a delta (digits)")),
            Some(_) => {}
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.text[start..self.pos];
        // Digits are ASCII, so they are valid UTF-8.
        let token = String::from_utf8_lossy(digits).into_owned();
        token
            .parse()
            .map_err(|_| DeltasError::Overflow { pos: start, token })
    }

    fn unexpected(&self, expected: &'static str) -> DeltasError {
        let rest = &self.text[self.pos..];
        let found = String::from_utf8_lossy(&rest[..rest.len().min(4)])
            .chars()
            .next()
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        DeltasError::Unexpected {
            pos: self.pos,
            found,
            expected,
        }
    }
}

/// A `CON_PULSE` line: one candidate-coincidence pulse (see the
/// [module docs](self) for the fields).
///
/// # Examples
///
/// ```
/// use components::cosmici::{ConPulse, Deltas};
///
/// let deltas: Deltas = "(0,(2,2),5)".parse().unwrap();
/// let pulse = ConPulse::new(3186, 3462552667, 3, 1, 3462608072, deltas);
/// assert_eq!(pulse.to_string(), "CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)");
/// assert_eq!(pulse.level_count_mismatch(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConPulse {
    /// Number of the last CTU sync pulse before this pulse.
    pub sync: u32,
    /// FEDM PLL counter when that sync pulse arrived.
    pub pll: u32,
    /// PMT channel.
    pub ch: u8,
    /// Sequence number of this pulse on its channel.
    pub pulse_num: u32,
    /// FEDM PLL counter at the pulse's first rising edge.
    pub start_pll: u32,
    /// The undocumented field before the list, kept as sent; *(reading)* the
    /// number of levels crossed.
    pub stated_levels: u32,
    /// The level-crossing deltas.
    pub deltas: Deltas,
}

/// The stated level count of a [`ConPulse`] disagrees with its deltas list.
///
/// # Examples
///
/// ```
/// use components::cosmici::{ConPulse, LevelCountMismatch};
///
/// let pulse: ConPulse = "CON_PULSE,1,2,3,4,5,2,(0,1)".parse().unwrap();
/// let LevelCountMismatch { stated, actual } = pulse.level_count_mismatch().unwrap();
/// assert_eq!((stated, actual), (2, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelCountMismatch {
    /// The `x` field as sent.
    pub stated: u32,
    /// Levels in the deltas list.
    pub actual: usize,
}

const CON_PULSE: &str = "CON_PULSE";

impl ConPulse {
    /// Builds a pulse whose stated level count matches `deltas` (for the
    /// simulator).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{ConPulse, Crossing, Deltas, Edge};
    ///
    /// let deltas = Deltas::from_crossings(&[
    ///     Crossing { level: 1, edge: Edge::Rising, cycles: 0 },
    ///     Crossing { level: 1, edge: Edge::Falling, cycles: 7 },
    /// ])
    /// .unwrap();
    /// let pulse = ConPulse::new(1, 100, 2, 5, 150, deltas);
    /// assert_eq!(pulse.to_string(), "CON_PULSE,1,100,2,5,150,1,(0,7)");
    /// ```
    pub fn new(
        sync: u32,
        pll: u32,
        ch: u8,
        pulse_num: u32,
        start_pll: u32,
        deltas: Deltas,
    ) -> Self {
        let stated_levels = u32::try_from(deltas.depth()).unwrap_or(u32::MAX);
        Self {
            sync,
            pll,
            ch,
            pulse_num,
            start_pll,
            stated_levels,
            deltas,
        }
    }

    /// The threshold crossings in time order (see [`Deltas::crossings`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{ConPulse, Edge};
    ///
    /// let pulse: ConPulse = "CON_PULSE,1,2,3,4,5,2,(0,(2,2),5)".parse().unwrap();
    /// let c: Vec<_> = pulse.crossings().iter().map(|c| (c.level, c.edge, c.cycles)).collect();
    /// assert_eq!(
    ///     c,
    ///     [(1, Edge::Rising, 0), (2, Edge::Rising, 2), (2, Edge::Falling, 4), (1, Edge::Falling, 9)]
    /// );
    /// ```
    pub fn crossings(&self) -> Vec<Crossing> {
        self.deltas.crossings()
    }

    /// FEDM cycles from the sync pulse to the pulse's first rising edge
    /// (`start_pll - pll`, modulo 2³²).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::ConPulse;
    ///
    /// let pulse: ConPulse = "CON_PULSE,1,4294967290,3,4,10,1,(0,1)".parse().unwrap();
    /// assert_eq!(pulse.cycles_since_sync(), 16); // the PLL counter wrapped
    /// ```
    pub fn cycles_since_sync(&self) -> u32 {
        self.start_pll.wrapping_sub(self.pll)
    }

    /// `Some` when the stated level count differs from the list's depth.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{ConPulse, LevelCountMismatch};
    ///
    /// let pulse: ConPulse = "CON_PULSE,1,2,3,4,5,3,(0,1)".parse().unwrap();
    /// assert_eq!(
    ///     pulse.level_count_mismatch(),
    ///     Some(LevelCountMismatch { stated: 3, actual: 1 })
    /// );
    /// ```
    pub fn level_count_mismatch(&self) -> Option<LevelCountMismatch> {
        let actual = self.deltas.depth();
        (u32::try_from(actual).ok() != Some(self.stated_levels)).then_some(LevelCountMismatch {
            stated: self.stated_levels,
            actual,
        })
    }

    /// Parses the fields after `CON_PULSE,`; the deltas list is everything
    /// after the sixth comma.
    pub(crate) fn parse_fields(rest: Option<&str>) -> Result<Self, UartError> {
        const FIELDS: usize = 7;
        let parts: Vec<&str> = rest
            .map(|rest| rest.splitn(FIELDS, ',').collect())
            .unwrap_or_default();
        let [sync, pll, ch, pulse_num, start_pll, stated, deltas] = parts[..] else {
            return Err(UartError::FieldCount {
                line: CON_PULSE,
                expected: FIELDS,
                found: parts.len(),
            });
        };
        Ok(Self {
            sync: parse_uint(CON_PULSE, "sync", sync)?,
            pll: parse_uint(CON_PULSE, "pll", pll)?,
            ch: parse_uint(CON_PULSE, "ch", ch)?,
            pulse_num: parse_uint(CON_PULSE, "pulse_num", pulse_num)?,
            start_pll: parse_uint(CON_PULSE, "start_pll", start_pll)?,
            stated_levels: parse_uint(CON_PULSE, "x", stated)?,
            deltas: deltas.parse()?,
        })
    }
}

impl FromStr for ConPulse {
    type Err = UartError;

    /// Parses a whole unframed `CON_PULSE,…` line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fields = Fields::split(s)?;
        if fields.tag != CON_PULSE {
            return Err(UartError::UnknownType {
                tag: fields.tag.to_owned(),
            });
        }
        Self::parse_fields(fields.rest)
    }
}

impl fmt::Display for ConPulse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CON_PULSE},{},{},{},{},{},{},{}",
            self.sync,
            self.pll,
            self.ch,
            self.pulse_num,
            self.start_pll,
            self.stated_levels,
            self.deltas
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rise(level: u8, cycles: u64) -> Crossing {
        Crossing {
            level,
            edge: Edge::Rising,
            cycles,
        }
    }

    fn fall(level: u8, cycles: u64) -> Crossing {
        Crossing {
            level,
            edge: Edge::Falling,
            cycles,
        }
    }

    #[test]
    fn seed_example_decodes_to_crossings() {
        let pulse: ConPulse = "CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)"
            .parse()
            .unwrap();
        assert_eq!(pulse.sync, 3186);
        assert_eq!(pulse.pll, 3_462_552_667);
        assert_eq!(pulse.ch, 3);
        assert_eq!(pulse.pulse_num, 1);
        assert_eq!(pulse.start_pll, 3_462_608_072);
        assert_eq!(pulse.stated_levels, 2);
        assert_eq!(
            pulse.crossings(),
            vec![rise(1, 0), rise(2, 2), fall(2, 4), fall(1, 9)]
        );
    }

    #[test]
    fn crossings_and_from_crossings_are_inverse() {
        for text in ["(0,0)", "(3,(0,(7,0),1),9)", "(4294967295,4294967295)"] {
            let d: Deltas = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
            assert_eq!(Deltas::from_crossings(&d.crossings()), Ok(d));
        }
        let deep = "(1,".repeat(15) + "(1,1)" + &",1)".repeat(15);
        let d: Deltas = deep.parse().unwrap();
        assert_eq!(d.depth(), 16);
        assert_eq!(Deltas::from_crossings(&d.crossings()), Ok(d));
    }

    #[test]
    fn from_crossings_rejects_impossible_orders() {
        let order = |index, reason| Err(DeltasError::CrossingOrder { index, reason });
        assert_eq!(Deltas::from_crossings(&[]), Err(DeltasError::Empty));
        assert_eq!(
            Deltas::from_crossings(&[rise(1, 0)]),
            order(0, "every rising crossing needs a falling one")
        );
        assert_eq!(
            Deltas::from_crossings(&[rise(1, 0), rise(2, 1), fall(1, 2), fall(2, 3)]),
            order(2, "levels must rise 1, 2, … k and fall k, … 2, 1")
        );
        assert_eq!(
            Deltas::from_crossings(&[rise(2, 0), fall(2, 1)]),
            order(0, "levels must rise 1, 2, … k and fall k, … 2, 1")
        );
        assert_eq!(
            Deltas::from_crossings(&[rise(1, 0), fall(1, 2), rise(2, 3), fall(2, 4)]),
            order(1, "all rises must come before all falls")
        );
        assert_eq!(
            Deltas::from_crossings(&[rise(1, 5), fall(1, 4)]),
            order(1, "cycles go backwards")
        );
        assert_eq!(
            Deltas::from_crossings(&[rise(1, 0), fall(1, 1 << 32)]),
            order(1, "gap from the previous crossing exceeds 32 bits")
        );
    }

    #[test]
    fn malformed_deltas_are_specific_errors() {
        let cases: &[(&str, DeltasError)] = &[
            ("", DeltasError::Empty),
            ("(0,(2,2),5", DeltasError::Unbalanced { open: 1 }),
            ("(0,(2,2", DeltasError::Unbalanced { open: 2 }),
            (
                "(0,(2,2),5))",
                DeltasError::Trailing {
                    pos: 11,
                    rest: ")".into(),
                },
            ),
            (
                "0,(2,2),5)",
                DeltasError::Unexpected {
                    pos: 0,
                    found: '0',
                    expected: "'('",
                },
            ),
            ("(0,(-2,2),5)", DeltasError::Negative { pos: 4 }),
            (
                "(0,(2,x),5)",
                DeltasError::Unexpected {
                    pos: 6,
                    found: 'x',
                    expected: "a delta (digits)",
                },
            ),
            (
                "(0, 5)",
                DeltasError::Unexpected {
                    pos: 3,
                    found: ' ',
                    expected: "a delta (digits)",
                },
            ),
            (
                "(0,5,6)",
                DeltasError::Unexpected {
                    pos: 4,
                    found: ',',
                    expected: "')'",
                },
            ),
            (
                "()",
                DeltasError::Unexpected {
                    pos: 1,
                    found: ')',
                    expected: "a delta (digits)",
                },
            ),
            (
                "(4294967296,1)",
                DeltasError::Overflow {
                    pos: 1,
                    token: "4294967296".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Deltas>().as_ref(), Err(expected), "{text:?}");
        }
        let too_deep = "(0,".repeat(17) + "0" + &",0)".repeat(17);
        assert_eq!(
            too_deep.parse::<Deltas>(),
            Err(DeltasError::TooDeep { max: 16 })
        );
        let absurd = "(".repeat(100_000);
        assert_eq!(
            absurd.parse::<Deltas>(),
            Err(DeltasError::Unexpected {
                pos: 1,
                found: '(',
                expected: "a delta (digits)",
            })
        );
        let absurd = "(0,".repeat(100_000);
        assert_eq!(
            absurd.parse::<Deltas>(),
            Err(DeltasError::TooDeep { max: 16 })
        );
    }

    #[test]
    fn con_pulse_field_errors_name_the_field() {
        assert_eq!(
            "CON_PULSE,1,2,3,4,5,(0,1)".parse::<ConPulse>(),
            Err(UartError::BadNumber {
                line: "CON_PULSE",
                field: "x",
                kind: "32-bit unsigned integer",
                token: "(0".into(),
            })
        );
        assert_eq!(
            "CON_PULSE,1,2,3,4,5".parse::<ConPulse>(),
            Err(UartError::FieldCount {
                line: "CON_PULSE",
                expected: 7,
                found: 5,
            })
        );
        assert_eq!(
            "CON_PULSE,1,2,300,4,5,1,(0,1)".parse::<ConPulse>(),
            Err(UartError::BadNumber {
                line: "CON_PULSE",
                field: "ch",
                kind: "8-bit unsigned integer",
                token: "300".into(),
            })
        );
        assert_eq!(
            "CON_PULSE,1,2,3,4,5,1,(0,-1)".parse::<ConPulse>(),
            Err(UartError::Deltas(DeltasError::Negative { pos: 3 }))
        );
        assert_eq!(
            "CON_PULSE,1,2,3,4,5,1,(0,-1)"
                .parse::<ConPulse>()
                .unwrap_err()
                .to_string(),
            "CON_PULSE: bad deltas list: negative delta at byte 3 of the deltas list"
        );
    }

    #[test]
    fn cycles_since_sync_wraps_with_the_counter() {
        let pulse: ConPulse = "CON_PULSE,9,4294967290,1,1,4,1,(0,1)".parse().unwrap();
        assert_eq!(pulse.cycles_since_sync(), 10);
    }
}
