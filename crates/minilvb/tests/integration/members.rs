//! Membership: EnterGroup, QuitGroup, FetchGroupMemberList; viewer counts
//! that follow membership; member order and paging.

use std::collections::BTreeSet;
use std::sync::Arc;

use minilvb::config::MemberOrder;
use serde_json::{Value, json};

use crate::backend_test;
use crate::common::*;

/// EnterGroup with an extra `level` field.
async fn enter_level(app: &TestApp, viewer: &str, level: Value) {
    app.ack(
        json!({"Action":"EnterGroup","userid":viewer,"liveuserid":"a1","groupid":"g1",
        "nickname":format!("nick-{viewer}"),"headpic":"","flag":0,"level":level}),
    )
    .await;
}

backend_test! {
    async fn enter_is_idempotent(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        for _ in 0..3 {
            assert_acked(&app.enter("v1", "a1", "g1", 0).await);
        }
        app.assert_room_viewers("a1", "g1", 1).await;
        assert_acked(&app.enter("v2", "a1", "g1", 0).await);
        assert_acked(&app.enter("v1", "a1", "g1", 0).await);
        app.assert_room_viewers("a1", "g1", 2).await;
        assert_eq!(app.member_ids("a1", "g1").await, ["v1", "v2"]);
    }
}

backend_test! {
    async fn member_changes_in_one_batch(backend) {
        use minilvb_protocol::Group;
        use minilvb_store::{MemberChange, NewMember};

        // What SQLite's batches send: enters and quits of several groups,
        // in order, one member twice, a group that does not exist.
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.go_live("a2", "g2").await;
        let room = |anchor: &str, groupid: &str| Group::Room {
            anchor: anchor.into(),
            groupid: groupid.into(),
        };
        let enter = |group: Group, userid: &str| MemberChange::Enter {
            group,
            member: NewMember {
                userid: userid.into(),
                nickname: format!("nick-{userid}"),
                headpic: String::new(),
                level: None,
                joined_at: T0,
            },
        };
        let quit = |group: Group, userid: &str| MemberChange::Quit {
            group,
            userid: userid.into(),
        };
        let changes = [
            enter(room("a1", "g1"), "v1"),
            enter(room("a1", "g1"), "v2"),
            enter(room("a2", "g2"), "v1"),
            enter(room("a1", "g1"), "v1"),
            enter(room("nobody", "g9"), "v1"),
            quit(room("a1", "g1"), "v2"),
            quit(room("a1", "g1"), "v3"),
            enter(room("a1", "g1"), "v3"),
        ];
        let applied = app.store.change_members(&changes).await.unwrap();
        // How each moved its group's count: v1 again and a quit of a
        // non-member do not; the missing group is None.
        let moved = [Some(1), Some(1), Some(1), Some(0), None, Some(-1), Some(0), Some(1)];
        assert_eq!(applied, moved);
        app.assert_room_viewers("a1", "g1", 2).await;
        app.assert_room_viewers("a2", "g2", 1).await;
        assert_eq!(app.member_ids("a1", "g1").await, ["v1", "v3"]);
    }
}

