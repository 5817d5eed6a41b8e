//! Operator-mode credentials made here, as `nsc` makes them: JWTs signed
//! by the key above them, and the `.creds` file of a user.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nkeys::KeyPair;
use serde_json::{json, Value};

/// A JWT of `claims`, signed by `signer`, as nats-server reads them.
pub fn jwt(signer: &KeyPair, claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "ed25519-nkey"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{body}");
    let signature = signer.sign(signed.as_bytes()).expect("sign");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims every JWT carries, with `nats` as its own part.
pub fn claims(issuer: &KeyPair, subject: &KeyPair, name: &str, nats: Value) -> Value {
    json!({
        "jti": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        "iat": time::OffsetDateTime::now_utc().unix_timestamp(),
        "iss": issuer.public_key(),
        "sub": subject.public_key(),
        "name": name,
        "nats": nats,
    })
}

/// A `.creds` file's text, as `nsc generate creds` writes it.
pub fn creds(user_jwt: &str, user: &KeyPair) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        seed_of(user)
    )
}

/// The seed of a generated key.
pub fn seed_of(key: &KeyPair) -> String {
    key.seed().expect("a generated key has a seed")
}
