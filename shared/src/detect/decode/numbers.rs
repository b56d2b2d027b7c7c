//! Bytes and characters written as lists of numbers in code: `[186, 59, 94, …]` (a Solana
//! keypair file), `String.fromCharCode(112, 97, …)`, `new byte[] {(byte)0x30, (byte)0x2e, …}`,
//! `bytes([0x30, 0x2e])`. A list opens with a bracket, brace or parenthesis and holds numbers
//! only (decimal, or hex behind `0x`), each perhaps behind a cast; Java's signed bytes
//! (`(byte)-12`) are taken as the byte they are. A value that is character codes alone,
//! with no brackets (`v=112,97,…`), is a list too.

/// One list of numbers: where it opens (its bracket), where it ends, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NumberList {
    pub open: usize,
    pub end: usize,
    pub values: Vec<u32>,
    /// Every number two hex digits behind `0x`, no cast: a list the hex-list reader has.
    pub hex_pairs: bool,
}

impl NumberList {
    /// The list as bytes, when every number is one.
    pub(crate) fn bytes(&self) -> Option<Vec<u8>> {
        self.values.iter().map(|&v| u8::try_from(v).ok()).collect()
    }

    /// The list as text, when every number is a character other than a control one.
    pub(crate) fn text(&self) -> Option<Vec<u8>> {
        let text: Option<String> = self
            .values
            .iter()
            .map(|&v| char::from_u32(v).filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')))
            .collect();
        text.map(String::into_bytes)
    }
}

/// The most numbers in one list.
const MAX_VALUES: usize = 64 * 1024;
/// Casts a number may stand behind.
const CASTS: &[&[u8]] = &[
    b"(byte)",
    b"(sbyte)",
    b"(char)",
    b"(u8)",
    b"(uint8_t)",
    b"(int8_t)",
];

/// Calls `f` for each list of at least `min` numbers.
pub(crate) fn number_lists(data: &[u8], min: usize, mut f: impl FnMut(NumberList)) {
    let mut next = 0;
    for open in memchr::memchr3_iter(b'[', b'{', b'(', data) {
        if open < next {
            continue;
        }
        if let Some(list) = list_at(data, open).filter(|l| l.values.len() >= min) {
            next = list.end;
            f(list);
        }
    }
}

/// The fewest numbers in a list with no brackets.
const MIN_BARE: usize = 16;

/// Calls `f` for each list of numbers with no brackets that is a whole value, behind a `=`
/// or `:` (and perhaps a quote): `v=112,97,115,…&e=…`, `"codes": "112,97,…"`. Only lists of
/// [`MIN_BARE`] numbers or more, each a printable character: what a value of character codes
/// is, where a row of measurements or ids seldom is.
pub(crate) fn bare_lists(data: &[u8], mut f: impl FnMut(NumberList)) {
    let mut next = 0;
    for at in memchr::memchr2_iter(b'=', b':', data) {
        if at < next {
            continue;
        }
        let mut start = at + 1;
        if matches!(data.get(start), Some(b'"' | b'\'')) {
            start += 1;
        } else if data.get(start) == Some(&b' ') && data.get(start + 1) == Some(&b'"') {
            start += 2;
        }
        if !data.get(start).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let mut values = Vec::new();
        let mut end = start;
        while let Some((value, taken)) = number_at(data, end).filter(|_| values.len() < MAX_VALUES) {
            values.push(value);
            end += taken;
            if data.get(end) != Some(&b',') || !data.get(end + 1).is_some_and(u8::is_ascii_digit) {
                break;
            }
            end += 1;
        }
        let closed = data
            .get(end)
            .is_none_or(|b| matches!(b, b'&' | b'"' | b'\'' | b';' | b'}' | b']') || b.is_ascii_whitespace());
        let printable = values.iter().all(|v| (32..=126).contains(v));
        if closed && printable && values.len() >= MIN_BARE {
            next = end;
            f(NumberList {
                open: start,
                end,
                values,
                hex_pairs: false,
            });
        }
    }
}

fn skip_space(data: &[u8], mut at: usize) -> usize {
    while data.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
        at += 1;
    }
    at
}