backend_test! {
    async fn batches_leave_what_the_changes_one_by_one_leave(backend) {
        use minilvb_protocol::{Group, Page};
        use minilvb_store::{MemberChange, NewMember};
        use rand::{Rng, SeedableRng};

        // The same random changes to two copies of a room and a recording:
        // to one in batches of every size (past the 64 a batch holds, and
        // across the statements' padding), to the other one by one. Enters,
        // re-enters with details changed or left empty, quits, quits of
        // non-members, and a group that does not exist.
        let app = TestApp::spawn(backend).await;
        let mut copies = [Vec::new(), Vec::new()];
        for (copy, anchor) in copies.iter_mut().zip(["a1", "a2"]) {
            app.go_live(anchor, "g").await;
            app.add_recording(anchor, "f", T0 - 10).await;
            copy.extend([
                Group::Room { anchor: anchor.into(), groupid: "g".into() },
                Group::Recording { anchor: anchor.into(), fileid: "f".into() },
                Group::Room { anchor: anchor.into(), groupid: "missing".into() },
            ]);
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut joined_at = T0;
        for size in [1, 2, 3, 5, 8, 13, 31, 64, 70, 17, 40] {
            let mut batched = Vec::new();
            let mut alone = Vec::new();
            for _ in 0..size {
                let g = if rng.random_bool(0.05) { 2 } else { rng.random_range(0..2) };
                let userid = format!("v{}", rng.random_range(0..12));
                let quit = rng.random_bool(0.4);
                joined_at += 1;
                let n = joined_at as usize;
                let change = |group: &Group| match quit {
                    true => MemberChange::Quit { group: group.clone(), userid: userid.clone() },
                    false => MemberChange::Enter {
                        group: group.clone(),
                        member: NewMember {
                            userid: userid.clone(),
                            nickname: ["", "n1", "n2"][n % 3].into(),
                            headpic: ["", "h1"][n % 2].into(),
                            level: [None, Some(1), Some(5)][n % 3],
                            joined_at,
                        },
                    },
                };
                batched.push(change(&copies[0][g]));
                alone.push(change(&copies[1][g]));
            }
            let outcomes = app.store.change_members(&batched).await.unwrap();
            let mut one_by_one = Vec::new();
            for change in &alone {
                one_by_one.extend(app.store.change_members(std::slice::from_ref(change)).await.unwrap());
            }
            assert_eq!(outcomes, one_by_one, "batch of {size}");
            let [first, second] = &copies;
            for (batched, alone) in first.iter().zip(second).take(2) {
                for order in [MemberOrder::Join, MemberOrder::Level] {
                    let page = Page { number: 1, size: 100 };
                    let (batched, alone) = (
                        app.store.members(batched, order, page).await.unwrap(),
                        app.store.members(alone, order, page).await.unwrap(),
                    );
                    assert_eq!(batched, alone, "{order:?}, after a batch of {size}");
                }
            }
        }
        for anchor in ["a1", "a2"] {
            let members = app.member_ids(anchor, "g").await.len() as i64;
            app.assert_room_viewers(anchor, "g", members).await;
        }
    }
}

backend_test! {
    async fn batches_of_two_nodes_at_once_keep_counts_exact(backend) {
        use minilvb_protocol::{Group, Page};
        use minilvb_store::{MemberChange, NewMember};
        use rand::{Rng, SeedableRng};

        // Two stores on one database (two nodes), each with batches in
        // flight from several tasks at once, every batch over rooms and
        // recordings in its own order: the batches lock their groups in
        // one order, so none deadlocks or fails, and the counts end equal
        // to the members.
        let app = TestApp::spawn(backend).await;
        let mut groups = Vec::new();
        for anchor in ["a1", "a2"] {
            app.go_live(anchor, "g").await;
            app.add_recording(anchor, "f", T0 - 10).await;
            groups.push(Group::Room { anchor: anchor.into(), groupid: "g".into() });
            groups.push(Group::Recording { anchor: anchor.into(), fileid: "f".into() });
        }
        let other = app.other_store().await;
        let groups = Arc::new(groups);
        let mut tasks = Vec::new();
        for task in 0..8u64 {
            let store = if task % 2 == 0 { app.store.clone() } else { other.clone() };
            let groups = groups.clone();
            tasks.push(tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(task);
                for _ in 0..12 {
                    let changes: Vec<MemberChange> = (0..rng.random_range(1..20))
                        .map(|_| {
                            let group = groups[rng.random_range(0..groups.len())].clone();
                            let userid = format!("v{}", rng.random_range(0..10));
                            match rng.random_bool(0.4) {
                                true => MemberChange::Quit { group, userid },
                                false => MemberChange::Enter {
                                    group,
                                    member: NewMember {
                                        userid,
                                        nickname: format!("n{task}"),
                                        headpic: String::new(),
                                        level: None,
                                        joined_at: T0,
                                    },
                                },
                            }
                        })
                        .collect();
                    store.change_members(&changes).await.expect("no batch fails");
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let page = Page { number: 1, size: 100 };
        for group in groups.iter() {
            let (total, members) = app.store.members(group, MemberOrder::Join, page).await.unwrap();
            assert_eq!(total, members.len() as i64, "{group}");
        }
        for anchor in ["a1", "a2"] {
            let members = app.member_ids(anchor, "g").await.len() as i64;
            app.assert_room_viewers(anchor, "g", members).await;
        }
        other.close().await;
    }
}

backend_test! {
    async fn duplicate_concurrent_posts_count_once(backend) {
        let app = Arc::new(TestApp::spawn(backend).await);
        app.go_live("a1", "g1").await;
        // Android's one retry, and worse: the same POSTs at once.
        let tasks: Vec<_> = (0..30)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move { app.enter(&format!("v{}", i % 3), "a1", "g1", 0).await })
            })
            .collect();
        for task in tasks {
            assert_acked(&task.await.unwrap());
        }
        app.assert_room_viewers("a1", "g1", 3).await;
        let tasks: Vec<_> = (0..30)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move { app.quit(&format!("v{}", i % 2), "a1", "g1", 0).await })
            })
            .collect();
        for task in tasks {
            assert_acked(&task.await.unwrap());
        }
        app.assert_room_viewers("a1", "g1", 1).await;
        assert_eq!(app.member_ids("a1", "g1").await, ["v2"]);
    }
}

