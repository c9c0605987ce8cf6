//! The operator's commands: look at rooms, force one offline, ban and unban
//! users, handle reports, delete recordings. Plain functions over the store,
//! each rendering a table for people or JSON for scripts.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::MemberOrder;
use minilvb_protocol::{Counted, Group, MemberInfo, Page, PusherInfo};
use minilvb_store::{Ban, Report, RoomScope, Store};

/// What a command prints.
#[derive(Debug)]
pub struct Output {
    pub text: String,
    pub json: serde_json::Value,
}

/// An operator's mistake (unknown room, report, ...): printed, exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

type Result<T> = anyhow::Result<T>;

fn output(text: String, json: impl Serialize) -> Result<Output> {
    Ok(Output {
        text,
        json: serde_json::to_value(json)?,
    })
}

/// A room as the operator sees it.
#[derive(Debug, Serialize)]
pub struct RoomView {
    #[serde(flatten)]
    pub room: PusherInfo,
    pub banned: bool,
}

pub async fn list_rooms(store: &dyn Store, online_only: bool) -> Result<Output> {
    let banned: HashSet<String> = store.bans().await?.into_iter().map(|b| b.userid).collect();
    let rooms: Vec<RoomView> = store
        .rooms(RoomScope::All, 0, i64::MAX)
        .await?
        .into_iter()
        .filter(|room| room.status || !online_only)
        .map(|room| RoomView {
            banned: banned.contains(&room.userid),
            room,
        })
        .collect();
    let rows = rooms
        .iter()
        .map(|r| {
            vec![
                r.room.userid.clone(),
                status_word(r).into(),
                r.room.viewercount.to_string(),
                r.room.likecount.to_string(),
                utc(r.room.timestamp),
                r.room.groupid.clone(),
                r.room.title.clone(),
            ]
        })
        .collect();
    let text = table(
        &[
            "USERID",
            "STATUS",
            "VIEWERS",
            "LIKES",
            "SESSION START (UTC)",
            "GROUPID",
            "TITLE",
        ],
        rows,
    );
    output(text, &rooms)
}

fn status_word(room: &RoomView) -> &'static str {
    match (room.banned, room.room.status) {
        (true, _) => "banned",
        (false, true) => "online",
        (false, false) => "offline",
    }
}

#[derive(Debug, Serialize)]
struct RoomDetail {
    #[serde(flatten)]
    room: RoomView,
    stream_id: String,
    member_order: MemberOrder,
    members_total: i64,
    members: Vec<MemberInfo>,
}

/// A room with (up to `limit` of) its members, in the deployment's order.
pub async fn show_room(
    store: &dyn Store,
    userid: &str,
    order: MemberOrder,
    limit: i64,
) -> Result<Output> {
    let target = Counted::Room {
        userid: userid.to_owned(),
    };
    let room = store
        .pusher(&target)
        .await?
        .ok_or_else(|| NotFound(format!("no room of userid {userid}")))?;
    let stream_id = store.stream_id_of(userid).await?.unwrap_or_default();
    let page = Page {
        number: 1,
        size: limit.max(1),
    };
    let group = Group::Room {
        anchor: userid.to_owned(),
        groupid: room.groupid.clone(),
    };
    let (members_total, members) = store.members(&group, order, page).await?;

    let detail = RoomDetail {
        room: RoomView {
            banned: store.bans().await?.iter().any(|b| b.userid == userid),
            room,
        },
        stream_id,
        member_order: order,
        members_total,
        members,
    };
    let r = &detail.room.room;
    let mut text = String::new();
    for (key, value) in [
        ("userid", r.userid.clone()),
        ("status", status_word(&detail.room).to_owned()),
        ("groupid", r.groupid.clone()),
        ("stream id", detail.stream_id.clone()),
        ("title", r.title.clone()),
        ("nickname", r.userinfo.nickname.clone()),
        ("session start", utc(r.timestamp)),
        ("viewers", r.viewercount.to_string()),
        ("likes", r.likecount.to_string()),
        ("play url", r.playurl.clone()),
        ("hls play url", r.hls_play_url.clone()),
        ("cover", r.userinfo.frontcover.clone()),
    ] {
        let _ = writeln!(text, "{key:<14} {value}");
    }
    let order_name = match order {
        MemberOrder::Join => "join",
        MemberOrder::Latest => "latest",
        MemberOrder::Level => "level",
    };
    let _ = writeln!(
        text,
        "\nmembers: {} (showing {}, order: {order_name})",
        detail.members_total,
        detail.members.len()
    );
    let rows = detail
        .members
        .iter()
        .map(|m| vec![m.userid.clone(), m.nickname.clone(), m.headpic.clone()])
        .collect();
    text.push_str(&table(&["USERID", "NICKNAME", "HEADPIC"], rows));
    output(text, &detail)
}

