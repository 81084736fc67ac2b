//! The users file of digest authentication (`[auth] users_file`,
//! `--auth-users`, `--users`): one user a line, `user,password` or
//! `user,md5:HA1_HEX[,sha256:HA1_HEX]` (the two hashes in either order),
//! blank lines and `#` comments allowed. [`user_lines`] reads the lines;
//! [`Users`] keeps, per user, the HA1 of each algorithm family, computed
//! once at load for a password. Errors read
//! `FILE:LINE: what is wrong; what would be right`.
//!
//! A password is everything after the first comma, spaces around it
//! trimmed (it may hold commas and `#`). A field starting `md5:` or
//! `sha256:` (any case) is a hash; so is a `NAME:HEX` field whose HEX has
//! 32 digits or more, which is refused when NAME is not one of those two.

use std::collections::HashMap;
use std::path::Path;

use super::{Algorithm, Ha1};

/// One user line of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserLine<'a> {
    /// The line number, from 1.
    pub line: usize,
    /// The username.
    pub user: &'a str,
    /// Its password or hashes.
    pub secret: Secret<'a>,
}

/// What a line gives for its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret<'a> {
    /// `user,password`.
    Password(&'a str),
    /// `user,md5:HEX[,sha256:HEX]`: the HA1s, checked (32 and 64 hex
    /// digits); at least one is present.
    Hashes {
        /// The MD5 HA1.
        md5: Option<Ha1>,
        /// The SHA-256 HA1.
        sha256: Option<Ha1>,
    },
}

/// The users of one realm and their HA1s, looked up by username.
#[derive(Clone)]
pub struct Users {
    map: HashMap<Box<[u8]>, Entry, ahash::RandomState>,
}

#[derive(Clone, Copy)]
struct Entry {
    md5: Option<Ha1>,
    sha256: Option<Ha1>,
}

impl Users {
    /// Reads and parses the users file at `path` for `realm` (errors name
    /// the path).
    pub fn load(path: &Path, realm: &str) -> Result<Users, String> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!("{name}: cannot read the users file: {e}; give a readable UTF-8 file")
        })?;
        Users::parse(&text, &name, realm)
    }

    /// Parses the users file `text` for `realm`; `name_for_errors` is the
    /// file's name in the errors. HA1s given as hashes are taken to be for
    /// `realm`; for a password both the MD5 and the SHA-256 HA1 are
    /// computed here.
    pub fn parse(text: &str, name_for_errors: &str, realm: &str) -> Result<Users, String> {
        let lines = user_lines(text, name_for_errors)?;
        let mut map = HashMap::with_capacity_and_hasher(lines.len(), ahash::RandomState::new());
        for l in lines {
            let entry = match l.secret {
                Secret::Password(p) => Entry {
                    md5: Some(ha1(Algorithm::Md5, l.user, realm, p)),
                    sha256: Some(ha1(Algorithm::Sha256, l.user, realm, p)),
                },
                Secret::Hashes { md5, sha256 } => Entry { md5, sha256 },
            };
            map.insert(l.user.as_bytes().into(), entry);
        }
        Ok(Users { map })
    }

    /// The HA1 of `user` for `alg` (the MD5 one for `MD5`/`MD5-sess`, the
    /// SHA-256 one for `SHA-256`/`SHA-256-sess`); `None` for an unknown user
    /// or one given only the other algorithm's hash.
    pub fn ha1(&self, user: &[u8], alg: Algorithm) -> Option<Ha1> {
        let e = self.map.get(user)?;
        match alg.base() {
            Algorithm::Sha256 => e.sha256,
            _ => e.md5,
        }
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the file named no user.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl core::fmt::Debug for Users {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Users({} users)", self.map.len())
    }
}

/// Reads the user lines of a users file, skipping blank lines and `#`
/// comments, and checks them: a username and a password or valid hashes
/// on every line, no username twice. `name_for_errors` names the file in
/// the errors.
pub fn user_lines<'a>(text: &'a str, name_for_errors: &str) -> Result<Vec<UserLine<'a>>, String> {
    let mut out: Vec<UserLine<'a>> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |what: String| format!("{name_for_errors}:{n}: {what}");
        let l = parse_line(line, n).map_err(err)?;
        if let Some(first) = seen.insert(l.user, n) {
            return Err(err(format!(
                "user '{}' is already defined on line {first}; give each user one line",
                l.user
            )));
        }
        out.push(l);
    }
    Ok(out)
}

