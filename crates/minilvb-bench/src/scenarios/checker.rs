//! Groups (rooms and recordings viewers join and like) and the model of
//! what the server acknowledged on them, checked against its counts.

use super::*;

/// A room (`flag` 0, `key` its groupid) or a recording (`flag` 1, `key` its
/// fileid) of `anchor`.
#[derive(Debug, Clone)]
pub struct GroupRef {
    pub flag: u8,
    pub anchor: String,
    pub key: String,
}

impl GroupRef {
    pub(super) fn room(prefix: &str, i: usize) -> Self {
        Self {
            flag: 0,
            anchor: format!("{prefix}{i}"),
            key: format!("{prefix}{i}-g"),
        }
    }

    pub(super) fn recording(prefix: &str, rooms: usize, fileid_prefix: &str, j: usize) -> Self {
        Self {
            flag: 1,
            anchor: format!("{prefix}{}", j % rooms.max(1)),
            key: format!("{fileid_prefix}{j}"),
        }
    }

    pub(super) fn to_group(&self) -> Group {
        if self.flag == 0 {
            Group::Room {
                anchor: self.anchor.clone(),
                groupid: self.key.clone(),
            }
        } else {
            Group::Recording {
                anchor: self.anchor.clone(),
                fileid: self.key.clone(),
            }
        }
    }
}

/// One connection's view of what the server acknowledged: its viewers'
/// memberships and its likes, per group. A write that got no clear answer is
/// counted as ambiguous on its group (the check then allows for it).
pub(super) struct Model {
    pub(super) members: Vec<(u32, u32)>,
    pub(super) position: HashMap<(u32, u32), usize>,
    pub(super) likes: Vec<u64>,
    pub(super) ambiguous: Vec<u64>,
    pub(super) pending: Pending,
}

#[derive(Clone, Copy)]
pub(super) enum Pending {
    None,
    Enter(u32, u32),
    Quit(u32, u32),
    Like(u32),
}

impl Model {
    pub(super) fn new(groups: usize) -> Self {
        Self {
            members: Vec::new(),
            position: HashMap::new(),
            likes: vec![0; groups],
            ambiguous: vec![0; groups],
            pending: Pending::None,
        }
    }

    pub(super) fn random_member(&self, rng: &mut SmallRng) -> Option<(u32, u32)> {
        if self.members.is_empty() {
            None
        } else {
            Some(self.members[rng.random_range(0..self.members.len())])
        }
    }

    /// Applies the pending write if it was acknowledged.
    pub(super) fn settle(&mut self, return_value: Option<i64>) -> bool {
        let ok = return_value == Some(0);
        let pending = std::mem::replace(&mut self.pending, Pending::None);
        let group = match pending {
            Pending::None => return ok,
            Pending::Enter(_, g) | Pending::Quit(_, g) | Pending::Like(g) => g as usize,
        };
        if !ok {
            self.ambiguous[group] += 1;
            return ok;
        }
        match pending {
            Pending::Enter(v, g) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = self.position.entry((v, g))
                {
                    slot.insert(self.members.len());
                    self.members.push((v, g));
                }
            }
            Pending::Quit(v, g) => {
                if let Some(at) = self.position.remove(&(v, g)) {
                    self.members.swap_remove(at);
                    if let Some(&moved) = self.members.get(at) {
                        self.position.insert(moved, at);
                    }
                }
            }
            Pending::Like(g) => self.likes[g as usize] += 1,
            Pending::None => {}
        }
        ok
    }
}

/// The models of all connections summed up, plus what was seeded.
pub(super) struct Expected {
    pub(super) members: Vec<u64>,
    pub(super) likes: Vec<u64>,
    pub(super) ambiguous: Vec<u64>,
}

impl Expected {
    pub(super) fn sum<'a>(
        groups: usize,
        seeded: &[u64],
        models: impl Iterator<Item = &'a Model>,
    ) -> Self {
        let mut expected = Expected {
            members: seeded.to_vec(),
            likes: vec![0; groups],
            ambiguous: vec![0; groups],
        };
        expected.members.resize(groups, 0);
        for model in models {
            for &(_, g) in &model.members {
                expected.members[g as usize] += 1;
            }
            for g in 0..groups {
                expected.likes[g] += model.likes[g];
                expected.ambiguous[g] += model.ambiguous[g];
            }
        }
        expected
    }
}

/// Talks to the server after a run, to compare its state with the models.
pub struct Checker {
    pub conn: Conn,
}

impl Checker {
    /// POSTs one request; returns the envelope, which must be a success.
    pub async fn ok(&mut self, request: Value) -> anyhow::Result<Value> {
        let reply = self
            .conn
            .post("/interface.php", request.to_string().as_bytes())
            .await?;
        let mut envelope: Value = serde_json::from_slice(reply.body)?;
        anyhow::ensure!(
            reply.status == 200 && envelope["returnValue"] == 0,
            "{request} answered HTTP {}: {envelope}",
            reply.status
        );
        Ok(envelope["returnData"].take())
    }

    pub(super) async fn user_info(&mut self, group: &GroupRef) -> anyhow::Result<Value> {
        let fileid = if group.flag == 1 { &group.key[..] } else { "" };
        self.ok(
            json!({"Action":"GetUserInfo","userid":group.anchor,"type":group.flag,"fileid":fileid}),
        )
        .await
    }

    pub(super) async fn member_total(&mut self, group: &GroupRef) -> anyhow::Result<i64> {
        let data = self
            .ok(
                json!({"Action":"FetchGroupMemberList","liveuserid":group.anchor,
                "groupid":group.key,"pageno":1,"pagesize":1}),
            )
            .await?;
        data["totalcount"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("totalcount is not a number: {data}"))
    }

    /// Compares every group's viewer count, member total and (if asked)
    /// like count with the expectation.
    pub(super) async fn compare(
        &mut self,
        groups: &[GroupRef],
        expected: &Expected,
        check_likes: bool,
    ) -> anyhow::Result<Vec<Check>> {
        let mut viewer_mismatch = Vec::new();
        let mut like_mismatch = Vec::new();
        let mut loose = 0;
        for (g, group) in groups.iter().enumerate() {
            let info = self.user_info(group).await?;
            let viewers = info["viewercount"].as_i64().unwrap_or(-1);
            let likes = info["likecount"].as_i64().unwrap_or(-1);
            let total = self.member_total(group).await?;
            let slack = expected.ambiguous[g] as i64;
            loose += slack;
            let want = expected.members[g] as i64;
            if viewers != total || (viewers - want).abs() > slack {
                viewer_mismatch.push(format!(
                    "{}/{}: viewercount {viewers}, totalcount {total}, acknowledged {want}",
                    group.anchor, group.key
                ));
            }
            let want = expected.likes[g] as i64;
            if check_likes && (likes < want || likes > want + slack) {
                like_mismatch.push(format!(
                    "{}/{}: likecount {likes}, acknowledged {want}",
                    group.anchor, group.key
                ));
            }
        }
        let members: u64 = expected.members.iter().sum();
        let mut checks = vec![Check::new(
            format!(
                "viewercount = member totalcount = acknowledged membership ({} groups, {members} members)",
                groups.len()
            ),
            viewer_mismatch,
            loose,
        )];
        if check_likes {
            let likes: u64 = expected.likes.iter().sum();
            checks.push(Check::new(
                format!(
                    "likecount = acknowledged likes ({} groups, {likes} likes)",
                    groups.len()
                ),
                like_mismatch,
                loose,
            ));
        }
        Ok(checks)
    }
}
