//! Upload signatures for object storage.

use minilvb_protocol::cloud::{self, CosV4, VodUpload};
use minilvb_protocol::{CosSign, CosSignV2, ReturnData, VodSignature};

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

/// GetCOSSignV2: the COS v5 signing key for `now;now+cos.sign_ttl_secs`.
pub fn cos_sign_v2(ctx: &Context) -> ReturnData {
    let cos = &ctx.settings.cos;
    let now = ctx.clock.now();
    let key_time = format!("{now};{}", now + i64::from(cos.sign_ttl_secs));
    ReturnData::CosSignV2(CosSignV2 {
        sign_key: cloud::cos_v5_sign_key(cos.secret_key.expose(), &key_time),
        key_time,
        secret_id: cos.secret_id.expose().to_owned(),
        bucket: cos.bucket.clone(),
        region: cos.region.clone(),
    })
}

/// GetVodSignatureV2: a VOD client-upload signature valid `vod.sign_ttl_secs`.
pub fn vod_signature(ctx: &Context) -> ReturnData {
    let vod = &ctx.settings.vod;
    let now = ctx.clock.now();
    let signature = cloud::vod_upload_signature(&VodUpload {
        secret_id: vod.secret_id.expose(),
        secret_key: vod.secret_key.expose(),
        now,
        expires_at: now + i64::from(vod.sign_ttl_secs),
        rand: rand::random(),
        procedure: &vod.procedure,
    });
    ReturnData::VodSignature(VodSignature { signature })
}
