//! A broadcaster's room: the session (push address), its status and likes.

use minilvb_protocol::cloud::{self, PushUrlParams};
use minilvb_protocol::{
    Counted, ErrorCode, LinkMicAddr, ProtocolError, PushAddr, ReturnData, SignedPlayUrl, UserInfo,
    WriteAck,
};

use minilvb_store::{NewSession, SessionOutcome};

use super::Context;

/// RequestLVBAddr: starts a new session of the anchor's room (offline, counts
/// and members reset, recordings kept) and returns its signed push URL.
///
/// The stream id is the original's (`BIZID_userid` with `@#-` as `_`) so that
/// existing streams and callbacks keep working. When that id is already
/// another userid's (`a-b` and `a_b` collide), or cannot go into a URL, the
/// room gets the unique form instead: the same id plus a digest of the userid.
pub async fn request_lvb_addr(
    ctx: &Context,
    userid: String,
    groupid: String,
    title: String,
    userinfo: UserInfo,
) -> Result<ReturnData, ProtocolError> {
    refuse_banned(ctx, &userid).await?;
    let live = &ctx.settings.live;
    let now = ctx.clock.now();
    let legacy = cloud::legacy_stream_id(&live.bizid, &userid);
    let unique = cloud::unique_stream_id(&live.bizid, &userid);
    let candidates = if cloud::is_url_safe_stream_id(&legacy) {
        vec![legacy, unique]
    } else {
        vec![unique]
    };
    for stream_id in candidates {
        let (flv, hls, _rtmp) = cloud::play_urls(&live.play_domain, &stream_id);
        let session = NewSession {
            userid: userid.clone(),
            stream_id,
            groupid: groupid.clone(),
            title: title.clone(),
            userinfo: userinfo.clone(),
            play_url: flv,
            hls_play_url: hls,
            started_at: now,
        };
        if ctx.store.start_session(&session).await? == SessionOutcome::Started {
            let pushurl = cloud::push_url(
                &PushUrlParams {
                    push_domain: &live.push_domain,
                    bizid: &live.bizid,
                    push_key: live.push_key.expose(),
                    record: &live.record,
                    record_interval: live.record_interval,
                    expires_at: now + i64::from(live.push_url_ttl_secs),
                },
                &session.stream_id,
            );
            return Ok(ReturnData::PushAddr(PushAddr {
                pushurl,
                timestamp: now,
            }));
        }
    }
    tracing::error!(%userid, "no free stream id for this userid");
    Err(ProtocolError::database())
}

/// ChangeStatus: the app's 0 (push began) sets the room online, 1 offline.
pub async fn change_status(
    ctx: &Context,
    userid: &str,
    online: bool,
) -> Result<ReturnData, ProtocolError> {
    if online {
        refuse_banned(ctx, userid).await?;
    }
    if ctx
        .store
        .set_online(userid, online, ctx.clock.now())
        .await?
    {
        Ok(ReturnData::Ack(WriteAck::OK))
    } else {
        Err(ProtocolError::not_found(format_args!(
            "no room of userid {userid}"
        )))
    }
}

/// ChangeCount type 1: one like more or less, never below zero.
pub async fn change_likes(
    ctx: &Context,
    target: &Counted,
    delta: i64,
) -> Result<ReturnData, ProtocolError> {
    let applied = ctx.likes.add(&ctx.store, target, delta).await;
    if applied.map_err(|error| ProtocolError::from(&*error))? {
        Ok(ReturnData::Ack(WriteAck::OK))
    } else {
        Err(not_found(target))
    }
}

/// ChangeCount type 0 is deprecated by the protocol: viewer counts follow
/// EnterGroup/QuitGroup membership. Accepted for old apps, changes nothing.
pub async fn change_viewers_deprecated(
    ctx: &Context,
    target: &Counted,
) -> Result<ReturnData, ProtocolError> {
    if ctx.store.exists(target).await? {
        Ok(ReturnData::Ack(WriteAck::OK))
    } else {
        Err(not_found(target))
    }
}

/// RequestLVBAddrForLinkMic: a push URL for a stream of this link-mic
/// session only (the userid's unique stream id plus the time in hex, so that
/// no two userids or sessions share one), unrecorded, with its rtmp play URL.
pub fn link_mic_addr(ctx: &Context, userid: &str) -> ReturnData {
    let live = &ctx.settings.live;
    let now = ctx.clock.now();
    let stream_id = format!(
        "{}_{}",
        cloud::unique_stream_id(&live.bizid, userid),
        cloud::tx_time(now)
    );
    let pushurl = cloud::push_url(
        &PushUrlParams {
            push_domain: &live.push_domain,
            bizid: &live.bizid,
            push_key: live.push_key.expose(),
            record: "",
            record_interval: live.record_interval,
            expires_at: now + i64::from(live.push_url_ttl_secs),
        },
        &stream_id,
    );
    let (_flv, _hls, playurl) = cloud::play_urls(&live.play_domain, &stream_id);
    ReturnData::LinkMicAddr(LinkMicAddr {
        pushurl,
        timestamp: now,
        playurl,
    })
}

/// RequestPlayUrlWithSignForLinkMic: signs a stream URL on the play domain
/// with the play key (the push key when none is set).
pub fn sign_play_url(ctx: &Context, origin_url: &str) -> Result<ReturnData, ProtocolError> {
    let live = &ctx.settings.live;
    let now = ctx.clock.now();
    let key = if live.play_key.is_set() {
        &live.play_key
    } else {
        &live.push_key
    };
    let expires_at = now + i64::from(live.push_url_ttl_secs);
    let signed = cloud::sign_play_url(
        origin_url,
        &live.play_domain,
        &live.bizid,
        key.expose(),
        expires_at,
    )
    .map_err(|why| {
        ProtocolError::new(
            ErrorCode::OutOfRange,
            format!(
                "invalid param value! | originStreamUrl {why} ({})",
                live.play_domain
            ),
        )
    })?;
    Ok(ReturnData::SignedPlayUrl(SignedPlayUrl {
        stream_url_with_signature: signed,
        timestamp: now,
    }))
}

/// ReportUser: recorded for the operator (`minilvb reports`). Unlike the
/// original, which deleted the reported user's rooms and recordings on any
/// anonymous report, nothing is deleted.
pub async fn report_user(
    ctx: &Context,
    reporter: &str,
    reported: &str,
) -> Result<ReturnData, ProtocolError> {
    let id = ctx
        .store
        .add_report(reporter, reported, ctx.clock.now())
        .await?;
    tracing::info!(report = id, %reporter, %reported, "user reported");
    Ok(ReturnData::Ack(WriteAck::OK))
}

/// A banned user cannot start a session or go online.
async fn refuse_banned(ctx: &Context, userid: &str) -> Result<(), ProtocolError> {
    if ctx.store.is_banned(userid, ctx.clock.now()).await? {
        return Err(ProtocolError::new(
            ErrorCode::Banned,
            format!("user is banned! | {userid} may not broadcast; contact the operator"),
        ));
    }
    Ok(())
}

pub fn not_found(target: &Counted) -> ProtocolError {
    match target {
        Counted::Room { userid } => {
            ProtocolError::not_found(format_args!("no room of userid {userid}"))
        }
        Counted::Recording { userid, fileid } => {
            ProtocolError::not_found(format_args!("no recording {fileid} of userid {userid}"))
        }
    }
}
