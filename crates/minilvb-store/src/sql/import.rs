//! Import: an original server's rooms, recordings and members.

use super::*;

#[async_trait]
impl<DB: Dialect> Import for SqlStore<DB> {
    async fn import_room(&self, room: &ImportedRoom) -> StoreResult<SessionOutcome> {
        transaction!(self, "import_room", |tx| {
            let s = &room.session;
            Self::replace_room(tx, s, room.online, room.likes, room.status_at).await
        })
    }

    async fn import_recording(&self, imported: &ImportedRecording) -> StoreResult<()> {
        transaction!(self, "import_recording", |tx| {
            let r = &imported.recording;
            Self::replace_recording(tx, r, Some(imported.likes)).await?;
            Self::exec(
                tx,
                "DELETE FROM members WHERE anchor = ? AND kind = 1 AND group_key = ?",
                args![&r.userid, &r.fileid],
            )
            .await?;
            Self::exec(
                tx,
                "UPDATE recordings SET viewer_count = 0 WHERE userid = ? AND fileid = ?",
                args![&r.userid, &r.fileid],
            )
            .await
            .map(drop)
        })
    }

    async fn import_members(&self, group: &Group, members: &[NewMember]) -> StoreResult<bool> {
        let (table, key) = group_table(group);
        let (anchor, kind, group_key) = (group.anchor(), group_kind(group), group.key());
        let recount = format!(
            "UPDATE {table} SET viewer_count = (SELECT COUNT(*) FROM members WHERE anchor = ? \
             AND kind = ? AND group_key = ?) WHERE userid = ? AND {key} = ?"
        );
        transaction!(self, "import_members", |tx| {
            if !Self::lock_group(tx, group).await? {
                return Ok(false);
            }
            for m in members {
                let present = Self::found(
                    tx,
                    "SELECT 1 FROM members WHERE anchor = ? AND kind = ? AND group_key = ? \
                     AND userid = ?",
                    args![anchor, kind, group_key, &m.userid],
                )
                .await?;
                if !present {
                    Self::insert_member(tx, group, m).await?;
                }
            }
            Self::exec(
                tx,
                &recount,
                args![anchor, kind, group_key, anchor, group_key],
            )
            .await?;
            Ok(true)
        })
    }
}
