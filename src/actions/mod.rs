//! The actions: one plain async function per protocol Action, over the
//! [`Store`] trait. Business rules live here: sessions, membership-derived
//! counts, paging, ordering. Input arrives parsed and checked
//! ([`crate::protocol::parse_request`]); output is a [`ReturnData`].

mod batch;
mod coalesce;
mod lists;
mod members;
mod rooms;
mod uploads;

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::protocol::{ProtocolError, Request, ReturnData};
use crate::store::{Store, StoreError};

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
        let batched = crate::store::single_writer(&settings.database.url);
        let likes = match batched {
            true => coalesce::LikeCoalescer::batched(),
            false => coalesce::LikeCoalescer::new(crate::store::LIKE_LANES),
        };
        Self {
            likes: Arc::new(likes),
            member_writes: Arc::new(members::MemberWrites::new(match batched {
                true => 1,
                false => crate::store::MEMBER_LANES,
            })),
            store,
            clock,
            settings,
        }
    }
}

/// A storage failure becomes a plain 2003; the cause goes to the log and
/// the metrics only.
fn storage_failure(error: &StoreError) -> ProtocolError {
    tracing::error!(%error, "storage failure");
    metrics::counter!(crate::telemetry::metrics::DB_ERRORS).increment(1);
    if matches!(error, StoreError::Database(sqlx::Error::PoolTimedOut)) {
        metrics::counter!(crate::telemetry::metrics::DB_POOL_TIMEOUTS).increment(1);
    }
    if error.outcome_unknown() {
        metrics::counter!(crate::telemetry::metrics::DB_UNKNOWN_OUTCOMES).increment(1);
    }
    ProtocolError::database()
}

impl From<StoreError> for ProtocolError {
    fn from(error: StoreError) -> Self {
        storage_failure(&error)
    }
}

/// A failure shared by coalesced requests.
impl From<Arc<StoreError>> for ProtocolError {
    fn from(error: Arc<StoreError>) -> Self {
        storage_failure(&error)
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
        } => members::enter(ctx, &group, userid, nickname, headpic, level).await,
        Request::QuitGroup { group, userid } => members::quit(ctx, &group, &userid).await,
        Request::FetchGroupMemberList {
            anchor,
            groupid,
            page,
        } => members::list(ctx, &anchor, &groupid, page).await,
    }
}
