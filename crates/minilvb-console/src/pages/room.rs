//! A room: its details, members, recordings and the reports against its VJ,
//! with the moderation buttons.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};

use crate::auth::Signed;
use crate::backend::{Ban, ReportOrder};
use crate::pages::lists::{
    RecordingRow, ReportRow, image_url, recording_rows, report_rows, web_url,
};
use crate::pages::{PageQuery, initial};
use crate::render::{Layout, PageError, PageResult, Pager, count, duration, render, segment, utc};
use crate::web::Console;

pub(crate) struct MemberRow {
    pub userid: String,
    pub nickname: String,
    pub headpic: String,
    pub initial: String,
}

pub(crate) struct BanView {
    pub reason: String,
    pub since: String,
    pub until: String,
}

impl BanView {
    pub fn of(ban: &Ban) -> Self {
        BanView {
            reason: ban.reason.clone(),
            since: utc(ban.since),
            until: ban.until.map_or_else(|| "until lifted".into(), utc),
        }
    }
}

#[derive(Template)]
#[template(path = "room.html")]
struct RoomPage {
    layout: Layout,
    userid: String,
    href: String,
    title: String,
    nickname: String,
    cover: String,
    initial: String,
    location: String,
    online: bool,
    ban: Option<BanView>,
    groupid: String,
    stream_id: String,
    started: String,
    live_for: String,
    viewers: String,
    likes: String,
    play_url: String,
    hls_play_url: String,
    members: Vec<MemberRow>,
    members_pager: Pager,
    recordings: Vec<RecordingRow>,
    recordings_total: u64,
    recordings_href: String,
    reports: Vec<ReportRow>,
}

pub(crate) async fn page(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(userid): Path<String>,
    Query(paging): Query<PageQuery>,
) -> PageResult {
    let backend = &console.backend;
    let details = backend
        .room(&userid)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("There is no room of userid {userid}.")))?;
    let size = console.config.page_size;
    let members = backend.members(&userid, paging.request(size)).await?;
    let recordings = backend
        .recordings(
            Some(&userid),
            crate::backend::PageRequest { number: 1, size },
        )
        .await?;
    let reports = backend
        .open_reports(ReportOrder::Newest, Some(&userid))
        .await?;

    let href = console.url(&format!("/rooms/{}", segment(&userid)));
    let now = backend.now();
    let room = details.room;
    let members_pager = Pager::new(paging.number(), size, members.total, |n| {
        format!("{href}?page={n}#members")
    });
    let back = href.clone();
    render(&RoomPage {
        layout: console.layout(Some(&signed), "live", &format!("Room of {userid}")),
        initial: initial(if room.nickname.is_empty() {
            &room.userid
        } else {
            &room.nickname
        }),
        online: room.online,
        ban: details.ban.as_ref().map(BanView::of),
        stream_id: details.stream_id,
        started: utc(room.started_at),
        live_for: if room.online {
            duration(now - room.started_at)
        } else {
            String::new()
        },
        viewers: count(room.viewers),
        likes: count(room.likes),
        members: members
            .rows
            .into_iter()
            .map(|m| MemberRow {
                initial: initial(if m.nickname.is_empty() {
                    &m.userid
                } else {
                    &m.nickname
                }),
                userid: m.userid,
                nickname: m.nickname,
                headpic: image_url(&m.headpic),
            })
            .collect(),
        members_pager,
        recordings_total: recordings.total,
        recordings: recording_rows(&console, recordings.rows, &back),
        recordings_href: format!("{}?vj={}", console.url("/recordings"), segment(&userid)),
        reports: report_rows(&console, reports, &back),
        userid,
        href,
        title: room.title,
        nickname: room.nickname,
        cover: image_url(&room.cover),
        location: room.location,
        groupid: room.groupid,
        play_url: web_url(&room.play_url),
        hls_play_url: web_url(&room.hls_play_url),
    })
}