backend_test! {
    async fn re_entering_refreshes_nickname_and_headpic(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.ack(json!({"Action":"EnterGroup","userid":"v1","liveuserid":"a1","groupid":"g1","nickname":"Old","headpic":"http://old","flag":0})).await;
        app.ack(json!({"Action":"EnterGroup","userid":"v2","liveuserid":"a1","groupid":"g1","nickname":"Two","headpic":"http://two","flag":0})).await;
        app.ack(json!({"Action":"EnterGroup","userid":"v1","liveuserid":"a1","groupid":"g1","nickname":"New","headpic":"http://new","flag":0})).await;
        let members = app.members("a1", "g1", 1, 20).await;
        assert_eq!(members, json!({"totalcount": 2, "memberlist": [
            {"userid":"v1","nickname":"New","headpic":"http://new"},
            {"userid":"v2","nickname":"Two","headpic":"http://two"}]}));
        // iOS sends "" for what it does not have: that keeps what is known.
        app.ack(json!({"Action":"EnterGroup","userid":"v1","liveuserid":"a1","groupid":"g1","nickname":"","headpic":"","flag":0})).await;
        app.ack(json!({"Action":"EnterGroup","userid":"v2","liveuserid":"a1","groupid":"g1","nickname":"Two bis","flag":0})).await;
        let members = app.members("a1", "g1", 1, 20).await;
        assert_eq!(members["memberlist"], json!([
            {"userid":"v1","nickname":"New","headpic":"http://new"},
            {"userid":"v2","nickname":"Two bis","headpic":"http://two"}]));
        app.assert_room_viewers("a1", "g1", 2).await;
    }
}

backend_test! {
    async fn quitting_as_a_non_member_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.go_live("a2", "g2").await;
        assert_acked(&app.quit("v1", "a1", "g1", 0).await);
        app.assert_room_viewers("a1", "g1", 0).await;
        assert_acked(&app.enter("v1", "a1", "g1", 0).await);
        assert_acked(&app.enter("v2", "a1", "g1", 0).await);
        assert_acked(&app.enter("v3", "a2", "g2", 0).await);
        // Not a member here, but elsewhere.
        assert_acked(&app.quit("v3", "a1", "g1", 0).await);
        // Right group id, wrong anchor; right anchor, wrong group id.
        assert_acked(&app.quit("v1", "a2", "g1", 0).await);
        assert_acked(&app.quit("v1", "a1", "g2", 0).await);
        // As a viewer of a recording of that name.
        assert_acked(&app.quit("v1", "a1", "g1", 1).await);
        app.assert_room_viewers("a1", "g1", 2).await;
        app.assert_room_viewers("a2", "g2", 1).await;
        // Quitting twice counts once; counts never go negative.
        for _ in 0..3 {
            assert_acked(&app.quit("v1", "a1", "g1", 0).await);
        }
        app.assert_room_viewers("a1", "g1", 1).await;
        for _ in 0..3 {
            assert_acked(&app.quit("v2", "a1", "g1", 0).await);
        }
        app.assert_room_viewers("a1", "g1", 0).await;
        // A room that does not exist: nothing to leave, nothing changes.
        assert_acked(&app.quit("v1", "nobody", "g9", 0).await);
        assert_acked(&app.quit("v1", "nobody", "f9", 1).await);
    }
}

