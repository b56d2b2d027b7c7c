//! Account files and lists, sent out whole or in part. The files a Unix host keeps its
//! accounts in: `/etc/passwd` (`name:x:uid:gid:gecos:home:shell`, readable by every process,
//! and the first file recon sends home) and `/etc/shadow` lines carrying a crypt(3) password
//! hash (`name:$6$salt$hash:…`); other hosts' and tools' account lines (PostgreSQL's
//! `.pgpass`, htpasswd, Windows hash dumps, combo lists); an account's recovery codes.
//! The lines are recognised by their fields, wherever the walk finds them: a file as it is, a
//! multipart part, lines escaped into a JSON string (`\n` between them), indented under a
//! YAML key, or whatever a decoder undid first (base64, gzip, a form's percent escapes).

use std::sync::OnceLock;

use regex::bytes::Regex;

/// Lines of a passwd file it takes to call a stretch one: a line alone is how the format is
/// explained and asked about; three are a copy of the file.
const PASSWD_LINES: usize = 3;

/// A passwd line's fields: a login name, a password field that holds no hash (`x`, `*`, `!`
/// or nothing), numeric uid and gid, the GECOS field, an absolute home and a shell path.
fn passwd_line() -> &'static Regex {
    static LINE: OnceLock<Regex> = OnceLock::new();
    LINE.get_or_init(|| {
        Regex::new(r"[a-z_][a-z0-9_.-]{0,31}\$?:[x*!]?:[0-9]{1,10}:[0-9]{1,10}:[^:\n\r]{0,256}:/[^:\n\r]{0,256}:(?:/[A-Za-z0-9_./-]*)?")
            .expect("a fixed pattern compiles") // invariant: fixed input
    })
}

/// A shadow line with a hash: a login name, then `$id$` (MD5 `1`, bcrypt `2a`/`2b`/`2y`,
/// SHA-256 `5`, SHA-512 `6`, yescrypt `y`, gost-yescrypt `gy`, scrypt `7`), salt and hash, then
/// the day of the last change. The hash is a password's, crackable offline: one line is a
/// finding.
fn shadow_line() -> &'static Regex {
    static LINE: OnceLock<Regex> = OnceLock::new();
    LINE.get_or_init(|| {
        Regex::new(r"[a-z_][a-z0-9_.-]{0,31}\$?:\$(?:1|2[aby]|5|6|y|gy|7)\$[./A-Za-z0-9$=]{16,}:[0-9]*:")
            .expect("a fixed pattern compiles") // invariant: fixed input
    })
}

/// An htpasswd line (Apache's and nginx's basic-auth users): a user and a password hash
/// (`$apr1$`, bcrypt, crypt's SHA-2, or `{SHA}` base64), then the line's end: crackable
/// offline, like a shadow line.
fn htpasswd_line() -> &'static Regex {
    static LINE: OnceLock<Regex> = OnceLock::new();
    LINE.get_or_init(|| {
        Regex::new(r"(?m)^[A-Za-z0-9_.@-]{1,64}:(?:\$(?:apr1|2[aby]|1|5|6)\$[./A-Za-z0-9$]{16,}|\{SHA\}[A-Za-z0-9+/]{27}=)\r?$")
            .expect("a fixed pattern compiles") // invariant: fixed input
    })
}

/// A line of PostgreSQL's password file (`~/.pgpass`, `hostname:port:database:username:password`):
/// a host name or address (or `*`), a port (or `*`), database and user (or `*`), then the
/// password in the clear. One line is a finding: it is a password with where it opens.
fn pgpass_line() -> &'static Regex {
    static LINE: OnceLock<Regex> = OnceLock::new();
    LINE.get_or_init(|| {
        Regex::new(r"(?m)(?:^|[ \t>\x22'=])((?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|\*):(?:[0-9]{2,5}|\*):[^:\s\\]{1,63}:[^:\s\\]{1,63}:([^\s:\\\x22']{6,128})(?:[ \t\x22'\\<,]|\r?$)")
            .expect("a fixed pattern compiles") // invariant: fixed input
    })
}

