//! Room and recording membership: EnterGroup, QuitGroup, FetchGroupMemberList.
//! Viewer counts are membership: entering twice counts once, quitting as a
//! non-member changes nothing.

use std::sync::Arc;

use crate::protocol::{Group, MemberList, Page, ProtocolError, ReturnData, WriteAck};
use crate::store::{MemberChange, NewMember};

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
    let change = MemberChange::Enter {
        group: group.clone(),
        member,
    };
    if apply(ctx, change).await? {
        Ok(ReturnData::Ack(WriteAck::OK))
    } else {
        Err(ProtocolError::not_found(group))
    }
}

pub async fn quit(ctx: &Context, group: &Group, userid: &str) -> Result<ReturnData, ProtocolError> {
    let change = MemberChange::Quit {
        group: group.clone(),
        userid: userid.to_owned(),
    };
    apply(ctx, change).await?;
    Ok(ReturnData::Ack(WriteAck::OK))
}

/// An enter or a quit, in the next batch.
async fn apply(ctx: &Context, change: MemberChange) -> Result<bool, ProtocolError> {
    let store = Arc::clone(&ctx.store);
    let applied = ctx
        .member_writes
        .submit(change, move |changes: Arc<Vec<MemberChange>>| {
            let store = Arc::clone(&store);
            async move { store.change_members(&changes).await }
        })
        .await?;
    Ok(applied.is_some())
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
