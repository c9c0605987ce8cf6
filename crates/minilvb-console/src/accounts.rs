//! The rules for operator accounts, the same wherever an account is made
//! or changed: on the Operators page and with `minilvb operators`.

use crate::password::MAX_PASSWORD_LEN;

/// The longest operator name.
pub const MAX_NAME_LEN: usize = 64;

/// The shortest password accepted for an operator.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A name is 1 to [`MAX_NAME_LEN`] ASCII letters, digits, dots, dashes or
/// underscores: it shows in URLs and the audit log as it is.
pub fn check_operator_name(name: &str) -> Result<(), String> {
    let good = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if good {
        Ok(())
    } else {
        Err(format!(
            "A name is 1 to {MAX_NAME_LEN} letters, digits, dots, dashes or underscores."
        ))
    }
}

/// A password has at least [`MIN_PASSWORD_CHARS`] characters and at most
/// [`MAX_PASSWORD_LEN`] bytes.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(format!(
            "A password has at least {MIN_PASSWORD_CHARS} characters."
        ))
    } else if password.len() > MAX_PASSWORD_LEN {
        Err(format!("A password has at most {MAX_PASSWORD_LEN} bytes."))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        for good in ["root", "mia.w", "ops_2", "a-b", &"x".repeat(MAX_NAME_LEN)] {
            assert!(check_operator_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "two words",
            "ünï",
            "a/b",
            "<x>",
            &"x".repeat(MAX_NAME_LEN + 1),
        ] {
            assert!(check_operator_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_long_enough_and_not_huge() {
        assert!(check_password("123456789").is_err());
        assert!(check_password("1234567890").is_ok());
        assert!(
            check_password("ééééééééé").is_err(),
            "characters, not bytes"
        );
        assert!(check_password(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}
