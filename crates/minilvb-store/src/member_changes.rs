//! Enters and quits applied together on a database server: what a batch of
//! them does to the rows, worked out in memory from the rows it starts from.
//!
//! One change at a time, each enter or quit is three statements, and the
//! group's row stays locked from the first to the commit: a popular room's
//! viewers then queue for that lock one change after the other. Together,
//! the store locks the batch's groups, reads their members that the batch
//! names, and [`plan`] says what the changes, applied in order, leave
//! behind; the store writes that in a statement per kind of write. The
//! outcome is exactly that of the changes applied one by one.

use std::collections::{HashMap, HashSet};

use super::{MemberChange, NewMember};
use minilvb_protocol::Group;

/// A member's details as stored (those EnterGroup gives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    pub nickname: String,
    pub headpic: String,
    pub level: i64,
}

/// A stored member: its group and userid.
pub type MemberKey<'a> = (&'a Group, &'a str);

/// What a batch of changes writes.
#[derive(Debug, Default, PartialEq)]
pub struct Plan<'a> {
    /// Per change, as `Store::change_members` answers: None for an enter
    /// into a group that does not exist, else how much the count moved.
    pub outcomes: Vec<Option<i64>>,
    /// Stored members that go: a quit, or a quit and an enter again (which
    /// makes a new member, last in join order, as one by one).
    pub deletes: Vec<MemberKey<'a>>,
    /// Stored members whose details an enter changed.
    pub refreshes: Vec<(MemberKey<'a>, Details)>,
    /// New members, in the order they entered.
    pub inserts: Vec<(&'a Group, NewMember)>,
    /// Groups whose count moved, by how much, in key order.
    pub moved: Vec<(&'a Group, i64)>,
}

/// Where a member stands after the changes so far.
enum Now {
    Absent,
    /// The stored member, with its details as refreshed.
    Stored(Details),
    /// A member this batch adds; `entered`: the change that added it.
    New {
        member: NewMember,
        entered: usize,
    },
}

/// Applies `changes` in order to the `existing` groups (changes to others
/// change nothing), whose members named by the changes are `stored` (one
/// missing there is not a member).
pub fn plan<'a>(
    changes: &'a [MemberChange],
    existing: &HashSet<&'a Group>,
    stored: &HashMap<MemberKey<'a>, Details>,
) -> Plan<'a> {
    let mut plan = Plan::default();
    // Members in the order the batch first names them, so that the plan
    // does not depend on a hash map's order.
    let mut members: Vec<(MemberKey<'a>, Now)> = Vec::new();
    let mut index: HashMap<MemberKey<'a>, usize> = HashMap::new();
    let mut moved: HashMap<&'a Group, i64> = HashMap::new();
    for (i, change) in changes.iter().enumerate() {
        let (group, userid) = (change.group(), change.userid());
        if !existing.contains(group) {
            plan.outcomes.push(match change {
                MemberChange::Enter { .. } => None,
                MemberChange::Quit { .. } => Some(0),
            });
            continue;
        }
        let key = (group, userid);
        let slot = *index.entry(key).or_insert_with(|| {
            let now = match stored.get(&key) {
                Some(details) => Now::Stored(details.clone()),
                None => Now::Absent,
            };
            members.push((key, now));
            members.len() - 1
        });
        let now = &mut members[slot].1;
        let delta = match (change, &mut *now) {
            (MemberChange::Enter { member, .. }, Now::Absent) => {
                *now = Now::New {
                    member: member.clone(),
                    entered: i,
                };
                1
            }
            (MemberChange::Enter { member, .. }, Now::Stored(details)) => {
                refresh(&mut details.nickname, &mut details.headpic, member);
                if let Some(level) = member.level {
                    details.level = level;
                }
                0
            }
            (MemberChange::Enter { member, .. }, Now::New { member: new, .. }) => {
                refresh(&mut new.nickname, &mut new.headpic, member);
                new.level = member.level.or(new.level);
                0
            }
            (MemberChange::Quit { .. }, Now::Absent) => 0,
            (MemberChange::Quit { .. }, _) => {
                *now = Now::Absent;
                -1
            }
        };
        *moved.entry(group).or_default() += delta;
        plan.outcomes.push(Some(delta));
    }
    let mut inserts = Vec::new();
    for (key, now) in members {
        let before = stored.get(&key);
        match now {
            Now::Absent => plan.deletes.extend(before.map(|_| key)),
            Now::Stored(details) => {
                if before != Some(&details) {
                    plan.refreshes.push((key, details));
                }
            }
            Now::New { member, entered } => {
                plan.deletes.extend(before.map(|_| key));
                inserts.push((entered, key.0, member));
            }
        }
    }
    inserts.sort_by_key(|(entered, ..)| *entered);
    plan.inserts = inserts
        .into_iter()
        .map(|(_, group, member)| (group, member))
        .collect();
    plan.moved = moved.into_iter().filter(|(_, delta)| *delta != 0).collect();
    plan.moved.sort_by(|a, b| a.0.cmp(b.0));
    plan
}

/// An enter's details replace those stored, except where it left them empty.
fn refresh(nickname: &mut String, headpic: &mut String, with: &NewMember) {
    if !with.nickname.is_empty() {
        nickname.clone_from(&with.nickname);
    }
    if !with.headpic.is_empty() {
        headpic.clone_from(&with.headpic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(key: &str) -> Group {
        Group::Room {
            anchor: "a".into(),
            groupid: key.into(),
        }
    }

    fn member(userid: &str, nickname: &str, level: Option<i64>, joined_at: i64) -> NewMember {
        NewMember {
            userid: userid.into(),
            nickname: nickname.into(),
            headpic: String::new(),
            level,
            joined_at,
        }
    }

    fn enter(group: &Group, m: NewMember) -> MemberChange {
        MemberChange::Enter {
            group: group.clone(),
            member: m,
        }
    }

    fn quit(group: &Group, userid: &str) -> MemberChange {
        MemberChange::Quit {
            group: group.clone(),
            userid: userid.into(),
        }
    }

    fn details(nickname: &str, level: i64) -> Details {
        Details {
            nickname: nickname.into(),
            headpic: String::new(),
            level,
        }
    }

    #[test]
    fn changes_to_groups_that_do_not_exist_change_nothing() {
        let g = room("g");
        let changes = [enter(&g, member("v", "V", None, 1)), quit(&g, "v")];
        let plan = plan(&changes, &HashSet::new(), &HashMap::new());
        assert_eq!(plan.outcomes, [None, Some(0)]);
        assert_eq!(
            plan,
            Plan {
                outcomes: plan.outcomes.clone(),
                ..Plan::default()
            }
        );
    }

    #[test]
    fn new_members_are_inserted_in_the_order_they_entered_and_counted() {
        let (g, h) = (room("g"), room("h"));
        let changes = [
            enter(&h, member("x", "X", Some(3), 1)),
            enter(&g, member("v", "V", None, 2)),
            enter(&g, member("w", "W", None, 3)),
            enter(&h, member("x", "", None, 4)),
            quit(&g, "nobody"),
        ];
        let plan = plan(&changes, &HashSet::from([&g, &h]), &HashMap::new());
        assert_eq!(plan.outcomes, [Some(1), Some(1), Some(1), Some(0), Some(0)]);
        let inserted: Vec<_> = plan
            .inserts
            .iter()
            .map(|(group, m)| (group.key(), m.userid.as_str(), m.nickname.as_str(), m.level))
            .collect();
        // The second enter of x kept its nickname (left empty) and level.
        assert_eq!(
            inserted,
            [
                ("h", "x", "X", Some(3)),
                ("g", "v", "V", None),
                ("g", "w", "W", None)
            ]
        );
        assert_eq!(plan.moved, [(&g, 2), (&h, 1)]);
        assert!(plan.deletes.is_empty() && plan.refreshes.is_empty());
    }

    #[test]
    fn stored_members_are_refreshed_only_where_an_enter_changed_them() {
        let g = room("g");
        let changes = [
            enter(&g, member("same", "S", None, 9)),
            enter(&g, member("renamed", "", Some(2), 9)),
            enter(&g, member("renamed", "R2", None, 9)),
        ];
        let stored = HashMap::from([
            ((&g, "same"), details("S", 1)),
            ((&g, "renamed"), details("R", 1)),
        ]);
        let plan = plan(&changes, &HashSet::from([&g]), &stored);
        assert_eq!(plan.outcomes, [Some(0), Some(0), Some(0)]);
        assert_eq!(plan.refreshes, [((&g, "renamed"), details("R2", 2))]);
        assert!(plan.moved.is_empty(), "no count moved");
        assert!(plan.inserts.is_empty() && plan.deletes.is_empty());
    }

    #[test]
    fn a_quit_removes_once_and_an_enter_after_it_makes_a_new_member() {
        let g = room("g");
        let changes = [
            quit(&g, "old"),
            quit(&g, "old"),
            quit(&g, "back"),
            enter(&g, member("back", "B", None, 7)),
            enter(&g, member("brief", "", None, 8)),
            quit(&g, "brief"),
        ];
        let stored = HashMap::from([
            ((&g, "old"), details("O", 0)),
            ((&g, "back"), details("B", 0)),
        ]);
        let plan = plan(&changes, &HashSet::from([&g]), &stored);
        assert_eq!(
            plan.outcomes,
            [Some(-1), Some(0), Some(-1), Some(1), Some(1), Some(-1)]
        );
        assert_eq!(plan.deletes, [(&g, "old"), (&g, "back")]);
        // "back" comes back as a new member (last in join order, joined at 7).
        assert_eq!(plan.inserts.len(), 1);
        assert_eq!(
            (
                plan.inserts[0].1.userid.as_str(),
                plan.inserts[0].1.joined_at
            ),
            ("back", 7)
        );
        assert_eq!(plan.moved, [(&g, -1)]);
    }
}
