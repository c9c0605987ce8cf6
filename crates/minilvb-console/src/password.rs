//! Operator passwords: Argon2id, stored as PHC strings (algorithm,
//! parameters and salt travel with the hash, so stronger parameters later
//! do not invalidate the hashes kept).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

/// The longest password hashed: Argon2 would take any length, but a
/// megabyte "password" is only a way to make the server work.
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is longer than {MAX_PASSWORD_LEN} bytes")]
    TooLong,
    #[error("the stored password hash cannot be read: {0}")]
    BadHash(String),
    #[error("the password could not be hashed: {0}")]
    Hashing(String),
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane), as
/// OWASP recommends for interactive logins.
fn argon2() -> Argon2<'static> {
    Argon2::default()
}

/// Hashes a password with a fresh random salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Whether the password matches the PHC string. A wrong password is
/// `Ok(false)`; an unreadable hash is an error.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Ok(false);
    }
    let hash = PasswordHash::new(phc).map_err(|e| PasswordError::BadHash(e.to_string()))?;
    match argon2().verify_password(password.as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordError::BadHash(e.to_string())),
    }
}

/// A hash no password is known to match, verified against when the account
/// does not exist, so that a wrong name costs as long as a wrong password.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        // Hashing a fixed-length ASCII string with valid parameters cannot
        // fail; an empty string would only make every unknown name fail fast.
        hash_password(&hex::encode(secret)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_another_does_not() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash).unwrap());
        assert!(!verify_password("wrong horse", &hash).unwrap());
    }

    #[test]
    fn two_hashes_of_one_password_differ_by_their_salt() {
        assert_ne!(
            hash_password("same").unwrap(),
            hash_password("same").unwrap()
        );
    }

    #[test]
    fn an_unreadable_hash_is_an_error_not_a_mismatch() {
        assert!(matches!(
            verify_password("x", "not a phc string"),
            Err(PasswordError::BadHash(_))
        ));
    }

    #[test]
    fn an_overlong_password_is_refused_before_hashing() {
        let long = "x".repeat(MAX_PASSWORD_LEN + 1);
        assert_eq!(hash_password(&long), Err(PasswordError::TooLong));
        let hash = hash_password("short").unwrap();
        assert!(!verify_password(&long, &hash).unwrap());
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash() {
        assert!(dummy_hash().starts_with("$argon2id$"));
        assert!(!verify_password("", dummy_hash()).unwrap());
    }
}
