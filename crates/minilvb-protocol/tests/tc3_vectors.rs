//! The signer against vectors computed by the official Python SDK
//! (`scripts/tc3-vectors.py` → `tests/tc3_vectors.json`).

use minilvb_protocol::cloud::tc3::{self, SigningInput};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    secret_id: String,
    secret_key: String,
    service: String,
    host: String,
    content_type: String,
    timestamp: i64,
    payload: String,
    string_to_sign: String,
    authorization: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("tc3_vectors.json");
    serde_json::from_str::<Vectors>(text)
        .expect("tc3_vectors.json parses")
        .vectors
}

fn input(v: &Vector) -> SigningInput<'_> {
    SigningInput {
        secret_id: &v.secret_id,
        secret_key: &v.secret_key,
        service: &v.service,
        host: &v.host,
        content_type: &v.content_type,
        timestamp: v.timestamp,
        payload: v.payload.as_bytes(),
    }
}

#[test]
fn the_vector_file_covers_every_action_and_a_local_host() {
    let all = vectors();
    assert!(all.len() >= 5);
    for needle in [
        "DropLiveStream",
        "ForbidLiveStream",
        "DescribeLiveStreamOnlineList",
        "DeleteMedia",
    ] {
        assert!(all.iter().any(|v| v.name.contains(needle)), "{needle}");
    }
    assert!(all.iter().any(|v| v.host.starts_with("127.0.0.1:")));
    assert!(all.iter().any(|v| !v.payload.is_ascii()));
}

#[test]
fn every_sdk_string_to_sign_is_reproduced() {
    for v in vectors() {
        assert_eq!(
            tc3::sign(&input(&v)).string_to_sign,
            v.string_to_sign,
            "{}",
            v.name
        );
    }
}

#[test]
fn every_sdk_authorization_is_reproduced() {
    for v in vectors() {
        assert_eq!(
            tc3::sign(&input(&v)).authorization,
            v.authorization,
            "{}",
            v.name
        );
    }
}

#[test]
fn the_json_shortcut_matches_the_sdk_for_json_utf8_vectors() {
    let json_utf8: Vec<_> = vectors()
        .into_iter()
        .filter(|v| v.content_type == tc3::CONTENT_TYPE_JSON)
        .collect();
    assert!(json_utf8.len() >= 4);
    for v in json_utf8 {
        let header = tc3::authorization(
            &v.secret_id,
            &v.secret_key,
            &v.service,
            &v.host,
            v.timestamp,
            v.payload.as_bytes(),
        );
        assert_eq!(header, v.authorization, "{}", v.name);
    }
}

#[test]
fn every_sdk_signature_verifies_and_parses_back() {
    for v in vectors() {
        let parsed = tc3::parse_authorization(&v.authorization).expect("parses");
        assert_eq!(parsed.secret_id, v.secret_id);
        assert_eq!(parsed.service, v.service);
        assert_eq!(parsed.date, tc3::utc_date(v.timestamp));
        assert!(tc3::verify(&input(&v), parsed.signature), "{}", v.name);
    }
}
