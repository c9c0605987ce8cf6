//! `minilvb import-legacy`: brings an original server's rooms, recordings
//! and members (its `live_demo` database) into minilvb's store, whatever
//! the backend, so that a deployment can switch without losing its data.
//!
//! - Rooms keep their stream id (the cloud's callbacks name streams by it);
//!   one that is missing gets the original's rule, one that another userid
//!   already has in minilvb gets the unique form. Status and likes are kept.
//! - Recordings keep their file id, times, URLs and likes.
//! - Members: `group_info` does not say whether a groupid is a room's or a
//!   recording's (the apps enter a recording by its file id), so a member
//!   belongs to the anchor's room when the groupid is the room's, else to
//!   the anchor's recording with that file id, else nowhere (skipped,
//!   counted). Viewer counts are then the membership, not the original's
//!   counters, which drifted (see the README).
//! - Re-running replaces each imported room and recording with the
//!   original's state again: the result is the same, nothing doubles.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::config::Settings;
use minilvb_protocol::Group;
use minilvb_protocol::cloud;
use minilvb_store::legacy::{LegacyMember, LegacyRecording, LegacyRoom, LegacySource};
use minilvb_store::{
    ImportedRecording, ImportedRoom, NewMember, NewRecording, NewSession, SessionOutcome, Store,
};

/// Members read and written per round trip.
const PAGE: i64 = 1000;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub rooms: u64,
    pub recordings: u64,
    pub members: u64,
    /// Members of a groupid that is neither the anchor's room nor one of
    /// its recordings.
    pub orphan_members: u64,
    /// Rooms whose stream id was another userid's and that got the unique form.
    pub renamed_streams: u64,
}

/// Imports everything from the original's database at `from` into `store`.
pub async fn import_legacy(
    from: &str,
    store: &dyn Store,
    settings: &Settings,
    now: i64,
) -> anyhow::Result<ImportReport> {
    let source = LegacySource::open(from).await?;
    let result = run(&source, store, settings, now).await;
    source.close().await;
    result
}

async fn run(
    source: &LegacySource,
    store: &dyn Store,
    settings: &Settings,
    now: i64,
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut room_groups = HashMap::new();
    for room in source.rooms().await? {
        if import_room(store, settings, &room, now).await? {
            report.renamed_streams += 1;
        }
        room_groups.insert(room.userid.clone(), room.groupid.clone());
        report.rooms += 1;
    }
    let mut recordings = HashSet::new();
    for recording in source.recordings().await? {
        import_recording(store, &recording).await?;
        recordings.insert((recording.userid.clone(), recording.file_id.clone()));
        report.recordings += 1;
    }
    store.analyze().await?;
    let mut after = (String::new(), String::new(), String::new());
    let mut analyzed = false;
    loop {
        let page = source.members(&after, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = (
            last.liveuserid.clone(),
            last.groupid.clone(),
            last.userid.clone(),
        );
        // Consecutive rows of one group go in one call.
        for chunk in page.chunk_by(|a, b| a.liveuserid == b.liveuserid && a.groupid == b.groupid) {
            let first = &chunk[0];
            let is_room = room_groups
                .get(&first.liveuserid)
                .is_some_and(|groupid| !groupid.is_empty() && *groupid == first.groupid);
            let group = if is_room {
                Group::Room {
                    anchor: first.liveuserid.clone(),
                    groupid: first.groupid.clone(),
                }
            } else if recordings.contains(&(first.liveuserid.clone(), first.groupid.clone())) {
                Group::Recording {
                    anchor: first.liveuserid.clone(),
                    fileid: first.groupid.clone(),
                }
            } else {
                report.orphan_members += chunk.len() as u64;
                continue;
            };
            let members: Vec<NewMember> = chunk.iter().map(|m| member(m, now)).collect();
            if store.import_members(&group, &members).await? {
                report.members += members.len() as u64;
            } else {
                report.orphan_members += members.len() as u64;
            }
        }
        if !analyzed {
            // The members found so far tell the planner that a group's
            // rows are many: later pages look members up by key.
            store.analyze().await?;
            analyzed = true;
        }
    }
    store.analyze().await?;
    Ok(report)
}

fn member(m: &LegacyMember, now: i64) -> NewMember {
    NewMember {
        userid: m.userid.clone(),
        nickname: m.nickname.clone(),
        headpic: m.headpic.clone(),
        level: None,
        joined_at: now,
    }
}

/// Imports one room; true when it got the unique stream id.
async fn import_room(
    store: &dyn Store,
    settings: &Settings,
    room: &LegacyRoom,
    now: i64,
) -> anyhow::Result<bool> {
    let bizid = &settings.live.bizid;
    let first = match room.stream_id.as_str() {
        "" => {
            let legacy = cloud::legacy_stream_id(bizid, &room.userid);
            if cloud::is_url_safe_stream_id(&legacy) {
                legacy
            } else {
                cloud::unique_stream_id(bizid, &room.userid)
            }
        }
        kept => kept.to_owned(),
    };
    for (renamed, stream_id) in [
        (false, first),
        (true, cloud::unique_stream_id(bizid, &room.userid)),
    ] {
        let (flv, hls, _) = cloud::play_urls(&settings.live.play_domain, &stream_id);
        let or = |kept: &str, derived: String| {
            if kept.is_empty() {
                derived
            } else {
                kept.to_owned()
            }
        };
        let show = &room.show;
        let started_at = if show.create_time > 0 {
            show.create_time
        } else {
            now
        };
        let imported = ImportedRoom {
            session: NewSession {
                userid: room.userid.clone(),
                stream_id,
                groupid: room.groupid.clone(),
                title: show.title.clone(),
                userinfo: show.userinfo.clone(),
                play_url: or(&show.play_url, flv),
                hls_play_url: or(&show.hls_play_url, hls),
                started_at,
            },
            online: room.status == 1,
            likes: show.like_count,
            status_at: now,
        };
        if store.import_room(&imported).await? == SessionOutcome::Started {
            return Ok(renamed);
        }
    }
    anyhow::bail!("no free stream id for the room of userid {}", room.userid)
}

async fn import_recording(store: &dyn Store, r: &LegacyRecording) -> anyhow::Result<()> {
    let show = &r.show;
    let end_time = show.create_time;
    let start_time = if r.start_time > 0 {
        r.start_time
    } else {
        end_time
    };
    store
        .import_recording(&ImportedRecording {
            recording: NewRecording {
                userid: r.userid.clone(),
                fileid: r.file_id.clone(),
                title: show.title.clone(),
                userinfo: show.userinfo.clone(),
                play_url: show.play_url.clone(),
                hls_play_url: show.hls_play_url.clone(),
                start_time,
                end_time,
            },
            likes: show.like_count,
        })
        .await?;
    Ok(())
}
