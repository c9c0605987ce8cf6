//! Moderation that reaches the stream: one function per operator action,
//! shared by the command line and the web console. Each acts at the cloud
//! first (when `cloud_api` keys are set), then in the database, and records
//! who did what, to whom, why and what happened in the audit log.
//!
//! Invariants:
//! - when the cloud refuses or cannot be reached, the database is left as it
//!   was and the error (with the cloud's code and RequestId) is returned and
//!   audited; `local_only` skips the cloud and changes the database alone;
//! - a stream that is not live (or a file already gone) at the cloud is not
//!   an error: the action's purpose holds;
//! - "not found" (no such room, ban, recording or report) changes nothing
//!   and is not audited.

use std::sync::Arc;

use minilvb_cloud::{CloudApi, CloudError};
use minilvb_protocol::Counted;
use minilvb_protocol::cloud;
use minilvb_store::{AuditEntry, Store, StoreError};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::Settings;

/// The application name of every stream in push URLs (`/live/STREAM`).
pub const APP: &str = "live";

/// Who acts, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor(String);

impl Actor {
    /// The command line, as the Unix user running it.
    pub fn cli() -> Self {
        let user = ["SUDO_USER", "USER", "LOGNAME"]
            .iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "unknown".into());
        Self(format!("cli:{user}"))
    }

    /// An operator signed in to the web console.
    pub fn console(operator: &str) -> Self {
        Self(format!("console:{operator}"))
    }

    /// The server's own duties: the stream-status sweep, ended bans.
    pub fn server() -> Self {
        Self("server".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the cloud did for an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CloudStep {
    /// No `cloud_api` keys: the database alone.
    NotConfigured,
    /// `--local-only`, or the action has nothing to do at the cloud.
    Skipped,
    /// Done; the last call's RequestId.
    Done { request_id: String },
    /// The stream was not live, or the file was gone already.
    NothingThere { request_id: String },
}

impl CloudStep {
    fn describe(&self, what: &str) -> String {
        match self {
            CloudStep::NotConfigured => "the cloud API is not configured: database only".into(),
            CloudStep::Skipped => "the cloud was not asked (local only)".into(),
            CloudStep::Done { request_id } => {
                format!("{what} at the cloud (RequestId {request_id})")
            }
            CloudStep::NothingThere { request_id } => {
                format!("nothing to {what} at the cloud (RequestId {request_id})")
            }
        }
    }
}

/// An action's result: what changed, here and at the cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub action: &'static str,
    pub target: String,
    /// One sentence for the operator.
    pub message: String,
    pub cloud: CloudStep,
}

/// Why an action did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ModerationError {
    /// No such room, ban, recording or report.
    #[error("{0}")]
    NotFound(String),
    /// The cloud refused or could not be reached; nothing changed here.
    #[error("{0}; nothing was changed here (--local-only changes the database anyway)")]
    Cloud(#[source] CloudError),
    #[error("the database failed: {0}")]
    Store(#[from] StoreError),
}

/// Where moderation acts: the store, and the cloud when configured.
#[derive(Clone)]
pub struct Moderator {
    store: Arc<dyn Store>,
    cloud: Option<CloudApi>,
    clock: Arc<dyn Clock>,
    /// The push domain (`live.push_domain`): the live API names streams by it.
    push_domain: String,
    bizid: String,
}

impl Moderator {
    /// From the settings: the cloud API client when `cloud_api` keys are set.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: &Settings,
    ) -> Result<Self, CloudError> {
        let cloud = match settings.cloud_api.client_config() {
            Some(config) => {
                let clock = Arc::clone(&clock);
                Some(CloudApi::new(config)?.with_clock(move || clock.now()))
            }
            None => None,
        };
        let mut live = settings.live.clone();
        if live.push_domain.is_empty() {
            live.push_domain = format!("{}.livepush2.myqcloud.com", live.bizid);
        }
        Ok(Self {
            store,
            cloud,
            clock,
            push_domain: live.push_domain,
            bizid: live.bizid,
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The cloud API client, when configured.
    pub fn cloud(&self) -> Option<&CloudApi> {
        self.cloud.as_ref()
    }

    pub fn push_domain(&self) -> &str {
        &self.push_domain
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Cuts the room's push at the cloud, then sets the room offline.
    pub async fn force_offline(
        &self,
        actor: &Actor,
        userid: &str,
        reason: &str,
        local_only: bool,
    ) -> Result<Outcome, ModerationError> {
        let room = Counted::Room {
            userid: userid.to_owned(),
        };
        if !self.store.exists(&room).await? {
            return Err(ModerationError::NotFound(format!(
                "no room of userid {userid}"
            )));
        }
        let stream = self.stream_of(userid).await?;
        let target = userid.to_owned();
        let cloud = self
            .at_cloud(actor, "force_offline", &target, reason, local_only, |api| {
                let (domain, stream) = (self.push_domain.clone(), stream.clone());
                async move { api.drop_live_stream(&domain, APP, &stream).await }
            })
            .await?;
        self.store.set_online(userid, false, self.now()).await?;
        let message = format!("room of {userid} is offline; {}", cloud.describe("cut"));
        self.done(actor, "force_offline", target, reason, message, cloud)
            .await
    }

    /// Forbids the user's stream at the cloud (until `until`, or for the
    /// cloud's longest) and cuts it, then bans the user here: RequestLVBAddr
    /// answers 4004, the room goes offline and out of the lists.
    pub async fn ban(
        &self,
        actor: &Actor,
        userid: &str,
        reason: &str,
        until: Option<i64>,
        local_only: bool,
    ) -> Result<Outcome, ModerationError> {
        let stream = self.stream_of(userid).await?;
        let target = userid.to_owned();
        let cloud = self
            .at_cloud(actor, "ban", &target, reason, local_only, |api| {
                let (domain, stream) = (self.push_domain.clone(), stream.clone());
                let reason = (!reason.is_empty()).then(|| reason.to_owned());
                async move {
                    api.forbid_live_stream(&domain, APP, &stream, until, reason.as_deref())
                        .await?;
                    api.drop_live_stream(&domain, APP, &stream).await
                }
            })
            .await?;
        let new = self.store.ban(userid, reason, self.now(), until).await?;
        let until_text = match until {
            Some(at) => format!(" until {} UTC", super::operations::utc(at)),
            None => String::new(),
        };
        let here = match new {
            true => {
                format!("{userid} is banned{until_text}; its room is offline and no longer listed")
            }
            false => format!("{userid} was banned already; reason and end updated{until_text}"),
        };
        let message = format!("{here}; {}", cloud.describe("forbidden and cut"));
        self.done(actor, "ban", target, reason, message, cloud)
            .await
    }

    /// Resumes the user's stream at the cloud, then lifts the ban here.
    pub async fn unban(
        &self,
        actor: &Actor,
        userid: &str,
        reason: &str,
        local_only: bool,
    ) -> Result<Outcome, ModerationError> {
        let now = self.now();
        if !self.store.is_banned(userid, now).await? {
            return Err(ModerationError::NotFound(format!("{userid} is not banned")));
        }
        let stream = self.stream_of(userid).await?;
        let target = userid.to_owned();
        let cloud = self
            .at_cloud(actor, "unban", &target, reason, local_only, |api| {
                let (domain, stream) = (self.push_domain.clone(), stream.clone());
                async move { api.resume_live_stream(&domain, APP, &stream).await }
            })
            .await?;
        self.store.unban(userid).await?;
        let message = format!(
            "{userid} may broadcast again; {}",
            cloud.describe("resumed")
        );
        self.done(actor, "unban", target, reason, message, cloud)
            .await
    }

    /// Deletes the recording's media on VOD, then the recording here.
    pub async fn delete_recording(
        &self,
        actor: &Actor,
        userid: &str,
        fileid: &str,
        reason: &str,
        local_only: bool,
    ) -> Result<Outcome, ModerationError> {
        let recording = Counted::Recording {
            userid: userid.to_owned(),
            fileid: fileid.to_owned(),
        };
        if !self.store.exists(&recording).await? {
            return Err(ModerationError::NotFound(format!(
                "no recording {fileid} of userid {userid}"
            )));
        }
        let target = format!("{userid}/{fileid}");
        let cloud = self
            .at_cloud(
                actor,
                "delete_recording",
                &target,
                reason,
                local_only,
                |api| {
                    let fileid = fileid.to_owned();
                    async move { api.delete_media(&fileid, None).await }
                },
            )
            .await?;
        self.store.delete_recording(userid, fileid).await?;
        let message = format!(
            "recording {fileid} of {userid} deleted; {}",
            cloud.describe("deleted")
        );
        self.done(actor, "delete_recording", target, reason, message, cloud)
            .await
    }

    /// Resolves an open report (nothing at the cloud).
    pub async fn resolve_report(
        &self,
        actor: &Actor,
        id: i64,
        resolution: &str,
    ) -> Result<Outcome, ModerationError> {
        if !self
            .store
            .resolve_report(id, resolution, self.now())
            .await?
        {
            return Err(ModerationError::NotFound(format!("no open report {id}")));
        }
        let message = format!("report {id} resolved");
        self.done(
            actor,
            "resolve_report",
            format!("report {id}"),
            resolution,
            message,
            CloudStep::Skipped,
        )
        .await
    }

    /// Lifts the bans whose end has come (the cloud resumes their streams
    /// by itself at the `ResumeTime` it was given).
    pub async fn lift_ended_bans(&self) -> Result<Vec<String>, StoreError> {
        let lifted = self.store.lift_ended_bans(self.now()).await?;
        for userid in &lifted {
            let entry = self.entry(
                &Actor::server(),
                "unban",
                userid.clone(),
                "the ban ended",
                format!("{userid} may broadcast again: the ban ended"),
            );
            self.store.record_action(&entry).await?;
        }
        Ok(lifted)
    }

    /// The stream id the user's room has, or would get from RequestLVBAddr.
    async fn stream_of(&self, userid: &str) -> Result<String, StoreError> {
        if let Some(stream) = self.store.stream_id_of(userid).await? {
            return Ok(stream);
        }
        let legacy = cloud::legacy_stream_id(&self.bizid, userid);
        Ok(match cloud::is_url_safe_stream_id(&legacy) {
            true => legacy,
            false => cloud::unique_stream_id(&self.bizid, userid),
        })
    }

    /// Runs the cloud's part of an action; a failure is audited and ends
    /// the action before the database is touched.
    async fn at_cloud<F, Fut>(
        &self,
        actor: &Actor,
        action: &'static str,
        target: &str,
        reason: &str,
        local_only: bool,
        call: F,
    ) -> Result<CloudStep, ModerationError>
    where
        F: FnOnce(CloudApi) -> Fut,
        Fut: Future<Output = Result<minilvb_cloud::Called, CloudError>>,
    {
        let Some(api) = &self.cloud else {
            return Ok(CloudStep::NotConfigured);
        };
        if local_only {
            return Ok(CloudStep::Skipped);
        }
        match call(api.clone()).await {
            Ok(called) => Ok(CloudStep::Done {
                request_id: called.request_id,
            }),
            Err(error) if error.is_not_found() => Ok(CloudStep::NothingThere {
                request_id: error.request_id().unwrap_or_default().to_owned(),
            }),
            Err(error) => {
                let outcome = format!("failed: {error}; nothing was changed here");
                let entry = self.entry(actor, action, target.to_owned(), reason, outcome);
                if let Err(audit) = self.store.record_action(&entry).await {
                    tracing::error!(%audit, "could not record a failed action in the audit log");
                }
                Err(ModerationError::Cloud(error))
            }
        }
    }

    async fn done(
        &self,
        actor: &Actor,
        action: &'static str,
        target: String,
        reason: &str,
        message: String,
        cloud: CloudStep,
    ) -> Result<Outcome, ModerationError> {
        let entry = self.entry(actor, action, target.clone(), reason, message.clone());
        self.store.record_action(&entry).await?;
        tracing::info!(actor = actor.as_str(), action, %target, %message, "operator action");
        Ok(Outcome {
            action,
            target,
            message,
            cloud,
        })
    }

    fn entry(
        &self,
        actor: &Actor,
        action: &str,
        target: String,
        reason: &str,
        outcome: String,
    ) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: self.now(),
            actor: actor.as_str().to_owned(),
            action: action.to_owned(),
            target,
            reason: reason.to_owned(),
            outcome,
        }
    }
}
