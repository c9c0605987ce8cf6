//! Operators (admin only): list, add, remove, change a password.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use serde::Deserialize;

use crate::accounts::{check_operator_name, check_password};
use crate::auth::{Signed, redirect_with_notice};
use crate::backend::{Operator, Role};
use crate::client::Client;
use crate::login::start_session;
use crate::pages::moderation::{ConfirmPage, Fact, finish_action};
use crate::password::hash_password;
use crate::render::{Layout, PageError, PageResult, render, segment};
use crate::web::Console;

pub(crate) struct OperatorRow {
    pub name: String,
    pub role: Role,
    pub is_self: bool,
    pub password_href: String,
    pub remove_href: String,
}

#[derive(Template)]
#[template(path = "operators.html")]
struct OperatorsPage {
    layout: Layout,
    operators: Vec<OperatorRow>,
    roles: [Role; 3],
    name: String,
    role: Role,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    layout: Layout,
    name: String,
    is_self: bool,
    action: String,
    error: Option<String>,
}

async fn hash(password: String) -> Result<String, PageError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| PageError::Internal(format!("the password hashing stopped: {e}")))?
        .map_err(|e| PageError::Internal(e.to_string()))
}

fn operator_href(console: &Console, name: &str) -> String {
    console.url(&format!("/operators/{}", segment(name)))
}

async fn operators_page(
    console: &Console,
    signed: &Signed,
    name: &str,
    role: Role,
    error: Option<String>,
) -> PageResult {
    let operators: Vec<Operator> = console.backend.operators().await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = render(&OperatorsPage {
        layout: console.layout(Some(signed), "operators", "Operators"),
        operators: operators
            .into_iter()
            .map(|o| {
                let href = operator_href(console, &o.name);
                OperatorRow {
                    is_self: o.name == signed.operator,
                    password_href: format!("{href}/password"),
                    remove_href: format!("{href}/remove"),
                    name: o.name,
                    role: o.role,
                }
            })
            .collect(),
        roles: Role::ALL,
        name: name.to_owned(),
        role,
        error,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

pub(crate) async fn page(State(console): State<Arc<Console>>, signed: Signed) -> PageResult {
    signed.require(Role::Admin)?;
    operators_page(&console, &signed, "", Role::Viewer, None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AddForm {
    name: String,
    role: String,
    password: String,
}

pub(crate) async fn add(
    State(console): State<Arc<Console>>,
    signed: Signed,
    client: Client,
    Form(form): Form<AddForm>,
) -> PageResult {
    signed.require(Role::Admin)?;
    let name = form.name.trim();
    let role: Result<Role, _> = form.role.parse();
    let checked = check_operator_name(name)
        .and_then(|()| check_password(&form.password))
        .and_then(|()| role.clone().map_err(|e| e.to_string()));
    let checked = match checked {
        Ok(_) if console.backend.find_operator(name).await?.is_some() => {
            Err(format!("An operator named {name} exists already."))
        }
        other => other,
    };
    let role = match checked {
        Ok(role) => role,
        Err(error) => {
            let shown = role.unwrap_or(Role::Viewer);
            return operators_page(&console, &signed, name, shown, Some(error)).await;
        }
    };
    let hash = hash(form.password).await?;
    let result = console
        .backend
        .add_operator(&signed.actor(), name, role, &hash)
        .await;
    finish_action(
        &console,
        &client,
        "Add operator",
        result,
        &console.url("/operators"),
    )
}

pub(crate) async fn confirm_remove(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(name): Path<String>,
) -> PageResult {
    signed.require(Role::Admin)?;
    let operator = console
        .backend
        .find_operator(&name)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("There is no operator named {name}.")))?;
    if operator.name == signed.operator {
        return Err(PageError::BadRequest(
            "You cannot remove yourself; another admin can.".into(),
        ));
    }
    let list = console.url("/operators");
    render(&ConfirmPage {
        layout: console.layout(Some(&signed), "operators", "Remove operator"),
        heading: format!("Remove operator {name}?"),
        question: "The account is deleted and its sessions end at once.".into(),
        facts: vec![
            Fact {
                label: "Name",
                value: operator.name,
            },
            Fact {
                label: "Role",
                value: operator.role.to_string(),
            },
        ],
        action: format!("{}/remove", operator_href(&console, &name)),
        button: "Remove operator",
        with_reason: false,
        back: list.clone(),
        cancel: list,
        csrf: signed.csrf.clone(),
    })
}

pub(crate) async fn remove(
    State(console): State<Arc<Console>>,
    signed: Signed,
    client: Client,
    Path(name): Path<String>,
) -> PageResult {
    signed.require(Role::Admin)?;
    if name == signed.operator {
        return Err(PageError::BadRequest(
            "You cannot remove yourself; another admin can.".into(),
        ));
    }
    let result = console
        .backend
        .remove_operator(&signed.actor(), &name)
        .await;
    finish_action(
        &console,
        &client,
        "Remove operator",
        result,
        &console.url("/operators"),
    )
}

pub(crate) async fn password_form(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(name): Path<String>,
) -> PageResult {
    signed.require(Role::Admin)?;
    if console.backend.find_operator(&name).await?.is_none() {
        return Err(PageError::NotFound(format!(
            "There is no operator named {name}."
        )));
    }
    password_page(&console, &signed, &name, None)
}

fn password_page(
    console: &Console,
    signed: &Signed,
    name: &str,
    error: Option<String>,
) -> PageResult {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = render(&PasswordPage {
        layout: console.layout(Some(signed), "operators", "Change password"),
        name: name.to_owned(),
        is_self: name == signed.operator,
        action: format!("{}/password", operator_href(console, name)),
        error,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PasswordForm {
    password: String,
    confirm: String,
}

pub(crate) async fn set_password(
    State(console): State<Arc<Console>>,
    signed: Signed,
    client: Client,
    Path(name): Path<String>,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    signed.require(Role::Admin)?;
    if let Err(error) = check_password(&form.password) {
        return password_page(&console, &signed, &name, Some(error));
    }
    if form.password != form.confirm {
        return password_page(
            &console,
            &signed,
            &name,
            Some("The two passwords differ.".into()),
        );
    }
    let hash = hash(form.password).await?;
    let outcome = console
        .backend
        .set_operator_password(&signed.actor(), &name, &hash)
        .await?;
    let mut response = redirect_with_notice(
        &console,
        &client,
        &console.url("/operators"),
        &format!("Change password: {outcome}"),
    );
    // The backend ended the operator's sessions; one's own goes on in a new one.
    if name == signed.operator {
        let cookie = start_session(&console, &client, &name).await?;
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
