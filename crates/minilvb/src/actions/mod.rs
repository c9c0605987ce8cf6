//! The actions: one plain async function per protocol Action, over the
//! [`Store`] trait. Business rules live here: sessions, membership-derived
//! counts, paging, ordering. Input arrives parsed and checked
//! ([`minilvb_protocol::parse_request`]); output is a [`ReturnData`].

mod batch;
mod coalesce;
mod lists;
mod members;
mod rooms;
mod uploads;

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use minilvb_protocol::{ProtocolError, Request, ReturnData};
use minilvb_store::Store;

/// What every action may use; shared by all requests.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Likes on one target are applied together (see `coalesce`).
    pub likes: Arc<coalesce::LikeCoalescer>,
    /// Enters and quits are applied in batches (see `members::MemberWrites`).
    pub member_writes: Arc<members::MemberWrites>,
}

impl Context {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: Arc<Settings>) -> Self {
        let batched = minilvb_store::single_writer(&settings.database.url);
        let likes = match batched {
            true => coalesce::LikeCoalescer::batched(),
            false => coalesce::LikeCoalescer::new(minilvb_store::LIKE_LANES),
        };
        Self {
            likes: Arc::new(likes),
            member_writes: Arc::new(members::MemberWrites::new(match batched {
                true => 1,
                false => minilvb_store::MEMBER_LANES,
            })),
            store,
            clock,
            settings,
        }
    }
}

/// Runs one request.
pub async fn handle(ctx: &Context, request: Request) -> Result<ReturnData, ProtocolError> {
    match request {
        Request::RequestLvbAddr {
            userid,
            groupid,
            title,
            userinfo,
        } => rooms::request_lvb_addr(ctx, userid, groupid, title, userinfo).await,
        Request::ChangeStatus { userid, online } => {
            rooms::change_status(ctx, &userid, online).await
        }
        Request::ChangeLikes { target, delta } => rooms::change_likes(ctx, &target, delta).await,
        Request::ChangeViewersDeprecated { target } => {
            rooms::change_viewers_deprecated(ctx, &target).await
        }
        Request::FetchList { flag, page } => lists::fetch_list(ctx, flag, page).await,
        Request::GetUserInfo { target } => lists::get_user_info(ctx, &target).await,
        Request::GetCosSign => Ok(uploads::cos_sign(ctx)),
        Request::GetCosSignV2 => Ok(uploads::cos_sign_v2(ctx)),
        Request::GetVodSignatureV2 => Ok(uploads::vod_signature(ctx)),
        Request::RequestLinkMicAddr { userid } => Ok(rooms::link_mic_addr(ctx, &userid)),
        Request::SignLinkMicPlayUrl {
            userid: _,
            origin_url,
        } => rooms::sign_play_url(ctx, &origin_url),
        Request::StopLvb { userid } => rooms::change_status(ctx, &userid, false).await,
        Request::ReportUser { reporter, reported } => {
            rooms::report_user(ctx, &reporter, &reported).await
        }

        Request::EnterGroup {
            group,
            userid,
            nickname,
            headpic,
            level,
        } => members::enter(ctx, group, userid, nickname, headpic, level).await,
        Request::QuitGroup { group, userid } => members::quit(ctx, group, userid).await,
        Request::FetchGroupMemberList {
            anchor,
            groupid,
            page,
        } => members::list(ctx, &anchor, &groupid, page).await,
    }
}
