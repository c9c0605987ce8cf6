//! Upload signatures for object storage.

use crate::cloud::{self, CosV4};
use crate::protocol::{CosSign, ReturnData};

use super::Context;

/// GetCOSSign: a COS v4 multi-use signature, valid `cos.sign_ttl_secs`.
pub fn cos_sign(ctx: &Context) -> ReturnData {
    let cos = &ctx.settings.cos;
    let now = ctx.clock.now();
    let sign = cloud::cos_v4_sign(&CosV4 {
        appid: &cos.appid,
        bucket: &cos.bucket,
        secret_id: cos.secret_id.expose(),
        secret_key: cos.secret_key.expose(),
        expires_at: now + i64::from(cos.sign_ttl_secs),
        now,
        rand: rand::random(),
    });
    ReturnData::CosSign(CosSign { sign })
}
