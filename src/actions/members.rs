//! Room and recording membership: EnterGroup, QuitGroup, FetchGroupMemberList.
//! Viewer counts are membership: entering twice counts once, quitting as a
//! non-member changes nothing.

use crate::protocol::{Group, MemberList, Page, ProtocolError, ReturnData, WriteAck};
use crate::store::NewMember;

use super::Context;

pub async fn enter(
    ctx: &Context,
    group: &Group,
    userid: String,
    nickname: String,
    headpic: String,
    level: Option<i64>,
) -> Result<ReturnData, ProtocolError> {
    let member = NewMember {
        userid,
        nickname,
        headpic,
        level,
        joined_at: ctx.clock.now(),
    };
    if ctx.store.enter(group, &member).await? {
        Ok(ReturnData::Ack(WriteAck::OK))
    } else {
        Err(ProtocolError::not_found(group))
    }
}

pub async fn quit(ctx: &Context, group: &Group, userid: &str) -> Result<ReturnData, ProtocolError> {
    ctx.store.quit(group, userid).await?;
    Ok(ReturnData::Ack(WriteAck::OK))
}

/// FetchGroupMemberList, in the configured order (`members.order`). The
/// request has no flag: `groupid` names the anchor's room when it is the
/// room's current groupid, and otherwise one of its recordings (by fileid).
pub async fn list(
    ctx: &Context,
    anchor: &str,
    groupid: &str,
    page: Page,
) -> Result<ReturnData, ProtocolError> {
    let order = ctx.settings.members.order;
    let (totalcount, memberlist) = ctx
        .store
        .members_named(anchor, groupid, order, page)
        .await?;
    Ok(ReturnData::Members(MemberList {
        totalcount,
        memberlist,
    }))
}
