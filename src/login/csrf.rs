//! CSRF protection by double submit: a random value in a `SameSite=Strict` cookie must
//! equal the hidden form field. A cross-site page can neither read the cookie nor make
//! the browser send it, so it cannot produce a matching pair.

use subtle::ConstantTimeEq;

use crate::random;

pub fn new_token() -> String {
    random::token(24)
}

pub fn tokens_match(cookie: Option<&str>, form: &str) -> bool {
    match cookie {
        Some(c) if c.len() >= 32 && !form.is_empty() => c.as_bytes().ct_eq(form.as_bytes()).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_equal_nonempty_tokens_match() {
        let t = new_token();
        assert!(tokens_match(Some(&t), &t));
        assert!(!tokens_match(Some(&t), &new_token()));
        assert!(!tokens_match(None, &t));
        assert!(!tokens_match(Some(""), ""));
        assert!(!tokens_match(Some("short"), "short"));
    }
}
