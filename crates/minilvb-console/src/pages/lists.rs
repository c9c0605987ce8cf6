//! The lists: open reports, recordings, bans, the audit log.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::auth::Signed;
use crate::backend::{AuditEntry, Recording, Report, ReportOrder};
use crate::pages::room::BanView;
use crate::pages::{PageQuery, initial};
use crate::render::{Layout, PageResult, Pager, count, query, render, segment, utc};
use crate::web::Console;

/// A URL from the data that may be linked or shown as it is: http(s) only
/// (a `javascript:` or `data:` link from a user's profile must not become
/// a link here).
pub(crate) fn web_url(url: &str) -> String {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        url.trim().to_owned()
    } else {
        String::new()
    }
}

/// An image URL that may be shown: http(s), or an inline image.
pub(crate) fn image_url(url: &str) -> String {
    if url
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("data:image/")
    {
        url.trim().to_owned()
    } else {
        web_url(url)
    }
}

pub(crate) struct ReportRow {
    pub id: i64,
    pub reporter: String,
    pub reported: String,
    pub room_href: String,
    pub times: String,
    pub first: String,
    pub last: String,
    pub resolve_action: String,
    pub back: String,
}

pub(crate) fn report_rows(console: &Console, reports: Vec<Report>, back: &str) -> Vec<ReportRow> {
    reports
        .into_iter()
        .map(|r| ReportRow {
            room_href: console.url(&format!("/rooms/{}", segment(&r.reported))),
            resolve_action: console.url(&format!("/reports/{}/resolve", r.id)),
            back: back.to_owned(),
            id: r.id,
            reporter: if r.reporter.is_empty() {
                "(anonymous)".into()
            } else {
                r.reporter
            },
            reported: r.reported,
            times: count(r.times),
            first: utc(r.first_at),
            last: utc(r.last_at),
        })
        .collect()
}

pub(crate) struct RecordingRow {
    pub userid: String,
    pub fileid: String,
    pub title: String,
    pub nickname: String,
    pub cover: String,
    pub initial: String,
    pub room_href: String,
    pub ended: String,
    pub viewers: String,
    pub likes: String,
    pub hls_href: String,
    pub flv_href: String,
    pub delete_href: String,
}

