//! Room and recording membership: EnterGroup, QuitGroup, FetchGroupMemberList.
//! Viewer counts are membership: entering twice counts once, quitting as a
//! non-member changes nothing.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use minilvb_protocol::{Group, MemberList, Page, ProtocolError, ReturnData, WriteAck};
use minilvb_store::{MemberChange, NewMember};

use super::Context;
use super::batch::Batcher;

/// EnterGroup: the request's member, joining now.
pub async fn enter(
    ctx: &Context,
    group: Group,
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
    let missing = ProtocolError::not_found(&group);
    match apply(ctx, MemberChange::Enter { group, member }).await? {
        true => Ok(ReturnData::Ack(WriteAck::OK)),
        false => Err(missing),
    }
}

/// QuitGroup.
pub async fn quit(
    ctx: &Context,
    group: Group,
    userid: String,
) -> Result<ReturnData, ProtocolError> {
    apply(ctx, MemberChange::Quit { group, userid }).await?;
    Ok(ReturnData::Ack(WriteAck::OK))
}

/// Enters and quits, applied in batches (see `batch`), in lanes by group:
/// the changes to one group always go through the same lane, one batch of
/// it at a time, and the lanes run at once. On SQLite's single writer one
/// lane: the writer applies one batch at a time anyway. On a database
/// server, a popular room's viewers' changes go together in large batches
/// (its row locked once per batch rather than once per viewer) while
/// changes to other rooms go through the other lanes meanwhile, instead of
/// waiting for them.
pub struct MemberWrites {
    lanes: Vec<Arc<Batcher<MemberChange, Option<i64>>>>,
    hasher: RandomState,
}

impl MemberWrites {
    pub fn new(lanes: usize) -> Self {
        Self {
            lanes: (0..lanes.max(1)).map(|_| Arc::default()).collect(),
            hasher: RandomState::new(),
        }
    }

    fn lane(&self, group: &Group) -> &Arc<Batcher<MemberChange, Option<i64>>> {
        let n = self.lanes.len() as u64;
        &self.lanes[(self.hasher.hash_one(group) % n) as usize]
    }
}

/// An enter or a quit, in its lane's next batch.
async fn apply(ctx: &Context, change: MemberChange) -> Result<bool, ProtocolError> {
    let store = Arc::clone(&ctx.store);
    let applied = ctx
        .member_writes
        .lane(change.group())
        .submit(change, move |changes: Arc<Vec<MemberChange>>| {
            let store = Arc::clone(&store);
            async move { store.change_members(&changes).await }
        })
        .await
        .map_err(|error| ProtocolError::from(&*error))?;
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
    let (_, totalcount, memberlist) = ctx
        .store
        .members_named(anchor, groupid, order, page)
        .await?;
    Ok(ReturnData::Members(MemberList {
        totalcount,
        memberlist,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(i: usize) -> Group {
        Group::Room {
            anchor: format!("a{i}"),
            groupid: "g".into(),
        }
    }

    #[test]
    fn a_group_keeps_its_lane_and_groups_spread_over_the_lanes() {
        let writes = MemberWrites::new(4);
        let lane_of = |g: &Group| {
            let lane = writes.lane(g);
            writes
                .lanes
                .iter()
                .position(|l| Arc::ptr_eq(l, lane))
                .unwrap()
        };
        let lanes: Vec<usize> = (0..64).map(|i| lane_of(&room(i))).collect();
        for (i, lane) in lanes.iter().enumerate() {
            assert_eq!(lane_of(&room(i)), *lane, "the same lane every time");
        }
        for lane in 0..4 {
            assert!(lanes.contains(&lane), "lane {lane} unused: {lanes:?}");
        }
        assert_eq!(MemberWrites::new(0).lanes.len(), 1, "at least one lane");
    }
}
