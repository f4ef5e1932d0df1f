//! `mysql_native_password`: the server stores SHA1(SHA1(password)); the client answers a
//! scramble with SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))).

use sha1::{Digest, Sha1};

/// SHA1(SHA1(password)), what the server stores for a user (the hex of it, upper-cased and
/// prefixed with `*`, is what `PASSWORD()` printed in MySQL 5.x).
pub fn native_password_hash(password: &str) -> [u8; 20] {
    let stage1: [u8; 20] = Sha1::digest(password.as_bytes()).into();
    Sha1::digest(stage1).into()
}

/// Checks a client's `mysql_native_password` answer. An empty answer matches only the stored
/// hash of the empty password.
pub fn verify_native_password(
    scramble: &[u8; 20],
    auth_response: &[u8],
    stored_hash: &[u8; 20],
) -> bool {
    if auth_response.is_empty() {
        return *stored_hash == native_password_hash("");
    }
    let Ok(auth_response) = <&[u8; 20]>::try_from(auth_response) else {
        return false;
    };
    // auth_response XOR SHA1(scramble + stored_hash) gives back SHA1(password), whose SHA1 must
    // be the stored hash.
    let mut hasher = Sha1::new();
    hasher.update(scramble);
    hasher.update(stored_hash);
    let mask: [u8; 20] = hasher.finalize().into();
    let mut stage1 = [0u8; 20];
    for (index, byte) in stage1.iter_mut().enumerate() {
        *byte = auth_response[index] ^ mask[index];
    }
    let candidate: [u8; 20] = Sha1::digest(stage1).into();
    // Compare without an early exit so timing says nothing about how much matched.
    candidate
        .iter()
        .zip(stored_hash.iter())
        .fold(0u8, |difference, (left, right)| difference | (left ^ right))
        == 0
}

/// What a client computes from its password; used by tests.
#[cfg(test)]
pub(crate) fn scramble_native_password(scramble: &[u8; 20], password: &str) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1: [u8; 20] = Sha1::digest(password.as_bytes()).into();
    let stage2: [u8; 20] = Sha1::digest(stage1).into();
    let mut hasher = Sha1::new();
    hasher.update(scramble);
    hasher.update(stage2);
    let mask: [u8; 20] = hasher.finalize().into();
    stage1
        .iter()
        .zip(mask.iter())
        .map(|(left, right)| left ^ right)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02X}")).collect()
    }

    #[test]
    fn hash_matches_mysql_password_function() {
        // MySQL 5.7: SELECT PASSWORD('password') = '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'.
        assert_eq!(
            hex(&native_password_hash("password")),
            "2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
        );
        // SELECT PASSWORD('root') = '*81F5E21E35407D884A6CD4A731AEBFB6AF209E1B'.
        assert_eq!(
            hex(&native_password_hash("root")),
            "81F5E21E35407D884A6CD4A731AEBFB6AF209E1B"
        );
    }

    #[test]
    fn verifies_client_answer() {
        let scramble = *b"abcdefghij0123456789";
        let stored = native_password_hash("secret");
        let answer = scramble_native_password(&scramble, "secret");
        assert!(verify_native_password(&scramble, &answer, &stored));
        let wrong = scramble_native_password(&scramble, "Secret");
        assert!(!verify_native_password(&scramble, &wrong, &stored));
        let other_scramble = *b"zbcdefghij0123456789";
        assert!(!verify_native_password(&other_scramble, &answer, &stored));
        assert!(!verify_native_password(&scramble, &answer[..19], &stored));
        assert!(!verify_native_password(&scramble, &[], &stored));
    }

    #[test]
    fn empty_password() {
        let scramble = [7u8; 20];
        let stored = native_password_hash("");
        assert!(verify_native_password(&scramble, &[], &stored));
        let answer = scramble_native_password(&scramble, "x");
        assert!(!verify_native_password(&scramble, &answer, &stored));
    }
}