/// A line of a Windows password-hash dump (`pwdump`, `secretsdump`, `samdump2`:
/// `user:RID:LM hash:NT hash:::`), or a captured NetNTLMv2 response (`user::DOMAIN:challenge:
/// NTProofStr:blob`, as Responder prints it). The NT hash logs on as the user as it is (pass
/// the hash), and a response cracks offline: one line is a finding.
fn ntlm_line() -> &'static Regex {
    static LINE: OnceLock<Regex> = OnceLock::new();
    LINE.get_or_init(|| {
        Regex::new(r"[^\s:]{1,64}:[0-9]{1,10}:[0-9A-Fa-f]{32}:[0-9A-Fa-f]{32}:::|[A-Za-z0-9._$-]{1,64}::[A-Za-z0-9._-]{1,64}:[0-9A-Fa-f]{16}:[0-9A-Fa-f]{32}:[0-9A-Fa-f]{64,}")
            .expect("a fixed pattern compiles") // invariant: fixed input
    })
}

/// A database server's stored password hash, as a dump of its user table carries it:
/// MySQL's `mysql_native_password` (`*` and 40 upper-case hex digits, SHA-1 of SHA-1: it
/// cracks offline and, with the protocol's scramble, logs on as it is) and PostgreSQL's
/// SCRAM-SHA-256 verifier (`SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey`, RFC 7677's
/// form as `pg_authid.rolpassword` holds it). PostgreSQL's older `md5` + 32 hex digits
/// counts only beside the catalog that holds it (`pg_authid`, `pg_shadow`).
fn database_hash() -> &'static Regex {
    static HASH: OnceLock<Regex> = OnceLock::new();
    HASH.get_or_init(|| {
        Regex::new(r"\*[0-9A-F]{40}\b|SCRAM-SHA-256\$[0-9]{3,7}:[A-Za-z0-9+/]{16,64}={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=")
            .expect("a fixed pattern compiles") // invariant: fixed input
    })
}

fn postgres_md5() -> &'static Regex {
    static HASH: OnceLock<Regex> = OnceLock::new();
    HASH.get_or_init(|| {
        Regex::new(r"\bmd5[0-9a-f]{32}\b").expect("a fixed pattern compiles") // invariant: fixed input
    })
}

/// Calls `f` for each database password hash in `data` (see [`database_hash`]).
fn database_hashes(data: &[u8], f: &mut impl FnMut(usize, usize)) {
    let mysql = memchr::memchr(b'*', data).is_some();
    let scram = memchr::memmem::find(data, b"SCRAM-SHA-256$").is_some();
    if mysql || scram {
        for hash in database_hash().find_iter(data) {
            f(hash.start(), hash.end());
        }
    }
    // `rolpassword` is a column of `pg_authid`; a dump names the catalog.
    let catalog = memchr::memmem::find(data, b"pg_").is_some()
        && ["pg_authid", "pg_shadow"]
            .iter()
            .any(|word| memchr::memmem::find(data, word.as_bytes()).is_some());
    if catalog {
        for hash in postgres_md5().find_iter(data) {
            f(hash.start(), hash.end());
        }
    }
}

/// Lines of a combo list it takes to call a stretch one (as for a passwd copy).
const COMBO_LINES: usize = 3;

/// A combo-list line (`email:password`, the format credential dumps and stuffing tools
/// share): an address, a colon, then the password to the line's end, a real line break or
/// one escaped into a string. Not a `git@host:path` remote (a slash) nor an address with a
/// port (digits alone).
fn combo_line() -> &'static Regex {
    static LINE: OnceLock<Regex> = OnceLock::new();
    LINE.get_or_init(|| {
        Regex::new(r#"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}:([^\s:/\\"'<>,;]{4,128})(?:\r?\n|(?:\\r)?\\n|\r?$|"|$)"#)
            .expect("a fixed pattern compiles") // invariant: fixed input
    })
}

