//! Unicode tricks that hide a secret from byte matching: compatibility forms (full-width
//! letters, ligatures) undone by NFKC, zero-width and invisible characters stripped, and
//! homoglyphs (Cyrillic and Greek letters that look Latin) folded to ASCII.

use unicode_normalization::UnicodeNormalization;

/// The folded text, or `None` when folding changes nothing.
pub(crate) fn fold(data: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(data);
    let folded: String = text.nfkc().filter(|c| !is_invisible(*c)).map(homoglyph).collect();
    (folded.as_bytes() != data).then(|| folded.into_bytes())
}

/// Text in UTF-16 (what Windows tools, PowerShell's `-EncodedCommand` and .NET write): a byte
/// order mark, or a zero byte in every other place for the first 16 characters; returned as
/// UTF-8 when all of it decodes and is text.
pub(crate) fn utf16(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 32 || data.len() % 2 != 0 {
        return None;
    }
    let (little, body) = utf16_order(data)?;
    let units = body.chunks_exact(2).map(|p| {
        if little {
            u16::from_le_bytes([p[0], p[1]])
        } else {
            u16::from_be_bytes([p[0], p[1]])
        }
    });
    let text: String = char::decode_utf16(units).collect::<Result<_, _>>().ok()?;
    super::is_texty(text.as_bytes(), 85).then(|| text.into_bytes())
}

/// Whether `head` opens UTF-16 text, and in which byte order (`true`: little-endian), with
/// what follows the byte order mark: a mark, or zeros in every other place for 16 characters.
pub(crate) fn utf16_order(head: &[u8]) -> Option<(bool, &[u8])> {
    match head {
        [0xff, 0xfe, rest @ ..] => Some((true, rest)),
        [0xfe, 0xff, rest @ ..] => Some((false, rest)),
        _ if head.len() >= 32 => {
            let zeros = |odd: usize| head.iter().skip(odd).step_by(2).take(16).all(|&b| b == 0);
            match (zeros(1), zeros(0)) {
                (true, false) => Some((true, head)),
                (false, true) => Some((false, head)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}' | '\u{034f}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{feff}'
    )
}

/// Letters that render like ASCII ones in common fonts.
fn homoglyph(c: char) -> char {
    match c {
        'а' => 'a',
        'в' => 'B',
        'е' => 'e',
        'к' => 'k',
        'м' => 'M',
        'н' => 'H',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 'T',
        'у' => 'y',
        'х' => 'x',
        'ѕ' => 's',
        'і' => 'i',
        'ј' => 'j',
        'ԁ' => 'd',
        'ɡ' => 'g',
        'һ' => 'h',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'Х' => 'X',
        'Ѕ' => 'S',
        'І' => 'I',
        'Ј' => 'J',
        'α' => 'a',
        'ο' => 'o',
        'ν' => 'v',
        'ι' => 'i',
        'κ' => 'k',
        'ρ' => 'p',
        'τ' => 't',
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        '‐' | '‑' | '‒' | '–' | '—' | '−' => '-',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_width_invisibles_and_homoglyphs() {
        assert_eq!(fold("ｇｈｐ＿".as_bytes()).as_deref(), Some(&b"ghp_"[..]));
        assert_eq!(fold("gh\u{200b}p_".as_bytes()).as_deref(), Some(&b"ghp_"[..]));
        assert_eq!(fold("ѕk‐ant".as_bytes()).as_deref(), Some(&b"sk-ant"[..]));
        assert_eq!(fold(b"plain ascii"), None);
    }

    #[test]
    fn utf16_text_is_read_in_either_order_and_binary_is_not() {
        let text = "apiVersion: v1\nkind: Config\ntoken: abc";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let bom = [&[0xff, 0xfe][..], &le].concat();
        for data in [&le, &be, &bom] {
            assert_eq!(utf16(data).as_deref(), Some(text.as_bytes()));
        }
        let random: Vec<u8> = (0..64u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert_eq!(utf16(&random), None);
        assert_eq!(utf16(b"plain ascii text, thirty-two b."), None);
    }
}
