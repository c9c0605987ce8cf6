//! GetCOSSign: a COS v4 multi-use upload signature that verifies.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use minilvb::config::Secret;
use serde_json::json;
use sha1::Sha1;

use crate::backend_test;
use crate::common::*;

/// A decoded v4 signature: the HMAC prefix and the plain text after it.
struct CosSign {
    mac: Vec<u8>,
    plain: String,
}

impl CosSign {
    fn decode(sign: &str) -> Self {
        let raw = BASE64
            .decode(sign)
            .unwrap_or_else(|e| panic!("not base64 ({e}): {sign}"));
        assert!(raw.len() > 20, "{sign}");
        let (mac, plain) = raw.split_at(20);
        Self {
            mac: mac.to_vec(),
            plain: String::from_utf8(plain.to_vec()).expect("plain text is UTF-8"),
        }
    }

    /// The fields of `a=..&b=..&k=..&e=..&t=..&r=..&f=`, checked in order.
    fn fields(&self) -> Vec<(String, String)> {
        let fields: Vec<(String, String)> = self
            .plain
            .split('&')
            .map(|pair| {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{}", self.plain));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "b", "k", "e", "t", "r", "f"], "{}", self.plain);
        fields
    }

    fn field(&self, name: &str) -> String {
        self.fields()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap()
    }

    fn assert_signed_with(&self, secret_key: &str) {
        let mut mac = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()).unwrap();
        mac.update(self.plain.as_bytes());
        mac.verify_slice(&self.mac)
            .expect("the HMAC-SHA1 prefix verifies with the secret key");
    }
}

async fn cos_sign(app: &TestApp) -> CosSign {
    let data = app.ok(json!({"Action":"GetCOSSign"})).await;
    assert_eq!(data.as_object().unwrap().len(), 1, "{data}");
    CosSign::decode(data["sign"].as_str().expect("sign is a string"))
}

backend_test! {
    async fn cos_sign_verifies(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.cos.appid = "200001".into();
            s.cos.bucket = "newbucket".into();
            s.cos.secret_id = Secret::new("AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv");
            s.cos.secret_key = Secret::new("bLcPnl88WU30VY57ipRhSePfPdOfSruK");
        })
        .await;
        let sign = cos_sign(&app).await;
        let r = sign.field("r");
        assert_eq!(
            sign.plain,
            format!("a=200001&b=newbucket&k=AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv&e={}&t={T0}&r={r}&f=", T0 + 30)
        );
        assert!(r.parse::<u32>().is_ok(), "r is a number: {r}");
        sign.assert_signed_with("bLcPnl88WU30VY57ipRhSePfPdOfSruK");
        // Not with another key.
        let mut mac = Hmac::<Sha1>::new_from_slice(b"another key").unwrap();
        mac.update(sign.plain.as_bytes());
        assert!(mac.verify_slice(&sign.mac).is_err());
    }
}

backend_test! {
    async fn cos_sign_with_demo_values(backend) {
        let app = TestApp::spawn(backend).await;
        let sign = cos_sign(&app).await;
        let cos = &app.settings.cos;
        assert_eq!(sign.field("a"), cos.appid);
        assert_eq!(sign.field("b"), cos.bucket);
        assert_eq!(sign.field("k"), cos.secret_id.expose());
        assert_eq!(sign.field("f"), "");
        sign.assert_signed_with(cos.secret_key.expose());
        let (e, t): (i64, i64) = (sign.field("e").parse().unwrap(), sign.field("t").parse().unwrap());
        assert_eq!((t, e - t), (T0, 30));
    }
}

backend_test! {
    async fn cos_sign_lifetime_is_configurable_and_follows_the_clock(backend) {
        let app = TestApp::spawn_with(backend, |s| s.cos.sign_ttl_secs = 600).await;
        app.clock.advance(77);
        let sign = cos_sign(&app).await;
        let (e, t): (i64, i64) = (sign.field("e").parse().unwrap(), sign.field("t").parse().unwrap());
        assert_eq!((t, e - t), (T0 + 77, 600));
        sign.assert_signed_with(app.settings.cos.secret_key.expose());
    }
}

backend_test! {
    async fn cos_signs_differ_by_their_random(backend) {
        let app = TestApp::spawn(backend).await;
        let mut randoms = std::collections::HashSet::new();
        for _ in 0..5 {
            let sign = cos_sign(&app).await;
            sign.assert_signed_with(app.settings.cos.secret_key.expose());
            randoms.insert(sign.field("r"));
        }
        assert!(randoms.len() > 1, "r is random: {randoms:?}");
    }
}