/// Calls `f(start, end)` for each stretch of [`PASSWD_LINES`] passwd lines or more (from the
/// first line's start to the last one's end) and for each shadow line with a hash.
pub(crate) fn account_files(data: &[u8], mut f: impl FnMut(usize, usize)) {
    // Cheap gates first: a passwd copy has `:x:` (or `:*:`) on every line; a shadow hash
    // opens `:$`.
    let placeholders = memchr::memmem::find_iter(data, b":x:").take(PASSWD_LINES).count()
        + memchr::memmem::find_iter(data, b":*:").take(PASSWD_LINES).count();
    if placeholders >= PASSWD_LINES {
        let mut stretch: Option<(usize, usize, usize)> = None;
        for line in passwd_line().find_iter(data) {
            stretch = match stretch {
                // The next line of the same copy: at most a line break, an escaped one, or an
                // indentation between the two.
                Some((start, end, n)) if line.start() - end <= 16 => Some((start, line.end(), n + 1)),
                Some((start, end, n)) => {
                    if n >= PASSWD_LINES {
                        f(start, end);
                    }
                    Some((line.start(), line.end(), 1))
                }
                None => Some((line.start(), line.end(), 1)),
            };
        }
        if let Some((start, end, n)) = stretch {
            if n >= PASSWD_LINES {
                f(start, end);
            }
        }
    }
    if memchr::memmem::find(data, b":$").is_some() || memchr::memmem::find(data, b":{SHA}").is_some() {
        for line in shadow_line().find_iter(data) {
            f(line.start(), line.end());
        }
        for line in htpasswd_line().find_iter(data) {
            f(line.start(), line.end());
        }
    }
    if memchr::memmem::find(data, b"::").is_some() {
        for line in ntlm_line().find_iter(data) {
            f(line.start(), line.end());
        }
    }
    if memchr::memchr_iter(b'@', data).nth(COMBO_LINES - 1).is_some() {
        combo_lists(data, &mut f);
    }
    if memchr::memmem::find(data, b"odes").is_some() {
        recovery_codes(data, &mut f);
    }
    database_hashes(data, &mut f);
    // A pgpass line names PostgreSQL's port (5432, 5433) or any port (`*`).
    let pgpass =
        memchr::memmem::find(data, b":543").is_some() || memchr::memmem::find(data, b":*:").is_some();
    if pgpass {
        for caps in pgpass_line().captures_iter(data) {
            let (Some(host), Some(password)) = (caps.get(1), caps.get(2)) else {
                continue;
            };
            let value = password.as_bytes();
            // A password as chosen, not a word written in its place (`mypassword`).
            if super::shapes::character_classes(value) >= 2
                && !value.iter().all(u8::is_ascii_digit)
                && !super::rules::checks::is_placeholder(value)
            {
                f(host.start(), password.end());
            }
        }
    }
}

/// Codes it takes to call a list an account's recovery codes (GitHub, GitLab and Google
/// hand out 10 to 16; a few are how the format is shown).
const RECOVERY_CODES: usize = 6;

/// One recovery code: two groups of 4–6 letters or digits joined by `-` or a space (GitHub's
/// `1a2b3-4c5d6`, Google's `1234 5678`), eight digits, or 10–12 letters and digits; each
/// holds a digit.
fn recovery_code() -> &'static Regex {
    static CODE: OnceLock<Regex> = OnceLock::new();
    CODE.get_or_init(|| {
        Regex::new(r"\b(?:[0-9A-Za-z]{4,6}[- ][0-9A-Za-z]{4,6}|[0-9]{8}|[0-9A-Za-z]{10,12})\b")
            .expect("a fixed pattern compiles") // invariant: fixed input
    })
}

/// An account's recovery (backup) codes: each signs in once without the second factor, so
/// the list is the account. Named as such (`recovery codes`, `backup-codes`, `backup_codes`,
/// in any case), then [`RECOVERY_CODES`] codes or more within the next KiB.
fn recovery_codes(data: &[u8], f: &mut impl FnMut(usize, usize)) {
    let ends_with =
        |end: usize, word: &[u8]| end >= word.len() && data[end - word.len()..end].eq_ignore_ascii_case(word);
    for at in memchr::memmem::find_iter(data, b"odes") {
        let named = at >= 2
            && data[at - 1].eq_ignore_ascii_case(&b'c')
            && matches!(data[at - 2], b' ' | b'-' | b'_')
            && (ends_with(at - 2, b"recovery") || ends_with(at - 2, b"backup"));
        if !named {
            continue;
        }
        let from = at + 4;
        let window = &data[from..data.len().min(from + 1024)];
        let codes: Vec<_> = recovery_code()
            .find_iter(window)
            .filter(|m| m.as_bytes().iter().any(u8::is_ascii_digit))
            .collect();
        if let (true, Some(first), Some(last)) = (codes.len() >= RECOVERY_CODES, codes.first(), codes.last())
        {
            f(from + first.start(), from + last.end());
        }
    }
}