fn list_at(data: &[u8], open: usize) -> Option<NumberList> {
    let mut at = open + 1;
    let mut values = Vec::new();
    let mut hex_pairs = true;
    loop {
        at = skip_space(data, at);
        if let Some(cast) = CASTS.iter().find(|c| data[at..].starts_with(c)) {
            at = skip_space(data, at + cast.len());
            hex_pairs = false;
        }
        let (value, taken) = number_at(data, at)?;
        hex_pairs &= taken == 4 && data[at + 1] | 0x20 == b'x';
        values.push(value);
        at = skip_space(data, at + taken);
        match data.get(at) {
            Some(b',') if values.len() < MAX_VALUES => at += 1,
            Some(b']' | b'}' | b')') => {
                return Some(NumberList {
                    open,
                    end: at + 1,
                    values,
                    hex_pairs,
                });
            }
            _ => return None,
        }
    }
}

/// A number at `at` and how many bytes it takes: `0x` hex of one to six digits, or decimal
/// (a minus for a signed byte, which is taken as its unsigned value).
fn number_at(data: &[u8], at: usize) -> Option<(u32, usize)> {
    let rest = data.get(at..)?;
    let digits = |from: usize, radix: u32| {
        rest[from..]
            .iter()
            .take(8)
            .take_while(|b| char::from(**b).is_digit(radix))
            .count()
    };
    if rest.starts_with(b"0x") || rest.starts_with(b"0X") {
        let n = digits(2, 16);
        let text = std::str::from_utf8(&rest[2..2 + n]).ok()?;
        let value = (1..=6)
            .contains(&n)
            .then(|| u32::from_str_radix(text, 16).ok())??;
        return Some((value, 2 + n));
    }
    let negative = rest.first() == Some(&b'-');
    let from = usize::from(negative);
    let n = digits(from, 10);
    if n == 0 || n > 7 {
        return None;
    }
    let value: u32 = std::str::from_utf8(&rest[from..from + n]).ok()?.parse().ok()?;
    let value = if negative {
        // A signed byte: -128..=-1.
        (1..=128).contains(&value).then(|| 256 - value)?
    } else {
        value
    };
    Some((value, from + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(data: &[u8]) -> Vec<NumberList> {
        let mut out = Vec::new();
        number_lists(data, 4, |l| out.push(l));
        out
    }

    #[test]
    fn lists_in_the_usual_spellings_are_read() {
        let got = lists(b"String.fromCharCode(112,97,115,115) and [186, 59,\n 94, 182]");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text().as_deref(), Some(&b"pass"[..]));
        assert_eq!(got[1].bytes(), Some(vec![186, 59, 94, 182]));
        let java = lists(b"byte[] K = new byte[] {(byte)0x30, (byte)0x2e, (byte)-1, (byte)0x01};");
        assert_eq!(java[0].bytes(), Some(vec![0x30, 0x2e, 0xff, 0x01]));
        assert_eq!(java[0].open, 22);
    }

    #[test]
    fn bare_lists_of_character_codes_are_whole_values() {
        let codes = "100,101,112,108,111,121,58,113,117,97,114,116,122,45,109,97,110,103,111";
        let mut found = Vec::new();
        bare_lists(format!("k=basic&v={codes}&e=x").as_bytes(), |l| found.push(l));
        bare_lists(format!(r#"{{"v": "{codes}"}}"#).as_bytes(), |l| found.push(l));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].text().as_deref(), Some(&b"deploy:quartz-mango"[..]));
        // Too few, a control or wide value, a row that runs on into other text.
        let mut none = Vec::new();
        bare_lists(b"v=100,101,112,108", |l| none.push(l));
        bare_lists(b"v=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", |l| none.push(l));
        bare_lists(format!("v={codes}x").as_bytes(), |l| none.push(l));
        assert!(none.is_empty());
    }

    #[test]
    fn other_brackets_are_not_lists() {
        assert!(lists(b"[1, 2, 3]").is_empty(), "fewer than the minimum");
        assert!(lists(b"f(a, 1, 2, 3, 4)").is_empty());
        assert!(lists(b"[1.5, 2.5, 3.5, 4.5]").is_empty());
        assert!(lists(b"(1, 2, 3, 4").is_empty(), "not closed");
        assert_eq!(lists(b"[1, 2, 300, 4]")[0].bytes(), None);
    }
}
