//! Password hashing with argon2id (OWASP's parameters: 19 MiB, 2 passes, 1 lane).
//!
//! Hashing is deliberately slow CPU work, so callers run it on the blocking pool. Unknown
//! accounts are checked against a fixed dummy hash, so a wrong email and a wrong password
//! cost the same time and the answer cannot tell them apart.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 1024;

fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn validate_new(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(Error::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::invalid("password", "is too long"));
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

/// Verifies `password` against `stored`; with `None` (unknown account or no password set)
/// it spends the same effort on a dummy hash and returns false.
pub fn verify(stored: Option<&str>, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    let Ok(argon) = hasher() else { return false };
    match stored.and_then(|s| PasswordHash::new(s).ok()) {
        Some(parsed) => argon.verify_password(password.as_bytes(), &parsed).is_ok(),
        None => {
            if let Ok(dummy) = PasswordHash::new(DUMMY_HASH) {
                let _ = argon.verify_password(password.as_bytes(), &dummy);
            }
            false
        }
    }
}

/// argon2id hash of a random string nobody knows, with the same parameters as real ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$gMyC7kZlYhlwDKdhPbeb+kdnG6LDPJpJ4VRCOp3XnrI";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(Some(&h), "correct horse battery"));
        assert!(!verify(Some(&h), "correct horse batterY"));
        assert!(!verify(None, "anything at all"));
    }

    #[test]
    fn dummy_hash_parses_so_unknown_users_cost_the_same() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate_new("short").is_err());
        assert!(validate_new("long enough pw").is_ok());
    }
}