backend_test! {
    async fn viewercount_always_equals_the_member_list(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0).await;
        let mut room = BTreeSet::new();
        let mut recording = BTreeSet::new();
        // A fixed pseudo-random walk of enters and quits over both groups.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..150 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let viewer = format!("v{}", seed % 7);
            let flag = ((seed >> 8) % 2) as i64;
            let entering = (seed >> 16) % 3 != 0;
            let (group, set) = if flag == 0 { ("g1", &mut room) } else { ("f1", &mut recording) };
            let reply = if entering {
                set.insert(viewer.clone());
                app.enter(&viewer, "a1", group, flag).await
            } else {
                set.remove(&viewer);
                app.quit(&viewer, "a1", group, flag).await
            };
            assert_acked(&reply);
            if step % 10 == 9 {
                let listed: BTreeSet<String> = app.member_ids("a1", "g1").await.into_iter().collect();
                assert_eq!(listed, room, "step {step}");
                let listed: BTreeSet<String> = app.member_ids("a1", "f1").await.into_iter().collect();
                assert_eq!(listed, recording, "step {step}");
            }
            app.assert_room_viewers("a1", "g1", room.len() as i64).await;
            app.assert_recording_viewers("a1", "f1", recording.len() as i64).await;
        }
        // And in the lists.
        assert_eq!(app.fetch_all(1, 20).await[0]["viewercount"], room.len() as i64);
        assert_eq!(app.fetch_all(2, 20).await[0]["viewercount"], recording.len() as i64);
    }
}

backend_test! {
    async fn members_of_a_recording(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0).await;
        app.add_recording("a1", "f2", T0 - 1).await;
        for viewer in ["v1", "v2"] {
            assert_acked(&app.enter(viewer, "a1", "f1", 1).await);
        }
        assert_acked(&app.enter("v1", "a1", "f1", 1).await);
        assert_acked(&app.enter("v3", "a1", "f2", 1).await);
        // The same viewer in the live room and in a recording: two memberships.
        assert_acked(&app.enter("v1", "a1", "g1", 0).await);
        app.assert_recording_viewers("a1", "f1", 2).await;
        app.assert_recording_viewers("a1", "f2", 1).await;
        app.assert_room_viewers("a1", "g1", 1).await;
        assert_eq!(app.member_ids("a1", "f1").await, ["v1", "v2"]);
        let members = app.members("a1", "f1", 1, 20).await;
        assert_eq!(members["memberlist"][1], json!({"userid":"v2","nickname":"nick-v2","headpic":"http://img/v2.png"}));
        assert_acked(&app.quit("v1", "a1", "f1", 1).await);
        app.assert_recording_viewers("a1", "f1", 1).await;
        app.assert_room_viewers("a1", "g1", 1).await;
        assert_eq!(app.member_ids("a1", "g1").await, ["v1"]);
        // Leaving the room leaves the recording's members alone.
        assert_acked(&app.quit("v1", "a1", "g1", 0).await);
        assert_eq!(app.member_ids("a1", "f1").await, ["v2"]);
    }
}

backend_test! {
    async fn a_room_and_a_recording_sharing_an_id_keep_separate_counts(backend) {
        let app = TestApp::spawn(backend).await;
        // A group id that is also one of the anchor's file ids.
        app.go_live("a1", "123").await;
        app.add_recording("a1", "123", T0).await;
        assert_acked(&app.enter("v1", "a1", "123", 0).await);
        assert_acked(&app.enter("v1", "a1", "123", 1).await);
        assert_acked(&app.enter("v2", "a1", "123", 1).await);
        assert_eq!(app.room("a1").await["viewercount"], 1);
        assert_eq!(app.recording("a1", "123").await["viewercount"], 2);
        // FetchGroupMemberList has no flag: the room's current groupid wins.
        assert_eq!(app.member_ids("a1", "123").await, ["v1"]);
        assert_acked(&app.quit("v1", "a1", "123", 1).await);
        assert_eq!(app.recording("a1", "123").await["viewercount"], 1);
        assert_eq!(app.room("a1").await["viewercount"], 1);
    }
}

backend_test! {
    async fn entering_an_unknown_room_or_recording_is_2003(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0).await;
        for (anchor, groupid, flag) in [
            ("nobody", "g1", 0),
            ("a1", "g2", 0),
            ("a1", "f1", 0),
            ("nobody", "f1", 1),
            ("a1", "f2", 1),
            ("a1", "g1", 1),
        ] {
            let msg = assert_code(&app.enter("v1", anchor, groupid, flag).await, 2003);
            assert!(msg.contains(groupid) && msg.contains(anchor), "{msg}");
        }
        assert_eq!(app.members("nobody", "g1", 1, 20).await, json!({"totalcount": 0, "memberlist": []}));
        app.assert_room_viewers("a1", "g1", 0).await;
        app.assert_recording_viewers("a1", "f1", 0).await;
        for flag in [2, -1] {
            let msg = assert_code(&app.enter("v1", "a1", "g1", flag).await, 4002);
            assert!(msg.contains("flag"), "{msg}");
            assert_code(&app.quit("v1", "a1", "g1", flag).await, 4002);
        }
    }
}

