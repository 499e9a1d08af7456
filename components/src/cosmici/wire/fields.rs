//! Field splitting and number parsing shared by the UART line parsers ([`super::uart`],
//! [`super::pulse`]).

use std::str::FromStr;

use super::error::UartError;

/// A line split into its type word and the text after the first comma.
pub(crate) struct Fields<'a> {
    pub(crate) tag: &'a str,
    /// `None` when the line has no comma at all.
    pub(crate) rest: Option<&'a str>,
}

impl<'a> Fields<'a> {
    pub(crate) fn split(line: &'a str) -> Result<Self, UartError> {
        if line.is_empty() {
            return Err(UartError::Empty);
        }
        Ok(match line.split_once(',') {
            Some((tag, rest)) => Self {
                tag,
                rest: Some(rest),
            },
            None => Self {
                tag: line,
                rest: None,
            },
        })
    }

    /// Every field after the type (none when there is no comma).
    pub(crate) fn all(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.rest.into_iter().flat_map(|rest| rest.split(','))
    }

    /// Exactly `N` fields after the type.
    pub(crate) fn exact<const N: usize>(
        &self,
        line: &'static str,
    ) -> Result<[&'a str; N], UartError> {
        let parts: Vec<&'a str> = self.all().collect();
        let found = parts.len();
        parts.try_into().map_err(|_| UartError::FieldCount {
            line,
            expected: N,
            found,
        })
    }
}

/// Unsigned integer types a field can hold, with their name for messages.
pub(crate) trait Uint: FromStr {
    const KIND: &'static str;
}

impl Uint for u8 {
    const KIND: &'static str = "8-bit unsigned integer";
}

impl Uint for u32 {
    const KIND: &'static str = "32-bit unsigned integer";
}

/// Parses a field of bare decimal digits (no sign, no spaces).
pub(crate) fn parse_uint<T: Uint>(
    line: &'static str,
    field: &'static str,
    token: &str,
) -> Result<T, UartError> {
    let bad = || UartError::BadNumber {
        line,
        field,
        kind: T::KIND,
        token: token.to_owned(),
    };
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    token.parse().map_err(|_| bad())
}