#[derive(Debug, Serialize)]
struct Done {
    done: bool,
    message: String,
}

fn done(message: String) -> Result<Output> {
    output(
        format!("{message}\n"),
        Done {
            done: true,
            message,
        },
    )
}

pub async fn force_offline(store: &dyn Store, userid: &str, now: i64) -> Result<Output> {
    if !store.set_online(userid, false, now).await? {
        return Err(NotFound(format!("no room of userid {userid}")).into());
    }
    done(format!("room of {userid} is offline"))
}

pub async fn ban(store: &dyn Store, userid: &str, reason: &str, now: i64) -> Result<Output> {
    let new = store.ban(userid, reason, now, None).await?;
    done(if new {
        format!("{userid} is banned; its room is offline and no longer listed")
    } else {
        format!("{userid} was banned already; reason updated")
    })
}

pub async fn unban(store: &dyn Store, userid: &str) -> Result<Output> {
    if !store.unban(userid).await? {
        return Err(NotFound(format!("{userid} is not banned")).into());
    }
    done(format!("{userid} may broadcast again"))
}

pub async fn list_bans(store: &dyn Store) -> Result<Output> {
    let bans: Vec<Ban> = store.bans().await?;
    let rows = bans
        .iter()
        .map(|b| vec![b.userid.clone(), utc(b.created_at), b.reason.clone()])
        .collect();
    output(table(&["USERID", "SINCE (UTC)", "REASON"], rows), &bans)
}

pub async fn list_reports(store: &dyn Store, include_resolved: bool) -> Result<Output> {
    let reports: Vec<Report> = store.reports(include_resolved).await?;
    let rows = reports
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.reported.clone(),
                if r.reporter.is_empty() {
                    "(anonymous)".into()
                } else {
                    r.reporter.clone()
                },
                r.times.to_string(),
                utc(r.last_at),
                match r.resolved_at {
                    Some(at) => format!("resolved {}: {}", utc(at), r.resolution),
                    None => "open".into(),
                },
            ]
        })
        .collect();
    let text = table(
        &["ID", "REPORTED", "REPORTER", "TIMES", "LAST (UTC)", "STATE"],
        rows,
    );
    output(text, &reports)
}

pub async fn resolve_report(
    store: &dyn Store,
    id: i64,
    resolution: &str,
    now: i64,
) -> Result<Output> {
    if !store.resolve_report(id, resolution, now).await? {
        return Err(NotFound(format!("no open report {id}")).into());
    }
    done(format!("report {id} resolved"))
}

pub async fn list_recordings(store: &dyn Store, userid: Option<&str>) -> Result<Output> {
    let recordings: Vec<PusherInfo> = store
        .recordings(0, 0, i64::MAX)
        .await?
        .into_iter()
        .filter(|r| userid.is_none_or(|u| r.userid == u))
        .collect();
    let rows = recordings
        .iter()
        .map(|r| {
            vec![
                r.userid.clone(),
                r.fileid.clone(),
                utc(r.timestamp),
                r.viewercount.to_string(),
                r.likecount.to_string(),
                r.title.clone(),
            ]
        })
        .collect();
    let text = table(
        &[
            "USERID",
            "FILEID",
            "ENDED (UTC)",
            "VIEWERS",
            "LIKES",
            "TITLE",
        ],
        rows,
    );
    output(text, &recordings)
}

pub async fn delete_recording(store: &dyn Store, userid: &str, fileid: &str) -> Result<Output> {
    if !store.delete_recording(userid, fileid).await? {
        return Err(NotFound(format!("no recording {fileid} of userid {userid}")).into());
    }
    done(format!("recording {fileid} of {userid} deleted"))
}

/// Left-aligned columns, as wide as their widest cell, no borders: what a
/// person reads in a terminal and `cut`/`awk` still split.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let empty = rows.is_empty();
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(headers.iter().copied())
        .add_rows(rows);
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut text: String = table
        .lines()
        .map(|line| line.trim_end().to_owned() + "\n")
        .collect();
    if empty {
        text.push_str("(none)\n");
    }
    text
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn utc(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(format).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_767_225_600), "2026-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_500_000_000), "2017-07-14 02:40:00");
    }

    #[test]
    fn tables_align() {
        let text = table(&["A", "LONG"], vec![vec!["wide cell".into(), "x".into()]]);
        assert_eq!(text, "A          LONG\nwide cell  x\n");
        assert_eq!(table(&["A"], vec![]), "A\n(none)\n");
    }
}