backend_test! {
    async fn members_in_join_order_by_default(backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(app.settings.members.order, MemberOrder::Join);
        app.go_live("a1", "g1").await;
        for viewer in ["v3", "v1", "v2"] {
            assert_acked(&app.enter(viewer, "a1", "g1", 0).await);
            app.clock.advance(1);
        }
        assert_eq!(app.member_ids("a1", "g1").await, ["v3", "v1", "v2"]);
        // Re-entering keeps the place; quitting and coming back goes last.
        assert_acked(&app.enter("v3", "a1", "g1", 0).await);
        assert_eq!(app.member_ids("a1", "g1").await, ["v3", "v1", "v2"]);
        assert_acked(&app.quit("v1", "a1", "g1", 0).await);
        assert_acked(&app.enter("v1", "a1", "g1", 0).await);
        assert_eq!(app.member_ids("a1", "g1").await, ["v3", "v2", "v1"]);
        // Joining in the same second still keeps the join order.
        for viewer in ["x2", "x1", "x3"] {
            assert_acked(&app.enter(viewer, "a1", "g1", 0).await);
        }
        assert_eq!(app.member_ids("a1", "g1").await, ["v3", "v2", "v1", "x2", "x1", "x3"]);
    }
}

backend_test! {
    async fn members_latest_first(backend) {
        let app = TestApp::spawn_with(backend, |s| s.members.order = MemberOrder::Latest).await;
        app.go_live("a1", "g1").await;
        for viewer in ["v3", "v1", "v2"] {
            assert_acked(&app.enter(viewer, "a1", "g1", 0).await);
        }
        assert_eq!(app.member_ids("a1", "g1").await, ["v2", "v1", "v3"]);
        assert_acked(&app.enter("v3", "a1", "g1", 0).await);
        assert_eq!(app.member_ids("a1", "g1").await, ["v2", "v1", "v3"], "re-entering keeps the place");
        assert_acked(&app.quit("v3", "a1", "g1", 0).await);
        assert_acked(&app.enter("v3", "a1", "g1", 0).await);
        assert_eq!(app.member_ids("a1", "g1").await, ["v3", "v2", "v1"]);
    }
}

backend_test! {
    async fn members_by_level(backend) {
        let app = TestApp::spawn_with(backend, |s| s.members.order = MemberOrder::Level).await;
        app.go_live("a1", "g1").await;
        enter_level(&app, "v1", json!(1)).await;
        enter_level(&app, "v2", json!(5)).await;
        // Without a level: level 0.
        assert_acked(&app.enter("v3", "a1", "g1", 0).await);
        enter_level(&app, "v4", json!("5")).await;
        enter_level(&app, "v5", json!(-2)).await;
        enter_level(&app, "v6", json!(null)).await;
        assert_eq!(app.member_ids("a1", "g1").await, ["v2", "v4", "v1", "v3", "v6", "v5"]);
        // Re-entering with a level changes it; without one keeps it.
        enter_level(&app, "v1", json!(9)).await;
        assert_acked(&app.enter("v2", "a1", "g1", 0).await);
        assert_eq!(app.member_ids("a1", "g1").await, ["v1", "v2", "v4", "v3", "v6", "v5"]);
        app.assert_room_viewers("a1", "g1", 6).await;
        // Paging follows the order.
        let page2 = app.members("a1", "g1", 2, 4).await;
        let ids: Vec<&str> = page2["memberlist"].as_array().unwrap().iter().map(|m| m["userid"].as_str().unwrap()).collect();
        assert_eq!(ids, ["v6", "v5"]);
        assert_eq!(page2["totalcount"], 6);
        // The level is never shown to the apps.
        assert_member_list(&page2);
    }
}