fn parse_line(line: &str, n: usize) -> Result<UserLine<'_>, String> {
    let Some((user, rest)) = line.split_once(',') else {
        return Err("no comma; write user,password or user,md5:HA1_HEX[,sha256:HA1_HEX]".into());
    };
    let user = user.trim();
    if user.is_empty() {
        return Err("empty username; write user,password".into());
    }
    if let Some(c) = user
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '"' || *c == '\\')
    {
        return Err(format!(
            "username '{}' holds {c:?}; a username has no spaces, quotes or backslashes",
            user.escape_debug()
        ));
    }
    let rest = rest.trim();
    let secret = if rest.split(',').next().is_some_and(is_hash_field) {
        hashes(rest)?
    } else if rest.is_empty() {
        return Err(format!(
            "user '{user}' has an empty password; write {user},PASSWORD"
        ));
    } else {
        Secret::Password(rest)
    };
    Ok(UserLine {
        line: n,
        user,
        secret,
    })
}

/// `md5:…`, `sha256:…`, or `NAME:HEX` with at least 32 hex digits.
fn is_hash_field(f: &str) -> bool {
    let Some((name, value)) = f.trim().split_once(':') else {
        return false;
    };
    let known = ["md5", "sha256"]
        .iter()
        .any(|k| name.eq_ignore_ascii_case(k));
    let looks = (1..=16).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && value.len() >= 32
        && value.bytes().all(|b| b.is_ascii_hexdigit());
    known || looks
}

fn hashes(rest: &str) -> Result<Secret<'_>, String> {
    let (mut md5, mut sha256) = (None, None);
    for field in rest.split(',').map(str::trim) {
        let (name, hex) = field.split_once(':').unwrap_or((field, ""));
        let (alg, slot, digits) = if name.eq_ignore_ascii_case("md5") {
            (Algorithm::Md5, &mut md5, 32)
        } else if name.eq_ignore_ascii_case("sha256") {
            (Algorithm::Sha256, &mut sha256, 64)
        } else {
            return Err(format!(
                "unknown hash '{}'; the hashes are md5:HA1_HEX (32 hex digits) and \
                 sha256:HA1_HEX (64 hex digits)",
                name.escape_debug()
            ));
        };
        let name = name.to_ascii_lowercase();
        if slot.is_some() {
            return Err(format!("{name}: given twice; give each hash once"));
        }
        if hex.len() != digits {
            return Err(format!(
                "{name}: HA1 has {} characters; it has {digits} hex digits, H(user:realm:password)",
                hex.len()
            ));
        }
        match Ha1::from_hex(alg, hex.as_bytes()) {
            Some(h) => *slot = Some(h),
            None => {
                return Err(format!(
                    "{name}: HA1 '{}' is not hex; use the digits 0-9 and a-f",
                    hex.escape_debug()
                ))
            }
        }
    }
    Ok(Secret::Hashes { md5, sha256 })
}

fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> Ha1 {
    Ha1::from_password(alg, user.as_bytes(), realm.as_bytes(), password.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALM: &str = "example.net";
    /// H(alice:example.net:secret) for MD5 and SHA-256, from Python's
    /// hashlib.
    const ALICE_MD5: &str = "e0957e77e26b856e2ba625792a2b87e0";
    const ALICE_SHA256: &str = "02666cd4637ea5caa288507d6445c8a8b121aafc2b570cf61a00e92b18e39acc";

    fn hex(h: Option<Ha1>) -> Option<String> {
        h.map(|h| h.as_bytes().iter().map(|b| format!("{b:02x}")).collect())
    }

    #[test]
    fn passwords_and_hashes() {
        let text = format!(
            "# users of example.net\n\
             \n\
             alice,secret\n\
             \x20 bob , pass, with #, commas \r\n\
             carol,md5:{ALICE_MD5}\n\
             dave,sha256:{sha},MD5:{md5}\n\
             erin,pass:word\n",
            sha = ALICE_SHA256.to_uppercase(),
            md5 = ALICE_MD5,
        );
        let users = Users::parse(&text, "users.csv", REALM).unwrap();
        assert_eq!(users.len(), 5);
        let alice_md5 = users.ha1(b"alice", Algorithm::Md5);
        assert_eq!(
            alice_md5.map(|h| h.as_bytes().to_vec()),
            Some(
                Ha1::from_password(Algorithm::Md5, b"alice", b"example.net", b"secret")
                    .as_bytes()
                    .to_vec()
            )
        );
        let alice_sha = users.ha1(b"alice", Algorithm::Sha256Sess).unwrap();
        assert_eq!(alice_sha.algorithm(), Algorithm::Sha256);
        assert_eq!(
            alice_sha.as_bytes(),
            Ha1::from_password(Algorithm::Sha256, b"alice", b"example.net", b"secret").as_bytes()
        );
        assert_eq!(
            users
                .ha1(b"bob", Algorithm::Md5)
                .map(|h| h.as_bytes().to_vec()),
            Some(
                Ha1::from_password(
                    Algorithm::Md5,
                    b"bob",
                    b"example.net",
                    b"pass, with #, commas"
                )
                .as_bytes()
                .to_vec()
            )
        );
        assert_eq!(
            hex(users.ha1(b"carol", Algorithm::Md5Sess)).as_deref(),
            Some(ALICE_MD5)
        );
        assert!(users.ha1(b"carol", Algorithm::Sha256).is_none());
        assert_eq!(
            hex(users.ha1(b"dave", Algorithm::Md5)).as_deref(),
            Some(ALICE_MD5)
        );
        assert_eq!(
            hex(users.ha1(b"dave", Algorithm::Sha256)).as_deref(),
            Some(ALICE_SHA256)
        );
        assert!(users.ha1(b"erin", Algorithm::Md5).is_some());
        assert!(users.ha1(b"mallory", Algorithm::Md5).is_none());
        assert!(users.ha1(b"ALICE", Algorithm::Md5).is_none());
        assert_eq!(format!("{users:?}"), "Users(5 users)");

        let lines = user_lines("alice,secret\n", "f").unwrap();
        assert_eq!(
            lines,
            [UserLine {
                line: 1,
                user: "alice",
                secret: Secret::Password("secret")
            }]
        );
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        let md5 = ALICE_MD5;
        let rows: Vec<(String, String)> = vec![
            ("alice\n".into(), "users.csv:1: no comma; write user,password or user,md5:HA1_HEX[,sha256:HA1_HEX]".into()),
            ("# c\n,secret\n".into(), "users.csv:2: empty username; write user,password".into()),
            ("al ice,x\n".into(), "users.csv:1: username 'al ice' holds ' '; a username has no spaces, quotes or backslashes".into()),
            ("alice,\n".into(), "users.csv:1: user 'alice' has an empty password; write alice,PASSWORD".into()),
            ("alice,a\nbob,b\nalice,c\n".into(), "users.csv:3: user 'alice' is already defined on line 1; give each user one line".into()),
            ("alice,md5:abc\n".into(), "users.csv:1: md5: HA1 has 3 characters; it has 32 hex digits, H(user:realm:password)".into()),
            (format!("alice,sha256:{md5}\n"), "users.csv:1: sha256: HA1 has 32 characters; it has 64 hex digits, H(user:realm:password)".into()),
            ("alice,md5:e0957e77e26b856e2ba625792a2b87eg\n".into(), "users.csv:1: md5: HA1 'e0957e77e26b856e2ba625792a2b87eg' is not hex; use the digits 0-9 and a-f".into()),
            (format!("alice,sha1:{md5}00000000\n"), "users.csv:1: unknown hash 'sha1'; the hashes are md5:HA1_HEX (32 hex digits) and sha256:HA1_HEX (64 hex digits)".into()),
            (format!("alice,md5:{md5},sha-256:{md5}\n"), "users.csv:1: unknown hash 'sha-256'; the hashes are md5:HA1_HEX (32 hex digits) and sha256:HA1_HEX (64 hex digits)".into()),
            (format!("alice,md5:{md5},md5:{md5}\n"), "users.csv:1: md5: given twice; give each hash once".into()),
            (format!("alice,md5:{md5},\n"), "users.csv:1: unknown hash ''; the hashes are md5:HA1_HEX (32 hex digits) and sha256:HA1_HEX (64 hex digits)".into()),
        ];
        for (text, want) in rows {
            assert_eq!(
                Users::parse(&text, "users.csv", REALM).unwrap_err(),
                want,
                "{text:?}"
            );
        }
        let e = Users::load(Path::new("/nonexistent/users.csv"), REALM).unwrap_err();
        assert!(
            e.starts_with("/nonexistent/users.csv: cannot read the users file: "),
            "{e}"
        );
        assert!(Users::parse("# nobody\n\n", "f", REALM).unwrap().is_empty());
    }
}
