//! Redis's glob patterns for KEYS: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\` to
//! match the next character literally.

/// Whether `text` matches `pattern` as Redis's `stringmatchlen` decides (case-sensitive).
///
/// # Examples
///
/// ```
/// use components::resp::glob_match;
/// assert!(glob_match(b"h?llo", b"hello"));
/// assert!(glob_match(b"h[^e]llo", b"hallo"));
/// assert!(!glob_match(b"h[a-b]llo", b"hello"));
/// assert!(glob_match(b"*", b""));
/// ```
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: the pattern after it and the text it has eaten up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() || p < pattern.len() {
        if p < pattern.len() {
            let here = text.get(t).copied();
            let step = match (pattern[p], here) {
                (b'*', _) => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                (b'?', Some(_)) => Some(p + 1),
                (b'[', Some(c)) => match class(pattern, p + 1, c) {
                    (true, end) => Some(end),
                    (false, _) => None,
                },
                (b'\\', Some(c)) if p + 1 < pattern.len() => (pattern[p + 1] == c).then_some(p + 2),
                (literal, Some(c)) => (literal == c).then_some(p + 1),
                (_, None) => None,
            };
            if let Some(next) = step {
                p = next;
                t += 1;
                continue;
            }
        }
        match star {
            Some((after, eaten)) if eaten < text.len() => {
                star = Some((after, eaten + 1));
                p = after;
                t = eaten + 1;
            }
            _ => return false,
        }
    }
    true
}

/// Match `c` against the class starting at `pattern[start]` (after `[`): whether it
/// matched and where the pattern goes on (after `]`, or at its end if unclosed).
fn class(pattern: &[u8], start: usize, c: u8) -> (bool, usize) {
    let mut p = start;
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut matched = false;
    while p < pattern.len() && pattern[p] != b']' {
        if pattern[p] == b'\\' && p + 1 < pattern.len() {
            matched |= pattern[p + 1] == c;
            p += 2;
        } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' && pattern[p + 2] != b']' {
            let (lo, hi) = (
                pattern[p].min(pattern[p + 2]),
                pattern[p].max(pattern[p + 2]),
            );
            matched |= (lo..=hi).contains(&c);
            p += 3;
        } else {
            matched |= pattern[p] == c;
            p += 1;
        }
    }
    let end = (p + 1).min(pattern.len());
    (matched != negate, end)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn patterns_match_as_in_redis() {
        let cases: [(&str, &str, bool); 20] = [
            ("*", "anything", true),
            ("*", "", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "hllo", true),
            ("h*llo", "heeeello", true),
            ("h*llo", "hello!", false),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hbllo", true),
            ("h[a-b]llo", "hello", false),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("user:*:name", "user:42:name", true),
            ("user:*:name", "user:42:email", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), text.as_bytes()),
                want,
                "{pattern} ~ {text}"
            );
        }
    }
}
