//! Unguessable identifiers and secrets, all from the OS CSPRNG.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// `bytes` random bytes as unpadded base64url.
pub fn token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A prefixed 128-bit identifier, e.g. `tn_…` for a tenant; the prefix tells a reader
/// what kind of id is in a log line.
pub fn id(prefix: &str) -> String {
    format!("{prefix}_{}", token(16))
}