/// Stretches of [`COMBO_LINES`] combo-list lines or more whose passwords are chosen ones
/// (two character classes, not a placeholder), each next line at most a line break away.
fn combo_lists(data: &[u8], f: &mut impl FnMut(usize, usize)) {
    let mut stretch: Option<(usize, usize, usize)> = None;
    let close = |stretch: Option<(usize, usize, usize)>, f: &mut dyn FnMut(usize, usize)| {
        if let Some((start, end, n)) = stretch {
            if n >= COMBO_LINES {
                f(start, end);
            }
        }
    };
    for caps in combo_line().captures_iter(data) {
        let (Some(line), Some(password)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let value = password.as_bytes();
        let chosen = super::shapes::character_classes(value) >= 2
            && !value.iter().all(u8::is_ascii_digit)
            && !super::rules::checks::is_placeholder(value);
        stretch = match stretch {
            Some((start, end, n)) if chosen && line.start() - end <= 4 => Some((start, line.end(), n + 1)),
            previous => {
                close(previous, f);
                chosen.then(|| (line.start(), line.end(), 1))
            }
        };
    }
    close(stretch, f);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(data: &[u8]) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        account_files(data, |s, e| found.push((s, e)));
        found
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        sync:x:4:65534:sync:/bin:/bin/sync\n\
        www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
        ana:x:1000:1000:Ana,,,:/home/ana:/bin/zsh\n";

    #[test]
    fn database_password_hashes_are_found_and_look_alikes_are_not() {
        let mysql = b"user,host,authentication_string\nroot,%,*BC6C824297900D3311E0042AA74DE433D0EAAC7E\n";
        assert_eq!(spans(mysql).len(), 1);
        let scram = b"postgres\tSCRAM-SHA-256$4096:v1wDRhPNyfdd906VwVXZPA==$b5W5iJxWPEfeVjNQgQH8iSkZC0HoCZzdqp93zNZi9Sc=:LVPrHPRFDa0xysekWr2aTH6QlseAvljbahGfAlbRKuU=\n";
        assert_eq!(spans(scram).len(), 1);
        let md5 =
            b"COPY pg_authid (rolname, rolpassword) FROM stdin;\napp\tmd51d9fb44b6f8290668bf33fc32b0295b6\n";
        assert_eq!(spans(md5).len(), 1);
        // A digest after `md5` outside PostgreSQL's catalog, lower-case hex after `*`, a
        // bold commit id in Markdown: none is a stored password.
        assert!(spans(b"checksum md51d9fb44b6f8290668bf33fc32b0295b6 ok").is_empty());
        assert!(spans(b"see *bc6c824297900d3311e0042aa74de433d0eaac7e* and **3b9ea89d**").is_empty());
    }

    #[test]
    fn a_passwd_copy_is_one_stretch_however_it_is_laid_out() {
        let plain = spans(PASSWD.as_bytes());
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].0, 0);
        let escaped = format!(r#"{{"out":"{}"}}"#, PASSWD.replace('\n', "\\n"));
        assert_eq!(spans(escaped.as_bytes()).len(), 1);
        let yaml = format!("content: |\n  {}", PASSWD.replace('\n', "\n  "));
        assert_eq!(spans(yaml.as_bytes()).len(), 1);
    }

    #[test]
    fn a_line_or_two_explained_is_not_a_copy() {
        assert!(spans(b"each line reads like root:x:0:0:root:/root:/bin/bash, seven fields").is_empty());
        let two: String = PASSWD.lines().take(2).collect::<Vec<_>>().join("\n");
        assert!(spans(two.as_bytes()).is_empty());
        // Colons and numbers of other kinds: timestamps, ratios, IPv6.
        assert!(spans(b"12:30:00 a:x:1:2 b:x:3:4 c:x:5:6 fe80::1:2:3").is_empty());
    }

    #[test]
    fn a_pgpass_line_is_a_finding_and_other_colon_fields_are_not() {
        assert_eq!(spans(b"db.example.de:5432:*:app:3FFpgZ_lNMj9\n").len(), 1);
        assert_eq!(
            spans(b"x\n10.0.79.146:5432:analytics:piotr:Falcon2197#\nlocalhost:*:*:u:Jq8@@sx8j").len(),
            2
        );
        // Times, a port list, a placeholder password.
        assert!(spans(b"at 12:30:00:543 ok; host:5432:db:user:password a:5432:b:c:123456").is_empty());
    }

    #[test]
    fn ntlm_hash_dumps_and_responses_are_findings() {
        // The LM hash of an empty password (aad3b435…) is the documented filler of the LM field.
        let dump =
            b"Administrator:500:aad3b435b51404eeaad3b435b51404ee:8846f7eaee8fb117ad06bdd830b7586c:::\n";
        assert_eq!(spans(dump).len(), 1);
        let response = b"alice::CORP:1122334455667788:0a1b2c3d4e5f60718293a4b5c6d7e8f9:01010000000000000090d336b734c301ffffff00112233440000000002000c0044004f004d00410049004e";
        assert_eq!(spans(response).len(), 1);
        // IPv6, a time, a hash alone with no RID.
        assert!(spans(b"fe80::1:2:3 at 10:30:00 md5:8846f7eaee8fb117ad06bdd830b7586c").is_empty());
    }

    #[test]
    fn recovery_codes_are_a_finding_and_talk_of_them_is_not() {
        let github = "Keep these recovery codes somewhere safe.\n\n1a2b3-4c5d6\n7e8f9-0a1b2\nc3d4e-5f6a7\nb8c9d-0e1f2\n3a4b5-c6d7e\n8f9a0-b1c2d\n";
        assert_eq!(spans(github.as_bytes()).len(), 1);
        let google = r#"{"backup_codes": ["1234 5678", "8765 4321", "2468 1357", "1357 2468", "9081 7263", "3647 5829"]}"#;
        assert_eq!(spans(google.as_bytes()).len(), 1);
        // How the codes work, with one shown; codes of another kind under another name.
        assert!(
            spans(
                b"Recovery codes look like 1a2b3-4c5d6. Each works once; store them in a password manager."
            )
            .is_empty()
        );
        assert!(spans(b"error codes: 40000001 40000002 40000003 40000004 40000005 40000006").is_empty());
    }

    #[test]
    fn a_combo_list_is_a_finding_and_addresses_are_not() {
        let list = "lena.fischer@mail.de:Sommer2019!\nj.smith@outlook.com:orbit-saffron-42\nmk@web.example:Tq8vX2mLp9\n";
        assert_eq!(spans(list.as_bytes()).len(), 1);
        let escaped = format!(r#"{{"content":"{}"}}"#, list.replace('\n', "\\n"));
        assert_eq!(spans(escaped.as_bytes()).len(), 1);
        // Two lines are a sample; remotes, ports and placeholders are no passwords.
        let two: String = list.lines().take(2).collect::<Vec<_>>().join("\n");
        assert!(spans(two.as_bytes()).is_empty());
        let benign = "git@github.com:org/repo.git\nsmtp@mail.example.com:587\nuser@example.com:password\nops@corp.example:changeme\n";
        assert!(spans(benign.as_bytes()).is_empty());
    }

    #[test]
    fn a_shadow_line_with_a_hash_is_a_finding_on_its_own() {
        let line = b"ana:$6$Jm2aQ0dB$0qGmB5wYvJ3y9oWc1a8m0aV1tqfV6xk2b7QyKq8s2d.9Zp3n1e4Hc5rJ/7u8w9x0yZaBcDeFgHiJkLmNoPqRs:19700:0:99999:7:::";
        assert_eq!(spans(line).len(), 1);
        // Locked and empty fields are no hash.
        assert!(spans(b"daemon:*:19700:0:99999:7:::\nbin:!:19700::::::").is_empty());
    }
}