backend_test! {
    async fn member_list_paging(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        let viewers: Vec<String> = (0..105).map(|i| format!("v{i:03}")).collect();
        for viewer in &viewers {
            assert_acked(&app.enter(viewer, "a1", "g1", 0).await);
        }
        let page = |data: &Value| -> Vec<String> {
            assert_member_list(data);
            assert_eq!(data["totalcount"], 105, "{data}");
            data["memberlist"].as_array().unwrap().iter().map(|m| m["userid"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(page(&app.members("a1", "g1", 1, 20).await), viewers[..20]);
        assert_eq!(page(&app.members("a1", "g1", 6, 20).await), viewers[100..]);
        assert_eq!(page(&app.members("a1", "g1", 7, 20).await), Vec::<String>::new());
        assert_eq!(page(&app.members("a1", "g1", 3, 7).await), viewers[14..21]);
        for pageno in [0, -1] {
            assert_eq!(page(&app.members("a1", "g1", pageno, 20).await), viewers[..20], "pageno {pageno}");
        }
        assert_eq!(page(&app.members("a1", "g1", 2, 0).await), viewers[10..20], "pagesize 0 means 10");
        assert_eq!(page(&app.members("a1", "g1", 1, 1).await), viewers[..1]);
        for pagesize in [101, 1000] {
            assert_eq!(page(&app.members("a1", "g1", 1, pagesize).await), viewers[..100]);
            assert_eq!(page(&app.members("a1", "g1", 2, pagesize).await), viewers[100..]);
        }
        assert_eq!(page(&app.members("a1", "g1", i64::MAX, 100).await), Vec::<String>::new());
        let data = app.ok(json!({"Action":"FetchGroupMemberList","liveuserid":"a1","groupid":"g1"})).await;
        assert_eq!(page(&data), viewers[..10], "no paging keys: page 1 of 10");
    }
}

backend_test! {
    async fn members_of_different_rooms_are_separate(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g").await;
        app.go_live("a2", "g").await;
        assert_acked(&app.enter("v1", "a1", "g", 0).await);
        assert_acked(&app.enter("v1", "a2", "g", 0).await);
        assert_acked(&app.enter("v2", "a2", "g", 0).await);
        app.assert_room_viewers("a1", "g", 1).await;
        app.assert_room_viewers("a2", "g", 2).await;
        assert_acked(&app.quit("v1", "a2", "g", 0).await);
        app.assert_room_viewers("a1", "g", 1).await;
        app.assert_room_viewers("a2", "g", 1).await;
        // A new session of a2 resets a2 only.
        app.go_live("a2", "g").await;
        app.assert_room_viewers("a1", "g", 1).await;
        app.assert_room_viewers("a2", "g", 0).await;
    }
}

/// The userids of one page of a1's group g1.
async fn page_ids(app: &TestApp, pageno: i64, pagesize: i64) -> Vec<String> {
    let data = app.members("a1", "g1", pageno, pagesize).await;
    assert_member_list(&data);
    data["memberlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userid"].as_str().unwrap().to_owned())
        .collect()
}

backend_test! {
    async fn deep_pages_of_a_large_group(backend) {
        // Pages from the 1000th member on come from a snapshot of the order
        // (rebuilt every list_snapshot_ms) with each member's row read fresh.
        for order in [MemberOrder::Join, MemberOrder::Latest, MemberOrder::Level] {
            let app = TestApp::spawn_with(backend, |s| {
                s.members.order = order;
                s.database.list_snapshot_ms = 300;
                // The seed is one large import: on a busy machine it may
                // take longer than a request may.
                s.database.operation_timeout_secs = 60;
            })
            .await;
            app.go_live("a1", "g1").await;
            let group = minilvb_protocol::Group::Room { anchor: "a1".into(), groupid: "g1".into() };
            let seeded: Vec<minilvb_store::NewMember> = (0..1230)
                .map(|i| minilvb_store::NewMember {
                    userid: format!("v{i:04}"),
                    nickname: format!("n{i}"),
                    headpic: String::new(),
                    level: Some(i % 7),
                    joined_at: 0,
                })
                .collect();
            assert!(app.store.import_members(&group, &seeded).await.unwrap());
            let mut expected: Vec<(i64, usize)> = (0..seeded.len()).map(|i| ((i % 7) as i64, i)).collect();
            match order {
                MemberOrder::Join => {}
                MemberOrder::Latest => expected.reverse(),
                MemberOrder::Level => expected.sort_by_key(|&(level, i)| (-level, i)),
            }
            let expected: Vec<String> = expected.iter().map(|&(_, i)| format!("v{i:04}")).collect();
            // Page 51 of 20 starts at 1000; page 62 holds the last 10.
            assert_eq!(page_ids(&app, 51, 20).await, expected[1000..1020], "{order:?}");
            assert_eq!(page_ids(&app, 62, 20).await, expected[1220..], "{order:?}");
            assert_eq!(page_ids(&app, 50, 20).await, expected[980..1000], "{order:?}");
            assert!(page_ids(&app, 63, 20).await.is_empty());
            // A member who leaves is gone from the deep page at once: the
            // snapshot's page without them (or, should the interval have
            // passed meanwhile on a slow machine, the new order's page).
            let leaving = expected[1005].clone();
            assert_acked(&app.quit(&leaving, "a1", "g1", 0).await);
            let mut now: Vec<String> = expected.clone();
            now.retain(|id| *id != leaving);
            let mut snapshot_page = expected[1000..1020].to_vec();
            snapshot_page.retain(|id| *id != leaving);
            let page = page_ids(&app, 51, 20).await;
            assert!(page == snapshot_page || page == now[1000..1020], "{order:?}: {page:?}");
            let data = app.members("a1", "g1", 51, 20).await;
            assert_eq!(data["totalcount"], 1229);
            // After the interval the order is read again: exact.
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            assert_eq!(page_ids(&app, 51, 20).await, now[1000..1020], "{order:?}");
        }
    }
}

backend_test! {
    async fn deep_pages_are_exact_without_snapshots(backend) {
        let app = TestApp::spawn_with(backend, |s| s.database.list_snapshot_ms = 0).await;
        app.go_live("a1", "g1").await;
        let group = minilvb_protocol::Group::Room { anchor: "a1".into(), groupid: "g1".into() };
        let seeded: Vec<minilvb_store::NewMember> = (0..1010)
            .map(|i| minilvb_store::NewMember {
                userid: format!("v{i:04}"),
                nickname: String::new(),
                headpic: String::new(),
                level: None,
                joined_at: 0,
            })
            .collect();
        assert!(app.store.import_members(&group, &seeded).await.unwrap());
        assert_acked(&app.quit("v1003", "a1", "g1", 0).await);
        assert_acked(&app.enter("late", "a1", "g1", 0).await);
        let mut expected: Vec<String> = (0..1010).map(|i| format!("v{i:04}")).filter(|id| id != "v1003").collect();
        expected.push("late".into());
        assert_eq!(page_ids(&app, 101, 10).await, expected[1000..]);
    }
}

backend_test! {
    async fn a_deep_page_shows_only_its_snapshot_s_members(backend) {
        // In join order a deep page reads the id range of its window: a
        // member who arrives since the snapshot with an id inside that
        // range (SQLite gives the group's highest id + 1, which falls back
        // into it once the members above have gone) is not the page's.
        use minilvb_protocol::Group;
        use minilvb_store::{MemberChange, NewMember};
        let app = TestApp::spawn_with(backend, |s| {
            s.members.order = MemberOrder::Join;
            s.database.list_snapshot_ms = 60_000;
        })
        .await;
        app.go_live("a1", "g1").await;
        let group = Group::Room { anchor: "a1".into(), groupid: "g1".into() };
        let member = |userid: String| NewMember {
            userid,
            nickname: String::new(),
            headpic: String::new(),
            level: None,
            joined_at: 0,
        };
        let seeded: Vec<NewMember> = (0..1030).map(|i| member(format!("v{i:04}"))).collect();
        assert!(app.store.import_members(&group, &seeded).await.unwrap());
        // A gap in the window: v1015 leaves before the snapshot.
        assert_acked(&app.quit("v1015", "a1", "g1", 0).await);
        let window: Vec<String> = (1000..1021).filter(|&i| i != 1015).map(|i| format!("v{i:04}")).collect();
        assert_eq!(page_ids(&app, 51, 20).await, window);
        // Everyone from v1016 on leaves; then a newcomer.
        let quits: Vec<MemberChange> = (1016..1030)
            .map(|i| MemberChange::Quit { group: group.clone(), userid: format!("v{i:04}") })
            .collect();
        app.store.change_members(&quits).await.unwrap();
        let enter = MemberChange::Enter { group: group.clone(), member: member("late".into()) };
        assert_eq!(app.store.change_members(&[enter]).await.unwrap(), vec![Some(1)]);
        // The snapshot's page: its members still here, not the newcomer.
        let still: Vec<String> = window.iter().filter(|id| id.as_str() < "v1016").cloned().collect();
        assert_eq!(page_ids(&app, 51, 20).await, still);
        assert_eq!(app.members("a1", "g1", 51, 20).await["totalcount"], 1016);
    }
}

backend_test! {
    async fn member_pages_kept_equal_the_database(backend) {
        use minilvb_protocol::{Group, Page};
        use minilvb_store::{MemberChange, NewMember};
        use rand::{Rng, SeedableRng};

        // Page 1 of each member list is kept and patched by this node's
        // enters and quits (where the database tells of other writers):
        // after random batches, single changes and new sessions, every
        // first page, in every order and size, equals a fresh read by a
        // store that keeps nothing. Later pages are read as before.
        let app = TestApp::spawn(backend).await;
        let fresh = app.other_store().await;
        app.go_live("a1", "g").await;
        app.go_live("a2", "g").await;
        app.add_recording("a1", "f", T0 - 10).await;
        let mut groupid = ["g".to_owned(), "g".to_owned()];
        let names = [("a1", "g"), ("a1", "f"), ("a2", "g"), ("a2", "h"), ("a1", "missing")];
        let group = |g: usize, groupid: &[String; 2]| match g {
            0 => Group::Room { anchor: "a1".into(), groupid: groupid[0].clone() },
            1 => Group::Recording { anchor: "a1".into(), fileid: "f".into() },
            2 => Group::Room { anchor: "a2".into(), groupid: groupid[1].clone() },
            _ => Group::Room { anchor: "a1".into(), groupid: "missing".into() },
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for step in 0..120 {
            let changes: Vec<MemberChange> = (0..rng.random_range(1..12))
                .map(|_| {
                    let g = if rng.random_bool(0.05) { 3 } else { rng.random_range(0..3) };
                    let userid = format!("v{}", rng.random_range(0..60));
                    let n = rng.random_range(0..6);
                    match rng.random_bool(0.35) {
                        true => MemberChange::Quit { group: group(g, &groupid), userid },
                        false => MemberChange::Enter {
                            group: group(g, &groupid),
                            member: NewMember {
                                userid,
                                nickname: ["", "n1", "n2"][n % 3].into(),
                                headpic: ["", "h1"][n % 2].into(),
                                level: [None, Some(1), Some(5)][n % 3],
                                joined_at: T0,
                            },
                        },
                    }
                })
                .collect();
            match rng.random_range(0..20) {
                0 => {
                    // A new session: the room's members go, and on a new
                    // groupid the old name no longer means the room.
                    let next = if groupid[1] == "g" { "h" } else { "g" };
                    app.go_live("a2", next).await;
                    groupid[1] = next.into();
                }
                1 => {
                    let change = &changes[0];
                    match change {
                        MemberChange::Enter { group, member } => {
                            app.store.enter(group, member).await.unwrap();
                        }
                        MemberChange::Quit { group, userid } => {
                            app.store.quit(group, userid).await.unwrap();
                        }
                    }
                }
                _ => {
                    app.store.change_members(&changes).await.unwrap();
                }
            }
            let orders = [MemberOrder::Join, MemberOrder::Latest, MemberOrder::Level];
            for ((anchor, name), order) in names.iter().flat_map(|&n| orders.map(|o| (n, o))) {
                // A size the apps keep asking for (the page shown again,
                // first in the next round), and any.
                let random = if rng.random_bool(0.2) { 100 } else { rng.random_range(1..12) };
                for size in [4, random, 4] {
                    let number = if rng.random_bool(0.9) { 1 } else { 2 };
                    let page = Page { number, size };
                    let kept = app.store.members_named(anchor, name, order, page).await.unwrap();
                    let read = fresh.members_named(anchor, name, order, page).await.unwrap();
                    assert_eq!(kept, read, "step {step}: {anchor}/{name}, {order:?}, page {number} of {size}");
                }
            }
        }
        fresh.close().await;
    }
}

backend_test! {
    async fn another_process_s_members_show_within_the_interval(backend) {
        // What another process (an operator's import, another node)
        // changes shows in page 1 within database.list_snapshot_ms.
        let app = TestApp::spawn_with(backend, |s| s.database.list_snapshot_ms = 200).await;
        app.go_live("a1", "g1").await;
        assert_acked(&app.enter("v1", "a1", "g1", 0).await);
        assert_eq!(page_ids(&app, 1, 20).await, ["v1"]);
        let other = app.other_store().await;
        let group = minilvb_protocol::Group::Room { anchor: "a1".into(), groupid: "g1".into() };
        let member = minilvb_store::NewMember {
            userid: "v2".into(),
            nickname: String::new(),
            headpic: String::new(),
            level: None,
            joined_at: T0,
        };
        assert!(other.enter(&group, &member).await.unwrap());
        other.close().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let page = page_ids(&app, 1, 20).await;
            if page == ["v1", "v2"] {
                break;
            }
            assert_eq!(page, ["v1"]);
            assert!(std::time::Instant::now() < deadline, "v2 never showed");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(app.members("a1", "g1", 1, 20).await["totalcount"], 2);
    }
}
