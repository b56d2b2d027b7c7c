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
}