pub(crate) fn recording_rows(
    console: &Console,
    recordings: Vec<Recording>,
    back: &str,
) -> Vec<RecordingRow> {
    recordings
        .into_iter()
        .map(|r| {
            let room_href = console.url(&format!("/rooms/{}", segment(&r.userid)));
            let delete = console.url(&format!(
                "/recordings/{}/{}/delete",
                segment(&r.userid),
                segment(&r.fileid)
            ));
            RecordingRow {
                initial: initial(if r.nickname.is_empty() {
                    &r.userid
                } else {
                    &r.nickname
                }),
                delete_href: format!("{delete}{}", query(&[("back", back)])),
                room_href,
                ended: utc(r.ended_at),
                viewers: count(r.viewers),
                likes: count(r.likes),
                hls_href: web_url(&r.hls_play_url),
                flv_href: web_url(&r.play_url),
                cover: image_url(&r.cover),
                userid: r.userid,
                fileid: r.fileid,
                title: r.title,
                nickname: r.nickname,
            }
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ReportsQuery {
    /// `most` for most reported first; newest first otherwise.
    order: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    layout: Layout,
    most: bool,
    reports: Vec<ReportRow>,
}

pub(crate) async fn reports(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(params): Query<ReportsQuery>,
) -> PageResult {
    let most = params.order == "most";
    let order = if most {
        ReportOrder::MostReported
    } else {
        ReportOrder::Newest
    };
    let reports = console.backend.open_reports(order, None).await?;
    let back = format!(
        "{}{}",
        console.url("/reports"),
        query(&[("order", if most { "most" } else { "" })])
    );
    render(&ReportsPage {
        layout: console.layout(Some(&signed), "reports", "Reports"),
        most,
        reports: report_rows(&console, reports, &back),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RecordingsQuery {
    vj: String,
    page: String,
}

#[derive(Template)]
#[template(path = "recordings.html")]
struct RecordingsPage {
    layout: Layout,
    vj: String,
    recordings: Vec<RecordingRow>,
    pager: Pager,
}

pub(crate) async fn recordings(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(params): Query<RecordingsQuery>,
) -> PageResult {
    let vj = params.vj.trim().to_owned();
    let paging = PageQuery { page: params.page };
    let size = console.config.page_size;
    let page = console
        .backend
        .recordings(
            (!vj.is_empty()).then_some(vj.as_str()),
            paging.request(size),
        )
        .await?;
    let link = |n: u32| {
        let n = n.to_string();
        format!(
            "{}{}",
            console.url("/recordings"),
            query(&[("vj", &vj), ("page", &n)])
        )
    };
    let back = link(paging.number());
    render(&RecordingsPage {
        layout: console.layout(Some(&signed), "recordings", "Recordings"),
        pager: Pager::new(paging.number(), size, page.total, link),
        recordings: recording_rows(&console, page.rows, &back),
        vj,
    })
}

pub(crate) struct BanRow {
    pub userid: String,
    pub room_href: String,
    pub unban_action: String,
    pub ban: BanView,
}

#[derive(Template)]
#[template(path = "bans.html")]
struct BansPage {
    layout: Layout,
    bans: Vec<BanRow>,
    back: String,
}

pub(crate) async fn bans(State(console): State<Arc<Console>>, signed: Signed) -> PageResult {
    let bans = console.backend.bans().await?;
    render(&BansPage {
        layout: console.layout(Some(&signed), "bans", "Bans"),
        back: console.url("/bans"),
        bans: bans
            .iter()
            .map(|b| {
                let room_href = console.url(&format!("/rooms/{}", segment(&b.userid)));
                BanRow {
                    unban_action: format!("{room_href}/unban"),
                    room_href,
                    userid: b.userid.clone(),
                    ban: BanView::of(b),
                }
            })
            .collect(),
    })
}

pub(crate) struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub reason: String,
    pub outcome: String,
    pub failed: bool,
}

/// An action's name as people say it.
fn action_label(action: &str) -> &'static str {
    match action {
        "force_offline" => "Force offline",
        "ban" => "Ban",
        "unban" => "Unban",
        "resolve_report" => "Resolve report",
        "delete_recording" => "Delete recording",
        "add_operator" => "Add operator",
        "remove_operator" => "Remove operator",
        "set_password" => "Change password",
        _ => "Other",
    }
}

fn audit_row(entry: AuditEntry) -> AuditRow {
    let label = action_label(&entry.action);
    AuditRow {
        at: utc(entry.at),
        actor: entry.actor,
        action: label,
        failed: entry.outcome.starts_with("failed"),
        target: if label == "Other" {
            format!("{}: {}", entry.action, entry.target)
        } else {
            entry.target
        },
        reason: entry.reason,
        outcome: entry.outcome,
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<AuditRow>,
    pager: Pager,
}

pub(crate) async fn audit(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(paging): Query<PageQuery>,
) -> PageResult {
    let size = console.config.page_size;
    let page = console.backend.audit_log(paging.request(size)).await?;
    let base = console.url("/audit");
    render(&AuditPage {
        layout: console.layout(Some(&signed), "audit", "Audit log"),
        pager: Pager::new(paging.number(), size, page.total, |n| {
            format!("{base}?page={n}")
        }),
        entries: page.rows.into_iter().map(audit_row).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_urls_become_links() {
        assert_eq!(
            web_url("https://cdn.example/a.m3u8"),
            "https://cdn.example/a.m3u8"
        );
        assert_eq!(
            web_url(" HTTP://cdn.example/a.flv"),
            "HTTP://cdn.example/a.flv"
        );
        assert_eq!(web_url("javascript:alert(1)"), "");
        assert_eq!(web_url("rtmp://push.example/live/x"), "");
        assert_eq!(
            image_url("data:image/png;base64,AAAA"),
            "data:image/png;base64,AAAA"
        );
        assert_eq!(image_url("data:text/html,<b>"), "");
    }
}
